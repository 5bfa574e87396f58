package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/prometheus/common/model"
)

// MaxEventBytes is PagerDuty's request size cap (512 KB). The HTTP layer
// limits the body to it; DecodeEvent refuses anything larger as well, so it is
// safe to call on its own.
const MaxEventBytes = 512 * 1024

// Field limits of the Events API v2 as PagerDuty documents them.
const (
	// MaxDedupKeyChars is the longest dedup_key PagerDuty accepts; longer
	// keys are rejected, since cutting them would merge distinct incidents.
	MaxDedupKeyChars = 255
	// MaxEventSummaryChars is the longest payload.summary PagerDuty keeps;
	// longer summaries are truncated, not rejected.
	MaxEventSummaryChars = 1024
)

// Events API v2 event actions.
const (
	ActionTrigger     = "trigger"
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"
)

// Events API v2 severities, most urgent first.
var eventSeverities = []string{"critical", "error", "warning", "info"}

// EventResponse is the exact body PagerDuty's Events API v2 answers with, so
// that every PagerDuty client (go-pagerduty, Alertmanager's pagerduty_configs,
// pdpyras, ...) understands pagerd's answers.
type EventResponse struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// Accepted is the 202 body for a processed event:
// {"status":"success","message":"Event processed","dedup_key":...}.
func Accepted(dedupKey string) EventResponse {
	return EventResponse{Status: "success", Message: "Event processed", DedupKey: dedupKey}
}

// Invalid is the 400 body for an event that can never succeed:
// {"status":"invalid event","message":"Event object is invalid","errors":[...]}.
func Invalid(errs []string) EventResponse {
	return EventResponse{Status: "invalid event", Message: "Event object is invalid", Errors: errs}
}

// DerivedDedupKey is the dedup key of a trigger sent without one: 32
// lowercase hex digits (the shape of the keys PagerDuty makes) of a SHA-256
// over the event's identifying content, so the same event sent again, as a
// retry after a 5xx or a timeout is, lands on the same incident instead of
// opening another. The handler returns it in Accepted, so the sender can
// acknowledge and resolve with it, as with a key PagerDuty made.
//
// The content is the payload's summary (as kept: at most
// MaxEventSummaryChars), source, severity, component, group, class and
// custom_details (as JSON, whatever the order of its keys): what the event
// says is wrong, where, and how badly. Left out are payload.timestamp, which
// a sender sets when it sends (a retry may carry a new one), client,
// client_url, links and images, which are presentation, and the routing
// key: dedup keys are already scoped to the routing key's service, and the
// key is shown to every API reader next to the payload, so a digest of the
// routing key would let them test guesses of a weak one offline.
//
// Identical keyless triggers are therefore one incident while it is open
// (repeats of it); once it is resolved, the next one opens a new incident.
// A sender that wants changing events (a new value in custom_details) to
// be one incident must send its own dedup_key.
func DerivedDedupKey(ev *pagerduty.V2Event) string {
	var p pagerduty.V2Payload
	if ev.Payload != nil {
		p = *ev.Payload
	}
	b, err := json.Marshal([]any{"pagerd-derived-dedup-key-v1", p.Summary, p.Source, p.Severity, p.Component, p.Group, p.Class, p.Details})
	if err != nil {
		// Unreachable: Details is decoded JSON. Fall back to the rest.
		b, _ = json.Marshal([]any{"pagerd-derived-dedup-key-v1", p.Summary, p.Source, p.Severity, p.Component, p.Group, p.Class})
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// DecodeEvent parses and validates an Events API v2 body the way PagerDuty
// does. Exactly one of the results is non-nil: the event, or the list of
// every problem found, worded in PagerDuty's style (for example
// "'payload.summary' is missing or blank") for the Invalid body. Malformed
// JSON gives a single "Malformed JSON: ..." entry.
//
// Like PagerDuty it truncates payload.summary to MaxEventSummaryChars rather
// than rejecting it, ignores unknown fields, and ignores the payload of
// acknowledge and resolve events (kept if it is a well-formed object). A
// trigger without dedup_key comes back with an empty DedupKey: see
// DerivedDedupKey. Numbers inside custom_details, images and links are kept as
// json.Number so that they round-trip exactly.
func DecodeEvent(body []byte) (*pagerduty.V2Event, []string) { return DecodeEventKeyed(body, "") }

// DecodeEventKeyed is DecodeEvent for an event whose request carried
// headerKey in X-Routing-Key: PagerDuty takes the routing key from that
// header when the body has none (older pdpyras clients send it only
// there), so an event without one in the body is routed by it.
func DecodeEventKeyed(body []byte, headerKey string) (*pagerduty.V2Event, []string) {
	top, errs := decodeEventObject(body)
	if errs != nil {
		return nil, errs
	}

	if isEventV1(top) {
		return nil, []string{eventV1Refused}
	}

	v := &validator{}
	ev := &pagerduty.V2Event{}

	ev.RoutingKey, _ = v.str(top, "routing_key", "")
	if strings.TrimSpace(ev.RoutingKey) == "" && !v.failed("routing_key") && strings.TrimSpace(headerKey) != "" {
		ev.RoutingKey = strings.TrimSpace(headerKey)
	}
	if strings.TrimSpace(ev.RoutingKey) == "" && !v.failed("routing_key") {
		v.add("'routing_key' is missing or blank")
	}

	action, _ := v.str(top, "event_action", "")
	ev.Action = action
	switch {
	case v.failed("event_action"):
	case strings.TrimSpace(action) == "":
		v.add("'event_action' is missing or blank")
	case action != ActionTrigger && action != ActionAcknowledge && action != ActionResolve:
		v.add("'event_action' must be one of: trigger, acknowledge, resolve")
	}

	dedup, _ := v.str(top, "dedup_key", "")
	if strings.TrimSpace(dedup) == "" {
		dedup = ""
	}
	ev.DedupKey = dedup
	switch {
	case v.failed("dedup_key"):
	case dedup == "" && (action == ActionAcknowledge || action == ActionResolve):
		v.add("'dedup_key' is required for acknowledge and resolve events")
	case utf8.RuneCountInString(dedup) > MaxDedupKeyChars:
		v.add(fmt.Sprintf("'dedup_key' must be at most %d characters", MaxDedupKeyChars))
	}

	ev.Client, _ = v.str(top, "client", "")
	ev.ClientURL, _ = v.str(top, "client_url", "")
	ev.Images = v.array(top, "images", "")
	ev.Links = v.array(top, "links", "")

	raw, present := top["payload"]
	present = present && !isNull(raw)
	switch {
	case action == ActionTrigger && !present:
		v.add("'payload' is missing")
	case action == ActionTrigger && !isObject(raw):
		v.add("'payload' must be a JSON object")
	case action == ActionTrigger:
		ev.Payload = decodePayload(raw, v)
	case present && isObject(raw):
		// PagerDuty ignores the payload of acknowledge and resolve events;
		// keep it when it is well formed, for the timeline, and never fail on it.
		if p := decodePayload(raw, &validator{}); p != nil {
			ev.Payload = p
		}
	}

	if len(v.errs) > 0 {
		return nil, v.errs
	}
	return ev, nil
}

// eventV1Refused is the one error of an Events API v1 event: what it is,
// and what to change. Alertmanager's pagerduty_configs send one when
// configured with service_key rather than routing_key (the URL pointed at
// pagerd, the rest kept), and reading "'routing_key' is missing" about an
// event that carries its key does not say that.
const eventV1Refused = "This is an Events API v1 event (service_key, event_type): /v2/enqueue takes Events API v2 events " +
	"(routing_key, event_action, payload). In Alertmanager's pagerduty_configs, set routing_key instead of service_key " +
	"(the same integration key)"

// isEventV1 tells an Events API v1 event: v1's fields, none of v2's.
func isEventV1(top map[string]json.RawMessage) bool {
	_, key := top["service_key"]
	_, typ := top["event_type"]
	_, rk := top["routing_key"]
	_, action := top["event_action"]
	return (key || typ) && !rk && !action
}

func decodePayload(raw json.RawMessage, v *validator) *pagerduty.V2Payload {
	var obj map[string]json.RawMessage
	if decodeEventJSON(raw, &obj) != "" || obj == nil {
		v.add("'payload' must be a JSON object")
		return nil
	}
	p := &pagerduty.V2Payload{}
	var present bool

	p.Summary, present = v.str(obj, "summary", "payload.")
	p.Summary = truncateRunes(p.Summary, MaxEventSummaryChars, "")
	if !v.failed("payload.summary") && (!present || strings.TrimSpace(p.Summary) == "") {
		v.add("'payload.summary' is missing or blank")
	}

	p.Source, present = v.str(obj, "source", "payload.")
	if !v.failed("payload.source") && (!present || strings.TrimSpace(p.Source) == "") {
		v.add("'payload.source' is missing or blank")
	}

	p.Severity, present = v.str(obj, "severity", "payload.")
	switch {
	case v.failed("payload.severity"):
	case !present || strings.TrimSpace(p.Severity) == "":
		v.add("'payload.severity' is missing or blank")
	case !isSeverity(p.Severity):
		v.add("'payload.severity' must be one of: " + strings.Join(eventSeverities, ", "))
	}

	p.Timestamp, present = v.str(obj, "timestamp", "payload.")
	if present && !v.failed("payload.timestamp") && p.Timestamp != "" {
		if _, err := ParseTimestamp(p.Timestamp); err != nil {
			v.add("'payload.timestamp' is not a valid ISO 8601 timestamp")
		}
	}

	p.Component, _ = v.str(obj, "component", "payload.")
	p.Group, _ = v.str(obj, "group", "payload.")
	p.Class, _ = v.str(obj, "class", "payload.")

	if cd, ok := obj["custom_details"]; ok && !isNull(cd) {
		var details any
		if decodeEventJSON(cd, &details) == "" {
			p.Details = details
		}
	}
	return p
}

func isSeverity(s string) bool {
	for _, sev := range eventSeverities {
		if s == sev {
			return true
		}
	}
	return false
}

// validator collects every problem of one event, in order.
type validator struct {
	errs []string
	bad  map[string]bool
}

func (v *validator) add(msg string) { v.errs = append(v.errs, msg) }

func (v *validator) failed(field string) bool { return v.bad[field] }

func (v *validator) fail(field, msg string) {
	if v.bad == nil {
		v.bad = map[string]bool{}
	}
	v.bad[field] = true
	v.add(msg)
}

// str reads an optional string field; null counts as absent. A value of
// another type is reported and marks the field as failed.
func (v *validator) str(obj map[string]json.RawMessage, key, prefix string) (string, bool) {
	raw, ok := obj[key]
	if !ok || isNull(raw) {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		v.fail(prefix+key, fmt.Sprintf("'%s%s' must be a string", prefix, key))
		return "", false
	}
	return s, true
}

// array reads an optional array field of any JSON values.
func (v *validator) array(obj map[string]json.RawMessage, key, prefix string) []any {
	raw, ok := obj[key]
	if !ok || isNull(raw) {
		return nil
	}
	var a []any
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '[' || decodeEventJSON(raw, &a) != "" {
		v.fail(prefix+key, fmt.Sprintf("'%s%s' must be an array", prefix, key))
		return nil
	}
	return a
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

// decodeEventJSON decodes exactly one JSON value with numbers kept as
// json.Number, returning "" or a description of what is wrong (with the byte
// offset for syntax errors).
func decodeEventJSON(data []byte, v any) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	err := dec.Decode(v)
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		return "empty body"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("unexpected end of input at byte %d", len(data))
	case errors.As(err, &syn):
		return fmt.Sprintf("%s at byte %d", strings.TrimPrefix(err.Error(), "json: "), syn.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("the event must be a JSON object, got %s", typ.Value)
	default:
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	off := dec.InputOffset()
	rest := data[off:]
	if trimmed := bytes.TrimLeft(rest, " \t\r\n"); len(trimmed) > 0 {
		return fmt.Sprintf("unexpected data after the event object at byte %d", off+int64(len(rest)-len(trimmed)))
	}
	return ""
}

// ParseTimestamp parses payload.timestamp as DecodeEvent validates it: ISO
// 8601 in the forms senders use, such as RFC 3339 ("2015-07-17T08:42:58Z",
// with or without fractional seconds), PagerDuty's own documented example
// "2015-07-17T08:42:58.315+0000", an hour-only offset ("+01"), a space
// instead of "T", minutes precision, and a bare date. A time without a zone
// is taken as UTC. Only DecodeEvent reads it, to refuse what PagerDuty
// refuses: an incident's times are pagerd's (when it received the event),
// never the sender's clock.
func ParseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) > 10 && (s[10] == ' ' || s[10] == 't') {
		s = s[:10] + "T" + s[11:]
	}
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s is not an ISO 8601 timestamp", quote(s))
}

// timestampLayouts are tried in order; Go accepts fractional seconds after
// the seconds field even when the layout does not show them.
var timestampLayouts = []string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05Z07",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04Z0700",
	"2006-01-02T15:04",
	"2006-01-02",
}

// EventGroup turns a trigger event into what the router needs.
//
// Labels, for priority routing: "severity" (payload.severity), "source",
// "component", "group" and "class" when set, plus every string-valued entry
// of an object custom_details whose key is a valid Prometheus label name and
// not one of those (custom details never override the standard fields).
// It is EventGroupFor with the default severity label.
// Summary is payload.summary, never empty. Details is compact JSON
// {"source":"pagerduty","event":{...the event without routing_key...}}:
// the routing key is a credential and must not reach storage or
// notification text.
func EventGroup(ev *pagerduty.V2Event) (labels map[string]string, summary string, details json.RawMessage) {
	return EventGroupFor(ev, "severity")
}

// EventGroupFor is EventGroup for a service whose severity_label is
// severityLabel: payload.severity is that label's value too, since it is
// the event's severity word whatever label the service reads it from, and
// no custom_details entry overrides it. Without it, a service with
// severity_label: level would route every event at default_priority (and
// a custom detail "level" would decide instead).
func EventGroupFor(ev *pagerduty.V2Event, severityLabel string) (labels map[string]string, summary string, details json.RawMessage) {
	labels = map[string]string{}
	if ev == nil {
		return labels, "PagerDuty event", compactJSON(pdDetails{Source: "pagerduty"})
	}
	p := ev.Payload
	if p != nil {
		for _, kv := range [...][2]string{
			{"severity", p.Severity},
			{"source", p.Source},
			{"component", p.Component},
			{"group", p.Group},
			{"class", p.Class},
		} {
			if kv[1] != "" {
				labels[kv[0]] = kv[1]
			}
		}
		if severityLabel != "" && p.Severity != "" {
			labels[severityLabel] = p.Severity
		}
		if cd, ok := p.Details.(map[string]any); ok {
			for k, val := range cd {
				s, isString := val.(string)
				if !isString || s == "" || reservedEventLabel(k) || k == severityLabel || !model.LegacyValidation.IsValidLabelName(k) || strings.HasPrefix(k, "__") {
					continue
				}
				labels[k] = s
			}
		}
		summary = strings.TrimSpace(p.Summary)
	}
	if summary == "" {
		summary = "PagerDuty event"
		if p != nil && p.Source != "" {
			summary += " from " + p.Source
		}
	}
	summary = capSummary(summary)
	kept := ""
	if severityLabel != "severity" {
		kept = severityLabel
	}
	details = compactJSON(pdDetails{Source: "pagerduty", SeverityLabel: kept, Event: &eventWithoutKey{
		Action:    ev.Action,
		DedupKey:  ev.DedupKey,
		Images:    ev.Images,
		Links:     ev.Links,
		Client:    ev.Client,
		ClientURL: ev.ClientURL,
		Payload:   ev.Payload,
	}})
	return labels, summary, details
}

func reservedEventLabel(k string) bool {
	switch k {
	case "severity", "source", "component", "group", "class":
		return true
	}
	return false
}

type pdDetails struct {
	Source string `json:"source"`
	// SeverityLabel is the service's severity_label when it is not
	// "severity", so that LabelSets gives the labels the event was
	// routed on (a maintenance window starting later matches them).
	SeverityLabel string           `json:"severity_label,omitempty"`
	Event         *eventWithoutKey `json:"event,omitempty"`
}

// eventWithoutKey is pagerduty.V2Event minus routing_key.
type eventWithoutKey struct {
	Action    string               `json:"event_action"`
	DedupKey  string               `json:"dedup_key,omitempty"`
	Images    []any                `json:"images,omitempty"`
	Links     []any                `json:"links,omitempty"`
	Client    string               `json:"client,omitempty"`
	ClientURL string               `json:"client_url,omitempty"`
	Payload   *pagerduty.V2Payload `json:"payload,omitempty"`
}

// decodeEventObject reads an Events API body (an alert or a change event)
// as its top-level JSON object, with PagerDuty's wording for a body too
// large, malformed, or not an object.
func decodeEventObject(body []byte) (map[string]json.RawMessage, []string) {
	if len(body) > MaxEventBytes {
		return nil, []string{fmt.Sprintf("Event object is too large: %d bytes, the limit is %d bytes", len(body), MaxEventBytes)}
	}
	var top map[string]json.RawMessage
	if msg := decodeEventJSON(body, &top); msg != "" {
		return nil, []string{"Malformed JSON: " + msg}
	}
	if top == nil {
		return nil, []string{"Malformed JSON: the event must be a JSON object, got null"}
	}
	return top, nil
}
