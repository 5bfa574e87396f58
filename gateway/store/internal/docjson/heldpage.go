package docjson

import (
	"strconv"

	"github.com/pagerd/pagerd/gateway/store"
)

// EncodeHeldPage is the stored form of p as held and as sent at once
// (Sent), as json.Marshal writes them, by hand: a store's Admit lists one
// or the other, and every page is admitted (json.Marshal of the page was
// 1.4% of pagerd's CPU in the load run's closed loop), so it is written
// once and the second form is the first with Sent, its last field, added.
// TestEncodeHeldPageIsJSONMarshal compares it with json.Marshal.
func EncodeHeldPage(p store.HeldPage) (held, sent []byte, err error) {
	// Both forms in one allocation: held at the front, sent after it.
	est := 128 + len(p.Incident) + len(p.Deadline) + len(p.Service) + len(p.Summary) + len(p.Via)
	b := make([]byte, 0, 2*est+len(`,"x":true`))
	b = appendJSONString(append(b, `{"i":`...), p.Incident)
	b = appendOmitEmpty(b, `,"d":`, p.Deadline)
	b = appendJSONString(append(b, `,"s":`...), p.Service)
	b = appendJSONString(append(b, `,"p":`...), p.Priority)
	b = strconv.AppendInt(append(b, `,"r":`...), int64(p.Rank), 10)
	b = appendOmitEmpty(b, `,"u":`, p.Urgency)
	b = strconv.AppendInt(append(b, `,"l":`...), int64(p.Level), 10)
	b = appendJSONString(append(b, `,"m":`...), p.Summary)
	if b, err = appendJSONTime(append(b, `,"t":`...), p.Due); err != nil {
		return nil, nil, err
	}
	b = appendOmitEmpty(b, `,"v":`, p.Via)
	if p.Reopened != 0 {
		b = strconv.AppendInt(append(b, `,"o":`...), int64(p.Reopened), 10)
	}
	if p.PagesAcknowledged {
		b = append(b, `,"a":true`...)
	}
	b = append(b, '}')
	held = b[:len(b):len(b)]
	sent = append(append(b[len(b):], held[:len(held)-1]...), `,"x":true}`...)
	return held, sent, nil
}
