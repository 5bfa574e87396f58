package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Change event limits: what pagerd keeps of a change event. A change is a
// line in a handoff document and in GET /api/v1/changes, so what is over
// is cut, never refused: a deploy tool's event is not lost for a long
// text. Custom details over MaxChangeDetailsBytes are not kept (a deploy
// tool's whole manifest would make every service's changes the store's
// largest documents).
const (
	MaxChangeSourceChars  = 255
	MaxChangeLinks        = 5
	MaxChangeHrefChars    = 2048
	MaxChangeLinkChars    = 255
	MaxChangeDetailsBytes = 8 << 10
)

// ChangeEvent is a PagerDuty change event (POST /v2/change/enqueue) as
// DecodeChangeEvent validates it: a deploy, a config push, a feature flag.
// It pages nobody.
type ChangeEvent struct {
	RoutingKey string
	Summary    string
	Source     string
	// Timestamp is payload.timestamp, zero when the event has none (the
	// change is then dated when it was received).
	Timestamp time.Time
	// Details is payload.custom_details as sent, nil when absent or over
	// MaxChangeDetailsBytes (DetailsDropped).
	Details        json.RawMessage
	DetailsDropped bool
	Links          []ChangeLink
}

// ChangeLink is one of a change event's links.
type ChangeLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// DecodeChangeEvent parses and validates a change event body the way
// DecodeEvent does an alert event, with PagerDuty's wording for what is
// wrong: routing_key and payload.summary are required, payload.timestamp
// must be a timestamp when given, links an array of objects with an href.
// payload.summary is cut to MaxEventSummaryChars, as PagerDuty cuts it;
// the other fields to the limits above. headerKey is X-Routing-Key.
func DecodeChangeEvent(body []byte, headerKey string) (*ChangeEvent, []string) {
	top, errs := decodeEventObject(body)
	if errs != nil {
		return nil, errs
	}
	v := &validator{}
	ev := &ChangeEvent{}
	ev.RoutingKey, _ = v.str(top, "routing_key", "")
	ev.RoutingKey = strings.TrimSpace(ev.RoutingKey)
	if ev.RoutingKey == "" && !v.failed("routing_key") {
		ev.RoutingKey = strings.TrimSpace(headerKey)
	}
	if ev.RoutingKey == "" && !v.failed("routing_key") {
		v.add("'routing_key' is missing or blank")
	}

	raw, present := top["payload"]
	var obj map[string]json.RawMessage
	switch {
	case !present || isNull(raw):
		v.add("'payload' is missing")
	case !isObject(raw) || decodeEventJSON(raw, &obj) != "" || obj == nil:
		v.add("'payload' must be a JSON object")
	default:
		var ok bool
		ev.Summary, ok = v.str(obj, "summary", "payload.")
		ev.Summary = truncateRunes(ev.Summary, MaxEventSummaryChars, "")
		if !v.failed("payload.summary") && (!ok || strings.TrimSpace(ev.Summary) == "") {
			v.add("'payload.summary' is missing or blank")
		}
		ev.Source, _ = v.str(obj, "source", "payload.")
		ev.Source = truncateRunes(ev.Source, MaxChangeSourceChars, "…")
		if ts, ok := v.str(obj, "timestamp", "payload."); ok && strings.TrimSpace(ts) != "" {
			t, err := ParseTimestamp(ts)
			if err != nil {
				v.add("'payload.timestamp' is not a valid ISO 8601 timestamp")
			}
			ev.Timestamp = t
		}
		if cd, ok := obj["custom_details"]; ok && !isNull(cd) {
			if len(cd) > MaxChangeDetailsBytes {
				ev.DetailsDropped = true
			} else {
				ev.Details = append(json.RawMessage(nil), cd...)
			}
		}
	}

	for i, l := range v.array(top, "links", "") {
		m, ok := l.(map[string]any)
		href, _ := m["href"].(string)
		if !ok || strings.TrimSpace(href) == "" {
			v.add(fmt.Sprintf("'links[%d].href' is missing or blank", i))
			continue
		}
		if len(ev.Links) == MaxChangeLinks {
			continue
		}
		text, _ := m["text"].(string)
		ev.Links = append(ev.Links, ChangeLink{Href: truncateRunes(href, MaxChangeHrefChars, ""), Text: truncateRunes(text, MaxChangeLinkChars, "…")})
	}
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	return ev, nil
}
