package docjson

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// AppendIncident appends inc as json.Marshal writes it: the embedded
// store's document of an incident.
func AppendIncident(b []byte, inc *store.Incident) ([]byte, error) {
	b, _, err := AppendIncidentAsIs(b, inc)
	return b, err
}

// AppendIncidentAsIs is AppendIncident, and reports whether the
// incident's details were written as they are (compact JSON with HTML
// characters escaped, or none): decoding the document gives them back
// byte for byte.
func AppendIncidentAsIs(b []byte, inc *store.Incident) (_ []byte, asIs bool, err error) {
	return appendDoc(b, inc, &inc.State, true)
}

// AppendRecord appends the Redis store's document of inc: inc as
// json.Marshal writes it without its details, repeats, last seen, last
// received and version (the record keeps those apart), with st as its
// state.
func AppendRecord(b []byte, inc *store.Incident, st *policy.Incident) ([]byte, error) {
	b, _, err := appendDoc(b, inc, st, false)
	return b, err
}

// appendDoc appends inc as json.Marshal writes it, with st as its state;
// without full, without its details, repeats, last seen, last received and
// version. asIs is AppendIncidentAsIs's.
func appendDoc(b []byte, inc *store.Incident, st *policy.Incident, full bool) (_ []byte, asIs bool, err error) {
	asIs = true
	b = append(b, `{"id":`...)
	b = appendJSONString(b, inc.ID)
	b = append(b, `,"service":`...)
	b = appendJSONString(b, inc.Service)
	b = append(b, `,"dedup_key":`...)
	b = appendJSONString(b, inc.DedupKey)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, inc.Source)
	b = append(b, `,"summary":`...)
	b = appendJSONString(b, inc.Summary)
	b = append(b, `,"created_at":`...)
	if b, err = appendJSONTime(b, inc.CreatedAt); err != nil {
		return nil, false, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendJSONTime(b, inc.UpdatedAt); err != nil {
		return nil, false, err
	}
	if full {
		if len(inc.Details) > 0 {
			// json.Marshal checks and compacts raw JSON, escaping HTML
			// characters in it; its own pass writes the same.
			j, err := json.Marshal(inc.Details)
			if err != nil {
				return nil, false, err
			}
			b = append(b, `,"details":`...)
			b = append(b, j...)
			asIs = bytes.Equal(j, inc.Details)
		}
		b = append(b, `,"repeats":`...)
		b = strconv.AppendInt(b, int64(inc.Repeats), 10)
		b = append(b, `,"last_seen":`...)
		if b, err = appendJSONTime(b, inc.LastSeen); err != nil {
			return nil, false, err
		}
		if !inc.LastReceived.IsZero() {
			b = append(b, `,"last_received":`...)
			if b, err = appendJSONTime(b, inc.LastReceived); err != nil {
				return nil, false, err
			}
		}
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, inc.Version, 10)
	}
	b = append(b, `,"state":`...)
	if b, err = appendState(b, st); err != nil {
		return nil, false, err
	}
	if len(inc.Outbox) > 0 {
		b = append(b, `,"outbox":[`...)
		for i := range inc.Outbox {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendOutboxItem(b, &inc.Outbox[i]); err != nil {
				return nil, false, err
			}
		}
		b = append(b, ']')
	}
	if inc.NotPushedToPagerDuty {
		b = append(b, `,"not_pagerduty":true`...)
	}
	if inc.NotPaged {
		b = append(b, `,"not_paged":true`...)
	}
	b = appendStrings(b, `,"silenced_at":`, inc.SilencedAt)
	return append(b, '}'), asIs, nil
}

// AppendEntry appends a timeline entry as json.Marshal writes it.
func AppendEntry(b []byte, e *store.Entry) ([]byte, error) { return appendEntry(b, e) }

// Buffer is a buffer to write a document's JSON into, when only its packed
// form is kept: a new one each write was a sixteenth of the bytes pagerd
// allocated at 1,000 alerts/s. Give it back with Release once packed.
func Buffer() []byte {
	select {
	case b := <-bufs:
		return b[:0]
	default:
		return make([]byte, 0, 2048)
	}
}

// Release gives b, from Buffer, back for another write; one grown past
// maxPooled (an incident with a long outbox) is left to the collector.
func Release(b []byte) {
	if cap(b) > maxPooled {
		return
	}
	select {
	case bufs <- b:
	default:
	}
}

// bufs are Buffer's free list, as many as writes can run at once (a
// sync.Pool drops a quarter of what it is given under the race detector,
// and all of it at each collection).
var bufs = make(chan []byte, 64)

const maxPooled = 64 << 10
