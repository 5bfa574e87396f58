package redisstore

import (
	"strconv"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/internal/created"
)

// Trigger keeps a copy of each incident it creates for its first claim
// (package created): createdRecord is what it keeps, and ClaimDue hands
// the copy over if the record it reads is the one Trigger wrote (its
// header, document and details: what decode reads).

// createdRec is a kept incident and the stored bytes it is the decoding of.
type createdRec struct {
	header   string // the record's header line, without its newline
	doc, det []byte
	inc      *store.Incident
}

// is reports whether rec's header, document and details are those kept;
// the timeline after them is not part of what decode reads.
func (c *createdRec) is(rec string) bool {
	h, d, e := len(c.header), len(c.doc), len(c.det)
	return len(rec) >= h+1+d+e && rec[:h] == c.header && rec[h] == '\n' &&
		rec[h+1:h+1+d] == string(c.doc) && rec[h+1+d:h+1+d+e] == string(c.det)
}

// createdRecord is what Trigger keeps of an incident it creates: the
// header the trigger script writes for it (recordLua's build, version 1,
// no repeats), its stored document and details, and the canonical copy.
// It is nil when decoding would not give the incident back as it is: a
// time not at UTC's offset or outside years 0-9999, a string that is not
// UTF-8 (its document's JSON then holds \ufffd: lossy), a status the
// header cannot hold, or a LastReceived it does not keep as it is (finer
// than a millisecond, or before 1970); that incident is then decoded.
func createdRecord(inc *store.Incident, lossy bool, doc, det []byte, seen string, received any) *createdRec {
	if st := string(inc.State.Status); st == "" || strings.ContainsAny(st, " \n") {
		return nil // a header parseRecord would not take: decoding fails, as it must
	}
	if lossy {
		return nil
	}
	if r := inc.LastReceived; !r.IsZero() && (r.Nanosecond()%int(time.Millisecond) != 0 || r.UnixMilli() <= 0) {
		return nil // the header keeps it to the millisecond, after 1970 only
	}
	cp, ok := created.CanonicalCopy(inc)
	if !ok {
		return nil
	}
	// "v1 1 <status> <next> 0 <seen>[@<received>] <len(doc)> <len(det)>",
	// received being triggerScript's ARGV[14] (receivedArg), built on the
	// stack and copied once: joined with +, the lengths' strings were an
	// allocation each beside the header's.
	var b [128]byte
	h := append(b[:0], "v1 1 "...)
	h = append(append(h, inc.State.Status...), ' ')
	if next, ok := store.DueAt(inc); ok {
		h = strconv.AppendInt(h, ms(next), 10)
	} else {
		h = append(h, '-')
	}
	h = append(h, " 0 "...)
	h = append(h, seen...)
	if ms, ok := received.(int64); ok {
		h = strconv.AppendInt(append(h, '@'), ms, 10)
	}
	h = append(h, ' ')
	h = append(strconv.AppendInt(h, int64(len(doc)), 10), ' ')
	h = strconv.AppendInt(h, int64(len(det)), 10)
	return &createdRec{header: string(h), doc: doc, det: det, inc: cp}
}

// takeCreated hands over the copy of id if rec is the record it was kept
// with, and forgets it either way.
func (s *Store) takeCreated(id, rec string) *store.Incident {
	c, ok := s.created.Take(id)
	if !ok || !c.is(rec) {
		return nil
	}
	return c.inc
}
