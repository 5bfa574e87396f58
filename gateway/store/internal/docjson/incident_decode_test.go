package docjson

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/internal/filltest"
	"github.com/pagerd/pagerd/policy"
)

// sameIncidentDecode fails unless DecodeIncident and json.Unmarshal into
// a zero store.Incident agree on data (the same error, or none, and the
// same incident), and that what DecodeRecord reads json.Unmarshal reads
// into a record the same. It says whether DecodeIncident read data by hand.
func sameIncidentDecode(t testing.TB, data []byte) (fast bool) {
	t.Helper()
	var got, want store.Incident
	err := DecodeIncident(data, &got)
	wantErr := json.Unmarshal(data, &want)
	if !sameErr(err, wantErr) {
		t.Fatalf("%q: error %v, json.Unmarshal's %v", data, err, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", data, got, want)
	}
	var gotRec store.Incident
	if DecodeRecord(data, &gotRec) {
		var r record
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("%q: DecodeRecord read it, json.Unmarshal fails: %v", data, err)
		}
		wantRec := store.Incident{ID: r.ID, Service: r.Service, DedupKey: r.DedupKey, Source: r.Source, Summary: r.Summary,
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, State: r.State, Outbox: r.Outbox,
			NotPushedToPagerDuty: r.NotPushed, NotPaged: r.NotPaged, SilencedAt: r.SilencedAt}
		if !reflect.DeepEqual(gotRec, wantRec) {
			t.Fatalf("%q: DecodeRecord:\n got %+v\nwant %+v", data, gotRec, wantRec)
		}
	}
	var scratch store.Incident
	return decodeDoc(data, &scratch, true)
}

// record is redisstore's record, which json.Unmarshal reads what
// DecodeRecord reads into (redisstore's TestDecodeRecordIsJSONUnmarshal
// compares DecodeRecord with it, the type itself).
type record struct {
	ID         string             `json:"id"`
	Service    string             `json:"service"`
	DedupKey   string             `json:"dedup_key"`
	Source     string             `json:"source"`
	Summary    string             `json:"summary"`
	CreatedAt  time.Time          `json:"created_at"`
	UpdatedAt  time.Time          `json:"updated_at"`
	State      policy.Incident    `json:"state"`
	Outbox     []store.OutboxItem `json:"outbox,omitempty"`
	NotPushed  bool               `json:"not_pagerduty,omitempty"`
	NotPaged   bool               `json:"not_paged,omitempty"`
	SilencedAt []string           `json:"silenced_at,omitempty"`
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}

// incidentSamples are incidents filled by reflection (every field set: a
// field added to store.Incident or a policy type it holds, and not read
// by hand, fails the tests that decode them) and edge cases.
func incidentSamples(t testing.TB) map[string]store.Incident {
	now := time.Now()
	filled := func(empty bool, seed int) store.Incident {
		var inc store.Incident
		n := seed
		filltest.Fill(t, reflect.ValueOf(&inc).Elem(), now, &n, empty)
		return inc
	}
	plain := filled(false, 5)
	filltest.PlainStrings(reflect.ValueOf(&plain).Elem(), new(int))
	odd := filled(false, 7)
	odd.Summary = "disk \"full\" <on> & \\ \n\t\x01 é 日本 🙂 \u2028 \u2029 \xff end"
	odd.Details = json.RawMessage(`{"labels":{"alertname":"\u003cDisk\u003e \u0026 \u2028"},"n":[1,2.5e3,-0.5E-2,null,true,false,""]}`)
	odd.State.PageImmediately = []string{"a\x7f", "</script>", ""}
	odd.State.TriggeredAt = odd.State.TriggeredAt.In(time.FixedZone("CET", 3600))
	odd.LastSeen = odd.LastSeen.In(time.FixedZone("IST", 5*3600+1800))
	odd.CreatedAt = odd.CreatedAt.In(time.FixedZone("west", -9*3600-1800))
	odd.UpdatedAt = odd.UpdatedAt.In(time.Local)
	odd.State.Pending[0].At = time.Date(2026, 3, 1, 2, 3, 4, 0, time.UTC)
	odd.State.Held[0].To = time.Time{}
	odd.Version = -1 << 40
	odd.State.PausedTargets[0].Left = -90 * time.Minute
	nilParts := filled(false, 3)
	nilParts.Details = nil
	nilParts.State.Maintenance = nil
	nilParts.Outbox = []store.OutboxItem{{ID: "o"}, {ID: "p", Attempts: 2}}
	nilParts.State.Pending = append(nilParts.State.Pending, policy.Deadline{ID: "x"})
	return map[string]store.Incident{
		"every field set":        filled(false, 0),
		"plain ASCII strings":    plain,
		"another seed":           filled(false, 1234),
		"slices empty, not nil":  filled(true, 0),
		"every field zero":       {},
		"escapes and zones":      odd,
		"nil parts, no details":  nilParts,
		"a new incident's shape": {ID: "0f-x", Service: "api", Source: "alertmanager", State: policy.Incident{Status: policy.StatusTriggered}},
	}
}

// TestDecodeIncidentIsJSONUnmarshal: what AppendIncident (and so
// json.Marshal) writes of incidents filled by reflection and of edge
// cases is read by hand, as json.Unmarshal reads it; documents of other
// shapes (old ones with fields missing, nulls, unknown fields, another
// order, spaces, escapes, times at other offsets) are read as it reads
// them; and so is every one of them with bytes changed, taken out or put
// in.
func TestDecodeIncidentIsJSONUnmarshal(t *testing.T) {
	var inputs [][]byte
	for name, inc := range incidentSamples(t) {
		doc, err := AppendIncident(nil, &inc)
		if err != nil {
			t.Fatal(err)
		}
		if !sameIncidentDecode(t, doc) {
			t.Errorf("%s: not read by hand: %s", name, doc)
		}
		inputs = append(inputs, doc)
	}
	for _, s := range decodeEdgeCases {
		sameIncidentDecode(t, []byte(s))
		inputs = append(inputs, []byte(s))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte(`{}[]":,.-+0123456789eEtrufalsnTZ\ azé` + "\x00\x1f\xff")
	fast := 0
	const changed = 20000
	for range changed {
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
		if sameIncidentDecode(t, b) {
			fast++
		}
	}
	t.Logf("%d of %d changed inputs read by hand", fast, changed)
	if fast < changed/10 {
		t.Errorf("only %d changed inputs read by hand: the comparison checked little of it", fast)
	}
}

// decodeEdgeCases are documents json.Marshal does not write today: old
// shapes, other writers' forms, and what json.Unmarshal refuses.
var decodeEdgeCases = []string{
	// Old documents: fields missing, no state, no outbox.
	`{"id":"0f-x","service":"api","dedup_key":"k","source":"api","summary":"s","created_at":"2025-09-10T06:00:00Z","updated_at":"2025-09-10T06:00:00Z","repeats":0,"last_seen":"2025-09-10T06:00:00Z","version":3}`,
	`{"id":"0f-x","state":{"id":"0f-x","status":"acknowledged","level":2,"pending":[{"id":"p","at":"2025-09-10T06:00:00Z","kind":"escalate","seq":1}]}}`,
	`{}`, `null`, ` { } `, "\t\r\n{\n}\n",
	// Another order, spaces everywhere.
	` { "state" : { "status" : "resolved" , "id" : "a" } , "id" : "b" , "outbox" : [ { "url" : "u" , "id" : "o" } ] } `,
	`{"version":7,"repeats":2,"summary":"s","id":"x"}`,
	// Nulls for every kind of field.
	`{"id":null,"created_at":null,"details":null,"repeats":null,"version":null,"state":null,"outbox":null,"not_paged":null,"silenced_at":null}`,
	`{"state":{"page_immediately":null,"pending":null,"maintenance":null,"paused_targets":null,"held":null,"lifted":null,"level_pages":null,"epoch":null,"triggered_at":null,"raised_since_ack":null}}`,
	`{"state":{"pending":[null,{"id":"p","sent":null,"at":null,"level":null}],"held":[null],"paused_targets":[null]},"outbox":[null],"silenced_at":[null,"a"]}`,
	// Empty slices and objects.
	`{"outbox":[],"silenced_at":[],"state":{"pending":[],"maintenance":{},"paused_targets":[],"held":[],"lifted":[],"level_pages":[],"page_immediately":[]}}`,
	`{"details":{}}`, `{"details":[]}`, `{"details":"x"}`, `{"details":12.5e-1}`, `{"details":true}`,
	`{"details": {"a" : [ 1 , 2 ] } }`,
	// Unknown fields, of every kind, nested, at every level.
	`{"zzz":{"a":[1,{"b":null}],"c":"\u00e9\n"},"id":"x","yyy":[],"xxx":-1.5e+3,"www":true,"vvv":null,"uuu":"s"}`,
	`{"state":{"new_field":[1,2],"status":"triggered"},"outbox":[{"new":{},"id":"o"}]}`,
	`{"state":{"pending":[{"id":"p","later":"x"}],"maintenance":{"id":"m","x":1},"held":[{"from":"2025-09-10T06:00:00Z","y":2}],"paused_targets":[{"target":"t","z":3}]}}`,
	`{"CheckRepeats":true,"NoFirstPageLead":true,"-":1}`,
	// Keys in another case, twice, with escapes, outside ASCII.
	`{"ID":"x"}`, `{"Id":"x","id":"y"}`, `{"id":"x","id":"y"}`, `{"state":{"Status":"resolved"}}`,
	`{"state":{"pending":[{"id":"a","ID":"b"}]}}`, `{"\u0069d":"x"}`, `{"ſervice":"x"}`, `{"ﬁ":1}`,
	`{"state":{"status":"triggered","status":"resolved"}}`, `{"outbox":[{"id":"a"}],"outbox":[{"kind":"b"}]}`,
	`{"state":{"maintenance":{"id":"a"},"maintenance":{"name":"b"}}}`,
	`{"details":{"a":1},"details":[2]}`,
	// Escapes and Unicode in strings.
	`{"id":"a\"b\\c\/d\b\f\n\r\t","summary":"\u00e9\u2028\ud83d\ude00\ud800\udfff","service":"\ud800x","source":"é日本🙂"}`,
	`{"summary":"` + "\xff\xfe bad \xc3" + `"}`, `{"summary":"\u003cb\u003e \u0026"}`, `{"summary":"\x"}`,
	`{"summary":"` + "a\x01b" + `"}`, `{"summary":"\u12"}`, `{"summary":"\uZZZZ"}`,
	`{"state":{"status":"\u0072esolved","pending":[{"kind":"n\u006ftify"}]}}`,
	// Times at any offset and fraction, and what time.Time refuses.
	`{"created_at":"2025-09-10T06:00:00.123456789+05:30","updated_at":"2025-09-10T06:00:00-09:30","last_seen":"2025-09-10T06:00:00.1Z"}`,
	`{"created_at":"0001-01-01T00:00:00Z","updated_at":"9999-12-31T23:59:59.999999999Z","last_seen":"2025-09-10T06:00:00+00:00"}`,
	`{"created_at":"2025-09-10T06:00:00-00:00"}`, `{"created_at":"2025-09-10T06:00:00+23:59"}`, `{"created_at":"2025-09-10T06:00:00+24:00"}`,
	`{"created_at":"2025-09-10t06:00:00z"}`, `{"created_at":"2025-09-10 06:00:00Z"}`, `{"created_at":"2025-09-10T06:00:00\u005a"}`,
	`{"created_at":"2025-09-10T06:00:00Z "}`, `{"created_at":""}`, `{"created_at":1}`, `{"created_at":{}}`, `{"created_at":"2025-02-30T06:00:00Z"}`,
	`{"created_at":"2025-09-10T06:00:60Z"}`, `{"created_at":"2025-09-10T06:00:00.Z"}`, `{"created_at":"2025-09-10T06:00:00,5Z"}`,
	`{"state":{"maintenance":{"until":"2025-09-10T06:00:00+01:00","from":"2025-09-10T05:00:00+01:00"}}}`,
	// Numbers.
	`{"repeats":-0,"version":-9223372036854775808}`, `{"version":9223372036854775807}`, `{"version":9223372036854775808}`,
	`{"version":123456789012345678}`, `{"version":1234567890123456789}`, `{"repeats":1.0}`, `{"repeats":1e2}`, `{"repeats":01}`,
	`{"repeats":-}`, `{"repeats":"1"}`, `{"repeats":true}`, `{"repeats":[1]}`, `{"state":{"paused_targets":[{"left_ns":-5000000000}]}}`,
	`{"state":{"epoch":2147483648,"level":-2147483649}}`,
	// Values of another type.
	`{"id":1}`, `{"not_paged":"true"}`, `{"not_paged":1}`, `{"state":[]}`, `{"state":"x"}`, `{"outbox":{}}`, `{"outbox":[1]}`,
	`{"silenced_at":"a"}`, `{"silenced_at":[1]}`, `{"state":{"maintenance":[]}}`, `{"state":{"maintenance":"x"}}`,
	`{"state":{"pending":[[]]}}`, `{"state":{"held":[{"from":5}]}}`,
	// Not JSON, or not one object.
	``, ` `, `[]`, `"x"`, `1`, `{`, `}`, `{"id":"x"`, `{"id":"x"}}`, `{"id":"x"} {}`, `{"id":"x",}`, `{,}`, `{"id"}`,
	`{"id":"x" "service":"y"}`, `{"zzz":[1,]}`, `{"zzz":{"a"}}`, `{"zzz":tru}`, `{"zzz":nul}`, `{"zzz":01}`, `{"zzz":1.}`, `{"zzz":.5}`,
	`{"zzz":1e}`, `{"zzz":+1}`, `{"zzz":"` + "\x00" + `"}`, `{"zzz":'x'}`, `{id:"x"}`, "{\"id\":\"x\"}\x00",
	`{"zzz":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	`{"zzz":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat("}", 70) + `}`,
}

// FuzzDecodeIncident is TestDecodeIncidentIsJSONUnmarshal's comparison on
// any input (go test -fuzz FuzzDecodeIncident ./gateway/store/internal/docjson/).
func FuzzDecodeIncident(f *testing.F) {
	for _, inc := range incidentSamples(f) {
		doc, err := AppendIncident(nil, &inc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	for _, s := range decodeEdgeCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameIncidentDecode(t, data) })
}

// TestDecodeKeysAreTheFields: the keys the decoder knows of each type, by
// which it tells a key in another case (json.Unmarshal's to decode) from
// an unknown one (skipped), are its fields' JSON names.
func TestDecodeKeysAreTheFields(t *testing.T) {
	for _, c := range []struct {
		typ  reflect.Type
		keys []string
	}{
		{reflect.TypeFor[store.Incident](), incidentKeys},
		{reflect.TypeFor[policy.Incident](), stateKeys},
		{reflect.TypeFor[policy.Deadline](), deadlineKeys},
		{reflect.TypeFor[policy.Hold](), holdKeys},
		{reflect.TypeFor[policy.PausedTarget](), pausedKeys},
		{reflect.TypeFor[policy.HeldSpan](), heldSpanKeys},
		{reflect.TypeFor[store.OutboxItem](), outboxKeys},
	} {
		var names []string
		for f := range c.typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if f.Anonymous || name == "" {
				t.Fatalf("%s.%s: an embedded or untagged field: teach the decoder its keys", c.typ, f.Name)
			}
			names = append(names, name)
		}
		if !reflect.DeepEqual(names, c.keys) {
			t.Errorf("%s: fields %q, the decoder knows %q", c.typ, names, c.keys)
		}
	}
}

// TestDecodeIncidentAllocations: a plain incident is read with one
// allocation a string, slice and pointer json.Unmarshal makes, fewer
// where the value is a status or a kind of step, and none of its own.
func TestDecodeIncidentAllocations(t *testing.T) {
	inc := benchIncident(t)
	doc, err := AppendIncident(nil, &inc)
	if err != nil {
		t.Fatal(err)
	}
	var out store.Incident
	hand := testing.AllocsPerRun(100, func() { _ = DecodeIncident(doc, &out) })
	std := testing.AllocsPerRun(100, func() { out = store.Incident{}; _ = json.Unmarshal(doc, &out) })
	t.Logf("%.0f allocations by hand, %.0f by json.Unmarshal", hand, std)
	if hand > std {
		t.Errorf("%.0f allocations by hand, more than json.Unmarshal's %.0f", hand, std)
	}
}

// benchIncident is an incident as the stores hold most: every field set,
// plain strings, at UTC.
func benchIncident(t testing.TB) store.Incident {
	var inc store.Incident
	filltest.Fill(t, reflect.ValueOf(&inc).Elem(), time.Now().UTC(), new(int), false)
	filltest.PlainStrings(reflect.ValueOf(&inc).Elem(), new(int))
	inc.State.Status, inc.State.Pending[0].Kind = policy.StatusTriggered, policy.DeadlineNotify
	return inc
}

// BenchmarkDecodeIncident is an incident's document read by hand and by
// json.Unmarshal.
func BenchmarkDecodeIncident(b *testing.B) {
	inc := benchIncident(b)
	doc, err := AppendIncident(nil, &inc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("by hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out store.Incident
			if err := DecodeIncident(doc, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out store.Incident
			if err := json.Unmarshal(doc, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
