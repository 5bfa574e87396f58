package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

// Message is an Alertmanager webhook notification (payload version 4) as
// Alertmanager 0.25 through 0.34 send it. Fields added over versions are
// optional, and fields this struct does not name (notification reason, route
// labels, whatever comes next) are ignored rather than rejected, so an
// Alertmanager upgrade never turns pages into 400s.
//
// It is our own small struct rather than Alertmanager's notify/webhook.Message
// because importing that package drags some 66 modules into the binary; the
// tests prove the two are wire compatible.
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Status            string            `json:"status"` // firing | resolved
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
	// Unread is how many alerts after the first MaxAlertsPerMessage were
	// counted and not kept, by DecodeAlertmanagerStream (0 from
	// DecodeAlertmanager, which keeps them all).
	Unread int `json:"-"`
	// UnreadFiring is how many of the Unread alerts may fire: all but
	// those that say they are resolved.
	UnreadFiring int `json:"-"`
	// Received is when pagerd received the notification, on the clock
	// every replica shares (zero when not known): the intake sets it
	// (incident.Alert.Received).
	Received time.Time `json:"-"`
}

// Alert is one alert of a Message, in Alertmanager's webhook shape. Its
// Fingerprint is kept as sent (it may be empty when a third party imitates
// Alertmanager); Groups computes one from the labels when it is missing.
type Alert struct {
	Status       string            `json:"status"` // firing | resolved
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// InputError is input that can never succeed: the HTTP layer answers 400
// with its message, and the sender must not retry it. Its message names the
// offending field and the problem so the person reading Alertmanager's log
// can fix their configuration without reading pagerd's source.
type InputError struct{ Msg string }

// Error returns the message meant for the sender.
func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) *InputError {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// AlertmanagerVersion is the only webhook payload version pagerd accepts.
// Every Alertmanager since well before 0.25 sends it; a different version
// means a different schema, which must be refused rather than guessed at.
const AlertmanagerVersion = "4"

// Alertmanager alert and group statuses.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// wireMessage is the first decoding stage: alerts stay raw so that each one
// is decoded on its own and an error can name its index.
type wireMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []json.RawMessage `json:"alerts"`
}

// wireAlert keeps the times as strings so that a bad time can be reported
// with the field that holds it (time.Time's own decoder loses the path).
type wireAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *string           `json:"startsAt"`
	EndsAt       *string           `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// DecodeAlertmanager reads and validates a webhook body. Unknown fields are
// allowed (forward compatibility). Invalid input returns *InputError whose
// message names the field and the problem: malformed JSON (with its byte
// offset), wrong types, a version other than "4", an empty groupKey, a
// status that is not firing or resolved, no alerts, an alert without labels
// or with a bad status or time. Trailing data after the JSON object is an
// error too: it means the body is not what Alertmanager sent.
func DecodeAlertmanager(body []byte) (*Message, error) {
	if m, ok := decodeValid(body); ok {
		return m, nil
	}
	var w wireMessage
	if err := decodeOne(body, &w, ""); err != nil {
		return nil, err
	}
	return fromWire(&w)
}

// validMessage is a notification decoded in one pass, its alerts with it
// (decodeValid).
type validMessage struct {
	Version           string       `json:"version"`
	GroupKey          string       `json:"groupKey"`
	TruncatedAlerts   uint64       `json:"truncatedAlerts"`
	Status            string       `json:"status"`
	Receiver          string       `json:"receiver"`
	GroupLabels       wireLabels   `json:"groupLabels"`
	CommonLabels      wireLabels   `json:"commonLabels"`
	CommonAnnotations wireLabels   `json:"commonAnnotations"`
	ExternalURL       string       `json:"externalURL"`
	Alerts            []validAlert `json:"alerts"`
}

// validAlert is wireAlert as decodeValid reads it, its maps read by
// wireLabels.
type validAlert struct {
	Status       string     `json:"status"`
	Labels       wireLabels `json:"labels"`
	Annotations  wireLabels `json:"annotations"`
	StartsAt     *string    `json:"startsAt"`
	EndsAt       *string    `json:"endsAt"`
	GeneratorURL string     `json:"generatorURL"`
	Fingerprint  string     `json:"fingerprint"`
}

// decodeValid decodes a notification that is valid, as nearly every one
// is, in one pass: the two stages of DecodeAlertmanager (each alert kept
// raw, copied, then scanned and decoded on its own, for its errors to
// name it) cost a copy and a decoder an alert. It gives up (ok false) at
// anything DecodeAlertmanager would refuse, or might: the two stages then
// decode the notification again and say what is wrong with it. What it
// decodes is what they decode (TestDecodeValidIsTwoStages).
func decodeValid(body []byte) (m *Message, ok bool) {
	var w validMessage
	if !scanValid(body, &w) {
		if w = (validMessage{}); json.Unmarshal(body, &w) != nil {
			return nil, false
		}
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	if w.Version != AlertmanagerVersion || strings.TrimSpace(w.GroupKey) == "" || !validStatus(w.Status) || len(w.Alerts) == 0 {
		return nil, false
	}
	m = &Message{
		Version:           w.Version,
		GroupKey:          w.GroupKey,
		TruncatedAlerts:   w.TruncatedAlerts,
		Status:            w.Status,
		Receiver:          w.Receiver,
		GroupLabels:       w.GroupLabels,
		CommonLabels:      w.CommonLabels,
		CommonAnnotations: w.CommonAnnotations,
		ExternalURL:       w.ExternalURL,
		Alerts:            make([]Alert, 0, len(w.Alerts)),
	}
	for i := range w.Alerts {
		// An alert that is JSON null decodes as an alert with no status
		// here, and is refused below as it must be.
		wa := &w.Alerts[i]
		if !validStatus(wa.Status) || len(wa.Labels) == 0 {
			return nil, false
		}
		a := Alert{Status: wa.Status, Labels: wa.Labels, Annotations: wa.Annotations, GeneratorURL: wa.GeneratorURL, Fingerprint: wa.Fingerprint}
		if a.StartsAt, ok = parseAMTime(wa.StartsAt); !ok {
			return nil, false
		}
		if a.EndsAt, ok = parseAMTime(wa.EndsAt); !ok {
			return nil, false
		}
		m.Alerts = append(m.Alerts, a)
	}
	return m, true
}

func validStatus(s string) bool { return s == StatusFiring || s == StatusResolved }

// fromWire checks a decoded notification and decodes its alerts.
func fromWire(w *wireMessage) (*Message, error) {
	if w.Version == "" {
		return nil, inputErrorf("version: missing; only Alertmanager webhook payload version %q is supported (what Alertmanager 0.25 and later send)", AlertmanagerVersion)
	}
	if w.Version != AlertmanagerVersion {
		return nil, inputErrorf("version: %s is not supported; only Alertmanager webhook payload version %q is (what Alertmanager 0.25 and later send)", quote(w.Version), AlertmanagerVersion)
	}
	if strings.TrimSpace(w.GroupKey) == "" {
		return nil, inputErrorf("groupKey: missing or empty; it identifies the alert group and is needed to deduplicate")
	}
	if err := checkStatus("status", w.Status); err != nil {
		return nil, err
	}
	if len(w.Alerts) == 0 {
		return nil, inputErrorf("alerts: missing or empty; a notification needs at least one alert")
	}
	m := &Message{
		Version:           w.Version,
		GroupKey:          w.GroupKey,
		TruncatedAlerts:   w.TruncatedAlerts,
		Status:            w.Status,
		Receiver:          w.Receiver,
		GroupLabels:       w.GroupLabels,
		CommonLabels:      w.CommonLabels,
		CommonAnnotations: w.CommonAnnotations,
		ExternalURL:       w.ExternalURL,
		Alerts:            make([]Alert, 0, len(w.Alerts)),
	}
	for i, raw := range w.Alerts {
		a, err := decodeAlert(raw, i)
		if err != nil {
			return nil, err
		}
		m.Alerts = append(m.Alerts, a)
	}
	return m, nil
}

// alertPath names the i-th alert of a notification in an error message.
// It is made only for an error: an alert that decodes costs no path.
func alertPath(i int) string { return "alerts[" + strconv.Itoa(i) + "]" }

func decodeAlert(raw json.RawMessage, i int) (Alert, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return Alert{}, inputErrorf("%s: got JSON %s, want an object", alertPath(i), jsonKindOf(t))
	}
	var w wireAlert
	if json.Unmarshal(raw, &w) != nil {
		// decodeOne says why, with the alert's path (Unmarshal fails
		// again there, the same way).
		w = wireAlert{}
		if err := decodeOne(raw, &w, alertPath(i)); err != nil {
			return Alert{}, err
		}
	}
	if w.Status != StatusFiring && w.Status != StatusResolved {
		return Alert{}, checkStatus(alertPath(i)+".status", w.Status)
	}
	if len(w.Labels) == 0 {
		return Alert{}, inputErrorf("%s.labels: missing or empty; every alert needs at least one label", alertPath(i))
	}
	a := Alert{
		Status:       w.Status,
		Labels:       w.Labels,
		Annotations:  w.Annotations,
		GeneratorURL: w.GeneratorURL,
		Fingerprint:  w.Fingerprint,
	}
	var ok bool
	if a.StartsAt, ok = parseAMTime(w.StartsAt); !ok {
		return Alert{}, badAMTime(alertPath(i)+".startsAt", *w.StartsAt)
	}
	if a.EndsAt, ok = parseAMTime(w.EndsAt); !ok {
		return Alert{}, badAMTime(alertPath(i)+".endsAt", *w.EndsAt)
	}
	return a, nil
}

// parseAMTime parses a time exactly as time.Time's JSON decoder would (so a
// decoded Message equals what Alertmanager marshalled); ok is false when
// it is not a time (badAMTime says so).
func parseAMTime(s *string) (t time.Time, ok bool) {
	if s == nil {
		return t, true
	}
	if err := t.UnmarshalText([]byte(*s)); err != nil {
		return time.Time{}, false
	}
	return t, true
}

// badAMTime is the error of a time parseAMTime refused, naming its field.
func badAMTime(path, s string) error {
	return inputErrorf("%s: %s is not an RFC 3339 time", path, quote(s))
}

func checkStatus(path, s string) error {
	switch s {
	case StatusFiring, StatusResolved:
		return nil
	case "":
		return inputErrorf("%s: missing; want %s or %s", path, StatusFiring, StatusResolved)
	default:
		return inputErrorf("%s: %s is not one of %s, %s", path, quote(s), StatusFiring, StatusResolved)
	}
}

// decodeOne decodes exactly one JSON value from body into v, turning the
// encoding/json errors into InputErrors that name the field (prefixed with
// path) and, for syntax errors, the byte offset.
//
// Good input, nearly all of it, is decoded in place (json.Unmarshal reads
// body as it is, where a Decoder copies it into a buffer of its own, grown
// as it reads: some 3 KB a webhook); only input Unmarshal refuses is read
// again by decodeWhy, whose errors say where and what.
func decodeOne(body []byte, v any, path string) error {
	if json.Unmarshal(body, v) != nil {
		reflect.ValueOf(v).Elem().SetZero() // what Unmarshal filled in before it stopped
		return decodeWhy(body, v, path)
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] != '{' {
		return inputErrorf("%s: got JSON %s, want an object", orBody(path), jsonKindOf(t))
	}
	return nil
}

// decodeWhy is decodeOne through a Decoder, for input json.Unmarshal
// refused: its errors give the offset of a syntax error, the field of a
// wrong type, and data after the object apart.
func decodeWhy(body []byte, v any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	err := dec.Decode(v)
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		return inputErrorf("%s: empty; want an Alertmanager webhook JSON object", orBody(path))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return inputErrorf("malformed JSON at byte %d: unexpected end of input", len(body))
	case errors.As(err, &syn):
		return inputErrorf("malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		return inputErrorf("%s: got JSON %s, want %s", joinPath(path, typ.Field), typ.Value, describeType(typ.Type))
	default:
		return inputErrorf("%s: %v", orBody(path), err)
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] != '{' {
		return inputErrorf("%s: got JSON %s, want an object", orBody(path), jsonKindOf(t))
	}
	off := dec.InputOffset()
	rest := body[off:]
	if trimmed := bytes.TrimLeft(rest, " \t\r\n"); len(trimmed) > 0 {
		return inputErrorf("malformed JSON at byte %d: unexpected data after the top-level object", off+int64(len(rest)-len(trimmed)))
	}
	return nil
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

func joinPath(prefix, field string) string {
	switch {
	case prefix == "" && field == "":
		return "body"
	case prefix == "":
		return field
	case field == "":
		return prefix
	default:
		return prefix + "." + field
	}
}

// describeType names a Go type the way a sender thinks about JSON.
func describeType(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return "an object of strings"
		}
		return "an object"
	case reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return describeType(t.Elem())
	default:
		return "another type"
	}
}

// jsonKindOf names the JSON kind of a syntactically valid value.
func jsonKindOf(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// quote quotes a sender's string for an error message, cut short so that a
// hostile body is not echoed back in full.
func quote(s string) string {
	return fmt.Sprintf("%q", truncateRunes(s, 64, "…"))
}

// MaxSummaryRunes caps incident summaries. It matches PagerDuty's 1024
// character summary limit so an incident looks the same whichever way it came
// in, and keeps SMS and voice text bounded.
const MaxSummaryRunes = 1024

// MaxDetailAlerts is how many alerts an AlertGroup's Details keep: enough to
// tell the story in a notification, few enough that a 500-alert group does not
// bloat storage. The total is recorded next to them.
const MaxDetailAlerts = 20

// AlertGroup is one incident's worth of a message: the whole group (the
// integration's incident_key is "group") or one alert (incident_key
// "fingerprint"). It carries what the router and store need and nothing tied
// to Alertmanager's wire format.
type AlertGroup struct {
	// DedupKey identifies the incident: "am:" + groupKey, or
	// "am:" + groupKey + ":" + fingerprint in fingerprint mode (the
	// fingerprint is computed from the labels when the alert has none).
	DedupKey string
	// Firing is whether the incident should be open: in group mode the
	// message status is firing, in fingerprint mode the alert's status is.
	Firing bool
	// ResolveUnsure, on a group that is not Firing, says why its resolve
	// cannot be trusted: Alertmanager cuts a notification to the
	// receiver's max_alerts before it computes its status, so a
	// "resolved" one that left alerts out (truncatedAlerts) may belong to
	// a group whose left-out alerts still fire. Its incident must stay
	// open: resolving it could be a missed page. The intake says what
	// happens next (WithheldNext).
	ResolveUnsure string
	// Labels holds the label sets of the firing alerts the group covers (of
	// all its alerts when nothing fires) for priority routing: the router
	// takes the most urgent. The maps are shared with the Message.
	Labels []map[string]string
	// LabelsIncomplete says Labels are not every alert's the group
	// covers: Alertmanager left some out (truncatedAlerts, its
	// receiver's max_alerts) or pagerd did not read them all
	// (MaxAlertsPerMessage). No maintenance window can then be known to
	// cover the group, as the window's sweeps judge by the details
	// (LabelSets).
	LabelsIncomplete bool
	// Titles names each alert of Labels, in the same order: its alertname
	// (and " on <instance>"), then ": " and its summary annotation when it
	// has one. When a more urgent alert raises an open incident's
	// priority, its title says in the page which alert did it.
	Titles []string
	// Summary is a one-line, non-empty title of at most MaxSummaryRunes runes.
	Summary string
	// Details is compact JSON kept for notification text and the incident's
	// timeline; see Groups.
	Details json.RawMessage
	// Cuts say how the group was truncated to fit pagerd's limits (see
	// MaxAlertsPerMessage and the limits after it); none when it fit.
	Cuts []Cut
	// Overflow marks the incident that holds, in fingerprint mode, the
	// alerts that have no incident of their own: the firing alerts beyond
	// MaxIncidentsPerMessage, those pagerd did not read and those
	// Alertmanager left out (truncatedAlerts) (OverflowDedupKey).
	Overflow bool
	// FirstStart is when the first of its alerts started, for telling a
	// group (or an alert) that fires anew after a resolve pagerd withheld
	// from a repeat: in group mode Message.WholeFirstStart, in
	// fingerprint mode the alert's start; zero on an overflow incident,
	// or when not known. One time, not every alert's, so that no webhook
	// allocates for what a rare repeat reads.
	FirstStart time.Time
	// LeftOutOnly marks an Overflow incident that holds only alerts
	// Alertmanager left out: whether any of them fires, and whether it
	// has an incident of its own, only Alertmanager can say.
	LeftOutOnly bool
}

// Groups splits a message into incidents. In group mode (byFingerprint
// false) the whole message is one incident keyed by its group key; in
// fingerprint mode every distinct alert is its own incident (a fingerprint
// repeated in one message keeps its last occurrence, at its first position),
// up to MaxIncidentsPerMessage firing ones: the firing alerts beyond them
// are one more incident, keyed OverflowDedupKey and marked Overflow, last.
// It also holds the firing alerts pagerd did not read and, when
// Alertmanager left alerts out (truncatedAlerts), those: it fires then
// unless the notification is resolved, and a resolved one's resolve of it
// is not certain (ResolveUnsure).
//
// Only the first MaxAlertsPerMessage alerts are read. Group keys and
// fingerprints longer than their limits are cut to a prefix and a digest
// (so distinct ones stay distinct); the details keep label and annotation
// values cut to their limits and at most MaxDetailsBytes in all. Every cut
// is listed in the group's Cuts and in its details.
//
// Summary, in group mode: commonAnnotations["summary"]; else the first
// covered alert's "summary" annotation; else commonLabels["alertname"] (or
// the first alert's alertname, or "Alertmanager alert") followed by
// " (N alerts)" when N>1 alerts are covered and " on <instance>" when all of
// them share one instance label. In fingerprint mode the same rules apply to
// the single alert (and to the overflow's alerts, followed by a note that
// they are over the limit). Summaries are capped at MaxSummaryRunes with "…".
//
// Details is {"source":"alertmanager","status","receiver","group_key",
// "group_labels","common_labels","common_annotations","external_url",
// "truncated_alerts" (when not 0),"alerts_total","alerts_firing" (how many of
// them fire),"alerts_unread" (the notification's alerts over
// MaxAlertsPerMessage, when not 0),"alerts_omitted" (when not 0),
// "alerts":[{"status","labels","annotations","starts_at","ends_at",
// "generator_url","fingerprint"}],"truncated_by_pagerd" (when cut)}, with
// at most MaxDetailAlerts alerts (firing ones first) and zero times left
// out.
func (m *Message) Groups(byFingerprint bool) []AlertGroup {
	l := m.limit()
	if byFingerprint {
		return l.fingerprintGroups()
	}
	return []AlertGroup{l.wholeGroup()}
}

// OverflowDedupKey is the dedup key of the incident that holds, in
// fingerprint mode, a notification's firing alerts beyond
// MaxIncidentsPerMessage. It never equals an alert's key: those have a
// colon where it has "#".
func (m *Message) OverflowDedupKey() string {
	gk, _ := capKey(m.GroupKey, MaxGroupKeyBytes)
	return "am:" + gk + "#overflow"
}

// AlertKeyPrefix is how the dedup keys of the message's alerts begin in
// fingerprint mode: each is it followed by the alert's fingerprint within
// MaxFingerprintBytes (CapFingerprint).
func (m *Message) AlertKeyPrefix() string {
	gk, _ := capKey(m.GroupKey, MaxGroupKeyBytes)
	return "am:" + gk + ":"
}

// KeyFingerprints are the fingerprints, as dedup keys carry them, of the
// alerts of the message pagerd reads.
func (m *Message) KeyFingerprints() []string {
	l := m.limit()
	fps := make([]string, 0, len(l.alerts))
	for _, a := range l.alerts {
		fp, _ := fingerprintKey(a)
		fps = append(fps, fp)
	}
	return fps
}

// AlertTimes are an alert's start and, when it says it is resolved, its
// end (zero for a firing one), on its sender's clock.
type AlertTimes struct {
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
}

// KeyTimes are the times of the alerts of the message pagerd reads, by
// fingerprint as dedup keys carry them; of an alert named twice, the
// latest start.
func (m *Message) KeyTimes() map[string]AlertTimes {
	l := m.limit()
	times := make(map[string]AlertTimes, len(l.alerts))
	for _, a := range l.alerts {
		fp, _ := fingerprintKey(a)
		if t, ok := times[fp]; ok && t.Start.After(a.StartsAt) {
			continue
		}
		t := AlertTimes{Start: a.StartsAt}
		if a.Status == StatusResolved {
			t.End = a.EndsAt
		}
		times[fp] = t
	}
	return times
}

// EndsEach reports whether a resolved notification whose alerts' times are
// ended says that each alert of a firing one (fired) ended since it
// started: it names each that fired as resolved, with an end no earlier
// than the start the firing one gave. Of the same group, a firing
// notification sent after the resolved one holds an alert that fires
// again (a later start) or joined the group since (not named), and the
// resolved one does not end each of its alerts.
func EndsEach(ended, fired map[string]AlertTimes) bool {
	for fp, f := range fired {
		if !f.End.IsZero() {
			continue // resolved already in the firing one
		}
		e, ok := ended[fp]
		if !ok || e.End.IsZero() || e.End.Before(f.Start) {
			return false
		}
	}
	return true
}

// CapFingerprint is an alert's fingerprint as its dedup key carries it
// in fingerprint mode.
func CapFingerprint(fp string) string {
	k, _ := capKey(fp, MaxFingerprintBytes)
	return k
}

// FingerprintOfKey is the fingerprint in an alert's dedup key of the
// group whose AlertKeyPrefix is prefix; ok is false for a key of
// anything else. Group keys hold colons, so a key of another group
// whose group key starts with this one's and a colon also has the
// prefix: what follows it must be a fingerprint as Alertmanager makes
// them (no colon, no "#"), or the key is not this group's. A
// fingerprint pagerd had to cut (it then holds a colon) is never
// taken for one.
func FingerprintOfKey(key, prefix string) (fp string, ok bool) {
	fp, ok = strings.CutPrefix(key, prefix)
	if !ok || fp == "" || strings.ContainsAny(fp, ":#") {
		return "", false
	}
	return fp, true
}

// FingerprintOfAnyKey is the fingerprint of an alert's incident key in
// fingerprint mode, of whichever group: the key's part after its last
// colon. A group's own key ("am:" + groupKey) may read as one too, of a
// fingerprint no alert has.
func FingerprintOfAnyKey(key string) (fp string, ok bool) {
	if !strings.HasPrefix(key, "am:") {
		return "", false
	}
	return FingerprintOfKey(key, key[:strings.LastIndexByte(key, ':')+1])
}

// limited is a message as pagerd reads it: its first MaxAlertsPerMessage
// alerts and its group key within MaxGroupKeyBytes, with the cuts that
// took (they concern every incident the message makes).
type limited struct {
	*Message
	groupKey string
	alerts   []Alert
	cuts     []Cut
	// unreadFiring counts the firing alerts among those not read.
	unreadFiring int
}

func (m *Message) limit() *limited {
	l := &limited{Message: m, alerts: m.Alerts}
	if n := len(m.Alerts) + m.Unread; n > MaxAlertsPerMessage {
		l.alerts = m.Alerts[:min(len(m.Alerts), MaxAlertsPerMessage)]
		l.unreadFiring = m.UnreadFiring
		for _, a := range m.Alerts[len(l.alerts):] {
			if a.Status == StatusFiring {
				l.unreadFiring++
			}
		}
		l.cuts = append(l.cuts, Cut{Limit: "alerts", Detail: fmt.Sprintf(
			"the notification held %d alerts; pagerd read the first %d (limit %d per notification) and left %d out",
			n, MaxAlertsPerMessage, MaxAlertsPerMessage, n-MaxAlertsPerMessage)})
	}
	gk, ok := capKey(m.GroupKey, MaxGroupKeyBytes)
	l.groupKey = gk
	if !ok {
		l.cuts = append(l.cuts, Cut{Limit: "group_key", Detail: fmt.Sprintf(
			"its groupKey of %s is kept as its first bytes and a SHA-256 digest (limit %d bytes)", byteSize(len(m.GroupKey)), MaxGroupKeyBytes)})
	}
	return l
}

// unread reports whether pagerd left alerts of the message unread
// (MaxAlertsPerMessage).
func (l *limited) unread() bool { return len(l.alerts) < len(l.Message.Alerts)+l.Unread }

func (l *limited) wholeGroup() AlertGroup {
	// ordered is the alerts firing first; when they all fire, or none
	// does, as in nearly every notification, they are the alerts as they
	// came, and no copies are made of them.
	var firing, ordered []Alert
	n := 0
	for _, a := range l.alerts {
		if a.Status == StatusFiring {
			n++
		}
	}
	switch n {
	case len(l.alerts):
		firing, ordered = l.alerts, l.alerts
	case 0:
		ordered = l.alerts
	default:
		var resolved []Alert
		for _, a := range l.alerts {
			if a.Status == StatusFiring {
				firing = append(firing, a)
			} else {
				resolved = append(resolved, a)
			}
		}
		ordered = append(append(make([]Alert, 0, len(l.alerts)), firing...), resolved...)
	}
	covered := firing
	if l.Status != StatusFiring || len(firing) == 0 {
		covered = l.alerts
	}
	labels := make([]map[string]string, 0, len(covered))
	titles := make([]string, 0, len(covered))
	for _, a := range covered {
		labels = append(labels, a.Labels)
		titles = append(titles, alertTitle(a))
	}
	details, cuts := l.details(l.Status, ordered, l.cuts)
	var unsure string
	if l.Status != StatusFiring && l.TruncatedAlerts > 0 {
		unsure = fmt.Sprintf(LeftOutResolve+"%d of its alerts out of the notification "+
			"(max_alerts on its receiver) and judged the status on the %d it kept: the ones left out may still fire, "+
			"so the incident stays open",
			l.TruncatedAlerts, len(l.Message.Alerts))
	}
	return AlertGroup{
		DedupKey:         "am:" + l.groupKey,
		Firing:           l.Status == StatusFiring,
		ResolveUnsure:    unsure,
		Labels:           labels,
		LabelsIncomplete: l.TruncatedAlerts > 0 || l.unread(),
		Titles:           titles,
		Summary:          summarize(l.CommonAnnotations["summary"], l.CommonLabels["alertname"], covered),
		Details:          details,
		Cuts:             cuts,
		FirstStart:       l.Message.WholeFirstStart(),
	}
}

// LeftOutResolve begins the resolve_withheld entry of a group's incident
// whose resolved notification left alerts out (AlertGroup.ResolveUnsure in
// group mode), so that a later firing of the group can find it
// (Message.WholeFirstStart).
const LeftOutResolve = "Alertmanager sent this group as resolved, but left "

// WholeFirstStart is when the first alert of the message started, when
// the message holds every alert of its group (Alertmanager left none out
// and pagerd read them all) and each says when it started; zero
// otherwise. A group whose resolve pagerd withheld because Alertmanager
// left alerts out of it had ended if every alert it has now started after
// that resolve.
func (m *Message) WholeFirstStart() time.Time {
	if m.TruncatedAlerts > 0 || m.Unread > 0 || len(m.Alerts) > MaxAlertsPerMessage || len(m.Alerts) == 0 {
		return time.Time{}
	}
	var first time.Time
	for _, a := range m.Alerts {
		if !knownTime(a.StartsAt) {
			return time.Time{}
		}
		if first.IsZero() || a.StartsAt.Before(first) {
			first = a.StartsAt
		}
	}
	return first
}

// LastFiringStart is when the last of the message's firing alerts that say
// when they started started: zero when none does. Of a message that left
// alerts out, it says whether any alert it kept started after a time.
func (m *Message) LastFiringStart() time.Time {
	var last time.Time
	for _, a := range m.Alerts {
		if a.Status == StatusFiring && knownTime(a.StartsAt) && a.StartsAt.After(last) {
			last = a.StartsAt
		}
	}
	return last
}

// WithheldNext ends the timeline entry of a withheld resolve
// (AlertGroup.ResolveUnsure) with what happens next: pagerd asks the
// Alertmanager at url, when the service names one, or the incident waits
// for a person.
func WithheldNext(url string) string {
	if url == "" {
		return ". Resolve it by hand once they are resolved, or set alertmanager_url on the service so that pagerd asks Alertmanager; raise max_alerts to avoid this"
	}
	return ". pagerd asks Alertmanager at " + url + " whether any alert of the group still fires, and resolves the incident when none does; raise max_alerts to avoid this"
}

func (l *limited) fingerprintGroups() []AlertGroup {
	index := make(map[string]int, len(l.alerts))
	var order []string
	latest := make([]Alert, 0, len(l.alerts))
	for _, a := range l.alerts {
		fp, _ := fingerprintKey(a)
		if i, ok := index[fp]; ok {
			latest[i] = a
			continue
		}
		index[fp] = len(latest)
		order = append(order, fp)
		latest = append(latest, a)
	}
	// One builder of these keys: amresolve finds a group's incidents by it.
	prefix := l.AlertKeyPrefix()
	// The first MaxIncidentsPerMessage firing alerts are incidents of
	// their own; the firing ones after them share the overflow incident.
	own := make([]int, 0, len(latest))
	var overflow []Alert
	firing := 0
	for i, a := range latest {
		if a.Status == StatusFiring {
			if firing == MaxIncidentsPerMessage {
				overflow = append(overflow, a)
				continue
			}
			firing++
		}
		own = append(own, i)
	}
	// The firing alerts pagerd did not read have no incident of their
	// own either: the overflow incident holds them too, or nothing would
	// page for them, and the group's other incidents could all resolve
	// while they fire. So do those Alertmanager left out (max_alerts):
	// it says neither their status nor their labels, and the same ones,
	// last in its order, are left out of every notification, so an alert
	// among them that fires would otherwise never page.
	leftOut := l.TruncatedAlerts > 0
	hasOverflow := len(overflow) > 0 || l.unreadFiring > 0 || leftOut
	// They may fire unless the notification is resolved: then the alerts
	// it kept are, and Alertmanager judged the status on those alone, so
	// the overflow incident's resolve is not one pagerd can trust.
	overflowFiring := len(overflow) > 0 || l.unreadFiring > 0 || (leftOut && l.Status == StatusFiring)
	// What concerns the whole message is said where the alerts it left
	// out would have been: on the overflow incident when there is one.
	shared := l.cuts
	if hasOverflow {
		shared = nil
	}
	groups := make([]AlertGroup, 0, len(own)+1)
	for _, i := range own {
		a := latest[i]
		pre := shared
		if _, ok := fingerprintKey(a); !ok {
			pre = append(append([]Cut(nil), pre...), Cut{Limit: "fingerprint", Detail: fmt.Sprintf(
				"its fingerprint of %s is kept as its first bytes and a SHA-256 digest (limit %d bytes)", byteSize(len(fingerprintOf(a))), MaxFingerprintBytes)})
		}
		details, cuts := l.details(a.Status, []Alert{a}, pre)
		var first time.Time
		if knownTime(a.StartsAt) {
			first = a.StartsAt
		}
		groups = append(groups, AlertGroup{
			FirstStart: first,
			DedupKey:   prefix + order[i],
			Firing:     a.Status == StatusFiring,
			Labels:     []map[string]string{a.Labels},
			Titles:     []string{alertTitle(a)},
			Summary:    summarize("", "", []Alert{a}),
			Details:    details,
			Cuts:       cuts,
		})
	}
	if hasOverflow {
		labels := make([]map[string]string, 0, len(overflow)+1)
		titles := make([]string, 0, len(overflow)+1)
		for _, a := range overflow {
			labels = append(labels, a.Labels)
			titles = append(titles, alertTitle(a))
		}
		summary := fmt.Sprintf("%d more alerts, beyond the %d incidents one notification may open: %s",
			len(overflow), MaxIncidentsPerMessage, summarize("", "", overflow))
		pre := append([]Cut(nil), l.cuts...)
		if len(overflow) > 0 {
			pre = append(pre, Cut{Limit: "incidents", Detail: fmt.Sprintf(
				"%d firing alerts beyond the first %d of the notification are in this one incident rather than one each (limit %d incidents per notification)",
				len(overflow), MaxIncidentsPerMessage, MaxIncidentsPerMessage)})
		} else {
			// Unread, their labels are not known: the group's common
			// labels, which every one of them carries, route them.
			labels = append(labels, l.CommonLabels)
			titles = append(titles, "")
			name := l.GroupName()
			if l.unreadFiring > 0 {
				summary = fmt.Sprintf("%d firing %s of %s that pagerd did not read (it reads the first %d of a notification)",
					l.unreadFiring, Alerts(l.unreadFiring), name, MaxAlertsPerMessage)
			} else {
				summary = fmt.Sprintf("%d %s of %s that Alertmanager left out of its notification (max_alerts on its receiver): they may fire",
					l.TruncatedAlerts, Alerts(l.TruncatedAlerts), name)
			}
		}
		status, unsure := StatusFiring, ""
		if !overflowFiring {
			status = l.Status
			unsure = fmt.Sprintf(LeftOutResolve+"%d of its alerts out of the notification "+
				"(max_alerts on its receiver) and judged the status on the %d it kept: the ones left out may still fire, "+
				"so the incident that holds them stays open",
				l.TruncatedAlerts, len(l.Message.Alerts))
		}
		details, cuts := l.details(status, overflow, pre)
		groups = append(groups, AlertGroup{
			DedupKey:      l.OverflowDedupKey(),
			Firing:        overflowFiring,
			ResolveUnsure: unsure,
			Labels:        labels,
			// The alerts pagerd or Alertmanager left out may be
			// more beyond the limit.
			LabelsIncomplete: l.TruncatedAlerts > 0 || l.unread(),
			Titles:           titles,
			Summary:          capSummary(summary),
			Details:          details,
			Cuts:             cuts,
			Overflow:         true,
			LeftOutOnly:      len(overflow) == 0 && l.unreadFiring == 0,
		})
	}
	return groups
}

// fingerprintKey is the alert's fingerprint within MaxFingerprintBytes;
// ok is false when it had to be cut.
func fingerprintKey(a Alert) (string, bool) {
	return capKey(fingerprintOf(a), MaxFingerprintBytes)
}

// fingerprintOf is the alert's fingerprint as Alertmanager computes it:
// the label set's model fingerprint, in 16 hex digits. The labels are
// hashed as they are (model.LabelsToSignature is the hash
// LabelSet.Fingerprint uses) rather than copied into a model.LabelSet,
// and the digits written without fmt: it is computed for each alert that
// comes without one, several times a notification.
func fingerprintOf(a Alert) string {
	if a.Fingerprint != "" {
		return a.Fingerprint
	}
	const digits = "0123456789abcdef"
	var b [16]byte
	sum := model.LabelsToSignature(a.Labels)
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = digits[sum&0xf]
		sum >>= 4
	}
	return string(b[:])
}

const fallbackSummary = "Alertmanager alert"

// GroupName names the message's group in a summary of alerts whose labels
// are not known: by the alertname every alert of it carries, if any.
func (m *Message) GroupName() string { return summarize("", m.CommonLabels["alertname"], nil) }

// Alerts is "alert" for one and "alerts" for any other count.
func Alerts[N int | uint64](n N) string {
	if n == 1 {
		return "alert"
	}
	return "alerts"
}

func summarize(commonSummary, commonAlertname string, covered []Alert) string {
	if s := strings.TrimSpace(commonSummary); s != "" {
		return capSummary(s)
	}
	for _, a := range covered {
		if s := strings.TrimSpace(a.Annotations["summary"]); s != "" {
			return capSummary(s)
		}
	}
	name := strings.TrimSpace(commonAlertname)
	for _, a := range covered {
		if name != "" {
			break
		}
		name = strings.TrimSpace(a.Labels["alertname"])
	}
	if name == "" {
		name = fallbackSummary
	}
	if len(covered) > 1 {
		name += fmt.Sprintf(" (%d alerts)", len(covered))
	}
	if inst := sharedInstance(covered); inst != "" {
		name += " on " + inst
	}
	return capSummary(name)
}

// alertTitle names one alert for people: "DiskFull on db2: disk full on
// db2", capped like a summary.
func alertTitle(a Alert) string {
	name := strings.TrimSpace(a.Labels["alertname"])
	if name == "" {
		name = fallbackSummary
	}
	// One concatenation, not one a part: every alert of every webhook
	// is named.
	inst, s := strings.TrimSpace(a.Labels["instance"]), strings.TrimSpace(a.Annotations["summary"])
	switch {
	case inst != "" && s != "":
		name = name + " on " + inst + ": " + s
	case inst != "":
		name = name + " on " + inst
	case s != "":
		name = name + ": " + s
	}
	return capSummary(name)
}

// sharedInstance is the instance label all alerts agree on, or "".
func sharedInstance(alerts []Alert) string {
	var inst string
	for i, a := range alerts {
		v := strings.TrimSpace(a.Labels["instance"])
		if v == "" || (i > 0 && v != inst) {
			return ""
		}
		inst = v
	}
	return inst
}

func capSummary(s string) string {
	return truncateRunes(s, MaxSummaryRunes, "…")
}

// CapSummary cuts a summary pagerd writes itself to MaxSummaryRunes, like
// the ones it decodes.
func CapSummary(s string) string { return capSummary(s) }

// truncateRunes cuts s to at most n runes, the last of them being ellipsis
// when it had to cut.
func truncateRunes(s string, n int, ellipsis string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	keep := n - utf8.RuneCountInString(ellipsis)
	if keep < 0 {
		keep = 0
	}
	i := 0
	for pos := range s {
		if i == keep {
			return s[:pos] + ellipsis
		}
		i++
	}
	return s + ellipsis
}

// amDetails are an Alertmanager incident's details (see Groups).
// AlertsFiring is a pointer so that details stored before pagerd counted
// them read back as not saying (KeptAlerts).
type amDetails struct {
	Source            string           `json:"source"`
	Status            string           `json:"status"`
	Receiver          string           `json:"receiver"`
	GroupKey          string           `json:"group_key"`
	GroupLabels       jsonStrings      `json:"group_labels,omitempty"`
	CommonLabels      jsonStrings      `json:"common_labels,omitempty"`
	CommonAnnotations jsonStrings      `json:"common_annotations,omitempty"`
	ExternalURL       string           `json:"external_url,omitempty"`
	TruncatedAlerts   uint64           `json:"truncated_alerts,omitempty"`
	AlertsTotal       int              `json:"alerts_total"`
	AlertsFiring      *int             `json:"alerts_firing,omitempty"`
	AlertsUnread      int              `json:"alerts_unread,omitempty"`
	AlertsOmitted     int              `json:"alerts_omitted,omitempty"`
	Alerts            []amAlertDetails `json:"alerts"`
	Truncated         []string         `json:"truncated_by_pagerd,omitempty"`
}

type amAlertDetails struct {
	Status       string      `json:"status"`
	Labels       jsonStrings `json:"labels"`
	Annotations  jsonStrings `json:"annotations,omitempty"`
	StartsAt     string      `json:"starts_at,omitempty"`
	EndsAt       string      `json:"ends_at,omitempty"`
	GeneratorURL string      `json:"generator_url,omitempty"`
	Fingerprint  string      `json:"fingerprint"`
}

// details builds an incident's details from the alerts it covers, within
// the limits: values cut to MaxLabelBytes and MaxAnnotationBytes, alerts
// left out until the whole is under MaxDetailsBytes. pre are the cuts
// already made to the group; it returns them with its own, and lists them
// all in the details.
func (l *limited) details(status string, alerts []Alert, pre []Cut) (json.RawMessage, []Cut) {
	var labelCuts, annotationCuts valueCuts
	d := amDetails{
		Source:            "alertmanager",
		Status:            status,
		Receiver:          cutValue(l.Receiver, MaxLabelBytes, &labelCuts),
		GroupKey:          l.groupKey,
		GroupLabels:       capMap(l.GroupLabels, MaxLabelBytes, &labelCuts),
		CommonLabels:      capMap(l.CommonLabels, MaxLabelBytes, &labelCuts),
		CommonAnnotations: capMap(l.CommonAnnotations, MaxAnnotationBytes, &annotationCuts),
		ExternalURL:       cutValue(l.ExternalURL, MaxAnnotationBytes, &annotationCuts),
		TruncatedAlerts:   l.TruncatedAlerts,
		AlertsTotal:       len(alerts),
		AlertsFiring:      new(int),
		Alerts:            make([]amAlertDetails, 0, min(len(alerts), MaxDetailAlerts)),
	}
	for _, a := range alerts {
		if a.Status == StatusFiring {
			*d.AlertsFiring++
		}
	}
	for _, c := range pre {
		if c.Limit == "alerts" {
			d.AlertsUnread = len(l.Message.Alerts) + l.Unread - len(l.alerts)
		}
	}
	for _, a := range alerts {
		if len(d.Alerts) == MaxDetailAlerts {
			break
		}
		fp, _ := fingerprintKey(a)
		d.Alerts = append(d.Alerts, amAlertDetails{
			Status:       a.Status,
			Labels:       capMap(a.Labels, MaxLabelBytes, &labelCuts),
			Annotations:  capMap(a.Annotations, MaxAnnotationBytes, &annotationCuts),
			StartsAt:     formatTime(a.StartsAt),
			EndsAt:       formatTime(a.EndsAt),
			GeneratorURL: cutValue(a.GeneratorURL, MaxAnnotationBytes, &annotationCuts),
			Fingerprint:  fp,
		})
	}
	d.AlertsOmitted = len(alerts) - len(d.Alerts)
	cuts := append([]Cut(nil), pre...)
	if c, ok := labelCuts.cut("label", "label names or values", MaxLabelBytes); ok {
		cuts = append(cuts, c)
	}
	if c, ok := annotationCuts.cut("annotation", "annotation values or URLs", MaxAnnotationBytes); ok {
		cuts = append(cuts, c)
	}
	// Room is left for the list of cuts, which is short.
	const budget = MaxDetailsBytes - 4<<10
	out := d.json()
	if len(out) > budget {
		kept := len(d.Alerts)
		for len(out) > budget && len(d.Alerts) > 0 {
			d.Alerts = d.Alerts[:len(d.Alerts)/2]
			out = d.json()
		}
		d.AlertsOmitted = len(alerts) - len(d.Alerts)
		what := fmt.Sprintf("%d of the %d alerts it would show", kept-len(d.Alerts), kept)
		if len(out) > budget {
			d.GroupLabels, d.CommonLabels, d.CommonAnnotations = nil, nil, nil
			what += ", and " + groupLabelsDropped + ","
		}
		cuts = append(cuts, Cut{Limit: "details", Detail: fmt.Sprintf("%s left out of the details to keep them under %s", what, byteSize(MaxDetailsBytes))})
	}
	if len(cuts) > 0 {
		for _, c := range cuts {
			d.Truncated = append(d.Truncated, c.Detail)
		}
		out = d.json()
	}
	return out, cuts
}

// cutValue is capValue, counting a cut.
func cutValue(s string, max int, c *valueCuts) string {
	v, ok := capValue(s, max)
	if !ok {
		c.n++
		if len(s) > c.largest {
			c.largest, c.name = len(s), "a URL or receiver"
		}
	}
	return v
}

// formatTime renders t as RFC 3339, or "" for Go's and Alertmanager's zero
// time (0001-01-01), which means "not set".
func formatTime(t time.Time) string {
	if !knownTime(t) {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// knownTime reports whether t says a time (formatTime writes it), without
// formatting it: an alert with no start, or Go's zero time, says none.
func knownTime(t time.Time) bool {
	return !t.IsZero() && t.UTC().Year() > 1
}

// compactJSON marshals v without HTML escaping (the text is for people, and
// group keys are full of quotes and braces). The values handled here are
// strings, maps of strings and decoded JSON, which always marshal.
func compactJSON(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Unreachable for the types above; keep Details valid JSON anyway.
		b, _ := json.Marshal(map[string]string{"error": err.Error()})
		return b
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
