package redisstore

import "github.com/pagerd/pagerd/gateway/store/internal/docjson"

// Every alert writes its incident's document twice (created, then its
// first page recorded), and json.Marshal's reflection was a tenth of the
// CPU an alert costs on Redis. appendRecord writes the same bytes by hand
// (with package docjson, which the embedded store's document shares):
// TestAppendRecordIsJSONMarshal compares the two, byte for byte, on an
// incident with every field set (by reflection, so a field added to any of
// these types and not written here fails it), with its slices empty, and
// with strings JSON must escape. Decoding still goes through encoding/json.

// appendRecord appends r as json.Marshal writes it.
func appendRecord(b []byte, r *record) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = docjson.AppendString(b, r.ID)
	b = append(b, `,"service":`...)
	b = docjson.AppendString(b, r.Service)
	b = append(b, `,"dedup_key":`...)
	b = docjson.AppendString(b, r.DedupKey)
	b = append(b, `,"source":`...)
	b = docjson.AppendString(b, r.Source)
	b = append(b, `,"summary":`...)
	b = docjson.AppendString(b, r.Summary)
	b = append(b, `,"created_at":`...)
	if b, err = docjson.AppendTime(b, r.CreatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = docjson.AppendTime(b, r.UpdatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"state":`...)
	if b, err = docjson.AppendState(b, &r.State); err != nil {
		return nil, err
	}
	if len(r.Outbox) > 0 {
		b = append(b, `,"outbox":[`...)
		for i := range r.Outbox {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = docjson.AppendOutboxItem(b, &r.Outbox[i]); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if r.NotPushed {
		b = append(b, `,"not_pagerduty":true`...)
	}
	if r.NotPaged {
		b = append(b, `,"not_paged":true`...)
	}
	b = docjson.AppendStrings(b, `,"silenced_at":`, r.SilencedAt)
	return append(b, '}'), nil
}
