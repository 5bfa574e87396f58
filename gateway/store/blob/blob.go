// Package blob is the stored form of the stores' JSON documents (incident
// records, alert details, storm bundles): S2 with a preset dictionary of
// the JSON they are made of, behind a format byte, so that plain JSON (and
// what earlier versions wrote) still reads.
package blob

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"
)

// Incident documents and alert details are stored compressed with a preset
// dictionary of the JSON they are made of. Most of a small document is field
// names and fixed words, which the dictionary supplies, so a 1 KB incident
// takes a few hundred bytes of Redis memory; open incidents are what Redis
// must hold, so this is the difference between ~3 KB and under 2 KB each.
//
// A stored blob starts with a format byte: blobS2 (S2, klauspost/compress's
// Snappy successor, with the dictionary) for what is written now;
// blobDeflate (DEFLATE with the dictionary) for what earlier versions
// wrote, still read. Anything else is taken to be plain JSON, so a blob is
// always readable. S2 replaced DEFLATE because building DEFLATE's Huffman
// tables for every small document was a sixth of the CPU of taking an
// alert in: S2 encodes a 1 KB document in 1.4 µs instead of 7.5–9 µs, to a
// size between the two DEFLATE encoders' (254 bytes here, against 227 and
// 392), and decodes it in 0.5 µs instead of 3–15 µs.
const (
	blobDeflate = 0x01
	blobS2      = 0x02
)

// blobDict is part of the stored format: changing it makes existing blobs
// unreadable. Add a new format byte instead.
var blobDict = []byte(`{"id":"","service":"","dedup_key":"am:{}:{alertname=\"\"}","source":"alertmanager","summary":"",` +
	`"created_at":"2025-01-01T00:00:00.000Z","updated_at":"2025-01-01T00:00:00.000Z","state":{"priority":"P0","urgency":"high",` +
	`"rule":"severity=critical","status":"triggered","epoch":1,"triggered_at":"","acknowledged_at":"","acknowledged_by":"",` +
	`"resolved_at":"","resolved_by":"","last_status_at":"","status_updates":1,"level":1,"round":1,"level_started_at":"","seq":1,` +
	`"pending":[{"id":"1.1","at":"2025-01-01T00:00:00.000Z","kind":"notify","level":1,"user":"","channel":"push","seq":1},` +
	`{"id":"1.2","at":"","kind":"notify","user":"","channel":"sms","seq":2},{"id":"1.3","at":"","kind":"notify","channel":"voice",` +
	`"seq":3},{"id":"1.4","at":"","kind":"escalate","seq":4},{"id":"1.5","at":"","kind":"sla","target":"acknowledge","seq":5},` +
	`{"kind":"sla","target":"initial_response"},{"kind":"sla","target":"resolution"},{"kind":"unresolved","rule":1},` +
	`{"kind":"status_update"}]}}` +
	`{"source":"alertmanager","status":"firing","receiver":"","group_key":"{}:{alertname=\"\"}","group_labels":{"alertname":""},` +
	`"common_labels":{"alertname":"","instance":"","job":"","severity":"critical"},"common_annotations":{"description":"",` +
	`"summary":""},"external_url":"http://alertmanager:9093","alerts_total":1,"alerts":[{"status":"firing","labels":{"alertname":"",` +
	`"instance":"","job":"","severity":"critical"},"annotations":{"description":"","summary":"","runbook_url":""},` +
	`"starts_at":"2025-01-01T00:00:00.000Z","ends_at":"","generator_url":"http://prometheus:9090/graph?g0.expr=",` +
	`"fingerprint":""}]}{"source":"pagerduty","event":{"event_action":"trigger","dedup_key":"","payload":{"summary":"",` +
	`"source":"","severity":"error","timestamp":"","component":"","group":"","class":"","custom_details":{}}}}`)

// Pack compresses JSON for storage.
//
// S2's encoder with a dictionary keeps its 64 KB hash table on the stack
// of the goroutine that calls it. The callers are the request and
// dispatcher goroutines, whose stacks the garbage collector shrinks back
// while they wait between requests, so nearly every call grew a stack to
// 128 KB again, copying it, and freed it later: in a profile at twice
// capacity on Redis, growing, shrinking and returning those stacks to the
// OS took 1.5 s of CPU in 21 s, about as much as the encoding itself
// (1.7 s). So the encoding runs on a few goroutines kept for it (packers,
// one per CPU), whose stacks stay grown while they work; handing a
// document over costs two goroutine switches on the same CPU.
func Pack(j []byte) []byte {
	p := handOver(j, nil)
	out := p.dst[0]
	p.dst[0] = nil
	packs.Put(p)
	return out
}

// PackTwo is Pack of a and of b, packed in one hand-over to a packer: an
// incident's document and its alert details, written together by every
// new incident, took two, and each hand-over's goroutine switches (and
// the wake-up of a thread to run the packer when none was spinning) cost
// more CPU than packing a small document. The bytes are Pack's; b must
// not be nil.
func PackTwo(a, b []byte) (pa, pb []byte) {
	p := handOver(a, b)
	pa, pb = p.dst[0], p.dst[1]
	p.dst[0], p.dst[1] = nil, nil
	packs.Put(p)
	return pa, pb
}

// handOver has a packer pack a, and b when not nil, and returns the pack
// with its results, cleared of what it was given, for the caller to put
// back in packs once it has taken them.
func handOver(a, b []byte) *pack {
	startPackers.Do(func() {
		for range runtime.GOMAXPROCS(0) {
			go packer()
		}
	})
	p := packs.Get().(*pack)
	p.src[0], p.src[1] = a, b
	packing <- p
	<-p.done
	p.src[0], p.src[1] = nil, nil
	return p
}

// pack is one or two documents handed to a packer (src[1] nil when one),
// and their packed forms.
type pack struct {
	src, dst [2][]byte
	done     chan struct{}
}

var (
	startPackers sync.Once
	packing      = make(chan *pack)
	packs        = sync.Pool{New: func() any { return &pack{done: make(chan struct{}, 1)} }}
)

// packer packs the documents handed to it, for as long as the process runs.
func packer() {
	var scratch []byte
	for p := range packing {
		p.dst[0] = packS2Into(&scratch, p.src[0])
		p.dst[1] = nil
		if p.src[1] != nil {
			p.dst[1] = packS2Into(&scratch, p.src[1])
		}
		p.done <- struct{}{}
	}
}

// Encode is Pack on the caller's goroutine: the format byte, then S2 with
// the dictionary.
func Encode(j []byte) []byte {
	return packS2Into(nil, j)
}

// packS2Into is Encode with scratch room to encode into: the result is
// copied out at its own length, so a packer that keeps its scratch
// allocates what is kept and no more (the room S2 asks for is a sixth
// larger than the JSON, the result a third of it).
func packS2Into(scratch *[]byte, j []byte) []byte {
	need := 1 + s2.MaxEncodedLen(len(j))
	var buf []byte
	if scratch != nil && cap(*scratch) >= need {
		buf = (*scratch)[:need]
	} else {
		buf = make([]byte, need)
		if scratch != nil && need <= maxPooledDoc {
			*scratch = buf
		}
	}
	buf[0] = blobS2
	n := len(s2Dict.Encode(buf[1:], j))
	if scratch == nil || cap(*scratch) < need {
		return buf[: 1+n : 1+n]
	}
	return append([]byte(nil), buf[:1+n]...)
}

// s2Dict is blobDict prepared for S2.
var s2Dict = s2.MakeDict(blobDict, nil)

// maxPooledDoc bounds the scratch room a packer keeps.
const maxPooledDoc = 64 << 10

// inflaters are pooled: a new reader allocates its ~40 KB window and tables.
var inflaters sync.Pool

// Unpack returns the JSON in a stored blob: a packed one decoded, plain
// JSON as it is (for a []byte, the same bytes).
func Unpack[T ~string | ~[]byte](s T) ([]byte, error) {
	if len(s) == 0 {
		return nil, nil
	}
	switch s[0] {
	case blobS2:
		out, err := s2Dict.Decode(nil, []byte(s[1:]))
		if err != nil {
			return nil, fmt.Errorf("decode stored document: %w", err)
		}
		return out, nil
	case blobDeflate:
	default:
		return []byte(s), nil
	}
	src := bytes.NewReader([]byte(s[1:]))
	r, _ := inflaters.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReaderDict(src, blobDict)
	} else if err := r.(flate.Resetter).Reset(src, blobDict); err != nil {
		return nil, fmt.Errorf("inflate stored document: %w", err)
	}
	var out bytes.Buffer
	out.Grow(len(s) * 4)
	_, err := out.ReadFrom(r)
	inflaters.Put(r)
	if err != nil {
		return nil, fmt.Errorf("inflate stored document: %w", err)
	}
	return out.Bytes(), nil
}
