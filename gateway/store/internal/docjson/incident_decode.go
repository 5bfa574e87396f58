package docjson

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// DecodeIncident sets *inc to what json.Unmarshal decodes of data into a
// zero store.Incident, and returns its error: the embedded store reads an
// incident's document at every Get, claim and repeat, and json.Unmarshal
// of it was a seventh of the CPU a repeated alert costs. Any JSON is read
// by hand (fields in any order, spaces, nulls, unknown fields skipped,
// escapes, times at any offset) except what it does not know to read as
// json.Unmarshal does (a key twice or in another case, a number that is
// not an integer or has more than 18 digits, a value of another type, a
// key with an escape or outside ASCII, JSON it finds invalid): that is
// left to json.Unmarshal, whose answer it then is.
// TestDecodeIncidentIsJSONUnmarshal and FuzzDecodeIncident compare the two.
func DecodeIncident(data []byte, inc *store.Incident) error {
	*inc = store.Incident{}
	if decodeDoc(data, inc, true) {
		return nil
	}
	*inc = store.Incident{}
	return json.Unmarshal(data, inc)
}

// DecodeRecord reads data, the Redis store's document of an incident
// (AppendRecord's: an incident without its details, repeats, last seen,
// last received and version, which the record keeps apart, and which
// are skipped here as unknown fields), into inc, zeroed, as json.Unmarshal reads it into
// redisstore's record (the same fields set, no other), and says whether
// it did: on false the caller has json.Unmarshal read it, whose answer
// (its errors name the caller's type) it then is. It reads what
// DecodeIncident reads by hand; redisstore's
// TestDecodeRecordIsJSONUnmarshal compares it with json.Unmarshal into
// its record.
func DecodeRecord(data []byte, inc *store.Incident) bool {
	*inc = store.Incident{}
	return decodeDoc(data, inc, false)
}

// The JSON names of each type's fields (TestDecodeKeysAreTheFields checks
// them against the types): a key that is none of them but one in another
// case is one json.Unmarshal reads into that field, and is left to it.
var (
	incidentKeys = []string{"id", "service", "dedup_key", "source", "summary", "created_at", "updated_at", "details",
		"repeats", "last_seen", "last_received", "version", "state", "outbox", "not_pagerduty", "not_paged", "silenced_at"}
	stateKeys = []string{"id", "service", "priority", "urgency", "rule", "page_immediately", "status", "epoch",
		"triggered_at", "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "last_status_at",
		"status_updates", "level", "round", "level_started_at", "seq", "pending", "level_escalated_at", "maintenance",
		"paused_targets", "held", "reopened", "lifted", "lifted_at", "raised_since_ack", "level_pages",
		"level_pages_kept", "last_acknowledged_at", "level_name", "unpaged", "unpaged_by", "page_immediately_by"}
	deadlineKeys = []string{"id", "at", "kind", "level", "user", "channel", "urgency", "rule", "target", "seq", "sent",
		"admitted", "first_due", "sent_back_at", "storm_end", "storm_after", "storm_rank", "storm_held_late"}
	holdKeys     = []string{"id", "name", "until", "from"}
	pausedKeys   = []string{"target", "left_ns"}
	heldSpanKeys = []string{"from", "to"}
	outboxKeys   = []string{"id", "kind", "action", "due", "since", "attempts", "done", "url"}
)

// decodeDoc reads an incident's document into inc, zero, and says false
// for anything it leaves to json.Unmarshal; without full, the fields a
// Redis record keeps apart are skipped as unknown.
func decodeDoc(data []byte, inc *store.Incident, full bool) bool {
	d := docScan{b: data, ok: true}
	var seen uint64
	for more := d.objStart(); more && d.ok; more = d.objNext() {
		switch k := d.key(); string(k) {
		case "id":
			d.once(&seen, 0)
			inc.ID = d.str()
		case "service":
			d.once(&seen, 1)
			inc.Service = d.str()
		case "dedup_key":
			d.once(&seen, 2)
			inc.DedupKey = d.str()
		case "source":
			d.once(&seen, 3)
			inc.Source = d.str()
		case "summary":
			d.once(&seen, 4)
			inc.Summary = d.str()
		case "created_at":
			d.once(&seen, 5)
			d.time(&inc.CreatedAt)
		case "updated_at":
			d.once(&seen, 6)
			d.time(&inc.UpdatedAt)
		case "state":
			d.once(&seen, 7)
			d.state(&inc.State)
		case "outbox":
			d.once(&seen, 8)
			inc.Outbox = d.outbox()
		case "not_pagerduty":
			d.once(&seen, 9)
			inc.NotPushedToPagerDuty = d.bool()
		case "not_paged":
			d.once(&seen, 10)
			inc.NotPaged = d.bool()
		case "silenced_at":
			d.once(&seen, 11)
			inc.SilencedAt = d.strs()
		case "details", "repeats", "last_seen", "last_received", "version":
			if !full {
				d.skip(0)
				break
			}
			switch string(k) {
			case "details":
				d.once(&seen, 12)
				inc.Details = d.raw()
			case "repeats":
				d.once(&seen, 13)
				inc.Repeats = d.int()
			case "last_seen":
				d.once(&seen, 14)
				d.time(&inc.LastSeen)
			case "version":
				d.once(&seen, 15)
				inc.Version = d.int64()
			case "last_received":
				d.once(&seen, 16)
				d.time(&inc.LastReceived)
			}
		default:
			d.unknown(k, incidentKeys)
		}
	}
	d.ws()
	return d.ok && d.i == len(d.b)
}

// state reads an escalation state, or null.
func (d *docScan) state(s *policy.Incident) {
	var seen uint64
	for more := d.objStart(); more && d.ok; more = d.objNext() {
		switch k := d.key(); string(k) {
		case "id":
			d.once(&seen, 0)
			s.ID = d.str()
		case "service":
			d.once(&seen, 1)
			s.Service = d.str()
		case "priority":
			d.once(&seen, 2)
			s.Priority = d.str()
		case "urgency":
			d.once(&seen, 3)
			s.Urgency = d.str()
		case "rule":
			d.once(&seen, 4)
			s.Rule = d.str()
		case "page_immediately":
			d.once(&seen, 5)
			s.PageImmediately = d.strs()
		case "page_immediately_by":
			d.once(&seen, 34)
			s.PageImmediatelyBy = d.strs()
		case "status":
			d.once(&seen, 6)
			s.Status = policy.Status(d.str())
		case "epoch":
			d.once(&seen, 7)
			s.Epoch = d.int()
		case "triggered_at":
			d.once(&seen, 8)
			d.time(&s.TriggeredAt)
		case "acknowledged_at":
			d.once(&seen, 9)
			d.time(&s.AcknowledgedAt)
		case "acknowledged_by":
			d.once(&seen, 10)
			s.AcknowledgedBy = d.str()
		case "resolved_at":
			d.once(&seen, 11)
			d.time(&s.ResolvedAt)
		case "resolved_by":
			d.once(&seen, 12)
			s.ResolvedBy = d.str()
		case "last_status_at":
			d.once(&seen, 13)
			d.time(&s.LastStatusAt)
		case "status_updates":
			d.once(&seen, 14)
			s.StatusUpdates = d.int()
		case "level":
			d.once(&seen, 15)
			s.Level = d.int()
		case "round":
			d.once(&seen, 16)
			s.Round = d.int()
		case "level_started_at":
			d.once(&seen, 17)
			d.time(&s.LevelStartedAt)
		case "seq":
			d.once(&seen, 18)
			s.Seq = d.int()
		case "pending":
			d.once(&seen, 19)
			s.Pending = d.deadlines()
		case "level_escalated_at":
			d.once(&seen, 20)
			d.time(&s.LevelEscalatedAt)
		case "maintenance":
			d.once(&seen, 21)
			s.Maintenance = d.hold()
		case "paused_targets":
			d.once(&seen, 22)
			s.PausedTargets = d.pausedTargets()
		case "held":
			d.once(&seen, 23)
			s.Held = d.heldSpans()
		case "reopened":
			d.once(&seen, 24)
			s.Reopened = d.int()
		case "lifted":
			d.once(&seen, 25)
			s.Lifted = d.strs()
		case "lifted_at":
			d.once(&seen, 26)
			d.time(&s.LiftedAt)
		case "raised_since_ack":
			d.once(&seen, 27)
			s.RaisedSinceAck = d.bool()
		case "level_pages":
			d.once(&seen, 28)
			s.LevelPages = d.strs()
		case "level_pages_kept":
			d.once(&seen, 29)
			s.LevelPagesKept = d.bool()
		case "last_acknowledged_at":
			d.once(&seen, 30)
			d.time(&s.LastAcknowledgedAt)
		case "level_name":
			d.once(&seen, 31)
			s.LevelName = d.str()
		case "unpaged":
			d.once(&seen, 32)
			s.Unpaged = d.bool()
		case "unpaged_by":
			d.once(&seen, 33)
			s.UnpagedBy = d.str()
		default:
			d.unknown(k, stateKeys)
		}
	}
}

// deadlines reads a state's pending steps: nil for null, empty for [].
func (d *docScan) deadlines() []policy.Deadline {
	if d.null() || !d.ok {
		return nil
	}
	// Read into a buffer on the stack and copied out at their number: a
	// step is some 250 bytes, and growing the slice one by one was most
	// of the time spent on them.
	var buf [8]policy.Deadline
	steps := buf[:0]
	for more := d.arrStart(); more && d.ok; more = d.arrNext() {
		steps = append(steps, policy.Deadline{})
		d.deadline(&steps[len(steps)-1])
	}
	out := make([]policy.Deadline, len(steps))
	copy(out, steps)
	return out
}

// deadline reads one pending step, or null.
func (d *docScan) deadline(p *policy.Deadline) {
	var seen uint64
	for more := d.objStart(); more && d.ok; more = d.objNext() {
		switch k := d.key(); string(k) {
		case "id":
			d.once(&seen, 0)
			p.ID = d.str()
		case "at":
			d.once(&seen, 1)
			d.time(&p.At)
		case "kind":
			d.once(&seen, 2)
			p.Kind = policy.DeadlineKind(d.str())
		case "level":
			d.once(&seen, 3)
			p.Level = d.int()
		case "user":
			d.once(&seen, 4)
			p.User = d.str()
		case "channel":
			d.once(&seen, 5)
			p.Channel = d.str()
		case "urgency":
			d.once(&seen, 6)
			p.Urgency = d.str()
		case "rule":
			d.once(&seen, 7)
			p.Rule = d.int()
		case "target":
			d.once(&seen, 8)
			p.Target = d.str()
		case "seq":
			d.once(&seen, 9)
			p.Seq = d.int()
		case "sent":
			d.once(&seen, 10)
			p.Sent = d.strs()
		case "admitted":
			d.once(&seen, 11)
			p.Admitted = d.bool()
		case "first_due":
			d.once(&seen, 12)
			d.time(&p.FirstDue)
		case "sent_back_at":
			d.once(&seen, 13)
			d.time(&p.SentBackAt)
		case "storm_end":
			d.once(&seen, 14)
			d.time(&p.StormEnd)
		case "storm_after":
			d.once(&seen, 15)
			p.StormAfter = d.bool()
		case "storm_rank":
			d.once(&seen, 16)
			p.StormRank = d.int()
		case "storm_held_late":
			d.once(&seen, 17)
			p.StormHeldLate = d.bool()
		default:
			d.unknown(k, deadlineKeys)
		}
	}
}

// hold reads a state's maintenance hold: nil for null.
func (d *docScan) hold() *policy.Hold {
	if d.null() || !d.ok {
		return nil
	}
	h := new(policy.Hold)
	if d.ws(); d.i >= len(d.b) || d.b[d.i] != '{' {
		d.ok = false // json.Unmarshal's type error
		return nil
	}
	var seen uint64
	for more := d.objStart(); more && d.ok; more = d.objNext() {
		switch k := d.key(); string(k) {
		case "id":
			d.once(&seen, 0)
			h.ID = d.str()
		case "name":
			d.once(&seen, 1)
			h.Name = d.str()
		case "until":
			d.once(&seen, 2)
			d.time(&h.Until)
		case "from":
			d.once(&seen, 3)
			d.time(&h.From)
		default:
			d.unknown(k, holdKeys)
		}
	}
	return h
}

// pausedTargets reads a state's paused targets: nil for null, empty for [].
func (d *docScan) pausedTargets() []policy.PausedTarget {
	if d.null() || !d.ok {
		return nil
	}
	out := []policy.PausedTarget{}
	for more := d.arrStart(); more && d.ok; more = d.arrNext() {
		var p policy.PausedTarget
		var seen uint64
		for more := d.objStart(); more && d.ok; more = d.objNext() {
			switch k := d.key(); string(k) {
			case "target":
				d.once(&seen, 0)
				p.Target = d.str()
			case "left_ns":
				d.once(&seen, 1)
				p.Left = time.Duration(d.int64())
			default:
				d.unknown(k, pausedKeys)
			}
		}
		out = append(out, p)
	}
	return out
}

// heldSpans reads a state's held spans: nil for null, empty for [].
func (d *docScan) heldSpans() []policy.HeldSpan {
	if d.null() || !d.ok {
		return nil
	}
	out := []policy.HeldSpan{}
	for more := d.arrStart(); more && d.ok; more = d.arrNext() {
		var h policy.HeldSpan
		var seen uint64
		for more := d.objStart(); more && d.ok; more = d.objNext() {
			switch k := d.key(); string(k) {
			case "from":
				d.once(&seen, 0)
				d.time(&h.From)
			case "to":
				d.once(&seen, 1)
				d.time(&h.To)
			default:
				d.unknown(k, heldSpanKeys)
			}
		}
		out = append(out, h)
	}
	return out
}

// outbox reads an incident's outbox: nil for null, empty for [].
func (d *docScan) outbox() []store.OutboxItem {
	if d.null() || !d.ok {
		return nil
	}
	out := []store.OutboxItem{}
	for more := d.arrStart(); more && d.ok; more = d.arrNext() {
		out = append(out, store.OutboxItem{})
		o := &out[len(out)-1]
		var seen uint64
		for more := d.objStart(); more && d.ok; more = d.objNext() {
			switch k := d.key(); string(k) {
			case "id":
				d.once(&seen, 0)
				o.ID = d.str()
			case "kind":
				d.once(&seen, 1)
				o.Kind = d.str()
			case "action":
				d.once(&seen, 2)
				o.Action = d.str()
			case "due":
				d.once(&seen, 3)
				d.time(&o.Due)
			case "since":
				d.once(&seen, 4)
				d.time(&o.Since)
			case "attempts":
				d.once(&seen, 5)
				o.Attempts = d.int()
			case "done":
				d.once(&seen, 6)
				o.Done = d.strs()
			case "url":
				d.once(&seen, 7)
				o.URL = d.str()
			default:
				d.unknown(k, outboxKeys)
			}
		}
	}
	return out
}

// docScan reads a document left to right; ok turns false at the first
// thing it leaves to json.Unmarshal, and stays so.
type docScan struct {
	b  []byte
	i  int
	ok bool
}

// ws skips JSON white space.
func (d *docScan) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and says whether c comes next, reading it if so.
func (d *docScan) next(c byte) bool {
	d.ws()
	if d.ok && d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// lit reads the literal l (null, true, false) if it comes next.
func (d *docScan) lit(l string) bool {
	d.ws()
	if d.ok && len(d.b)-d.i >= len(l) && string(d.b[d.i:d.i+len(l)]) == l {
		d.i += len(l)
		return true
	}
	return false
}

// null reads null if it comes next: a value json.Unmarshal leaves zero
// (a slice or pointer nil, a string empty, a time zero).
func (d *docScan) null() bool { return d.lit("null") }

// objStart reads an object's opening brace, or null (false), and says
// whether a member follows; anything else is left to json.Unmarshal.
func (d *docScan) objStart() bool {
	if d.null() {
		return false
	}
	if !d.next('{') {
		d.ok = false
		return false
	}
	return !d.next('}')
}

// objNext reads what follows an object's member: a comma (true) or its
// closing brace (false).
func (d *docScan) objNext() bool {
	if d.next(',') {
		return true
	}
	if !d.next('}') {
		d.ok = false
	}
	return false
}

// arrStart reads an array's opening bracket and says whether an element
// follows; anything else is left to json.Unmarshal.
func (d *docScan) arrStart() bool {
	if !d.next('[') {
		d.ok = false
		return false
	}
	return !d.next(']')
}

// arrNext reads what follows an array's element: a comma (true) or its
// closing bracket (false).
func (d *docScan) arrNext() bool {
	if d.next(',') {
		return true
	}
	if !d.next(']') {
		d.ok = false
	}
	return false
}

// key reads a member's key and its colon. Only plain printable ASCII
// keys are read (json.Unmarshal unescapes a key, and folds a non-ASCII
// one by rules of its own, before matching it).
func (d *docScan) key() []byte {
	if !d.next('"') {
		d.ok = false
		return nil
	}
	start := d.i
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; {
		case c == '"':
			k := d.b[start:d.i]
			d.i++
			if !d.next(':') {
				d.ok = false
			}
			return k
		case c < 0x20 || c == '\\' || c >= utf8.RuneSelf:
			d.ok = false
			return nil
		}
	}
	d.ok = false
	return nil
}

// once marks field bit of an object as read; a key twice is left to
// json.Unmarshal (it decodes the second into what the first left).
func (d *docScan) once(seen *uint64, bit uint) {
	if *seen&(1<<bit) != 0 {
		d.ok = false
	}
	*seen |= 1 << bit
}

// unknown skips the value of key k, one of no field of the object's type
// (whose keys are keys), as json.Unmarshal does; a key that is one of
// them in another case is one json.Unmarshal decodes, and is left to it.
func (d *docScan) unknown(k []byte, keys []string) {
	for _, f := range keys {
		if strings.EqualFold(string(k), f) {
			d.ok = false
			return
		}
	}
	d.skip(0)
}

// str reads a string (null: empty): sliced and copied when plain (no
// escapes, UTF-8), else as json.Unmarshal reads that string alone.
func (d *docScan) str() string {
	if d.null() || !d.ok {
		return ""
	}
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		d.ok = false
		return ""
	}
	start := d.i + 1
	plain, ascii := true, true
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			v := d.b[start:j]
			if !ascii && plain {
				plain = utf8.Valid(v)
			}
			if plain {
				return intern(v)
			}
			var s string
			if err := json.Unmarshal(d.b[start-1:j+1], &s); err != nil {
				d.ok = false
			}
			return s
		case c == '\\':
			plain = false
			j++ // the escaped byte: never the string's end
		case c < 0x20:
			plain = false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	d.ok = false
	return ""
}

// intern is string(v), without a copy for the values every incident
// holds (statuses, kinds of steps, urgencies).
func intern(v []byte) string {
	switch string(v) {
	case "":
		return ""
	case "triggered":
		return "triggered"
	case "acknowledged":
		return "acknowledged"
	case "resolved":
		return "resolved"
	case "notify":
		return "notify"
	case "escalate":
		return "escalate"
	case "unresolved":
		return "unresolved"
	case "status_update":
		return "status_update"
	case "high":
		return "high"
	case "low":
		return "low"
	}
	return string(v)
}

// strs reads an array of strings: nil for null, empty for [], an
// element null as empty.
func (d *docScan) strs() []string {
	if d.null() || !d.ok {
		return nil
	}
	out := []string{}
	for more := d.arrStart(); more && d.ok; more = d.arrNext() {
		out = append(out, d.str())
	}
	return out
}

// bool reads true or false (null: false).
func (d *docScan) bool() bool {
	switch {
	case d.lit("true"):
		return true
	case d.lit("false"), d.null():
		return false
	}
	d.ok = false
	return false
}

// int reads an integer as int64 does (null: 0) that fits an int.
func (d *docScan) int() int {
	n := d.int64()
	if int64(int(n)) != n {
		d.ok = false
	}
	return int(n)
}

// int64 reads an integer of at most 18 digits (null: 0): no fraction, no
// exponent, no leading zero; a larger one is left to json.Unmarshal.
func (d *docScan) int64() int64 {
	if d.null() || !d.ok {
		return 0
	}
	j := d.i
	neg := j < len(d.b) && d.b[j] == '-'
	if neg {
		j++
	}
	digits := j
	var n int64
	for ; j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9'; j++ {
		n = n*10 + int64(d.b[j]-'0')
	}
	if j == digits || j-digits > 18 || (d.b[digits] == '0' && j > digits+1) ||
		(j < len(d.b) && (d.b[j] == '.' || d.b[j] == 'e' || d.b[j] == 'E')) {
		d.ok = false
		return 0
	}
	d.i = j
	if neg {
		return -n
	}
	return n
}

// time reads a time as json.Unmarshal does, by time.Time's UnmarshalJSON
// of the string as written (null: zero). One with an escape or a byte
// JSON strings may not hold raw (which UnmarshalJSON would refuse) is
// left to json.Unmarshal.
func (d *docScan) time(t *time.Time) {
	if d.null() || !d.ok {
		return
	}
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		d.ok = false
		return
	}
	start := d.i
	for j := start + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			if err := t.UnmarshalJSON(d.b[start:d.i]); err != nil {
				d.ok = false
			}
			return
		case c == '\\' || c < 0x20:
			d.ok = false
			return
		}
	}
	d.ok = false
}

// raw reads any value as json.RawMessage's UnmarshalJSON keeps it: the
// value's bytes as written, copied (null is "null").
func (d *docScan) raw() json.RawMessage {
	d.ws()
	start := d.i
	d.skip(0)
	if !d.ok {
		return nil
	}
	return append(json.RawMessage(nil), d.b[start:d.i]...)
}

// maxSkipDepth is how deep skip reads nested values; deeper ones are
// left to json.Unmarshal (whose own limit is far deeper).
const maxSkipDepth = 64

// skip reads a JSON value of any kind, checking it as json.Unmarshal's
// scanner does (strings' escapes and control bytes, numbers' form,
// literals), and leaves anything else to it.
func (d *docScan) skip(depth int) {
	d.ws()
	if !d.ok || d.i >= len(d.b) || depth > maxSkipDepth {
		d.ok = false
		return
	}
	switch c := d.b[d.i]; {
	case c == '"':
		d.skipString()
	case c == '{':
		d.i++
		if d.next('}') {
			return
		}
		for d.ok {
			d.ws()
			d.skipString()
			if !d.next(':') {
				d.ok = false
				return
			}
			d.skip(depth + 1)
			if d.next(',') {
				continue
			}
			if !d.next('}') {
				d.ok = false
			}
			return
		}
	case c == '[':
		d.i++
		if d.next(']') {
			return
		}
		for d.ok {
			d.skip(depth + 1)
			if d.next(',') {
				continue
			}
			if !d.next(']') {
				d.ok = false
			}
			return
		}
	case c == 't':
		d.ok = d.lit("true")
	case c == 'f':
		d.ok = d.lit("false")
	case c == 'n':
		d.ok = d.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		d.skipNumber()
	default:
		d.ok = false
	}
}

// skipString reads a JSON string: escapes among those JSON has, no
// control bytes (bytes that are not UTF-8 json.Unmarshal takes, and
// replaces).
func (d *docScan) skipString() {
	if !d.ok || d.i >= len(d.b) || d.b[d.i] != '"' {
		d.ok = false
		return
	}
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return
		case c < 0x20:
			d.ok = false
			return
		case c == '\\':
			j++
			if j >= len(d.b) {
				d.ok = false
				return
			}
			switch d.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(d.b)-j <= 4 || !isHex(d.b[j+1]) || !isHex(d.b[j+2]) || !isHex(d.b[j+3]) || !isHex(d.b[j+4]) {
					d.ok = false
					return
				}
				j += 4
			default:
				d.ok = false
				return
			}
		}
	}
	d.ok = false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// skipNumber reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *docScan) skipNumber() {
	b, j := d.b, d.i
	digits := func() bool {
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case !digits():
		d.ok = false
		return
	}
	if j < len(b) && b[j] == '.' {
		j++
		if !digits() {
			d.ok = false
			return
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if !digits() {
			d.ok = false
			return
		}
	}
	d.i = j
}
