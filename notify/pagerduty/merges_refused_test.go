package pagerduty_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// refusingMerges is a merges' record the store refuses while down.
type refusingMerges struct{ down bool }

var errMergesDown = errors.New("the merges' node is down")

func (m *refusingMerges) Merge(context.Context, string, string, time.Time, pagerduty.Moved) (pagerduty.MergeTarget, error) {
	if m.down {
		return pagerduty.MergeTarget{}, errMergesDown
	}
	return pagerduty.MergeTarget{}, nil
}

func (m *refusingMerges) Acknowledged(context.Context, string, string, time.Time) ([]pagerduty.Moved, error) {
	if m.down {
		return nil, errMergesDown
	}
	return nil, nil
}

func (m *refusingMerges) Moved(context.Context, string) ([]pagerduty.Moved, error) {
	if m.down {
		return nil, errMergesDown
	}
	return nil, nil
}

func (m *refusingMerges) Resolved(context.Context, string, string, []pagerduty.Moved) ([]pagerduty.Moved, error) {
	if m.down {
		return nil, errMergesDown
	}
	return nil, nil
}

// TestWebhookActsThoughTheMergesRecordIsRefused: the record of which of
// pagerd's alerts PagerDuty merged into which of its incidents lives in
// the store's documents, on one Redis Cluster node. While the store
// refuses it, a person's acknowledgement or resolve made in PagerDuty
// still acts on the incident its own alert names, which needs no such
// record: before, it was answered 5xx first, and the incident paged on
// until PagerDuty's redelivery found the record readable (or until
// PagerDuty gave up). It is answered 5xx after acting, so that PagerDuty
// delivers it again for the merged alerts; the redelivery changes the
// incident no more (204 once the record is back).
func TestWebhookActsThoughTheMergesRecordIsRefused(t *testing.T) {
	for _, event := range []string{"incident.acknowledged", "incident.resolved"} {
		t.Run(event, func(t *testing.T) {
			rec := &receiver{}
			merges := &refusingMerges{down: true}
			wh := &pagerduty.Webhook{Receiver: rec, Merges: merges, Secret: func() string { return providertest.PagerDutyWebhookSecret }}
			post := func() (int, error) {
				body := `{"event":{"id":"01ABC","event_type":"` + event + `","occurred_at":"2025-09-10T06:00:00Z","agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},` +
					`"data":{"id":"Q1","type":"incident","incident_key":"` + pagerduty.DedupKey("01incident", "carol", 0) + `"}}}`
				r := httptest.NewRequest(http.MethodPost, pagerduty.WebhookPath, strings.NewReader(body))
				r.Header.Set("X-PagerDuty-Signature", providertest.PagerDutySign([]byte(body), providertest.PagerDutyWebhookSecret))
				w := httptest.NewRecorder()
				err := wh.ServeWebhook(w, r)
				return w.Code, err
			}
			_, err := post()
			if !errors.Is(err, errMergesDown) {
				t.Fatalf("answered with %v, want the merges' error (5xx: PagerDuty delivers it again)", err)
			}
			want := "01incident carol " + strings.TrimSuffix(strings.TrimPrefix(event, "incident."), "d")
			if event == "incident.acknowledged" {
				want = "01incident carol acknowledge"
			}
			if len(rec.acted) != 1 || rec.acted[0] != want {
				t.Fatalf("acted %v with the merges' record refused, want [%s]: the person's own alert needs no such record", rec.acted, want)
			}
			merges.down = false
			if code, err := post(); err != nil || code != http.StatusNoContent {
				t.Fatalf("delivered again with the record back: %d, %v; want 204", code, err)
			}
		})
	}
}

// TestWebhookAcknowledgementWithoutATimeAcknowledgesNothingMerged: an
// acknowledgement whose webhook carries no occurred_at (every real
// webhook v3 does) cannot say whether the person saw an alert merged
// into the incident: taken as seen, one merged after it (its webhook
// delivered first) was acknowledged though nobody had (rev34). Its own
// alert is acknowledged; the merged one's ladder goes on.
func TestWebhookAcknowledgementWithoutATimeAcknowledgesNothingMerged(t *testing.T) {
	rec := &receiver{}
	wh := &pagerduty.Webhook{Receiver: rec, Secret: func() string { return providertest.PagerDutyWebhookSecret },
		Merges: &keptMerges{moved: []pagerduty.Moved{{Key: pagerduty.DedupKey("01other", "carol", 0), Into: "Q1"}}}}
	body := `{"event":{"id":"01ABC","event_type":"incident.acknowledged","agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},` +
		`"data":{"id":"Q1","type":"incident","incident_key":"` + pagerduty.DedupKey("01incident", "carol", 0) + `"}}}`
	r := httptest.NewRequest(http.MethodPost, pagerduty.WebhookPath, strings.NewReader(body))
	r.Header.Set("X-PagerDuty-Signature", providertest.PagerDutySign([]byte(body), providertest.PagerDutyWebhookSecret))
	w := httptest.NewRecorder()
	if err := wh.ServeWebhook(w, r); err != nil || w.Code != http.StatusNoContent {
		t.Fatalf("answered %d, %v; want 204", w.Code, err)
	}
	if len(rec.acted) != 1 || rec.acted[0] != "01incident carol acknowledge" {
		t.Fatalf("acted %v, want 01incident's own alone", rec.acted)
	}
}
