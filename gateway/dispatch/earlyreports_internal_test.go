package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// TestEarlyReportsReadNoTimelineForAStormMessagesPage: the write that
// records pages reads the incident's timeline for delivery reports noted
// before them (earlyReports) only when one of its pages is one such a
// report can name: a page sent on its own, with its SID and its step.
// Its test lacked the storm message's check that incident.EarlyReports
// makes (a storm message's page is named by its bundle, and counted by
// the flush that notes it: lateStormReports), so such a page cost a
// timeline read that found nothing to apply. A claim's write records no
// storm message's page today (the flush notes them), so the read was
// latent; the test is now incident.EarlyReportable, the one EarlyReports
// makes.
func TestEarlyReportsReadNoTimelineForAStormMessagesPage(t *testing.T) {
	d, st, _, cfg := lateSetup(t)
	eng := policy.Engine{Config: cfg}
	now := time.Now().UTC()
	page := store.Entry{At: now, Type: "notify", Level: 1, User: "ann", Channel: "push", Ref: "SM1", Step: "0001.000001.notify"}
	for _, c := range []struct {
		name  string
		edit  func(*store.Entry)
		reads int32
	}{
		{"a page on its own", func(*store.Entry) {}, 1},
		{"a storm message's page", func(e *store.Entry) { e.Bundle = "b05-x" }, 0},
		{"a page without its SID", func(e *store.Entry) { e.Ref = "" }, 0},
		{"a page refused", func(e *store.Entry) { e.Type = "notify_failed" }, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			st.reads.Store(0)
			e := page
			c.edit(&e)
			if _, _, _, err := d.earlyReports(context.Background(), &eng, "0f-06h49sae16zcw3g9", policy.Incident{Service: "api"}, []store.Entry{e}, now); err != nil {
				t.Fatal(err)
			}
			if got := st.reads.Load(); got != c.reads {
				t.Errorf("%d timeline reads, want %d", got, c.reads)
			}
		})
	}
}
