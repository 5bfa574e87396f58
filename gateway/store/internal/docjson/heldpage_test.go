package docjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/internal/filltest"
)

// heldPageSamples are held pages both ways of writing them are compared
// on: every field set (by reflection: a field added to HeldPage and left
// out fails), zero, plain, with escapes, bytes that are not UTF-8 and a
// time in another zone, and as the dispatcher holds one.
func heldPageSamples(t *testing.T) map[string]store.HeldPage {
	now := time.Now()
	filled := func(seed int) store.HeldPage {
		var p store.HeldPage
		n := seed
		filltest.Fill(t, reflect.ValueOf(&p).Elem(), now, &n, false)
		p.Unreadable = "" // not stored
		return p
	}
	plain := filled(3)
	filltest.PlainStrings(reflect.ValueOf(&plain).Elem(), new(int))
	odd := filled(9)
	odd.Summary = "disk \"full\" <on> & \\ \n\t\x01 é \u2028 \u2029 \xff end"
	odd.Due = odd.Due.In(time.FixedZone("CET", 3600))
	odd.Rank, odd.Level, odd.Reopened = -1, 0, -3
	return map[string]store.HeldPage{
		"every field set":     filled(0),
		"another seed":        filled(1234),
		"plain ASCII strings": plain,
		"every field zero":    {},
		"escapes and zones":   odd,
		"as the dispatcher holds one": {Incident: "0f-x", Deadline: "d1", Service: "api", Priority: "P0", Urgency: "high", Level: 2,
			Summary: `disk "almost" full <3`, Due: time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC), Via: "pagerduty", PagesAcknowledged: true},
	}
}

// TestEncodeHeldPageIsJSONMarshal: both forms are what json.Marshal writes
// for the page, without and with Sent, byte for byte, for a page with
// every field set (by reflection: a field added to HeldPage and not
// written by hand fails this), with every field zero, with strings JSON
// escapes and a time in another zone; and it fails where json.Marshal
// fails.
func TestEncodeHeldPageIsJSONMarshal(t *testing.T) {
	pages := heldPageSamples(t)
	pages["sent already"] = store.HeldPage{Incident: "0f-y", Sent: true}
	for name, p := range pages {
		t.Run(name, func(t *testing.T) {
			held, sent, err := EncodeHeldPage(p)
			if err != nil {
				t.Fatal(err)
			}
			p.Sent = false
			want, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			p.Sent = true
			wantSent, _ := json.Marshal(p)
			if !bytes.Equal(held, want) {
				t.Errorf("held:\n got %s\nwant %s", held, want)
			}
			if !bytes.Equal(sent, wantSent) {
				t.Errorf("sent:\n got %s\nwant %s", sent, wantSent)
			}
			// One allocation holds both: a caller appending to one
			// must not write into the other.
			_ = append(held, "XXXXXXXXXX"...)
			if !bytes.Equal(sent, wantSent) {
				t.Errorf("sent changed by an append to held: %s", sent)
			}
		})
	}
	bad := pages["every field set"]
	bad.Due = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, _, err := EncodeHeldPage(bad)
	_, want := json.Marshal(bad)
	if err == nil || want == nil || err.Error() != want.Error() {
		t.Errorf("a time JSON cannot hold: %v, want json.Marshal's %v", err, want)
	}
}

// BenchmarkEncodeHeldPage is the page every admitted page is stored as,
// by hand and by json.Marshal.
func BenchmarkEncodeHeldPage(b *testing.B) {
	p := store.HeldPage{Incident: "0f-06h4bx81ph6fpe0m", Deadline: "0001.000003.notify", Service: "api", Priority: "P1", Rank: 1, Urgency: "high", Level: 1,
		Summary: "disk almost full on db12", Due: time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC), Via: "webhook"}
	b.Run("by hand", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := EncodeHeldPage(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
