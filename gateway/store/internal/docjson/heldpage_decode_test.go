package docjson

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// sameDecode fails unless DecodeHeldPage and json.Unmarshal agree on s:
// both fail, or both give the same page (the same instant, zone name and
// offset for Due). It says whether s took the fast path.
func sameDecode(t *testing.T, s string) (fast bool) {
	t.Helper()
	got, err := DecodeHeldPage(s)
	var want store.HeldPage
	wantErr := json.Unmarshal([]byte(s), &want)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, json.Unmarshal's %v", s, err, wantErr)
	}
	if err != nil {
		return false
	}
	gn, gOff := got.Due.Zone()
	wn, wo := want.Due.Zone()
	if !got.Due.Equal(want.Due) || gn != wn || gOff != wo {
		t.Fatalf("%q: due %v, json.Unmarshal's %v", s, got.Due, want.Due)
	}
	got.Due, want.Due = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", s, got, want)
	}
	_, fast = decodeHeldPageFast(s)
	return fast
}

// TestDecodeHeldPageIsJSONUnmarshal: what EncodeHeldPage writes, for pages
// filled by reflection (a field added to HeldPage and not read by hand
// fails this), zero, with escapes, bytes that are not UTF-8 and zones,
// decodes by hand as json.Unmarshal decodes it; and so does every
// one of them with a byte changed, taken out or put in, and forms the
// encoder never writes (another order, spaces, keys in capitals, numbers
// that are not integers, null).
func TestDecodeHeldPageIsJSONUnmarshal(t *testing.T) {
	pages := heldPageSamples(t)
	utf := pages["plain ASCII strings"]
	utf.Summary = "disque plein: é, 日本, 🙂"
	pages["UTF-8"] = utf
	var inputs []string
	for name, p := range pages {
		held, sent, err := EncodeHeldPage(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{string(held), string(sent)} {
			if !sameDecode(t, s) {
				t.Errorf("%s: not decoded by hand: %s", name, s)
			}
			inputs = append(inputs, s)
		}
	}
	for _, s := range []string{
		`{"s":"api","i":"0f-x","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"}`,
		`{"i":"0f-x", "s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"}`,
		`{"I":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"}`,
		`{"i":"0f-x","s":"api","p":"P0","r":1.5,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"}`,
		`{"i":"0f-x","s":"api","p":"P0","r":1e2,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"}`,
		`{"i":"0f-x","s":"api","p":"P0","r":01,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"}`,
		`{"i":"0f-x","s":"api","p":"P0","r":-0,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"}`,
		`{"i":"0f-x","s":"api","p":"P0","r":99999999999999999999,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"}`,
		`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":null}`,
		`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10 06:00:00Z"}`,
		// json.Unmarshal hands time.Time its string as written, escapes
		// and all (it does not unescape it): refused.
		`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00\u005a"}`,
		`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00\u002b01:00"}`,
		`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00Z","a":false}`,
		`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00Z","x":true,"a":true}`,
		`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00Z","z":1}`,
		`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"} `,
		`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"}}`,
		`{"i":"0f-x","i":"0f-y","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00Z"}`,
		`null`, ``, `{}`, `[]`,
	} {
		sameDecode(t, s)
		inputs = append(inputs, s)
	}
	// Every input with bytes changed: whatever the fast path makes of
	// them, json.Unmarshal makes the same.
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(`{}[]":,.-+0123456789eEtrufalsn\ azé` + "\x00\x1f\xff")
	fast := 0
	for range 20000 {
		b := []byte(inputs[rng.IntN(len(inputs))])
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
		if sameDecode(t, string(b)) {
			fast++
		}
	}
	t.Logf("%d of 20000 changed inputs decoded by hand", fast)
	if fast == 0 {
		t.Error("no changed input took the fast path: the comparison checked nothing of it")
	}
}

// FuzzDecodeHeldPage is TestDecodeHeldPageIsJSONUnmarshal's comparison on
// any input (go test -fuzz FuzzDecodeHeldPage).
func FuzzDecodeHeldPage(f *testing.F) {
	f.Add(`{"i":"0f-x","d":"d1","s":"api","p":"P0","r":1,"u":"high","l":2,"m":"disk","t":"2025-09-10T06:00:00Z","v":"sms","o":2,"a":true,"x":true}`)
	f.Add(`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00+01:00"}`)
	f.Add(`{"i":"0f-x","s":"api","p":"P0","r":1,"l":0,"m":"m","t":"2025-09-10T06:00:00\u005a"}`)
	f.Fuzz(func(t *testing.T, s string) { sameDecode(t, s) })
}

// TestDecodeHeldPageAllocatesNothing: a plain page in UTC decodes
// with no allocation (its strings are slices of the input).
func TestDecodeHeldPageAllocatesNothing(t *testing.T) {
	held, _, err := EncodeHeldPage(benchHeldPage)
	if err != nil {
		t.Fatal(err)
	}
	s := string(held)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := DecodeHeldPage(s); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations a page, want 0", n)
	}
}

var benchHeldPage = store.HeldPage{Incident: "0f-06h4bx81ph6fpe0m", Deadline: "0001.000003.notify", Service: "api", Priority: "P1", Rank: 1, Urgency: "high", Level: 1,
	Summary: "disk almost full on db12", Due: time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC), Via: "webhook"}

// BenchmarkDecodeHeldPage is a held page as a storm's flush reads it, by
// hand and by json.Unmarshal.
func BenchmarkDecodeHeldPage(b *testing.B) {
	held, _, err := EncodeHeldPage(benchHeldPage)
	if err != nil {
		b.Fatal(err)
	}
	s := string(held)
	b.Run("by hand", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeHeldPage(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		for b.Loop() {
			var p store.HeldPage
			if err := json.Unmarshal([]byte(s), &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
