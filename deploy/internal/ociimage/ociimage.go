// Package ociimage assembles pagerd's container image from the static
// release binaries, with no container engine and no base image: the image
// is a scratch filesystem holding the binary, CA certificates, a passwd
// entry for the unprivileged user and the data directory it owns. Time zone
// data is embedded in the binary (time/tzdata), and there is no shell.
//
// The result is an OCI image index (one image per architecture) written as
// an OCI layout directory, plus a docker-archive tarball per architecture
// for `docker load` and `podman load`. Everything is reproducible: file
// times and the creation time are the commit's, so the same binaries give
// the same digests.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed facts, which the Dockerfile, the Helm chart and the
// manifests repeat.
const (
	UID        = 65532
	BinaryPath = "/usr/bin/pagerd"
	ConfigPath = "/etc/pagerd/pagerd.yaml"
	DataDir    = "/var/lib/pagerd"
	Port       = "8080/tcp"
	// ListenAddr is where the image's command listens, Port on every
	// interface, whatever the config's server.listen says (a config
	// made from the quickstart's says loopback, which -p cannot reach).
	ListenAddr = ":8080"
	Source     = "https://github.com/pagerd/pagerd"
)

// Options say what goes in the image.
type Options struct {
	Version string
	Commit  string
	// Created is the image's creation time and every file's time.
	Created time.Time
	// Binaries maps an architecture (amd64, arm64) to the static linux
	// binary for it.
	Binaries map[string]string
	// CACerts is the PEM bundle installed as
	// /etc/ssl/certs/ca-certificates.crt, so Twilio and PagerDuty are
	// reached over verified TLS.
	CACerts string
}

// Build returns the image index: one linux image per binary.
func Build(o Options) (v1.ImageIndex, error) {
	if len(o.Binaries) == 0 {
		return nil, fmt.Errorf("no binaries")
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	archs := make([]string, 0, len(o.Binaries))
	for a := range o.Binaries {
		archs = append(archs, a)
	}
	sort.Strings(archs)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range archs {
		img, err := image(o, arch, certs)
		if err != nil {
			return nil, fmt.Errorf("linux/%s: %w", arch, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: arch},
		}})
	}
	return idx, nil
}

// Labels are the image's OCI annotations (org.opencontainers.image.*).
func Labels(o Options) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":         "pagerd",
		"org.opencontainers.image.description":   "Paging gateway for Prometheus Alertmanager: on-call rotations, escalation ladders, SMS, voice and push",
		"org.opencontainers.image.version":       o.Version,
		"org.opencontainers.image.revision":      o.Commit,
		"org.opencontainers.image.created":       o.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":        Source,
		"org.opencontainers.image.documentation": Source + "/blob/main/docs/OPERATIONS.md",
		"org.opencontainers.image.licenses":      "Apache-2.0",
	}
}

func image(o Options, arch string, certs []byte) (v1.Image, error) {
	bin, err := os.ReadFile(o.Binaries[arch])
	if err != nil {
		return nil, err
	}
	base, err := layer(o.Created, []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf(
			"root:x:0:0:root:/root:/sbin/nologin\npagerd:x:%d:%d:pagerd:%s:/sbin/nologin\n", UID, UID, DataDir))},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\npagerd:x:%d:\n", UID))},
		{name: "etc/pagerd/", mode: 0o755, dir: true},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "var/", mode: 0o755, dir: true},
		{name: "var/lib/", mode: 0o755, dir: true},
		{name: "var/lib/pagerd/", mode: 0o700, dir: true, uid: UID},
	})
	if err != nil {
		return nil, err
	}
	app, err := layer(o.Created, []entry{
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/bin/", mode: 0o755, dir: true},
		{name: "usr/bin/pagerd", mode: 0o755, data: bin},
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), base, app)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: o.Created.UTC()}
	cf.Author = "pagerd"
	cf.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", UID, UID),
		Entrypoint:   []string{BinaryPath},
		Cmd:          []string{"serve", "--config", ConfigPath, "--data-dir", DataDir, "--listen", ListenAddr},
		WorkingDir:   DataDir,
		ExposedPorts: map[string]struct{}{Port: {}},
		Volumes:      map[string]struct{}{DataDir: {}},
		StopSignal:   "SIGTERM",
		Labels:       Labels(o),
	}
	cf.History = []v1.History{
		{Created: cf.Created, CreatedBy: "pagerd base: passwd, CA certificates, " + DataDir, Comment: "ociimage"},
		{Created: cf.Created, CreatedBy: "pagerd " + o.Version + " static binary", Comment: "ociimage"},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, Labels(o)).(v1.Image), nil
}

type entry struct {
	name string
	mode int64
	dir  bool
	uid  int
	data []byte
}

// layer packs entries into a gzipped OCI layer with fixed times and owners.
func layer(mtime time.Time, entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime.UTC(), Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// Write puts the index in an OCI layout at dir (named by the version, for
// `skopeo copy oci:DIR:VERSION ...`) and a docker-archive tarball per
// architecture at tarPrefix.linux-ARCH.tar, tagged repo:VERSION. It returns
// the tarballs' paths.
func Write(idx v1.ImageIndex, dir, tarPrefix, repo, version string) ([]string, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": version})); err != nil {
		return nil, err
	}
	tag, err := name.NewTag(repo + ":" + version)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var tars []string
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		path := fmt.Sprintf("%s.linux-%s.tar", tarPrefix, d.Platform.Architecture)
		if err := tarball.WriteToFile(path, tag, img); err != nil {
			return nil, err
		}
		tars = append(tars, filepath.Clean(path))
	}
	return tars, nil
}
