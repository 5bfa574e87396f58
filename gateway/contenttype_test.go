package gateway

import (
	"net/http/httptest"
	"testing"
)

// TestJSONContentType: the media types a body may say it is, answered as
// mime.ParseMediaType reads them, and the one Alertmanager sends read
// without an allocation (it was one every webhook).
func TestJSONContentType(t *testing.T) {
	for _, tc := range []struct {
		ct string
		ok bool
	}{
		{"", true},
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON", true},
		{"application/vnd.api+json", true},
		{"text/plain", false},
		{"application/jsonx", false},
		{"application/json;", true},
		{"application/json; =", false},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		if err := jsonContentType(r); (err == nil) != tc.ok {
			t.Errorf("Content-Type %q: %v, want ok %v", tc.ct, err, tc.ok)
		}
	}
	if raceEnabled {
		return // the race detector allocates as it likes
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Content-Type", "application/json")
	if n := testing.AllocsPerRun(100, func() { _ = jsonContentType(r) }); n != 0 {
		t.Errorf("application/json: %.0f allocations, want 0", n)
	}
}
