package pagerduty_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// keptMerges is a merges' record holding moved for every incident.
type keptMerges struct{ moved []pagerduty.Moved }

func (m *keptMerges) Merge(context.Context, string, string, time.Time, pagerduty.Moved) (pagerduty.MergeTarget, error) {
	return pagerduty.MergeTarget{}, nil
}
func (m *keptMerges) Moved(context.Context, string) ([]pagerduty.Moved, error) { return m.moved, nil }
func (m *keptMerges) Resolved(context.Context, string, string, []pagerduty.Moved) ([]pagerduty.Moved, error) {
	return nil, nil
}
func (m *keptMerges) Acknowledged(context.Context, string, string, time.Time) ([]pagerduty.Moved, error) {
	return m.moved, nil
}

// TestWebhookMergedAlertFromBeforeTheReopenIsNotLoggedAcknowledged:
// carol acknowledges PagerDuty's incident Q1, which holds the alert of
// another incident, 01other, merged into it, from before that incident's
// latest reopen: the acknowledgement changes nothing there (the pages
// since go on), and the log said it was "acknowledged as theirs",
// sending whoever read it to look for a bug elsewhere when 01other went
// on paging. It says it was not applied, and why.
func TestWebhookMergedAlertFromBeforeTheReopenIsNotLoggedAcknowledged(t *testing.T) {
	rec := &receiver{reopened: 1}
	var logs bytes.Buffer
	wh := &pagerduty.Webhook{Receiver: rec, Secret: func() string { return providertest.PagerDutyWebhookSecret },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Merges: &keptMerges{moved: []pagerduty.Moved{{Key: pagerduty.DedupKey("01other", "carol", 0), Into: "Q1"}}}}
	if code := postWebhook(t, wh, "incident.acknowledged", 1); code != http.StatusNoContent {
		t.Fatalf("acknowledgement: %d", code)
	}
	if len(rec.acted) != 1 || rec.acted[0] != "01incident carol acknowledge" {
		t.Fatalf("acted %v, want 01incident's own alone", rec.acted)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "incident=01other") && strings.Contains(line, "acknowledged as theirs") {
			t.Fatalf("logged acknowledged, though not applied: %s", line)
		}
	}
	if !strings.Contains(logs.String(), "reopened after") {
		t.Fatalf("the log does not say why 01other was not acknowledged:\n%s", logs.String())
	}
}
