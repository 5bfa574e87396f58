// Package filltest fills the stores' types by reflection for tests: every
// field set, so that a test comparing two encoders, or a copy with its
// original, fails for a field added later and not handled.
package filltest

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// Fill sets every field of v, recursively, to a value that is not its
// zero: strings (with characters JSON escapes), numbers, times (base plus a
// field's own offset, so no two are equal), one element in each slice, a
// value behind each pointer. With empty, slices are made empty but not
// nil instead. A slice or pointer already set is filled in place, as a
// caller changing its incident would: a copy sharing them would change. A kind it does not know fails the test, so a field of a new
// kind added to an incident cannot go unchecked by the tests below.
func Fill(t testing.TB, v reflect.Value, base time.Time, n *int, empty bool) {
	t.Helper()
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("v<&>é-" + string(rune('a'+*n%26)))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		Fill(t, v.Elem(), base, n, empty)
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			if v.Len() > 0 { // in place, as a caller changing its own could
				copy(v.Bytes(), `{"labels":{"alertname":"Fan!"},"n":2}`)
				return
			}
			v.SetBytes([]byte(`{"labels":{"alertname":"Disk"},"n":1}`))
			return
		}
		if v.Len() == 0 {
			if empty {
				v.Set(reflect.MakeSlice(v.Type(), 0, 1))
				return
			}
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		Fill(t, v.Index(0), base, n, empty)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(base.Add(time.Duration(*n)*time.Second + time.Duration(*n))))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				Fill(t, v.Field(i), base, n, empty)
			}
		}
	default:
		t.Fatalf("Fill: a field of kind %s: teach Fill (and redisstore's canonicalCopy) about it", v.Kind())
	}
}

// PlainStrings sets every string in v to printable ASCII that JSON writes
// as it is, for the path that does not escape.
func PlainStrings(v reflect.Value, n *int) {
	switch v.Kind() {
	case reflect.String:
		*n++
		v.SetString("plain-" + strconv.Itoa(*n) + " ok")
	case reflect.Pointer:
		if !v.IsNil() {
			PlainStrings(v.Elem(), n)
		}
	case reflect.Slice:
		for i := range v.Len() {
			PlainStrings(v.Index(i), n)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				PlainStrings(v.Field(i), n)
			}
		}
	}
}
