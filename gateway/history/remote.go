package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pagerd/pagerd/gateway/changes"
	"github.com/pagerd/pagerd/internal/apiclient"
	"github.com/pagerd/pagerd/report"
)

// HistoryPath is the API route that streams the incident history a report
// reads: GET with from and to (RFC 3339) and open=true for the incidents
// still open from before from; the answer is one incident per line
// (report.Incident's JSON, the incident API's form), oldest first.
const HistoryPath = "/api/v1/reports/history"

// NDJSON is the history stream's content type.
const NDJSON = "application/x-ndjson"

// Remote is a Source on a running pagerd: its history stream, read with an
// API token (any role).
type Remote struct {
	// URL is the pagerd's base URL, like https://pagerd.example.com.
	URL   string
	Token string
	// Client carries the request (default: apiclient's shared client,
	// which bounds connecting and the wait for the answer's first byte, not
	// how long the stream takes).
	Client *http.Client
}

var _ Source = Remote{}

// HandoffPath is the API route that answers a schedule's handoff
// document, made by the daemon with its config: GET with schedule, at
// (RFC 3339, default now) and format (text, the schedule's template, or
// json).
const HandoffPath = "/api/v1/reports/handoff"

// get sends a GET of path with the query and the token, and returns the
// answer if it is a 2xx; what the daemon said otherwise.
func (r Remote) get(ctx context.Context, what, path string, q url.Values, accept string) (*http.Response, error) {
	c := apiclient.Client{Server: r.URL, Token: r.Token, HTTP: r.Client}
	resp, err := c.Get(ctx, path+"?"+q.Encode(), accept)
	if err != nil {
		return nil, fmt.Errorf("%s from %s: %w", what, r.URL, err)
	}
	return resp, nil
}

// Handoff writes the handoff document the daemon makes for the schedule
// at `at` (zero: the daemon's now) to w, as format (text or json).
func (r Remote) Handoff(ctx context.Context, w io.Writer, schedule string, at time.Time, format string) error {
	q := url.Values{}
	if schedule != "" {
		q.Set("schedule", schedule)
	}
	if !at.IsZero() {
		q.Set("at", at.Format(time.RFC3339Nano))
	}
	q.Set("format", format)
	resp, err := r.get(ctx, "handoff document", HandoffPath, q, "*/*")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("handoff document from %s cut off: %w", r.URL, err)
	}
	return nil
}

// Incidents streams the history from the API, fn called as each incident
// arrives.
func (r Remote) Incidents(ctx context.Context, since, until time.Time, open bool, fn func(*report.Incident) error) error {
	q := url.Values{}
	q.Set("from", since.UTC().Format(time.RFC3339Nano))
	q.Set("to", until.UTC().Format(time.RFC3339Nano))
	if open {
		q.Set("open", "true")
	}
	resp, err := r.get(ctx, "history", HistoryPath, q, NDJSON)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var inc report.Incident
		err := dec.Decode(&inc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("history from %s cut off: %w", r.URL, err)
		}
		if err := fn(&inc); err != nil {
			return err
		}
	}
}

// ChangesPath is the API route that lists the change events kept: GET
// with since, until (RFC 3339), service and limit.
const ChangesPath = "/api/v1/changes"

// Changes reads the changes of the services from the API, one service
// at a time: asked for every service's, the newest maxChanges of all of
// them, a busy service's deploys left out the schedule's own, and the
// document listed none of them.
func (r Remote) Changes(ctx context.Context, services []string, since, until time.Time) ([]report.Change, error) {
	var out []changes.Change
	for _, svc := range services {
		q := url.Values{}
		q.Set("service", svc)
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
		q.Set("until", until.UTC().Format(time.RFC3339Nano))
		q.Set("limit", strconv.Itoa(maxChanges))
		resp, err := r.get(ctx, "changes", ChangesPath, q, "application/json")
		if ae := (*apiclient.Error)(nil); errors.As(err, &ae) && ae.Code == http.StatusNotFound {
			// A pagerd from before change events were kept (a newer
			// CLI against an older server), or one whose config has
			// no such service: the document keeps the template's
			// prompts, as for a week with none, rather than failing
			// whole.
			continue
		}
		if err != nil {
			return nil, err
		}
		var page struct {
			Changes []changes.Change `json:"changes"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("changes from %s: %w", r.URL, err)
		}
		for _, c := range page.Changes {
			if c.Service == svc {
				out = append(out, c)
			}
		}
	}
	return ReportChanges(out), nil
}
