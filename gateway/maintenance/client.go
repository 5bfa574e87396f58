package maintenance

import (
	"context"
	"net/http"
	"net/url"

	"github.com/pagerd/pagerd/internal/apiclient"
)

// Client is the maintenance API of a running pagerd, as pagerd
// maintenance uses it: an API token with the responder (or admin) role to
// add and remove windows, any role to list them.
type Client struct {
	// Server is pagerd's base URL.
	Server string
	// Token is the API token.
	Token string
	// HTTP carries the calls (default apiclient's shared client, with
	// apiclient.CallTimeout per call).
	HTTP *http.Client
}

// Listed is a window as the API lists it, with its state.
type Listed struct {
	Window
	State string `json:"state"`
}

// api is the shared API client c calls through.
func (c *Client) api() *apiclient.Client {
	return &apiclient.Client{Server: c.Server, Token: c.Token, HTTP: c.HTTP}
}

// Add makes a window (POST /api/v1/maintenance).
func (c *Client) Add(ctx context.Context, r Request) (*Listed, error) {
	var w Listed
	if err := c.api().Call(ctx, http.MethodPost, "/api/v1/maintenance", r, &w); err != nil {
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
	if err := c.api().Call(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Windows, nil
}

// Delete ends a window now (DELETE /api/v1/maintenance/<id>).
func (c *Client) Delete(ctx context.Context, id string) (*Listed, error) {
	var w Listed
	if err := c.api().Call(ctx, http.MethodDelete, "/api/v1/maintenance/"+url.PathEscape(id), nil, &w); err != nil {
		return nil, err
	}
	return &w, nil
}
