package ingest

import (
	"encoding/json"
	"maps"
	"reflect"
	"testing"
)

// TestWireLabelsIsEncodingJSON: a map read by wireLabels is the one
// encoding/json reads into a map[string]string, for objects it reads
// itself and objects it leaves to encoding/json, as a field alone or
// repeated; and a map of plain strings takes no more than three
// allocations (the map, its entries, the one copy of the text) where
// encoding/json takes several an entry.
func TestWireLabelsIsEncodingJSON(t *testing.T) {
	for i, v := range []string{
		`{}`, ` { } `, `null`, `{"a":"b"}`, "{\n \"a\" :\t\"b\" , \"c\":\"\"\r}", `{"alertname":"A","instance":"db1","severity":"critical"}`,
		`{"a":"1","a":"2"}`, `{"":""}`, `{"a":"b\"c"}`, `{"a\u0041":"b"}`, `{"a":"\u2028"}`, `{"é":"ü"}`, "{\"a\":\"\xff\"}",
		`{"a":null}`, `{"a":null,"b":"c"}`, `{"a":1}`, `{"a":"b","c":{"d":"e"}}`, `{"a":["b"]}`, `{"a":true}`,
		`[]`, `"x"`, `1`, `{"a":"<&>"}`, `{"a":"b",}`, `{"a" "b"}`, `{"a":"b"`, `{"a":"b"}x`,
	} {
		for _, doc := range []string{`{"l":` + v + `}`, `{"l":{"z":"y","a":"x"},"l":` + v + `}`, `{"l":` + v + `,"l":{"q":"r"}}`} {
			var got struct {
				L wireLabels `json:"l"`
			}
			var want struct {
				L map[string]string `json:"l"`
			}
			gotErr := json.Unmarshal([]byte(doc), &got)
			wantErr := json.Unmarshal([]byte(doc), &want)
			if (gotErr == nil) != (wantErr == nil) {
				t.Errorf("%d %s: error %v, encoding/json's %v", i, doc, gotErr, wantErr)
				continue
			}
			if wantErr == nil && !reflect.DeepEqual(map[string]string(got.L), want.L) {
				t.Errorf("%d %s: %#v, encoding/json's %#v", i, doc, got.L, want.L)
			}
		}
	}
	text := []byte(`{"alertname":"A","instance":"db1","job":"node","severity":"critical"}`)
	m, theirsMap := new(wireLabels), new(map[string]string)
	mine := testing.AllocsPerRun(100, func() {
		*m = nil
		if m.UnmarshalJSON(text) != nil || len(*m) != 4 {
			t.Fatal(*m)
		}
	})
	theirs := testing.AllocsPerRun(100, func() {
		*theirsMap = nil
		if json.Unmarshal(text, theirsMap) != nil || !maps.Equal(*theirsMap, map[string]string(*m)) {
			t.Fatal(*theirsMap)
		}
	})
	if mine > 3 || mine >= theirs {
		t.Errorf("a map of four labels takes %.0f allocations, encoding/json's %.0f: want at most 3", mine, theirs)
	}
}
