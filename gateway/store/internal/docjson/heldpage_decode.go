package docjson

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pagerd/pagerd/gateway/store"
)

// DecodeHeldPage is json.Unmarshal of s into a zero store.HeldPage, with
// the form EncodeHeldPage writes read without reflection and its plain
// strings sliced from s, not copied (one with an escape is read by
// json.Unmarshal alone): a storm's flush reads every page it held (the
// load run's flushes decode some 10,000 at each window's end), and
// json.Unmarshal was half of a flush's CPU. Anything else (fields in
// another order or case, spaces, a number that is not an integer, null,
// a time with an escape, which json.Unmarshal refuses) is left to
// json.Unmarshal, whose answer it then is: TestDecodeHeldPageIsJSONUnmarshal
// compares the two on pages and on pages with bytes changed.
func DecodeHeldPage(s string) (store.HeldPage, error) {
	if p, ok := decodeHeldPageFast(s); ok {
		return p, nil
	}
	var p store.HeldPage
	err := json.Unmarshal([]byte(s), &p)
	return p, err
}

// decodeHeldPageFast reads EncodeHeldPage's form, and says false for
// anything else.
func decodeHeldPageFast(s string) (p store.HeldPage, ok bool) {
	d := heldScan{s: s, ok: true}
	d.want(`{"i":`)
	p.Incident = d.str()
	if d.lit(`,"d":`) {
		p.Deadline = d.str()
	}
	d.want(`,"s":`)
	p.Service = d.str()
	d.want(`,"p":`)
	p.Priority = d.str()
	d.want(`,"r":`)
	p.Rank = d.int()
	if d.lit(`,"u":`) {
		p.Urgency = d.str()
	}
	d.want(`,"l":`)
	p.Level = d.int()
	d.want(`,"m":`)
	p.Summary = d.str()
	d.want(`,"t":`)
	start := d.i
	if t := d.str(); d.ok {
		if strings.IndexByte(d.s[start:d.i], '\\') >= 0 {
			// json.Unmarshal hands time.Time.UnmarshalJSON the string
			// as written, its escapes not undone, and it refuses
			// them: its answer then is the one to give.
			return p, false
		}
		// As json.Unmarshal reads a time (strict RFC 3339), from a
		// buffer on the stack.
		var buf [64]byte
		if err := p.Due.UnmarshalText(append(buf[:0], t...)); err != nil {
			return p, false
		}
	}
	if d.lit(`,"v":`) {
		p.Via = d.str()
	}
	if d.lit(`,"o":`) {
		p.Reopened = d.int()
	}
	p.PagesAcknowledged = d.lit(`,"a":true`)
	p.Sent = d.lit(`,"x":true`)
	d.want(`}`)
	return p, d.ok && d.i == len(s)
}

// heldScan reads a held page left to right; ok turns false at the first
// thing it does not read, and stays so.
type heldScan struct {
	s  string
	i  int
	ok bool
}

// lit reads l if it comes next.
func (d *heldScan) lit(l string) bool {
	if d.ok && strings.HasPrefix(d.s[d.i:], l) {
		d.i += len(l)
		return true
	}
	return false
}

// want reads l, which must come next.
func (d *heldScan) want(l string) {
	if !d.lit(l) {
		d.ok = false
	}
}

// str reads a JSON string and returns it sliced from s when it is plain
// (no escapes, UTF-8), else as json.Unmarshal reads that string alone:
// json.Marshal escapes <, > and &, so a summary with one is common.
func (d *heldScan) str() string {
	if !d.ok || d.i >= len(d.s) || d.s[d.i] != '"' {
		d.ok = false
		return ""
	}
	start := d.i + 1
	plain := true
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			d.i = j + 1
			if v := d.s[start:j]; plain || (!strings.Contains(v, `\`) && utf8.ValidString(v) && !hasControl(v)) {
				return v
			}
			var v string
			if err := json.Unmarshal([]byte(d.s[start-1:j+1]), &v); err != nil {
				d.ok = false
			}
			return v
		case c == '\\':
			plain = false
			j++ // the escaped byte: never the string's end
		case c < 0x20 || c >= utf8.RuneSelf:
			plain = false
		}
	}
	d.ok = false
	return ""
}

// hasControl says whether v has a byte JSON strings may not hold raw.
func hasControl(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 {
			return true
		}
	}
	return false
}

// int reads a JSON integer (no fraction, no exponent, no leading zero)
// that fits an int.
func (d *heldScan) int() int {
	if !d.ok {
		return 0
	}
	j := d.i
	if j < len(d.s) && d.s[j] == '-' {
		j++
	}
	digits := j
	for j < len(d.s) && d.s[j] >= '0' && d.s[j] <= '9' {
		j++
	}
	if j == digits || (d.s[digits] == '0' && j > digits+1) {
		d.ok = false
		return 0
	}
	n, err := strconv.Atoi(d.s[d.i:j])
	if err != nil {
		d.ok = false
		return 0
	}
	d.i = j
	return n
}
