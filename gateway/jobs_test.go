package gateway

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/heartbeat"
)

// TestJobsArmedOnceTheStoreAnswers: a daemon that starts while the store
// refuses to store jobs keeps trying, with backoff, and stores its
// heartbeats' first expiries once the store takes them, with no reload
// or restart to prompt it.
func TestJobsArmedOnceTheStoreAnswers(t *testing.T) {
	fs := &faultyStore{Store: boltStore(t)}
	fs.refuseJobs.Store(true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withStore(fs), withConfig(hbConfig), onListener(l))
	h.runFor(t)
	const refused = "heartbeats and maintenance windows not armed yet; retrying"
	waitUntil(t, 5*time.Second, "a second refused try", func() bool { return strings.Count(h.logs.String(), refused) >= 2 })

	fs.refuseJobs.Store(false)
	ctx := context.Background()
	waitUntil(t, 5*time.Second, "the heartbeats' expiries to be stored", func() bool {
		_, err1 := fs.GetJob(ctx, heartbeat.JobKind, "api/watchdog")
		_, err2 := fs.GetJob(ctx, heartbeat.JobKind, "api/nightly")
		return err1 == nil && err2 == nil
	})
	// The watchdog's expiry, from the start: interval 1m, grace 30s.
	j, err := fs.GetJob(ctx, heartbeat.JobKind, "api/watchdog")
	if err != nil {
		t.Fatal(err)
	}
	if want := fixedNow.Add(90 * time.Second); !j.Due.Equal(want) {
		t.Fatalf("the watchdog expires %v, want %v", j.Due, want)
	}
}
