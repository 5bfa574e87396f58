package overrides

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pagerd/pagerd/internal/apiclient"
	"github.com/pagerd/pagerd/policy"
)

// Client is the overrides API of a running pagerd, for `pagerd override`
// and `pagerd oncall|schedule --server`: the same JSON the handlers write.
type Client struct {
	// Server is pagerd's base URL, Token an API token (responder to
	// change overrides, any role to read them).
	Server, Token string
	// HTTP carries the calls (default apiclient's shared client, with
	// apiclient.CallTimeout per call).
	HTTP *http.Client
}

// Made is POST .../overrides's answer: the override, and for a swap the
// other half.
type Made struct {
	Override
	Name string `json:"name,omitempty"`
	// LeftOut, in a list, says why the daemon does not page by the
	// override (LeftOut): a reload took its tier or user away.
	LeftOut      string `json:"left_out,omitempty"`
	SwapOverride *Made  `json:"swap_override,omitempty"`
	// Warnings, in the answer that made it, say whom it (or the swap's
	// other half) puts on call who would not be woken for real
	// (policy.Config.OnCallWarnings): the override is made all the same.
	Warnings []string `json:"warnings,omitempty"`
}

// CreateBody is POST .../overrides's body: Tier and User from Start to
// End, with Reason. Start zero means now ("take the shift now"); Duration
// may stand for End ("for the next 4 hours"). SwapStart and SwapEnd make
// it a swap: whoever holds the tier at Start takes User's shift between
// them, in the same call.
type CreateBody struct {
	Tier      string    `json:"tier"`
	User      string    `json:"user"`
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end,omitzero"`
	Duration  string    `json:"duration,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	SwapStart time.Time `json:"swap_start,omitzero"`
	SwapEnd   time.Time `json:"swap_end,omitzero"`
}

// api is the shared API client c calls through.
func (c *Client) api() *apiclient.Client {
	return &apiclient.Client{Server: c.Server, Token: c.Token, HTTP: c.HTTP}
}

func overridesPath(schedule string) string {
	return "/api/v1/schedules/" + url.PathEscape(schedule) + "/overrides"
}

// Create makes an override (two, for a swap).
func (c *Client) Create(ctx context.Context, schedule string, r CreateBody) (*Made, error) {
	var m Made
	if err := c.api().Call(ctx, http.MethodPost, overridesPath(schedule), r, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// List is a schedule's overrides as the API lists them (LeftOut says which
// the daemon does not page by); with ended, those that ended in the last
// 30 days too.
func (c *Client) List(ctx context.Context, schedule string, ended bool) ([]Made, error) {
	var out struct {
		Overrides []Made `json:"overrides"`
	}
	q := ""
	if ended {
		q = "?ended=true"
	}
	if err := c.api().Call(ctx, http.MethodGet, overridesPath(schedule)+q, nil, &out); err != nil {
		return nil, err
	}
	return out.Overrides, nil
}

// Delete deletes an override (and the other half of a swap).
func (c *Client) Delete(ctx context.Context, schedule, id string) ([]Override, error) {
	var out struct {
		Deleted []Override `json:"deleted"`
	}
	if err := c.api().Call(ctx, http.MethodDelete, overridesPath(schedule)+"/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return out.Deleted, nil
}

// Merge reads the overrides of every schedule of cfg from the server
// (ended ones too, so past instants show what happened) and merges them
// into cfg as the daemon does: what `pagerd oncall --server` and
// `pagerd schedule --server` show. An override cfg cannot apply (its tier
// or user is not in cfg) is left out; when the server applies it (cfg is
// older or newer than the server's config), skipped says so, one
// sentence each: the answer made with cfg then names someone other than
// the person the server pages, and the caller must say so.
func (c *Client) Merge(ctx context.Context, cfg *policy.Config) (merged *policy.Config, skipped []string, err error) {
	bySchedule := map[string][]Override{}
	for _, s := range cfg.Schedules {
		list, err := c.List(ctx, s.Name, true)
		if err != nil {
			return nil, nil, fmt.Errorf("schedule %s: %w", s.Name, err)
		}
		for _, m := range list {
			bySchedule[s.Name] = append(bySchedule[s.Name], m.Override)
			if why := LeftOut(cfg, m.Override); why != "" && m.LeftOut == "" {
				skipped = append(skipped, fmt.Sprintf("override %s pages %s on %s of %s from %s to %s at %s, but this config cannot show it (%s): "+
					"what is shown for that span is not who is paged", m.ID, m.User, m.Tier, s.Name,
					m.Start.UTC().Format(time.RFC3339), m.End.UTC().Format(time.RFC3339), c.Server, strings.Replace(why, "no longer ", "not ", 1)))
			}
		}
	}
	// Those the local config cannot apply (its tier or user is not in
	// it) are left out, as the daemon leaves them out.
	extra, _ := applicable(cfg, bySchedule)
	return cfg.WithOverrides(extra), skipped, nil
}
