package redisstore

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/internal/docjson"
	"github.com/pagerd/pagerd/gateway/store/internal/filltest"
	"github.com/pagerd/pagerd/policy"
)

// TestAppendRecordIsJSONMarshal: appendRecord writes what json.Marshal
// writes, byte for byte, for a record with every field set (fill sets all
// of them by reflection: a field added to any type a record holds, and
// not written by hand, fails this), with slices empty, with every field
// zero, with strings JSON escapes, and with times in other zones; and fails
// where json.Marshal fails.
func TestAppendRecordIsJSONMarshal(t *testing.T) {
	now := time.Now()
	filled := func(empty bool, seed int) record {
		var r record
		n := seed
		filltest.Fill(t, reflect.ValueOf(&r).Elem(), now, &n, empty)
		return r
	}
	cet := time.FixedZone("CET", 3600)
	odd := filled(false, 7)
	odd.Summary = "disk \"full\" <on> & \\ \n\t\x01 é \u2028 \u2029 \xff end"
	odd.State.PageImmediately = []string{"a\x7f", "</script>"}
	odd.State.TriggeredAt = odd.State.TriggeredAt.In(cet)
	odd.State.Pending[0].At = time.Date(2026, 3, 1, 2, 3, 4, 0, time.UTC)
	odd.State.Held[0].To = time.Time{}
	plain := filled(false, 5)
	filltest.PlainStrings(reflect.ValueOf(&plain).Elem(), new(int))
	one := filled(false, 9) // strings with one character to escape each
	filltest.PlainStrings(reflect.ValueOf(&one).Elem(), new(int))
	one.State.PageImmediately = []string{"a<b", "c>d", "e&f", "g\"h", "i\\j", "k\x1fl", "m\u2028n", "o\xffp", "q\u00e9r"}
	for name, r := range map[string]record{
		"every field set":       filled(false, 0),
		"plain ASCII strings":   plain,
		"one escape each":       one,
		"another seed":          filled(false, 1234),
		"slices empty, not nil": filled(true, 0),
		"every field zero":      {},
		"escapes and zones":     odd,
		"nil maintenance": func() record {
			r := filled(false, 3)
			r.State.Maintenance = nil
			r.Outbox = []store.OutboxItem{{ID: "o"}, {ID: "p", Attempts: 2}}
			r.State.Pending = append(r.State.Pending, policy.Deadline{ID: "x"})
			return r
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendRecord(nil, &r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("appendRecord:\n%s\njson.Marshal:\n%s", got, want)
			}
		})
	}
	bad := filled(false, 0)
	bad.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := appendRecord(nil, &bad); err == nil {
		t.Error("appendRecord took a year JSON cannot hold")
	}
	bad = filled(false, 0)
	bad.UpdatedAt = bad.UpdatedAt.In(time.FixedZone("far", 25*3600))
	if _, err := json.Marshal(bad); err == nil {
		t.Fatal("json.Marshal took an offset of 25 hours: the case below tests nothing")
	}
	if _, err := appendRecord(nil, &bad); err == nil {
		t.Error("appendRecord took an offset of 25 hours, which json.Marshal refuses")
	}
}

// TestEncodeTimelineIsJSONMarshal: encodeTimeline writes each entry as
// json.Marshal writes it (docjson.AppendEntry, tested on its own there),
// one a line; and fails where json.Marshal fails.
func TestEncodeTimelineIsJSONMarshal(t *testing.T) {
	filled := func(seed int) store.Entry {
		var e store.Entry
		n := seed
		filltest.Fill(t, reflect.ValueOf(&e).Elem(), time.Now(), &n, false)
		return e
	}
	odd := filled(3)
	odd.Detail = "level \"2\" <on> & \\ \n\x01 é \u2028 \xff"
	odd.At = odd.At.In(time.FixedZone("CET", 3600))
	entries := []store.Entry{filled(0), {}, {At: time.Now(), Type: "notify", User: "ann"}, odd}
	var want bytes.Buffer
	for _, e := range entries {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want.Write(j)
		want.WriteByte('\n')
	}
	if got, err := encodeTimeline(entries); err != nil || string(got) != want.String() {
		t.Errorf("encodeTimeline: %v\n%s\nwant:\n%s", err, got, want.String())
	}
	if got, err := encodeTimeline(nil); err != nil || len(got) != 0 {
		t.Errorf("encodeTimeline of none: %q, %v", got, err)
	}
	bad := filled(0)
	bad.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := encodeTimeline([]store.Entry{bad}); err == nil {
		t.Error("encodeTimeline took a year JSON cannot hold")
	}
}

// TestEncodeTimelineAllocatesItsBytesOnly: a write's timeline is one
// allocation, the bytes handed to the script (a string copy of them was a
// second).
func TestEncodeTimelineAllocatesItsBytesOnly(t *testing.T) {
	now := time.Now().UTC()
	es := []store.Entry{{At: now, Type: "triggered", Actor: "alertmanager", Detail: "severity=critical"},
		{At: now, Type: "notify", Level: 1, User: "ann", Channel: "push"}}
	if n := testing.AllocsPerRun(100, func() { _, _ = encodeTimeline(es) }); n != 1 && !raceEnabled {
		t.Errorf("encodeTimeline allocates %.0f times, want 1", n)
	}
}

func BenchmarkEncodeTimeline(b *testing.B) {
	now := time.Now().UTC()
	es := []store.Entry{{At: now, Type: "triggered", Actor: "alertmanager", Detail: "severity=critical"},
		{At: now, Type: "notify", Level: 1, User: "ann", Channel: "push"}}
	for b.Loop() {
		_, _ = encodeTimeline(es)
	}
}

func BenchmarkMarshalDoc(b *testing.B) {
	var r record
	n := 0
	filltest.Fill(b, reflect.ValueOf(&r).Elem(), time.Now().UTC(), &n, false)
	filltest.PlainStrings(reflect.ValueOf(&r).Elem(), new(int)) // as most are
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(r)
		}
	})
	b.Run("appendRecord", func(b *testing.B) {
		for b.Loop() {
			_, _ = appendRecord(make([]byte, 0, 1024), &r)
		}
	})
}

// appendRecord appends r as the store writes it (docjson.AppendRecord, as
// encodeDocDetails calls it), for the tests that compare it with
// json.Marshal of the record decoding reads.
func appendRecord(b []byte, r *record) ([]byte, error) {
	inc := store.Incident{ID: r.ID, Service: r.Service, DedupKey: r.DedupKey, Source: r.Source, Summary: r.Summary,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Outbox: r.Outbox, NotPushedToPagerDuty: r.NotPushed,
		NotPaged: r.NotPaged, SilencedAt: r.SilencedAt}
	return docjson.AppendRecord(b, &inc, &r.State)
}

// TestDecodeRecordIsJSONUnmarshal: what docjson.DecodeRecord, which
// decode reads a record's document with, reads by hand json.Unmarshal
// reads into a record the same (the same incident fields), for records
// filled by reflection (a field added to record, or to a type it holds,
// and not read by hand fails this), for whole incidents' documents (whose
// details, repeats, last seen and version a record does not hold), for
// other shapes, and for each of them with bytes changed.
func TestDecodeRecordIsJSONUnmarshal(t *testing.T) {
	now := time.Now()
	var inputs [][]byte
	for seed, empty := range []bool{false, true, false} {
		var r record
		n := seed * 100
		filltest.Fill(t, reflect.ValueOf(&r).Elem(), now, &n, empty)
		if seed == 2 {
			filltest.PlainStrings(reflect.ValueOf(&r).Elem(), new(int))
			r.CreatedAt = r.CreatedAt.In(time.FixedZone("CET", 3600))
		}
		j, err := appendRecord(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		var inc store.Incident
		filltest.Fill(t, reflect.ValueOf(&inc).Elem(), now, &n, empty)
		full, err := docjson.AppendIncident(nil, &inc)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, j, full)
	}
	inputs = append(inputs, []byte(`{}`), []byte(`null`), []byte(`{"Details":1,"REPEATS":"x","version":1.5,"last_seen":{}}`),
		[]byte(`{"id":1}`), []byte(`{"state":{"epoch":"x"}}`), []byte(`{"id":"a","ID":"b"}`), []byte(`{"details":null,"details":2}`))
	same := func(doc []byte) (fast bool) {
		t.Helper()
		var got store.Incident
		if !docjson.DecodeRecord(doc, &got) {
			return false // json.Unmarshal's to read
		}
		var r record
		if err := json.Unmarshal(doc, &r); err != nil {
			t.Fatalf("%q: read by hand, json.Unmarshal fails: %v", doc, err)
		}
		want := store.Incident{ID: r.ID, Service: r.Service, DedupKey: r.DedupKey, Source: r.Source, Summary: r.Summary,
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, State: r.State, Outbox: r.Outbox,
			NotPushedToPagerDuty: r.NotPushed, NotPaged: r.NotPaged, SilencedAt: r.SilencedAt}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %+v\nwant %+v", doc, got, want)
		}
		return true
	}
	for i, doc := range inputs {
		if !same(doc) && i < 6 {
			t.Errorf("not read by hand: %s", doc)
		}
	}
	fast := 0
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte(`{}[]":,.-+0123456789eEtrufalsnTZ\ azé` + "\x00\x1f\xff")
	for range 10000 {
		b := append([]byte(nil), inputs[rng.IntN(len(inputs))]...)
		for range 1 + rng.IntN(3) {
			switch i := rng.IntN(len(b) + 1); {
			case rng.IntN(3) == 0 || i == len(b):
				b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
			case rng.IntN(2) == 0:
				b = append(b[:i], b[i+1:]...)
			default:
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		if same(b) {
			fast++
		}
	}
	if fast < 1000 {
		t.Errorf("%d of 10000 changed records read by hand: the comparison checked little of it", fast)
	}
}
