package ingest

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestScanValidIsUnmarshal: whatever scanValid reads, json.Unmarshal
// reads too and into the same validMessage, on real notifications, on
// variants (escapes, non-ASCII, odd numbers, repeated and unknown fields,
// nulls, trailing data) and on thousands of random mutations of them;
// and it reads the real ones, in fewer allocations.
func TestScanValidIsUnmarshal(t *testing.T) {
	files, _ := filepath.Glob("testdata/alertmanager-*.json")
	if len(files) == 0 {
		t.Fatal("no testdata/alertmanager-*.json")
	}
	var real []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		real = append(real, string(b))
	}
	base := `{"version":"4","groupKey":"{}:{alertname=\"A\"}","truncatedAlerts":0,"status":"firing","receiver":"r",` +
		`"groupLabels":{"alertname":"A"},"commonLabels":{"alertname":"A","instance":"db1"},"commonAnnotations":{},"externalURL":"http://am",` +
		`"alerts":[{"status":"firing","labels":{"alertname":"A","instance":"db1"},"annotations":{"summary":"s"},` +
		`"startsAt":"2025-09-10T05:59:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom/graph","fingerprint":"abc"}]}`
	bodies := append([]string{base}, real...)
	for _, r := range [][2]string{
		{`"receiver":"r"`, `"receiver":"a\"b\\c\/d"`}, {`"receiver":"r"`, `"receiver":"a\nb"`}, {`"receiver":"r"`, `"receiver":"\u0041"`},
		{`"receiver":"r"`, `"receiver":"é日本😀"`}, {`"receiver":"r"`, "\"receiver\":\"\xff\""}, {`"receiver":"r"`, "\"receiver\":\"a\x01\""},
		{`"receiver":"r"`, `"receiver":"\u2028"`}, {`"receiver":"r"`, `"receiver":null`}, {`"receiver":"r"`, `"receiver":1`},
		{`"receiver":"r"`, `"receiver":"r","receiver":"s"`}, {`"receiver":"r"`, `"Receiver":"r"`}, {`"receiver":"r"`, `"receiver":"r","x":1`},
		{`"truncatedAlerts":0`, `"truncatedAlerts":7`}, {`"truncatedAlerts":0`, `"truncatedAlerts":07`}, {`"truncatedAlerts":0`, `"truncatedAlerts":1.0`},
		{`"truncatedAlerts":0`, `"truncatedAlerts":1e2`}, {`"truncatedAlerts":0`, `"truncatedAlerts":-1`},
		{`"truncatedAlerts":0`, `"truncatedAlerts":18446744073709551615`}, {`"truncatedAlerts":0`, `"truncatedAlerts":18446744073709551616`},
		{`"truncatedAlerts":0`, `"truncatedAlerts":"0"`}, {`"commonAnnotations":{}`, `"commonAnnotations":null`},
		{`"commonAnnotations":{}`, `"commonAnnotations":{"a":"}{","b":"\"}"}`}, {`"commonAnnotations":{}`, `"commonAnnotations":{"a":{"b":"c"}}`},
		{`"commonAnnotations":{}`, `"commonAnnotations":{"a":null}`}, {`"commonAnnotations":{}`, `"commonAnnotations":{"a":["b"]}`},
		{`"commonAnnotations":{}`, `"commonAnnotations":{"a":"b"},"commonAnnotations":{"c":"d"}`},
		{`"labels":{"alertname":"A","instance":"db1"}`, `"labels":{}`}, {`"labels":{"alertname":"A","instance":"db1"}`, `"labels":{"é":"\u00e9"}`},
		{`"startsAt":"2025-09-10T05:59:00Z",`, ``}, {`"startsAt":"2025-09-10T05:59:00Z"`, `"startsAt":null`},
		{`"fingerprint":"abc"`, `"fingerprint":"abc","fingerprint":"d"`}, {`"fingerprint":"abc"`, `"Fingerprint":"abc"`},
		{`"alerts":[{`, `"alerts":[null,{`}, {`}]}`, `},{"status":"resolved","labels":{"a":"b"}}]}`}, {`}]}`, `},{}]}`},
		{`}]}`, `}]} `}, {`}]}`, `}]}x`}, {`}]}`, `}]}{}`}, {`}]}`, `}]`}, {`{"version"`, " \n\t{ \"version\" "},
		{`,"status"`, " ,\r\n \"status\" : "}, {`"alerts":[`, `"alerts":[]`}, {`"alerts":[`, `"alerts":{`},
	} {
		bodies = append(bodies, strings.Replace(base, r[0], r[1], 1))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	bits := []string{" ", "\n", "\"", "\\", "\\\"", "\\n", "\\u0041", ",", ":", "{", "}", "[", "]", "0", "1", "-", ".", "e", "null", "é", "\xff", "x", "\"a\":\"b\","}
	for _, b := range append([]string{base}, real...) {
		for range 2000 {
			m := []byte(b)
			for range 1 + rng.IntN(3) {
				at := rng.IntN(len(m) + 1)
				switch rng.IntN(3) {
				case 0:
					m = append(m[:at:at], append([]byte(bits[rng.IntN(len(bits))]), m[at:]...)...)
				case 1:
					if at < len(m) {
						m = append(m[:at:at], m[at+1:]...)
					}
				default:
					if at < len(m) {
						m[at] = bits[rng.IntN(len(bits))][0]
					}
				}
			}
			bodies = append(bodies, string(m))
		}
	}
	read := 0
	for i, body := range bodies {
		var got, want validMessage
		if !scanValid([]byte(body), &got) {
			continue
		}
		read++
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Errorf("body %d %.120q: scanned, but json.Unmarshal says %v", i, body, err)
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("body %d %.120q:\n got %+v\nwant %+v", i, body, got, want)
		}
	}
	for i, body := range append([]string{base}, real...) {
		var w validMessage
		if !scanValid([]byte(body), &w) {
			t.Errorf("notification %d not scanned", i)
		}
	}
	t.Logf("%d of %d bodies scanned", read, len(bodies))
	mine := testing.AllocsPerRun(50, func() {
		var w validMessage
		scanValid([]byte(base), &w)
	})
	theirs := testing.AllocsPerRun(50, func() {
		var w validMessage
		_ = json.Unmarshal([]byte(base), &w)
	})
	if mine >= theirs {
		t.Errorf("a notification takes %.0f allocations scanned, %.0f by json.Unmarshal", mine, theirs)
	}
}

// FuzzScanValidIsUnmarshal: what scanValid reads, json.Unmarshal reads
// the same.
func FuzzScanValidIsUnmarshal(f *testing.F) {
	files, _ := filepath.Glob("testdata/alertmanager-*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got, want validMessage
		if !scanValid(body, &got) {
			return
		}
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("scanned, but json.Unmarshal says %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("\n got %+v\nwant %+v", got, want)
		}
	})
}
