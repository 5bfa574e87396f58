package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzImport: whatever JSON an import is given, it either fails on the
// input or writes a config pagerd loads; it never panics and never writes
// one that does not load (which Import reports as its own bug). The seeds
// are every fixture document, the rotation shapes' too.
func FuzzImport(f *testing.F) {
	for vi, dir := range []string{"opsgenie", "pagerduty", "grafana-oncall"} {
		for _, root := range []string{filepath.Join("testdata", dir), filepath.Join("testdata", "shapes", dir)} {
			_ = filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
				if err == nil && strings.HasSuffix(path, ".json") {
					if data, err := os.ReadFile(path); err == nil {
						f.Add(uint8(vi), data)
					}
				}
				return nil
			})
		}
	}
	f.Fuzz(func(t *testing.T, vendor uint8, data []byte) {
		v := Vendors[int(vendor)%len(Vendors)]
		_, err := Import(v, []Document{{Name: "fuzz.json", Data: data}}, Options{Now: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), PublicURL: "https://pagerd.example.com"})
		if err != nil && strings.Contains(err.Error(), "bug in pagerd import") {
			t.Fatalf("%s: %v\ninput: %s", v, err, data)
		}
	})
}
