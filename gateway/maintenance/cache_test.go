package maintenance

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// failingDocs is a store whose documents cannot be read.
type failingDocs struct {
	store.Store
	reads int
}

func (f *failingDocs) ListDocs(context.Context, string) (map[string][]byte, int64, error) {
	f.reads++
	return nil, 0, errors.New("store down")
}

// While the store fails, alerts do not each wait on a read of it under
// the lock, and the streak is logged once.
func TestHoldReadsAFailingStoreOncePerCacheFor(t *testing.T) {
	st := &failingDocs{}
	var logs bytes.Buffer
	w := New(Options{Store: st, Config: func() *policy.Config { return &policy.Config{} }, CacheFor: time.Minute,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for i := 0; i < 100; i++ {
		if h := w.Hold(context.Background(), "api", nil, time.Now()); h != nil {
			t.Fatalf("held by %+v with no window ever read", h)
		}
	}
	if st.reads != 1 {
		t.Errorf("%d reads of the store for 100 alerts within CacheFor, want 1", st.reads)
	}
	if n := strings.Count(logs.String(), "maintenance windows not read"); n != 1 {
		t.Errorf("%d log lines for one failure streak, want 1:\n%s", n, logs.String())
	}
}
