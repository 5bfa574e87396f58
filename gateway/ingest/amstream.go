package ingest

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// DecodeAlertmanagerStream reads a notification too large to hold in
// memory whole, from r: in a large outage one Alertmanager group can hold
// tens of thousands of alerts, and Alertmanager sends them all unless its
// receiver sets max_alerts (by default it does not). Refusing such a
// notification would leave the largest outages unpaged: Alertmanager
// drops a notification answered 4xx, and sends the same one again.
//
// The top-level fields are read and checked as DecodeAlertmanager reads
// them. Of the alerts, the first MaxAlertsPerMessage are decoded and
// checked as DecodeAlertmanager checks them, and kept, which is all pagerd
// reads of any notification; the rest are only counted (Message.Unread),
// not checked, so memory stays bounded whatever their number, and an odd
// alert far down the list cannot turn a page into a 400.
func DecodeAlertmanagerStream(r io.Reader) (*Message, error) {
	dec := json.NewDecoder(r)
	malformed := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return inputErrorf("malformed JSON at byte %d: unexpected end of input", dec.InputOffset())
		}
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return inputErrorf("malformed JSON at byte %d: %v", syn.Offset, err)
		}
		return err // reading the body failed: not the sender's JSON
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	if tok != json.Delim('{') {
		return nil, inputErrorf("body: got JSON %s, want an object", tokenKind(tok))
	}
	// The other fields, each as sent, decoded together below as
	// DecodeAlertmanager decodes them (so the same field errors).
	fields := map[string]json.RawMessage{}
	var kept []json.RawMessage
	unread, unreadFiring := 0, 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		key, _ := tok.(string)
		if !strings.EqualFold(key, "alerts") { // as encoding/json matches field names
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, malformed(err)
			}
			fields[key] = v
			continue
		}
		// As encoding/json does, a later "alerts" replaces an earlier one.
		kept, unread, unreadFiring = nil, 0, 0
		tok, err = dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		if tok == nil {
			continue // null: no alerts
		}
		if tok != json.Delim('[') {
			return nil, inputErrorf("alerts: got JSON %s, want an array", tokenKind(tok))
		}
		for dec.More() {
			var a json.RawMessage
			if err := dec.Decode(&a); err != nil {
				return nil, malformed(err)
			}
			if len(kept) < MaxAlertsPerMessage {
				kept = append(kept, a)
			} else {
				unread++
				if mayFire(a) {
					unreadFiring++
				}
			}
		}
		if _, err := dec.Token(); err != nil { // ]
			return nil, malformed(err)
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return nil, malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var syn *json.SyntaxError
		if err != nil && !errors.As(err, &syn) {
			return nil, err // reading the rest of the body failed (over its limit, say)
		}
		return nil, inputErrorf("malformed JSON at byte %d: unexpected data after the top-level object", dec.InputOffset())
	}
	rest, err := json.Marshal(fields)
	if err != nil {
		return nil, err // raw JSON already checked by the decoder
	}
	var w wireMessage
	if err := decodeOne(rest, &w, ""); err != nil {
		return nil, err
	}
	w.Alerts = kept
	m, err := fromWire(&w)
	if err != nil {
		return nil, err
	}
	m.Unread, m.UnreadFiring = unread, unreadFiring
	return m, nil
}

// mayFire reports whether an alert that is counted, not read, may fire:
// unless it says plainly that it is resolved, it is taken to.
func mayFire(raw json.RawMessage) bool {
	var a struct {
		Status string `json:"status"`
	}
	return json.Unmarshal(raw, &a) != nil || a.Status != StatusResolved
}

// tokenKind names the JSON kind of a token, for errors.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		if tok == json.Delim('[') {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}
