package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Silences: a service with silence_on_acknowledge has the alerts of an
// incident Alertmanager sent silenced there when the incident is
// acknowledged in pagerd, so Alertmanager stops notifying about them
// (anyone else too), and the silences expired when it is resolved. Both
// are outbox items (store.OutboxSilence), done here and retried like
// telling PagerDuty. The silences made are recorded in the timeline
// ("silenced"), which is where expiring finds them.

// Silencer creates and expires Alertmanager silences.
type Silencer interface {
	// Silence silences alerts with exactly these labels at base (an
	// Alertmanager's URL) until end, and returns the silence's id.
	Silence(ctx context.Context, base string, labels map[string]string, end time.Time, createdBy, comment string) (string, error)
	// Expire expires a silence; one already gone is not an error.
	Expire(ctx context.Context, base, id string) error
}

// AlertmanagerSilencer is a Silencer on Alertmanager's API v2.
type AlertmanagerSilencer struct {
	// Client carries the calls (default a client of its own).
	Client *http.Client
	// Timeout bounds each call (default 10s).
	Timeout time.Duration
}

var _ Silencer = (*AlertmanagerSilencer)(nil)

type amMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

type amSilence struct {
	Matchers  []amMatcher `json:"matchers"`
	StartsAt  time.Time   `json:"startsAt"`
	EndsAt    time.Time   `json:"endsAt"`
	CreatedBy string      `json:"createdBy"`
	Comment   string      `json:"comment"`
}

func (a *AlertmanagerSilencer) do(ctx context.Context, method, u string, body []byte) ([]byte, int, error) {
	c := a.Client
	if c == nil {
		c = &http.Client{}
	}
	to := a.Timeout
	if to <= 0 {
		to = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return b, resp.StatusCode, nil
}

// Silence posts a silence to /api/v2/silences.
func (a *AlertmanagerSilencer) Silence(ctx context.Context, base string, labels map[string]string, end time.Time, createdBy, comment string) (string, error) {
	s := amSilence{StartsAt: time.Now().UTC(), EndsAt: end.UTC(), CreatedBy: createdBy, Comment: comment}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		s.Matchers = append(s.Matchers, amMatcher{Name: k, Value: labels[k], IsEqual: true})
	}
	body, _ := json.Marshal(s)
	b, code, err := a.do(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v2/silences", body)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("alertmanager answered %d: %s", code, bytes.TrimSpace(b))
	}
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.SilenceID == "" {
		return "", fmt.Errorf("alertmanager's answer has no silenceID: %s", bytes.TrimSpace(b))
	}
	return out.SilenceID, nil
}

// Expire deletes /api/v2/silence/<id>.
func (a *AlertmanagerSilencer) Expire(ctx context.Context, base, id string) error {
	b, code, err := a.do(ctx, http.MethodDelete, strings.TrimRight(base, "/")+"/api/v2/silence/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	// 404: gone already (expired on its own, or by hand).
	if code != http.StatusOK && code != http.StatusNotFound {
		return fmt.Errorf("alertmanager answered %d: %s", code, bytes.TrimSpace(b))
	}
	return nil
}

// silencedPrefix starts the detail of a "silenced" timeline entry; the ids
// follow, up to the "(".
const silencedPrefix = "Alertmanager silences "

// silence does one silence outbox item: creates a silence per firing alert
// of the incident, or expires every silence the timeline (and entries, what
// this claim did before) says was made and not yet expired.
func (d *Dispatcher) silence(ctx context.Context, cfg *policy.Config, inc *store.Incident, o store.OutboxItem, now time.Time,
	entries []store.Entry) (store.Entry, error) {
	svc := cfg.Service(inc.Service)
	if svc == nil || svc.SilenceOnAcknowledge == nil {
		return store.Entry{}, nil
	}
	base := svc.SilenceOnAcknowledge.AlertmanagerURL
	if o.Action == "create" {
		if inc.State.Status != policy.StatusAcknowledged {
			return store.Entry{}, nil // resolved or re-triggered meanwhile
		}
		// The alerts as Alertmanager sent them (ingest keeps them in the
		// details, firing ones first).
		var details struct {
			Alerts []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		_ = json.Unmarshal(inc.Details, &details)
		end := now.Add(time.Duration(svc.SilenceOnAcknowledge.Duration))
		var ids, what []string
		for _, a := range details.Alerts {
			if a.Status != "firing" || len(a.Labels) == 0 {
				continue
			}
			id, err := d.o.Silencer.Silence(ctx, base, a.Labels, end, "pagerd",
				fmt.Sprintf("Acknowledged in pagerd by %s: incident %s (%s)", inc.State.AcknowledgedBy, inc.ID, inc.Summary))
			if err != nil {
				if len(ids) > 0 {
					// Those made are recorded; the item is tried again
					// whole, and Alertmanager keeps the duplicates apart.
					d.log.Warn("some Alertmanager silences made before one failed", "incident", inc.ID, "silences", ids)
				}
				return store.Entry{}, err
			}
			ids = append(ids, id)
			what = append(what, labelString(a.Labels))
		}
		if len(ids) == 0 {
			return store.Entry{}, nil
		}
		return store.Entry{At: now, Type: "silenced", Detail: fmt.Sprintf("%s%s (until %s) for %s", silencedPrefix, strings.Join(ids, " "),
			end.UTC().Format(time.RFC3339), strings.Join(what, "; "))}, nil
	}
	tl, err := d.o.Store.Timeline(ctx, inc.ID)
	if err != nil {
		return store.Entry{}, err
	}
	made, expired := map[string]bool{}, map[string]bool{}
	var order []string
	for _, e := range append(tl, entries...) {
		switch e.Type {
		case "silenced":
			for _, id := range silenceIDs(e.Detail) {
				if !made[id] {
					made[id] = true
					order = append(order, id)
				}
			}
		case "unsilenced":
			for _, id := range silenceIDs(e.Detail) {
				expired[id] = true
			}
		}
	}
	var done []string
	for _, id := range order {
		if expired[id] {
			continue
		}
		if err := d.o.Silencer.Expire(ctx, base, id); err != nil {
			return store.Entry{}, err
		}
		done = append(done, id)
	}
	if len(done) == 0 {
		return store.Entry{}, nil
	}
	return store.Entry{At: now, Type: "unsilenced", Detail: silencedPrefix + strings.Join(done, " ") + " (expired: the incident is resolved)"}, nil
}

// silenceIDs reads the silence ids of a "silenced" or "unsilenced" entry.
func silenceIDs(detail string) []string {
	rest, ok := strings.CutPrefix(detail, silencedPrefix)
	if !ok {
		return nil
	}
	if i := strings.IndexByte(rest, '('); i >= 0 {
		rest = rest[:i]
	}
	return strings.Fields(rest)
}

// labelString writes labels as name="value" pairs, sorted.
func labelString(ls map[string]string) string {
	parts := make([]string, 0, len(ls))
	for _, k := range slices.Sorted(maps.Keys(ls)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, ls[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
