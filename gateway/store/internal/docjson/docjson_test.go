package docjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/internal/filltest"
	"github.com/pagerd/pagerd/policy"
)

// TestAppendIncidentIsJSONMarshal: AppendIncident writes what json.Marshal
// writes, byte for byte, for an incident with every field set (by
// reflection: a field added to any type an incident holds, and not
// written by hand, fails this), with slices empty, with every field zero,
// with strings and details JSON escapes, with details not compact, and
// with times in other zones; and fails where json.Marshal fails.
func TestAppendIncidentIsJSONMarshal(t *testing.T) {
	now := time.Now()
	filled := func(empty bool, seed int) store.Incident {
		var inc store.Incident
		n := seed
		filltest.Fill(t, reflect.ValueOf(&inc).Elem(), now, &n, empty)
		return inc
	}
	cet := time.FixedZone("CET", 3600)
	odd := filled(false, 7)
	odd.Summary = "disk \"full\" <on> & \\ \n\t\x01 é \u2028 \u2029 \xff end"
	odd.Details = json.RawMessage(" {\"labels\": {\"alertname\": \"<Disk> & \u2028\"},\n \"n\": [1, 2.5e3]} ")
	odd.State.PageImmediately = []string{"a\x7f", "</script>"}
	odd.State.TriggeredAt = odd.State.TriggeredAt.In(cet)
	odd.LastSeen = odd.LastSeen.In(cet)
	odd.State.Pending[0].At = time.Date(2026, 3, 1, 2, 3, 4, 0, time.UTC)
	odd.State.Held[0].To = time.Time{}
	plain := filled(false, 5)
	filltest.PlainStrings(reflect.ValueOf(&plain).Elem(), new(int))
	for name, inc := range map[string]store.Incident{
		"every field set":       filled(false, 0),
		"plain ASCII strings":   plain,
		"another seed":          filled(false, 1234),
		"slices empty, not nil": filled(true, 0),
		"every field zero":      {},
		"escapes and zones":     odd,
		"nil maintenance, no details": func() store.Incident {
			inc := filled(false, 3)
			inc.Details = nil
			inc.Version = -2
			inc.State.Maintenance = nil
			inc.Outbox = []store.OutboxItem{{ID: "o"}, {ID: "p", Attempts: 2}}
			inc.State.Pending = append(inc.State.Pending, policy.Deadline{ID: "x"})
			return inc
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(&inc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendIncident(nil, &inc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("AppendIncident:\n%s\njson.Marshal:\n%s", got, want)
			}
		})
	}
	for name, change := range map[string]func(*store.Incident){
		"a year JSON cannot hold":     func(inc *store.Incident) { inc.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"an offset of 25 hours":       func(inc *store.Incident) { inc.LastSeen = inc.LastSeen.In(time.FixedZone("far", 25*3600)) },
		"details that are not JSON":   func(inc *store.Incident) { inc.Details = json.RawMessage(`{"a":`) },
		"a pending step's bad time":   func(inc *store.Incident) { inc.State.Pending[0].At = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		"an outbox item's bad offset": func(inc *store.Incident) { inc.Outbox[0].Due = inc.Outbox[0].Due.In(time.FixedZone("far", -25*3600)) },
	} {
		inc := filled(false, 0)
		change(&inc)
		_, want := json.Marshal(&inc)
		if want == nil {
			t.Fatalf("%s: json.Marshal took it: the case tests nothing", name)
		}
		if _, err := AppendIncident(nil, &inc); err == nil {
			t.Errorf("AppendIncident took %s, which json.Marshal refuses", name)
		} else if err.Error() != want.Error() {
			t.Errorf("%s: AppendIncident fails with %q; json.Marshal with %q", name, err, want)
		}
	}
}

// TestAppendEntryFailsAsJSONMarshal: a timeline entry json.Marshal
// refuses is refused with json.Marshal's error.
func TestAppendEntryFailsAsJSONMarshal(t *testing.T) {
	for _, at := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().In(time.FixedZone("far", 25*3600))} {
		e := store.Entry{At: at, Type: "trigger"}
		_, want := json.Marshal(e)
		if want == nil {
			t.Fatalf("%v: json.Marshal took it: the case tests nothing", at)
		}
		if _, err := AppendEntry(nil, &e); err == nil || err.Error() != want.Error() {
			t.Errorf("%v: AppendEntry fails with %v; json.Marshal with %q", at, err, want)
		}
	}
}

// TestAppendEntryIsJSONMarshal: AppendEntry writes what json.Marshal
// writes, byte for byte, for a timeline entry with every field set (by
// reflection: a field added to store.Entry and not written by hand fails
// this), with every field zero (the omitempty ones left out), with strings
// JSON escapes and a time in another zone.
func TestAppendEntryIsJSONMarshal(t *testing.T) {
	filled := func(seed int) store.Entry {
		var e store.Entry
		n := seed
		filltest.Fill(t, reflect.ValueOf(&e).Elem(), time.Now(), &n, false)
		return e
	}
	plain := filled(2)
	filltest.PlainStrings(reflect.ValueOf(&plain).Elem(), new(int))
	odd := filled(3)
	odd.Detail = "level \"2\" <on> & \\ \n\x01 é \u2028 \xff"
	odd.At = odd.At.In(time.FixedZone("CET", 3600))
	for _, e := range []store.Entry{filled(0), plain, {}, {At: time.Now(), Type: "notify", User: "ann"}, odd} {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendEntry(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("AppendEntry:\n%s\njson.Marshal:\n%s", got, want)
		}
	}
}

// TestAppendJSONStringQuotes: strings with quotes and backslashes, as
// every Alertmanager group key has, are written as json.Marshal writes
// them, without calling it.
func TestAppendJSONStringQuotes(t *testing.T) {
	for _, s := range []string{`am:{}:{alertname="DiskFull"}`, `"`, `\`, `\"`, `"\`, `a\b"c"d\`, `""`, `\\`, `x"`, `"x`, "",
		`{}/{severity="critical"}:{alertname=~"Disk.*"}`, `"<"`, "\"\x01", `"é"`} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { appendJSONString(buf[:0], `am:{}:{alertname="DiskFull"}`) }); n != 0 {
		t.Errorf("a group key with quotes takes %.0f allocations, want none", n)
	}
}

func BenchmarkMarshalIncident(b *testing.B) {
	var inc store.Incident
	filltest.Fill(b, reflect.ValueOf(&inc).Elem(), time.Now().UTC(), new(int), false)
	filltest.PlainStrings(reflect.ValueOf(&inc).Elem(), new(int)) // as most are
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(&inc)
		}
	})
	b.Run("AppendIncident", func(b *testing.B) {
		for b.Loop() {
			_, _ = AppendIncident(make([]byte, 0, 2048), &inc)
		}
	})
}

// TestAppendIncidentAsIs: details are as is when decoding the document
// gives back their bytes: none, or compact JSON with HTML characters
// escaped as json.Marshal escapes them.
func TestAppendIncidentAsIs(t *testing.T) {
	for details, want := range map[string]bool{
		``:                             true,
		`{"a":1,"b":["x"]}`:            true,
		`{"a":"\u003cb\u003e \u0026"}`: true,
		`{"a": 1}`:                     false,
		` {"a":1}`:                     false,
		`{"a":"<b>"}`:                  false,
		`{"a":"x & y"}`:                false,
		"{\"a\":\"\u2028\"}":           false,
	} {
		inc := store.Incident{Details: json.RawMessage(details)}
		j, asIs, err := AppendIncidentAsIs(nil, &inc)
		if err != nil {
			t.Fatal(err)
		}
		if asIs != want {
			t.Errorf("details %q: as is %v, want %v", details, asIs, want)
		}
		var back store.Incident
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatal(err)
		}
		if got := bytes.Equal(back.Details, inc.Details); got != want {
			t.Errorf("details %q: decoded %q, the same: %v; AppendIncidentAsIs says %v", details, back.Details, got, want)
		}
	}
}
