package redisstore

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/internal/created"
	"github.com/pagerd/pagerd/policy"
)

// TestCreatedRecordHeader: the header Trigger keeps is the one the trigger
// script writes for a new incident (what takeCreated compares a claim's
// record with), built in one allocation, not three: at every new
// incident, the two lengths (over 99 bytes) were strings of their own.
func TestCreatedRecordHeader(t *testing.T) {
	at := time.Date(2026, 12, 6, 4, 0, 0, 123456789, time.UTC)
	inc := &store.Incident{ID: "i1", Service: "api", DedupKey: "am:g", CreatedAt: at, UpdatedAt: at, LastSeen: at}
	inc.State.Status = "triggered"
	doc, det := []byte(strings.Repeat("d", 1234)), []byte(strings.Repeat("e", 567))
	seen := at.Format(time.RFC3339Nano)
	due := at.Add(time.Minute)
	received := at.Add(-time.Second).Truncate(time.Millisecond)
	for _, tc := range []struct {
		pending  []policy.Deadline
		next     string
		received time.Time
		seen     string
	}{
		{[]policy.Deadline{{ID: "1.1", At: due, Kind: policy.DeadlineNotify}}, strconv.FormatInt(due.UnixMilli(), 10), time.Time{}, seen},
		{nil, "-", time.Time{}, seen},
		// The latest firing's receipt rides on the last seen time.
		{nil, "-", received, seen + "@" + strconv.FormatInt(received.UnixMilli(), 10)},
	} {
		inc.State.Pending = tc.pending
		inc.LastReceived = tc.received
		c := createdRecord(inc, false, doc, det, seen, receivedArg(inc))
		if c == nil {
			t.Fatal("no record kept")
		}
		next := tc.next
		want := "v1 1 triggered " + next + " 0 " + tc.seen + " " + strconv.Itoa(len(doc)) + " " + strconv.Itoa(len(det))
		if c.header != want {
			t.Errorf("next %q: header %q, want %q", next, c.header, want)
		}
		h, err := parseRecord(c.header + "\n" + string(doc) + string(det))
		if err != nil || h.ver != 1 || h.status != "triggered" {
			t.Errorf("next %q: parseRecord(header) = %+v, %v", next, h, err)
		}
	}
	if raceEnabled {
		return // the race detector allocates as it likes
	}
	inc.State.Pending = []policy.Deadline{{ID: "1.1", At: due, Kind: policy.DeadlineNotify}}
	inc.LastReceived = received
	copyOnly := testing.AllocsPerRun(100, func() { _, _ = created.CanonicalCopy(inc) })
	all := testing.AllocsPerRun(100, func() { _ = createdRecord(inc, false, doc, det, seen, ms(received)) })
	if got := all - copyOnly; got != 2 {
		t.Errorf("createdRecord allocates %.0f beside the copy, want 2 (the header, the record)", got)
	}
}
