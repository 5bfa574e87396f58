package logsample_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/pagerd/pagerd/internal/logsample"
)

// BenchmarkIncidentOpenedLine is the "incident opened" line of every new
// incident, written to a file as pagerd serve's stderr is (a write a
// line): every line, and at most 100 a second (an alert storm's thousands
// a second, nearly all counted, not written).
func BenchmarkIncidentOpenedLine(b *testing.B) {
	for _, bc := range []struct {
		name      string
		perSecond int
	}{{"every", 0}, {"100/s", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "pagerd.log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			log := slog.New(logsample.New(slog.NewJSONHandler(f, nil), bc.perSecond))
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(context.Background(), slog.LevelInfo, "incident opened", slog.String("incident", "0d-06h4z1hkw5ge2r71"),
					slog.String("service", "api"), slog.String("priority", "P2"), slog.String("urgency", "high"), slog.String("source", "alertmanager"))
			}
		})
	}
}
