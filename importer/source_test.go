package importer

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestImportFromZip: the backup tool's folder, zipped, imports to the same
// config as the folder.
func TestImportFromZip(t *testing.T) {
	root := filepath.Join("testdata", "opsgenie")
	zpath := filepath.Join(t.TempDir(), "backup.zip")
	f, err := os.Create(zpath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(filepath.Join(root, "OpsGenieBackups"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fromZip, err := ReadInputs([]string{zpath})
	if err != nil {
		t.Fatal(err)
	}
	fromDir, err := ReadInputs([]string{filepath.Join(root, "OpsGenieBackups")})
	if err != nil {
		t.Fatal(err)
	}
	if len(fromZip) != len(fromDir) || len(fromDir) != 8 {
		t.Fatalf("%d documents from the zip, %d from the folder; want 8 each", len(fromZip), len(fromDir))
	}
	a, err := Import(Opsgenie, fromZip, Options{Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Import(Opsgenie, fromDir, Options{Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Config, b.Config) {
		t.Errorf("the zip and the folder import differently:\n%s\n---\n%s", a.Config, b.Config)
	}
}

// TestImportIsDeterministic: the same input gives the same bytes, so an
// imported config can be kept in git and re-imported without noise.
func TestImportIsDeterministic(t *testing.T) {
	for _, v := range []struct{ vendor, dir string }{{Opsgenie, "opsgenie"}, {PagerDuty, "pagerduty"}, {GrafanaOnCall, "grafana-oncall"}} {
		docs, err := ReadInputs([]string{filepath.Join("testdata", v.dir)})
		if err != nil {
			t.Fatal(err)
		}
		var first []byte
		for i := 0; i < 5; i++ {
			res, err := Import(v.vendor, docs, Options{Now: fixtureNow, PublicURL: "https://pagerd.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = res.Config
			} else if !bytes.Equal(first, res.Config) {
				t.Fatalf("%s: run %d differs from the first", v.vendor, i)
			}
		}
	}
}

// TestFlexTime reads the forms vendors and the backup tool write times in.
func TestFlexTime(t *testing.T) {
	want := time.Date(2025, 10, 6, 13, 0, 0, 0, time.UTC)
	for _, in := range []string{`"2025-10-06T13:00:00Z"`, `"2025-10-06T13:00:00.000Z"`, `"2025-10-06T09:00:00-04:00"`, `"2025-10-06T13:00:00.000+0000"`, `1759755600000`, `"2025-10-06 13:00"`} {
		var ft flexTime
		if err := json.Unmarshal([]byte(in), &ft); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !ft.Equal(want) {
			t.Errorf("%s: %s, want %s", in, ft.Time, want)
		}
	}
	var ft flexTime
	if err := json.Unmarshal([]byte(`null`), &ft); err != nil || !ft.IsZero() {
		t.Errorf("null: %v %v", ft.Time, err)
	}
	if err := json.Unmarshal([]byte(`"next tuesday"`), &ft); err == nil {
		t.Errorf("a sentence read as a time")
	}
}

func TestPhone(t *testing.T) {
	for _, c := range []struct {
		cc, in, want string
		ok           bool
	}{
		{"", "1-5555550101", "+15555550101", true},   // Opsgenie
		{"", "44-7700900123", "+447700900123", true}, // Opsgenie
		{"1", "5555550111", "+15555550111", true},    // PagerDuty: country code apart
		{"1", "+1 (555) 555-0111", "+15555550111", true},
		{"44", "7700 900123", "+447700900123", true},
		{"39", "3931234567", "+393931234567", true}, // national number that starts with the country code
		{"", "555", "+555", false},
		{"", "", "+", false},
	} {
		got, ok := phone(c.cc, c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("phone(%q, %q) = %q, %v; want %q, %v", c.cc, c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"Platform_schedule": "platform_schedule",
		"Checkout API":      "checkout-api",
		"  Café / Nights! ": "caf-nights",
		"---":               "fallback",
		"ops.team-1":        "ops.team-1",
	} {
		if got := ident(in, "fallback"); got != want {
			t.Errorf("ident(%q) = %q, want %q", in, got, want)
		}
	}
	ns := namespace{}
	if a, b, c := ns.take("x"), ns.take("x"), ns.take("x"); a != "x" || b != "x-2" || c != "x-3" {
		t.Errorf("take: %s %s %s", a, b, c)
	}
	if got := envName("checkout-api.v2", "ALERTMANAGER_KEY"); got != "PAGERD_CHECKOUT_API_V2_ALERTMANAGER_KEY" {
		t.Errorf("envName: %s", got)
	}
}

// TestLaterPagesReported: a list export that says more pages follow is
// imported with a report line naming the file and how to fetch the rest,
// since what the later pages hold is missing.
func TestLaterPagesReported(t *testing.T) {
	for _, c := range []struct {
		vendor, doc string
		want        []string
	}{
		{PagerDuty, `{"users": [{"id": "P1", "name": "One", "email": "one@example.com"}], "limit": 25, "offset": 50, "more": true, "total": null}`,
			[]string{`"more": true`, "offset=75"}},
		{GrafanaOnCall, `{"count": 60, "next": "https://oncall.example.com/api/v1/users/?page=2", "previous": null, "results": [{"id": "U1", "email": "u@example.io", "username": "u"}]}`,
			[]string{`"next": "https://oncall.example.com/api/v1/users/?page=2"`}},
		{Opsgenie, `{"data": [{"id": "u1", "username": "ann@example.com", "fullName": "Ann"}], "paging": {"next": "https://api.opsgenie.com/v2/users?limit=100&offset=100", "first": "x", "last": "y"}}`,
			[]string{`"paging.next": "https://api.opsgenie.com/v2/users?limit=100&offset=100"`}},
	} {
		t.Run(c.vendor, func(t *testing.T) {
			res, _ := mustImport(t, c.vendor, []Document{{Name: "users.json", Data: []byte(c.doc)}}, Options{})
			want := append([]string{`file "users.json"`, "later pages are not in the export"}, c.want...)
			if issueWith(res.Report, NotMapped, want...) == nil {
				t.Errorf("no report line with %q: %+v", want, res.Report.Issues)
			}
		})
	}
}
