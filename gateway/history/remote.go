package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

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
	// Client carries the request (default: one that bounds connecting and
	// the wait for the answer's first byte, not how long the stream takes).
	Client *http.Client
}

var _ Source = Remote{}

// Incidents streams the history from the API, fn called as each incident
// arrives.
func (r Remote) Incidents(ctx context.Context, since, until time.Time, open bool, fn func(*report.Incident) error) error {
	q := url.Values{}
	q.Set("from", since.UTC().Format(time.RFC3339Nano))
	q.Set("to", until.UTC().Format(time.RFC3339Nano))
	if open {
		q.Set("open", "true")
	}
	u := strings.TrimRight(r.URL, "/") + HistoryPath + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("--server %q: %w", r.URL, err)
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	req.Header.Set("Accept", NDJSON)
	client := r.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("history from %s: %w", r.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := strings.TrimSpace(string(body))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return fmt.Errorf("history from %s: %s: %s", r.URL, resp.Status, msg)
	}
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
