package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

// Opsgenie's Alert API v2, as far as senders of alerts use it: create an
// alert (POST /v2/alerts), and close or acknowledge one
// (POST /v2/alerts/<identifier>/close|acknowledge). Alertmanager's
// opsgenie_configs and Opsgenie's SDKs send these; pagerd answers with
// Opsgenie's bodies and codes so they work unchanged.

// Opsgenie's documented field limits. Like Opsgenie (and Alertmanager,
// which cuts the message itself), pagerd truncates a field over its limit
// rather than refusing the alert, and says so in the incident's details.
const (
	// MaxOpsgenieBytes caps a request body read whole, as the
	// Alertmanager intake's (8 MiB); one over it is read as a stream
	// with its strings cut (ReadOpsgenieCut). Every field at its limit
	// fits in a fraction of 256 KB, but senders send fields over their
	// limits, which are cut, not refused: Alertmanager's
	// opsgenie_configs, left to their defaults, put every alert of a
	// group (labels, annotations, source) in the description, some 550
	// bytes each, so a group of a few hundred alerts is over 256 KB, and
	// a 413, which Alertmanager does not retry, paged nobody for the
	// outage.
	MaxOpsgenieBytes        = 8 << 20
	maxOpsgenieMessage      = 130   // runes
	maxOpsgenieAlias        = 512   // bytes
	maxOpsgenieDescription  = 15000 // runes
	maxOpsgenieTags         = 20
	maxOpsgenieTag          = 50   // runes
	maxOpsgenieDetailsChars = 8000 // runes of keys and values together
	maxOpsgenieEntity       = 512  // runes
	maxOpsgenieSource       = 100  // runes
	maxOpsgenieUser         = 100  // runes
	maxOpsgenieNote         = 25000
)

// OpsgeniePriorities are the priorities Opsgenie takes; P3 is its default.
var OpsgeniePriorities = []string{"P1", "P2", "P3", "P4", "P5"}

// opsgenieSeverity is the severity word of each Opsgenie priority: the
// same rank as policy.Scheme.FromOpsgenie's table (P1 critical, P2 error,
// P3 warning, P4 and P5 info), so an alert without a severity label gets
// the published table's priority from the default severity mapping.
var opsgenieSeverity = map[string]string{"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"}

// OpsgenieAlert is a create-alert request, cut to Opsgenie's limits.
type OpsgenieAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias,omitempty"`
	Description string            `json:"description,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source,omitempty"`
	Priority    string            `json:"priority"`
	User        string            `json:"user,omitempty"`
	Note        string            `json:"note,omitempty"`
	// Responders, VisibleTo and Actions are kept as sent: pagerd routes by
	// its own config, not by Opsgenie's responders.
	Responders json.RawMessage `json:"responders,omitempty"`
	VisibleTo  json.RawMessage `json:"visibleTo,omitempty"`
	Actions    []string        `json:"actions,omitempty"`
	// Cut lists the fields truncated to Opsgenie's limits.
	Cut []string `json:"-"`
	// routeDetails and routeTags are the details and tags as sent, when
	// limit cut them: routing reads them whole (Labels), as it reads an
	// Alertmanager alert's labels, so that a severity the cut dropped (a
	// long detail sorting before it) does not route a critical alert as
	// its priority's default. The cut ones are what is kept.
	routeDetails map[string]string
	routeTags    []string
	// priorityDefault: the sender left priority out, and it is Opsgenie's
	// default, P3. Its severity then yields to a tag that names one
	// (Labels): only a priority the sender chose says how urgent it is.
	priorityDefault bool
}

// OpsgenieAction is the optional body of a close or acknowledge request.
type OpsgenieAction struct {
	User   string `json:"user,omitempty"`
	Source string `json:"source,omitempty"`
	Note   string `json:"note,omitempty"`
}

// OpsgenieProblem is a request Opsgenie would refuse: Code 400 for a body
// that is not JSON, 422 for one whose fields are wrong (Errors names each
// field).
type OpsgenieProblem struct {
	Code    int
	Message string
	Errors  map[string]string
}

func (p *OpsgenieProblem) Error() string {
	if len(p.Errors) == 0 {
		return p.Message
	}
	keys := make([]string, 0, len(p.Errors))
	for k := range p.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+p.Errors[k])
	}
	return p.Message + " " + strings.Join(parts, "; ")
}

// OpsgenieResponse is every answer of the Opsgenie-compatible intake:
// {"result":"Request will be processed","took":…,"requestId":…} when
// accepted, {"message":…,"errors":{…},"took":…,"requestId":…} when not.
type OpsgenieResponse struct {
	Result    string            `json:"result,omitempty"`
	Message   string            `json:"message,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"`
	Took      float64           `json:"took"`
	RequestID string            `json:"requestId"`
}

// Answers of the Opsgenie-compatible intake, in Opsgenie's words.
const (
	OpsgenieAccepted      = "Request will be processed"
	OpsgeniePong          = "PONG - Heartbeat received"
	opsgenieUnprocessable = "Request body is not processable. Please check the errors."
)

func unprocessable(errs map[string]string) *OpsgenieProblem {
	return &OpsgenieProblem{Code: 422, Message: opsgenieUnprocessable, Errors: errs}
}

// DecodeOpsgenieAlert parses and checks a create-alert request as
// Opsgenie does: the message is required, the priority is one of P1–P5
// (P3 when left out), details are strings (numbers and booleans are taken
// as their JSON text), and unknown fields are ignored. Fields over their
// limits are truncated (Cut says which).
func DecodeOpsgenieAlert(body []byte) (*OpsgenieAlert, *OpsgenieProblem) {
	var top map[string]json.RawMessage
	if p := decodeOpsgenieJSON(body, &top); p != nil {
		return nil, p
	}
	a := &OpsgenieAlert{}
	errs := map[string]string{}
	str := func(name string, to *string) {
		raw, ok := top[name]
		if !ok || string(raw) == "null" {
			return
		}
		if err := json.Unmarshal(raw, to); err != nil {
			errs[name] = "should be a string"
		}
	}
	str("message", &a.Message)
	str("alias", &a.Alias)
	str("description", &a.Description)
	str("entity", &a.Entity)
	str("source", &a.Source)
	str("priority", &a.Priority)
	str("user", &a.User)
	str("note", &a.Note)
	if raw, ok := top["tags"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &a.Tags); err != nil {
			errs["tags"] = "should be a list of strings"
		}
	}
	if raw, ok := top["actions"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &a.Actions); err != nil {
			errs["actions"] = "should be a list of strings"
		}
	}
	for _, name := range []string{"responders", "visibleTo"} {
		raw, ok := top[name]
		if !ok || string(raw) == "null" {
			continue
		}
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '[' {
			errs[name] = "should be a list"
			continue
		}
		if name == "responders" {
			a.Responders = raw
		} else {
			a.VisibleTo = raw
		}
	}
	if raw, ok := top["details"]; ok && string(raw) != "null" {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			errs["details"] = "should be an object of strings"
		} else {
			a.Details = make(map[string]string, len(m))
			for k, v := range m {
				var s string
				switch {
				case string(v) == "null":
					continue
				case json.Unmarshal(v, &s) == nil:
				default:
					var buf bytes.Buffer
					_ = json.Compact(&buf, v)
					s = buf.String()
				}
				a.Details[k] = s
			}
		}
	}
	a.Message = strings.TrimSpace(a.Message)
	if a.Message == "" && errs["message"] == "" {
		errs["message"] = "Message can not be empty."
	}
	if a.Priority == "" {
		a.Priority, a.priorityDefault = "P3", true
	} else if _, ok := opsgenieSeverity[a.Priority]; !ok && errs["priority"] == "" {
		errs["priority"] = "should be one of [P1, P2, P3, P4, P5]"
	}
	if len(errs) > 0 {
		return nil, unprocessable(errs)
	}
	a.limit()
	return a, nil
}

// limit truncates the fields over Opsgenie's limits, noting which.
func (a *OpsgenieAlert) limit() {
	cut := func(name string, s *string, n int) {
		if utf8.RuneCountInString(*s) > n {
			*s = truncateRunes(*s, n, "…")
			a.Cut = append(a.Cut, name)
		}
	}
	cut("message", &a.Message, maxOpsgenieMessage)
	cut("description", &a.Description, maxOpsgenieDescription)
	cut("entity", &a.Entity, maxOpsgenieEntity)
	cut("source", &a.Source, maxOpsgenieSource)
	cut("user", &a.User, maxOpsgenieUser)
	cut("note", &a.Note, maxOpsgenieNote)
	if k, ok := capKey(a.Alias, maxOpsgenieAlias); !ok {
		a.Alias = k
		a.Cut = append(a.Cut, "alias")
	}
	if len(a.Tags) > maxOpsgenieTags {
		a.routeTags = slices.Clone(a.Tags)
		a.Tags = a.Tags[:maxOpsgenieTags]
		a.Cut = append(a.Cut, "tags")
	}
	for i := range a.Tags {
		a.Tags[i] = strings.TrimSpace(a.Tags[i])
		cut(fmt.Sprintf("tags[%d]", i), &a.Tags[i], maxOpsgenieTag)
	}
	// Details: keys in order, until the budget of characters is spent.
	keys := make([]string, 0, len(a.Details))
	for k := range a.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	budget := maxOpsgenieDetailsChars
	for _, k := range keys {
		n := utf8.RuneCountInString(k) + utf8.RuneCountInString(a.Details[k])
		if n > budget {
			if a.routeDetails == nil {
				a.routeDetails = maps.Clone(a.Details)
			}
			delete(a.Details, k)
			if !slices.Contains(a.Cut, "details") {
				a.Cut = append(a.Cut, "details")
			}
			continue
		}
		budget -= n
	}
}

// DecodeOpsgenieAction parses the optional body of a close or acknowledge
// request (an empty body is no body).
func DecodeOpsgenieAction(body []byte) (*OpsgenieAction, *OpsgenieProblem) {
	a := &OpsgenieAction{}
	if len(bytes.TrimSpace(body)) == 0 {
		return a, nil
	}
	var top map[string]json.RawMessage
	if p := decodeOpsgenieJSON(body, &top); p != nil {
		return nil, p
	}
	errs := map[string]string{}
	for name, to := range map[string]*string{"user": &a.User, "source": &a.Source, "note": &a.Note} {
		if raw, ok := top[name]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, to); err != nil {
				errs[name] = "should be a string"
			}
		}
	}
	if len(errs) > 0 {
		return nil, unprocessable(errs)
	}
	a.User = truncateRunes(a.User, maxOpsgenieUser, "…")
	a.Source = truncateRunes(a.Source, maxOpsgenieSource, "…")
	a.Note = truncateRunes(a.Note, maxOpsgenieNote, "…")
	return a, nil
}

// Opsgenie's alert updates pagerd takes (PUT /v2/alerts/<identifier>/…),
// which Alertmanager's opsgenie_configs send after every create with
// update_alerts: true.
const (
	OpsgenieUpdateMessage     = "message"
	OpsgenieUpdateDescription = "description"
)

// DecodeOpsgenieUpdate parses the body of an update of the field (message
// or description): {"<field>": "…"}, the message not empty. The value is
// cut to Opsgenie's limit for the field, as a create's is. A description
// left out (or null) is the empty one: Alertmanager's opsgenie_configs
// send {} for a description template that renders empty (the field is
// omitempty), after a create without one.
func DecodeOpsgenieUpdate(body []byte, field string) (value string, p *OpsgenieProblem) {
	var top map[string]json.RawMessage
	if p := decodeOpsgenieJSON(body, &top); p != nil {
		return "", p
	}
	raw, ok := top[field]
	if (!ok || string(raw) == "null") && field == OpsgenieUpdateDescription {
		return "", nil
	}
	if !ok || string(raw) == "null" || json.Unmarshal(raw, &value) != nil {
		return "", unprocessable(map[string]string{field: "should be a string"})
	}
	limit := maxOpsgenieDescription
	if field == OpsgenieUpdateMessage {
		if value = strings.TrimSpace(value); value == "" {
			return "", unprocessable(map[string]string{field: "Message can not be empty."})
		}
		limit = maxOpsgenieMessage
	}
	return truncateRunes(value, limit, "…"), nil
}

// OpsgenieMessageSummary is the incident summary of an alert whose
// message was updated to message (as DecodeOpsgenieUpdate gave it).
func OpsgenieMessageSummary(message string) string { return capSummary(message) }

// ErrNotOpsgenieDetails is the error of OpsgenieDescription for the
// details of an incident the Opsgenie intake did not open.
var ErrNotOpsgenieDetails = errors.New("the incident was not opened by an Opsgenie alert: it has no Opsgenie description")

// OpsgenieDescription is the description of the alert whose incident has
// the details (IncidentDetails).
func OpsgenieDescription(details json.RawMessage) (string, error) {
	var d opsgenieDetails
	if err := json.Unmarshal(details, &d); err != nil || d.Source != "opsgenie" || d.Alert == nil {
		return "", ErrNotOpsgenieDetails
	}
	return d.Alert.Description, nil
}

// decodeOpsgenieJSON reads a JSON object: anything else is Opsgenie's 400
// for a body that is not JSON (or 422 for JSON that is not an object).
func decodeOpsgenieJSON(body []byte, top *map[string]json.RawMessage) *OpsgenieProblem {
	dec := json.NewDecoder(bytes.NewReader(body))
	err := dec.Decode(top)
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &OpsgenieProblem{Code: 400, Message: "Request body is empty: send a JSON object"}
	case errors.As(err, &typ):
		return unprocessable(map[string]string{"body": "should be a JSON object, got " + typ.Value})
	case err != nil:
		return &OpsgenieProblem{Code: 400, Message: "Could not parse the request body as JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	case *top == nil:
		return unprocessable(map[string]string{"body": "should be a JSON object, got null"})
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return &OpsgenieProblem{Code: 400, Message: "Could not parse the request body as JSON: data after the object"}
	}
	return nil
}

// DerivedAlias is the alias of an alert created without one: 32 hex
// digits of a SHA-256 over what identifies the alert (message,
// description, entity, source, priority, tags in any order, details), so a
// retry of the same create after a 5xx or a timeout lands on the same
// incident, as a keyless PagerDuty trigger does. Not counted: user, note,
// responders, visibleTo and actions (who is told, not what happened).
func (a *OpsgenieAlert) DerivedAlias() string {
	tags := append([]string(nil), a.Tags...)
	sort.Strings(tags)
	b, _ := json.Marshal([]any{"pagerd-derived-alias-v1", a.Message, a.Description, a.Entity, a.Source, a.Priority, tags, a.Details})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// OpsgenieDedupKey is the incident dedup key of an Opsgenie alias, cut to
// Opsgenie's limit as a create cuts it (capKey, which leaves an alias
// already cut as it is): a close or acknowledge by an alias over the
// limit, as sent, finds the alert its create opened. Uncut, it named no
// alert, was answered 202 and did nothing.
func OpsgenieDedupKey(alias string) string {
	k, _ := capKey(alias, maxOpsgenieAlias)
	return "og:" + k
}

// Labels are the labels the alert is routed on (and maintenance windows
// match), by this table:
//
//   - every detail whose key is a label name (Alertmanager's
//     opsgenie_configs send the group's common labels as details);
//   - priority: the alert's priority, P1–P5 (P3 when not sent), which the
//     routing rules pagerd import writes match on;
//   - the severity label (severityLabel, the service's), when no detail
//     set it: critical, error, warning, info, info for P1–P5, so a service
//     without such rules still gets the published table's priority;
//   - tags: the tags joined by commas; a tag "key:value" or "key=value"
//     whose key is a label name also sets that label;
//   - entity and source, when set.
//
// Details win over tags, entity and source; the priority field wins over
// a detail named priority.
func (a *OpsgenieAlert) Labels(severityLabel string) map[string]string {
	out := map[string]string{}
	set := func(k, v string) {
		if _, ok := out[k]; ok || v == "" || !labelName(k) {
			return
		}
		v, _ = capValue(v, MaxLabelBytes)
		out[k] = v
	}
	details, tags := a.Details, a.Tags
	if a.routeDetails != nil {
		details = a.routeDetails
	}
	if a.routeTags != nil {
		tags = a.routeTags
	}
	for k, v := range details {
		if k != "priority" {
			set(k, v)
		}
	}
	out["priority"] = a.Priority
	if severityLabel == "" {
		severityLabel = "severity"
	}
	if !a.priorityDefault {
		set(severityLabel, opsgenieSeverity[a.Priority])
	}
	if len(tags) > 0 {
		set("tags", strings.Join(tags, ","))
		for _, t := range tags {
			i := strings.IndexAny(t, ":=")
			if i > 0 {
				set(strings.TrimSpace(t[:i]), strings.TrimSpace(t[i+1:]))
			}
		}
	}
	// Without a priority, a tag severity:critical says more than the
	// default P3's warning: it sets the label, or the default does.
	set(severityLabel, opsgenieSeverity[a.Priority])
	set("entity", a.Entity)
	set("source", a.Source)
	return out
}

func labelName(k string) bool {
	return model.LegacyValidation.IsValidLabelName(k) && !strings.HasPrefix(k, "__")
}

// opsgenieDetails is what an Opsgenie alert's incident keeps: the alert as
// sent (within the limits) and the labels it was routed on.
type opsgenieDetails struct {
	Source    string            `json:"source"`
	Alert     *OpsgenieAlert    `json:"alert"`
	Labels    map[string]string `json:"labels"`
	Truncated []string          `json:"truncated_by_pagerd,omitempty"`
}

// IncidentDetails are the details an incident opened by the alert keeps.
func (a *OpsgenieAlert) IncidentDetails(labels map[string]string) json.RawMessage {
	d := opsgenieDetails{Source: "opsgenie", Alert: a, Labels: labels}
	for _, c := range a.Cut {
		d.Truncated = append(d.Truncated, c+" cut to Opsgenie's limit")
	}
	return compactJSON(d)
}

// Summary is the incident's summary: the alert's message.
func (a *OpsgenieAlert) Summary() string { return capSummary(a.Message) }
