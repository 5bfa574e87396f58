package providertest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// LateAnswers is a server in front of provider that lets it take each
// POST (the SMS, the call, the push is created) and holds its answer
// until the client gives up (or the test ends): a provider that accepts a
// page and answers after the sender's timeout. Other requests are answered
// at once.
func LateAnswers(t testing.TB, provider http.Handler) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		provider.ServeHTTP(rec, r)
		if r.Method == http.MethodPost {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv
}
