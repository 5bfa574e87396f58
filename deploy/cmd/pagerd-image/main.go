// Command pagerd-image builds pagerd's container image from the release
// binaries in a dist directory (`make image`): no container engine, no base
// image. See package ociimage.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pagerd/pagerd/deploy/internal/ociimage"
)

func main() {
	version := flag.String("version", "", "release version, semver without the v (required)")
	commit := flag.String("commit", "unknown", "git commit of the binaries")
	dist := flag.String("dist", "dist", "directory holding pagerd-VERSION.linux-ARCH/pagerd; the image is written there")
	certs := flag.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates to install")
	repo := flag.String("repo", "pagerd", "repository the tarballs are tagged with")
	archs := flag.String("archs", "amd64,arm64", "architectures, comma separated")
	flag.Parse()
	if *version == "" {
		fmt.Fprintln(os.Stderr, "pagerd-image: -version is required")
		os.Exit(2)
	}
	created := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pagerd-image: SOURCE_DATE_EPOCH %q: %v\n", s, err)
			os.Exit(2)
		}
		created = time.Unix(n, 0).UTC()
	}
	o := ociimage.Options{Version: *version, Commit: *commit, Created: created, CACerts: *certs, Binaries: map[string]string{}}
	for _, a := range splitComma(*archs) {
		o.Binaries[a] = filepath.Join(*dist, fmt.Sprintf("pagerd-%s.linux-%s", *version, a), "pagerd")
	}
	idx, err := ociimage.Build(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pagerd-image: %v\n", err)
		os.Exit(1)
	}
	dir := filepath.Join(*dist, "pagerd-"+*version+".oci")
	tars, err := ociimage.Write(idx, dir, filepath.Join(*dist, "pagerd-"+*version), *repo, *version)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pagerd-image: %v\n", err)
		os.Exit(1)
	}
	d, _ := idx.Digest()
	fmt.Fprintf(os.Stderr, "pagerd-image: wrote OCI layout %s (index %s) and %v\n", dir, d, tars)
}

func splitComma(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
