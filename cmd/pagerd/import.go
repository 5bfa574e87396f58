package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pagerd/pagerd/importer"
	"github.com/pagerd/pagerd/policy"
)

// runImport is `pagerd import VENDOR FILE...`: another pager's export in,
// a pagerd config and the report of what did not map out. The config is
// written only whole (a temporary file renamed into place), and only once
// it loads.
func runImport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("import", stdout, stderr)
	out := fs.String("o", "-", "write the config to `FILE` (- for stdout)")
	reportPath := fs.String("report", "", "write the report to `FILE` (default stderr)")
	scheme := fs.String("scheme", policy.SchemeP.Name, "the services' priority `SCHEME`: P0-P3 or SEV-1-4")
	publicURL := fs.String("public-url", "", "pagerd's public `URL`, which voice contacts need (Twilio fetches call scripts from it)")
	pos, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) < 2 {
		fmt.Fprintf(stderr, "pagerd import: name the vendor (%s) and at least one FILE\n\n", strings.Join(importer.Vendors, ", "))
		printUsage(stderr, fs.name, fs.FlagSet)
		return 2
	}
	vendor := pos[0]
	known := false
	for _, v := range importer.Vendors {
		known = known || v == vendor
	}
	if !known {
		fmt.Fprintf(stderr, "pagerd import: unknown vendor %q (use %s)\n\n", vendor, strings.Join(importer.Vendors, ", "))
		printUsage(stderr, fs.name, fs.FlagSet)
		return 2
	}
	sc, err := policy.LookupScheme(*scheme)
	if err != nil {
		return fail(stderr, "import", fmt.Errorf("--scheme: %w", err))
	}
	docs, err := importer.ReadInputs(pos[1:])
	if err != nil {
		return fail(stderr, "import", err)
	}
	res, err := importer.Import(vendor, docs, importer.Options{Scheme: sc, PublicURL: *publicURL, Now: now()})
	if err != nil {
		return fail(stderr, "import", err)
	}
	var report bytes.Buffer
	if err := res.Report.WriteText(&report); err != nil {
		return fail(stderr, "import", err)
	}
	if *out == "-" {
		if _, err := stdout.Write(res.Config); err != nil {
			return fail(stderr, "import", err)
		}
	} else if err := writeWhole(*out, res.Config); err != nil {
		return fail(stderr, "import", err)
	}
	if *reportPath == "" {
		_, err = stderr.Write(report.Bytes())
	} else {
		err = writeWhole(*reportPath, report.Bytes())
	}
	if err != nil {
		return fail(stderr, "import", err)
	}
	if *out != "-" {
		fmt.Fprintf(stderr, "pagerd import: wrote %s. %s\n", *out, res.Report.Summary)
		if *reportPath != "" {
			fmt.Fprintf(stderr, "Read %s, then run: pagerd check-config %s\n", *reportPath, *out)
		}
	}
	return 0
}

// writeWhole replaces path with data, or leaves it as it was.
func writeWhole(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
