// Package logtest reads what pagerd logged, for tests: the daemon logs JSON
// (slog's JSON handler), one object a line, and a test that checks a line
// was said checks too that every line parses, as a log pipeline would.
package logtest

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
)

// Lines parses a JSON log, failing the test on a line that is not JSON.
func Lines(t testing.TB, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}
