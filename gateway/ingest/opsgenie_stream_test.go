package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestReadOpsgenieCutDecodesAsTheWholeBody: a body over MaxOpsgenieBytes,
// its strings cut as it streams by, decodes to the alert the whole body
// decodes to (fields, what was cut, the alias derived from them), whatever
// the cut falls on: a two-byte or four-byte character, an escape, an
// escaped surrogate pair.
func TestReadOpsgenieCutDecodesAsTheWholeBody(t *testing.T) {
	for _, unit := range []string{"x", "é", "😀", `\n`, `\"`, `\u00e9`, `\ud83d\ude00`, `a\\`, "\x80", "\xc3", "\xf0\x9f"} {
		t.Run(unit, func(t *testing.T) {
			long := strings.Repeat(unit, MaxOpsgenieBytes/6/len(unit)) // 8 of them: over MaxOpsgenieBytes
			body := `{"message":"TargetDown ` + long + `","description":"` + long + `","note":"` + long + `",` +
				`"details":{"severity":"critical","instances":"` + long + `","` + long + `":"v"},` +
				`"tags":["a","` + long + `"],"entity":"` + long + `","source":"` + long + `","priority":"P2"}`
			want, got, cut := decodeWholeAndCut(t, body)
			if len(body) <= MaxOpsgenieBytes || len(cut) >= len(body)/4 {
				t.Fatalf("cut to %d bytes of %d", len(cut), len(body))
			}
			// Routing reads details and tags as sent (routeDetails): the
			// cut body's keep their first 50,002 characters, which no
			// rule tells from the whole.
			for _, m := range []map[string]string{got.routeDetails, want.routeDetails} {
				if m["severity"] != "critical" {
					t.Fatalf("routing details without the severity: %d of them", len(m))
				}
			}
			if len(got.routeDetails) != len(want.routeDetails) || len(got.routeTags) != len(want.routeTags) {
				t.Fatalf("routing reads %d details and %d tags of the cut body, %d and %d of the whole",
					len(got.routeDetails), len(got.routeTags), len(want.routeDetails), len(want.routeTags))
			}
			got.routeDetails, got.routeTags, want.routeDetails, want.routeTags = nil, nil, nil, nil
			if !reflect.DeepEqual(got, want) {
				gv, wv := reflect.ValueOf(*got), reflect.ValueOf(*want)
				for i := range gv.NumField() {
					if gv.Type().Field(i).IsExported() && !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
						t.Errorf("the cut body decodes to another %s", gv.Type().Field(i).Name)
					}
				}
				t.FailNow()
			}
			if got.DerivedAlias() != want.DerivedAlias() || got.Summary() != want.Summary() {
				t.Fatal("the cut body derives another alias or summary")
			}
			if len(got.Cut) == 0 {
				t.Fatal("nothing said to be cut")
			}
			upd := `{"description":"` + long + long + long + long + long + long + long + `"}`
			cut, err := ReadOpsgenieCut(strings.NewReader(upd))
			if err != nil {
				t.Fatal(err)
			}
			wantV, p1 := DecodeOpsgenieUpdate([]byte(upd), OpsgenieUpdateDescription)
			gotV, p2 := DecodeOpsgenieUpdate(cut, OpsgenieUpdateDescription)
			if p1 != nil || p2 != nil || gotV != wantV {
				t.Fatalf("update: cut %q… (%v), whole %q… (%v)", gotV[:20], p2, wantV[:20], p1)
			}
		})
	}
}

// TestReadOpsgenieCutKeepsShortBodies: a body of short strings comes out
// as it went in, whatever it is (the decoder judges it).
func TestReadOpsgenieCutKeepsShortBodies(t *testing.T) {
	for _, body := range []string{amOpsgenieBody, `{"message":"a \"quoted\" \\ back\\\"slash","x":[1,2,{"y":null}]}`, `{"message":`, `"open`, ``} {
		got, err := ReadOpsgenieCut(strings.NewReader(body))
		if err != nil || string(got) != body {
			t.Errorf("%q: %q, %v", body, got, err)
		}
	}
}

// TestReadOpsgenieCutRefusesWhatItCannotHold: over MaxOpsgenieStreamBytes
// as sent, or over MaxOpsgenieBytes once cut (a few hundred thousand
// fields), is ErrOpsgenieTooLarge.
func TestReadOpsgenieCutRefusesWhatItCannotHold(t *testing.T) {
	huge := `{"message":"m","description":"` + strings.Repeat("x", MaxOpsgenieStreamBytes) + `"}`
	if _, err := ReadOpsgenieCut(strings.NewReader(huge)); !errors.Is(err, ErrOpsgenieTooLarge) {
		t.Errorf("over %d bytes as sent: %v", MaxOpsgenieStreamBytes, err)
	}
	var b bytes.Buffer
	b.WriteString(`{"message":"m","details":{`)
	for i := 0; b.Len() <= MaxOpsgenieBytes; i++ {
		fmt.Fprintf(&b, `"key-%07d":"value",`, i)
	}
	b.WriteString(`"last":"v"}}`)
	if !json.Valid(b.Bytes()) {
		t.Fatal("the test's body is not JSON")
	}
	if _, err := ReadOpsgenieCut(&b); !errors.Is(err, ErrOpsgenieTooLarge) {
		t.Errorf("over %d bytes cut: %v", MaxOpsgenieBytes, err)
	}
}

// TestReadOpsgenieCutKeepsTheAliasWhole: an alias over Opsgenie's limit
// is kept as its first bytes and a digest of the whole (the dedup key),
// so the alias of a body read as a stream is read whole: cut as it
// streamed by, it named another incident than the same alert sent under
// 8 MiB (a second page), and a close by the alias as sent closed nothing.
// Strings under another key, or deeper, are cut as before.
func TestReadOpsgenieCutKeepsTheAliasWhole(t *testing.T) {
	for _, key := range []string{`alias`, `\u0061lias`} {
		for _, unit := range []string{"x", "é", `\u00e9`, `\ud83d\ude00`} {
			t.Run(key+"/"+unit, func(t *testing.T) {
				alias := strings.Repeat(unit, 3*opsgenieKeptUnits)
				long := strings.Repeat("d", MaxOpsgenieBytes)
				body := `{"message":"m","details":{"alias":"` + long + `"},"` + key + `" : "` + alias + `","description":"` + long + `"}`
				want, got, cut := decodeWholeAndCut(t, body)
				if len(cut) > len(alias)+2*opsgenieKeptUnits+100 {
					t.Fatalf("cut to %d bytes: the description or the detail was kept whole", len(cut))
				}
				if got.Alias != want.Alias || OpsgenieDedupKey(got.Alias) != OpsgenieDedupKey(want.Alias) {
					t.Fatalf("the cut body's alias is %q…, the whole body's %q…", got.Alias[len(got.Alias)-40:], want.Alias[len(want.Alias)-40:])
				}
			})
		}
	}
}

// decodeWholeAndCut decodes body whole (want) and cut as it streams by
// (got, from cut).
func decodeWholeAndCut(t *testing.T, body string) (want, got *OpsgenieAlert, cut []byte) {
	t.Helper()
	want, p := DecodeOpsgenieAlert([]byte(body))
	if p != nil {
		t.Fatal(p)
	}
	cut, err := ReadOpsgenieCut(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, p = DecodeOpsgenieAlert(cut)
	if p != nil {
		t.Fatalf("the cut body: %v", p)
	}
	return want, got, cut
}
