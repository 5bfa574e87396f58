package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// TestIncidentLevelIsOneBased: the page counts levels from 1, as the
// timeline does, where it cannot name the level (the loader names every
// level, so only when a reload removed the service or its policy).
func TestIncidentLevelIsOneBased(t *testing.T) {
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	inc := &store.Incident{ID: "i1", Service: "api", Summary: "s", CreatedAt: at,
		State: policy.Incident{Status: policy.StatusTriggered, Priority: "P1", Urgency: "high", Level: 0}}
	v := &viewer{User: &policy.User{ID: "ann"}, Role: policy.RoleViewer}
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, "incident.html", page{Viewer: v, Body: incidentView{Inc: inc, Age: "1m"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "<dt>Level</dt><dd>1 (urgency high)</dd>") {
		t.Errorf("the first level of an unnamed ladder is not shown as 1:\n%s", b.String())
	}
}

// TestDescribeEscalation: the next step of an escalation names the level
// it goes to, or the ladder's start again after the last; an incident
// whose service a reload removed says only that it escalates.
func TestDescribeEscalation(t *testing.T) {
	cfg, err := policy.Parse([]byte(`
users: [{id: ann, contacts: [{channel: push, via: log}]}]
escalation_policies:
  - name: n
    levels:
      - {name: primary, targets: [{user: ann}], timeout: 5m}
      - {name: secondary, targets: [{user: ann}]}
services:
  - {name: named, escalation_policy: n, priority_scheme: P0-P3}
`), "test.yaml", ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		service string
		level   int
		want    string
	}{
		{"named", 0, "escalate to level 2 (secondary)"},
		{"named", 1, "page the ladder again from level 1"},
		{"gone", 0, "escalate"},
	} {
		d := policy.Deadline{Kind: policy.DeadlineEscalate, Level: tc.level}
		inc := &policy.Incident{Service: tc.service, Level: tc.level, Pending: []policy.Deadline{d}}
		if got := describeDeadline(cfg, inc, d); got != tc.want {
			t.Errorf("%s at level %d: %q, want %q", tc.service, tc.level+1, got, tc.want)
		}
	}
}

// TestDescribeLookForSomeoneOnCall: the pending look of an incident that
// waits for someone on call says what happened while nobody was, as the
// look's timeline entry will (policy.Incident.UnpagedWhat): not "when
// the alert came" for an incident whose priority was raised after its
// person's hours, that an auto-escalation trigger re-opened, or that a
// maintenance window's end paged as new into a gap.
func TestDescribeLookForSomeoneOnCall(t *testing.T) {
	cfg, err := policy.Parse([]byte(`
users: [{id: ann, contacts: [{channel: push, via: log}]}]
escalation_policies:
  - name: n
    levels:
      - {name: primary, targets: [{user: ann}], timeout: 5m}
services:
  - {name: named, escalation_policy: n, priority_scheme: P0-P3}
`), "test.yaml", ".")
	if err != nil {
		t.Fatal(err)
	}
	for by, want := range map[string]string{
		"":              "look for someone on call: nobody was when the alert came",
		"raise":         "look for someone on call: nobody was when the priority was raised to P0",
		"reopen breach": "look for someone on call: nobody was when an auto-escalation trigger re-opened the incident",
		"window":        "look for someone on call: nobody was when the maintenance window holding the incident ended",
	} {
		d := policy.Deadline{Kind: policy.DeadlineOnCall}
		inc := &policy.Incident{Service: "named", Priority: "P0", Unpaged: true, UnpagedBy: by, Pending: []policy.Deadline{d}}
		if got := describeDeadline(cfg, inc, d); got != want {
			t.Errorf("unpaged by %q: %q, want %q", by, got, want)
		}
	}
}

// slowTimelines is an Incidents whose Timeline answers once timelineReads
// reads are in flight together (or after a second, so reads one after
// another still end), and fails for "bad".
type slowTimelines struct {
	Incidents
	mu             sync.Mutex
	inFlight, most int
	all            chan struct{}
	once           sync.Once
}

func (s *slowTimelines) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	s.mu.Lock()
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	if s.inFlight == timelineReads {
		s.once.Do(func() { close(s.all) })
	}
	s.mu.Unlock()
	select {
	case <-s.all:
	case <-time.After(time.Second):
	}
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	if id == "bad" {
		return nil, errors.New("store down")
	}
	return []store.Entry{{At: time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC), Type: "notify", User: id, Channel: "sms"}}, nil
}

// TestIncidentListReadsTimelinesAtOnce: the list reads its open incidents'
// timelines several at a time (a storm's hundreds, one after another, held
// the page for all of their round trips), each row gets its own "paged
// last", a resolved one reads nothing, and one that cannot be read costs
// only its row.
func TestIncidentListReadsTimelinesAtOnce(t *testing.T) {
	st := &slowTimelines{all: make(chan struct{})}
	c := &Console{o: Options{Incidents: st}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg := &policy.Config{}
	var incs []*store.Incident
	for i := range 2 * timelineReads {
		incs = append(incs, &store.Incident{ID: fmt.Sprintf("u%d", i), State: policy.Incident{Status: policy.StatusTriggered}})
	}
	incs = append(incs, &store.Incident{ID: "bad", State: policy.Incident{Status: policy.StatusTriggered}},
		&store.Incident{ID: "done", State: policy.Incident{Status: policy.StatusResolved}})
	got := c.pagedLastOf(context.Background(), cfg, incs, time.UTC)
	if st.most != timelineReads {
		t.Errorf("at most %d timelines read at once, want %d", st.most, timelineReads)
	}
	for i, inc := range incs {
		want := ""
		if strings.HasPrefix(inc.ID, "u") {
			want = inc.ID + " by sms at 06:00"
		}
		if got[i] != want {
			t.Errorf("%s: paged last %q, want %q", inc.ID, got[i], want)
		}
	}
}
