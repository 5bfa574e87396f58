// Package docjson writes the stores' JSON by hand, byte for byte as
// json.Marshal writes it: an incident's document and its timeline entries,
// which every alert writes two or three times, were a tenth of its CPU
// through reflection. An incident's document and a held page are read by
// hand too (DecodeIncident, DecodeHeldPage), as json.Unmarshal reads them,
// and anything else by json.Unmarshal. Each writer is compared with
// json.Marshal, and each reader with json.Unmarshal, by a test that fills
// every field by reflection, so a field added to one of these types and
// not written or read here fails it.
package docjson

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

func appendState(b []byte, s *policy.Incident) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = appendJSONString(b, s.ID)
	b = append(b, `,"service":`...)
	b = appendJSONString(b, s.Service)
	b = append(b, `,"priority":`...)
	b = appendJSONString(b, s.Priority)
	b = append(b, `,"urgency":`...)
	b = appendJSONString(b, s.Urgency)
	b = appendOmitEmpty(b, `,"rule":`, s.Rule)
	b = appendStrings(b, `,"page_immediately":`, s.PageImmediately)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(s.Status))
	b = append(b, `,"epoch":`...)
	b = strconv.AppendInt(b, int64(s.Epoch), 10)
	b = append(b, `,"triggered_at":`...)
	if b, err = appendJSONTime(b, s.TriggeredAt); err != nil {
		return nil, err
	}
	if !s.AcknowledgedAt.IsZero() {
		b = append(b, `,"acknowledged_at":`...)
		if b, err = appendJSONTime(b, s.AcknowledgedAt); err != nil {
			return nil, err
		}
	}
	b = appendOmitEmpty(b, `,"acknowledged_by":`, s.AcknowledgedBy)
	if !s.ResolvedAt.IsZero() {
		b = append(b, `,"resolved_at":`...)
		if b, err = appendJSONTime(b, s.ResolvedAt); err != nil {
			return nil, err
		}
	}
	b = appendOmitEmpty(b, `,"resolved_by":`, s.ResolvedBy)
	if !s.LastStatusAt.IsZero() {
		b = append(b, `,"last_status_at":`...)
		if b, err = appendJSONTime(b, s.LastStatusAt); err != nil {
			return nil, err
		}
	}
	if s.StatusUpdates != 0 {
		b = append(b, `,"status_updates":`...)
		b = strconv.AppendInt(b, int64(s.StatusUpdates), 10)
	}
	b = append(b, `,"level":`...)
	b = strconv.AppendInt(b, int64(s.Level), 10)
	if s.Round != 0 {
		b = append(b, `,"round":`...)
		b = strconv.AppendInt(b, int64(s.Round), 10)
	}
	b = append(b, `,"level_started_at":`...)
	if b, err = appendJSONTime(b, s.LevelStartedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, int64(s.Seq), 10)
	if len(s.Pending) > 0 {
		b = append(b, `,"pending":[`...)
		for i := range s.Pending {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendDeadline(b, &s.Pending[i]); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if !s.LevelEscalatedAt.IsZero() {
		b = append(b, `,"level_escalated_at":`...)
		if b, err = appendJSONTime(b, s.LevelEscalatedAt); err != nil {
			return nil, err
		}
	}
	if m := s.Maintenance; m != nil {
		b = append(b, `,"maintenance":{"id":`...)
		b = appendJSONString(b, m.ID)
		b = appendOmitEmpty(b, `,"name":`, m.Name)
		b = append(b, `,"until":`...)
		if b, err = appendJSONTime(b, m.Until); err != nil {
			return nil, err
		}
		if !m.From.IsZero() {
			b = append(b, `,"from":`...)
			if b, err = appendJSONTime(b, m.From); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	if len(s.PausedTargets) > 0 {
		b = append(b, `,"paused_targets":[`...)
		for i, p := range s.PausedTargets {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"target":`...)
			b = appendJSONString(b, p.Target)
			b = append(b, `,"left_ns":`...)
			b = strconv.AppendInt(b, int64(p.Left), 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(s.Held) > 0 {
		b = append(b, `,"held":[`...)
		for i, h := range s.Held {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"from":`...)
			if b, err = appendJSONTime(b, h.From); err != nil {
				return nil, err
			}
			if !h.To.IsZero() {
				b = append(b, `,"to":`...)
				if b, err = appendJSONTime(b, h.To); err != nil {
					return nil, err
				}
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if s.Reopened != 0 {
		b = append(b, `,"reopened":`...)
		b = strconv.AppendInt(b, int64(s.Reopened), 10)
	}
	b = appendStrings(b, `,"lifted":`, s.Lifted)
	if !s.LiftedAt.IsZero() {
		b = append(b, `,"lifted_at":`...)
		if b, err = appendJSONTime(b, s.LiftedAt); err != nil {
			return nil, err
		}
	}
	if s.RaisedSinceAck {
		b = append(b, `,"raised_since_ack":true`...)
	}
	b = appendStrings(b, `,"level_pages":`, s.LevelPages)
	if s.LevelPagesKept {
		b = append(b, `,"level_pages_kept":true`...)
	}
	if !s.LastAcknowledgedAt.IsZero() {
		b = append(b, `,"last_acknowledged_at":`...)
		if b, err = appendJSONTime(b, s.LastAcknowledgedAt); err != nil {
			return nil, err
		}
	}
	b = appendOmitEmpty(b, `,"level_name":`, s.LevelName)
	if s.Unpaged {
		b = append(b, `,"unpaged":true`...)
	}
	b = appendOmitEmpty(b, `,"unpaged_by":`, s.UnpagedBy)
	b = appendStrings(b, `,"page_immediately_by":`, s.PageImmediatelyBy)
	return append(b, '}'), nil
}

func appendDeadline(b []byte, d *policy.Deadline) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = appendJSONString(b, d.ID)
	b = append(b, `,"at":`...)
	if b, err = appendJSONTime(b, d.At); err != nil {
		return nil, err
	}
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, string(d.Kind))
	if d.Level != 0 {
		b = append(b, `,"level":`...)
		b = strconv.AppendInt(b, int64(d.Level), 10)
	}
	b = appendOmitEmpty(b, `,"user":`, d.User)
	b = appendOmitEmpty(b, `,"channel":`, d.Channel)
	b = appendOmitEmpty(b, `,"urgency":`, d.Urgency)
	if d.Rule != 0 {
		b = append(b, `,"rule":`...)
		b = strconv.AppendInt(b, int64(d.Rule), 10)
	}
	b = appendOmitEmpty(b, `,"target":`, d.Target)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, int64(d.Seq), 10)
	b = appendStrings(b, `,"sent":`, d.Sent)
	if d.Admitted {
		b = append(b, `,"admitted":true`...)
	}
	if !d.FirstDue.IsZero() {
		b = append(b, `,"first_due":`...)
		if b, err = appendJSONTime(b, d.FirstDue); err != nil {
			return nil, err
		}
	}
	if !d.SentBackAt.IsZero() {
		b = append(b, `,"sent_back_at":`...)
		if b, err = appendJSONTime(b, d.SentBackAt); err != nil {
			return nil, err
		}
	}
	if !d.StormEnd.IsZero() {
		b = append(b, `,"storm_end":`...)
		if b, err = appendJSONTime(b, d.StormEnd); err != nil {
			return nil, err
		}
	}
	if d.StormAfter {
		b = append(b, `,"storm_after":true`...)
	}
	if d.StormRank != 0 {
		b = append(b, `,"storm_rank":`...)
		b = strconv.AppendInt(b, int64(d.StormRank), 10)
	}
	if d.StormHeldLate {
		b = append(b, `,"storm_held_late":true`...)
	}
	return append(b, '}'), nil
}

func appendOutboxItem(b []byte, o *store.OutboxItem) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = appendJSONString(b, o.ID)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, o.Kind)
	b = append(b, `,"action":`...)
	b = appendJSONString(b, o.Action)
	b = append(b, `,"due":`...)
	if b, err = appendJSONTime(b, o.Due); err != nil {
		return nil, err
	}
	b = append(b, `,"since":`...)
	if b, err = appendJSONTime(b, o.Since); err != nil {
		return nil, err
	}
	if o.Attempts != 0 {
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(o.Attempts), 10)
	}
	b = appendStrings(b, `,"done":`, o.Done)
	b = appendOmitEmpty(b, `,"url":`, o.URL)
	return append(b, '}'), nil
}

// appendJSONTime appends t as time.Time's MarshalJSON writes it: by hand
// at UTC's offset in years 0-9999, by MarshalJSON itself otherwise (with
// its error for a time JSON cannot hold, wrapped as json.Marshal wraps it).
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if _, off := t.Zone(); off != 0 || t.Year() < 0 || t.Year() > 9999 {
		j, err := t.MarshalJSON()
		if err != nil {
			return nil, &json.MarshalerError{Type: reflect.TypeFor[time.Time](), Err: err}
		}
		return append(b, j...), nil
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendJSONString appends s quoted as json.Marshal does: plain ASCII as it
// is, quotes and backslashes escaped here (every Alertmanager group key,
// {}:{alertname="..."}, holds quotes, and so every such incident's dedup
// key did), anything else it escapes (control and HTML characters, and
// non-ASCII text, which may hold invalid UTF-8, U+2028 or U+2029) through
// json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b, j...)
		}
	}
	b = append(b, '"')
	for {
		i := strings.IndexAny(s, `"\`)
		if i < 0 {
			break
		}
		b = append(b, s[:i]...)
		b = append(b, '\\', s[i])
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

// appendEntry appends a timeline entry as json.Marshal writes it (every
// alert writes two or three, and json.Marshal was 2% of the CPU an alert
// costs on Redis); TestAppendEntryIsJSONMarshal compares the two.
func appendEntry(b []byte, e *store.Entry) ([]byte, error) {
	var err error
	b = append(b, `{"at":`...)
	if b, err = appendJSONTime(b, e.At); err != nil {
		return nil, err
	}
	b = append(b, `,"type":`...)
	b = appendJSONString(b, e.Type)
	b = appendOmitEmpty(b, `,"actor":`, e.Actor)
	if e.Level != 0 {
		b = append(b, `,"level":`...)
		b = strconv.AppendInt(b, int64(e.Level), 10)
	}
	b = appendOmitEmpty(b, `,"user":`, e.User)
	b = appendOmitEmpty(b, `,"channel":`, e.Channel)
	b = appendOmitEmpty(b, `,"detail":`, e.Detail)
	b = appendOmitEmpty(b, `,"note":`, e.Note)
	b = appendOmitEmpty(b, `,"bundle":`, e.Bundle)
	if !e.PageAt.IsZero() {
		b = append(b, `,"page_at":`...)
		if b, err = appendJSONTime(b, e.PageAt); err != nil {
			return nil, err
		}
	}
	if e.Reopened != 0 {
		b = append(b, `,"reopened":`...)
		b = strconv.AppendInt(b, int64(e.Reopened), 10)
	}
	if e.ReopenedKnown {
		b = append(b, `,"reopened_known":true`...)
	}
	b = appendOmitEmpty(b, `,"ref":`, e.Ref)
	b = appendOmitEmpty(b, `,"step":`, e.Step)
	if e.Unreached {
		b = append(b, `,"unreached":true`...)
	}
	if !e.Received.IsZero() {
		b = append(b, `,"received":`...)
		if b, err = appendJSONTime(b, e.Received); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendStrings appends a string slice field tagged omitempty: key and
// the strings as a JSON array, or nothing when there are none.
func appendStrings(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i, v := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

// appendOmitEmpty appends a string field tagged omitempty: key and value,
// or nothing when it is empty.
func appendOmitEmpty(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, key...), s)
}
