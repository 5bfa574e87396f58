package maintenance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client is the maintenance API of a running pagerd, as pagerd
// maintenance uses it: an API token with the responder (or admin) role to
// add and remove windows, any role to list them.
type Client struct {
	// Server is pagerd's base URL.
	Server string
	// Token is the API token.
	Token string
	// HTTP carries the calls (default a client with a 30s timeout).
	HTTP *http.Client
}

// Listed is a window as the API lists it, with its state.
type Listed struct {
	Window
	State string `json:"state"`
}

func (c *Client) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := strings.TrimRight(c.Server, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("--server %q: %w", c.Server, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != want {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: unreadable answer: %w", method, u, err)
	}
	return nil
}

// Add makes a window (POST /api/v1/maintenance).
func (c *Client) Add(ctx context.Context, r Request) (*Listed, error) {
	var w Listed
	if err := c.do(ctx, http.MethodPost, "/api/v1/maintenance", r, http.StatusCreated, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// List lists the windows (GET /api/v1/maintenance), of one state when
// state is set.
func (c *Client) List(ctx context.Context, state string) ([]Listed, error) {
	path := "/api/v1/maintenance"
	if state != "" {
		path += "?state=" + url.QueryEscape(state)
	}
	var out struct {
		Windows []Listed `json:"windows"`
	}
	if err := c.do(ctx, http.MethodGet, path, nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return out.Windows, nil
}

// Delete ends a window now (DELETE /api/v1/maintenance/<id>).
func (c *Client) Delete(ctx context.Context, id string) (*Listed, error) {
	var w Listed
	if err := c.do(ctx, http.MethodDelete, "/api/v1/maintenance/"+url.PathEscape(id), nil, http.StatusOK, &w); err != nil {
		return nil, err
	}
	return &w, nil
}
