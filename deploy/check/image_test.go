package check

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pagerd/pagerd/deploy/internal/freeport"
	"github.com/pagerd/pagerd/deploy/internal/ociimage"
)

// No container engine runs on CI's machines (podman is installable, but
// its runtime cannot set resource limits in this sandbox), so the image is
// checked the way a runtime reads it: its index and configs, its
// filesystem, and the binary run from that filesystem as the image says,
// chrooted into it as the image's user.

type imageFile struct {
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// filesystem flattens an image's layers.
func filesystem(t *testing.T, img v1.Image) map[string]imageFile {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	fs := map[string]imageFile{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fs
		}
		if err != nil {
			t.Fatal(err)
		}
		f := imageFile{mode: h.Mode, uid: h.Uid, gid: h.Gid, dir: h.Typeflag == tar.TypeDir}
		if h.Typeflag == tar.TypeReg {
			f.data, _ = io.ReadAll(tr)
		}
		fs[strings.TrimSuffix(h.Name, "/")] = f
	}
}

func TestImage(t *testing.T) {
	dir := filepath.Join(dist, "pagerd-"+testVersion+".oci")
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != testVersion {
		t.Fatalf("the layout's index.json should name one image index %q: %+v", testVersion, tm.Manifests)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.String())
	}
	if strings.Join(platforms, " ") != "linux/amd64 linux/arm64" {
		t.Fatalf("image platforms %v, want linux/amd64 linux/arm64", platforms)
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, d := range im.Manifests {
		arch := d.Platform.Architecture
		t.Run(arch, func(t *testing.T) {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			c := cf.Config
			if cf.OS != "linux" || cf.Architecture != arch {
				t.Errorf("config says %s/%s", cf.OS, cf.Architecture)
			}
			if c.User != "65532:65532" {
				t.Errorf("user %q, want the unprivileged 65532:65532", c.User)
			}
			if !reflect.DeepEqual(c.Entrypoint, []string{"/usr/bin/pagerd"}) ||
				!reflect.DeepEqual(c.Cmd, []string{"serve", "--config", "/etc/pagerd/pagerd.yaml", "--data-dir", "/var/lib/pagerd", "--listen", ":8080"}) {
				t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
			}
			if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
				t.Errorf("exposed ports %v, want 8080/tcp", c.ExposedPorts)
			}
			if _, ok := c.Volumes["/var/lib/pagerd"]; !ok {
				t.Errorf("volumes %v, want /var/lib/pagerd", c.Volumes)
			}
			labels := c.Labels
			for k, want := range map[string]string{
				"org.opencontainers.image.title":    "pagerd",
				"org.opencontainers.image.version":  testVersion,
				"org.opencontainers.image.revision": commit,
				"org.opencontainers.image.licenses": "Apache-2.0",
				"org.opencontainers.image.source":   ociimage.Source,
			} {
				if labels[k] != want {
					t.Errorf("label %s = %q, want %q", k, labels[k], want)
				}
			}
			fs := filesystem(t, img)
			var names []string
			for n := range fs {
				names = append(names, n)
			}
			sort.Strings(names)
			// Exactly these files: no shell, no package manager, nothing
			// to exec into.
			want := "etc etc/group etc/pagerd etc/passwd etc/ssl etc/ssl/certs etc/ssl/certs/ca-certificates.crt tmp " +
				"usr usr/bin usr/bin/pagerd var var/lib var/lib/pagerd"
			if strings.Join(names, " ") != want {
				t.Errorf("image files:\n%s\nwant:\n%s", strings.Join(names, " "), want)
			}
			if f := fs["var/lib/pagerd"]; f.uid != 65532 || f.mode&0o777 != 0o700 {
				t.Errorf("/var/lib/pagerd is %o owned by %d: the user cannot keep its store there privately", f.mode, f.uid)
			}
			if !strings.Contains(string(fs["etc/passwd"].data), "pagerd:x:65532:65532:") {
				t.Errorf("/etc/passwd has no entry for 65532:\n%s", fs["etc/passwd"].data)
			}
			if !bytes.Contains(fs["etc/ssl/certs/ca-certificates.crt"].data, []byte("BEGIN CERTIFICATE")) {
				t.Error("no CA certificates: TLS to Twilio and PagerDuty would fail")
			}
			bin, err := elf.NewFile(bytes.NewReader(fs["usr/bin/pagerd"].data))
			if err != nil {
				t.Fatal(err)
			}
			if bin.Machine != machines[arch] {
				t.Errorf("the %s image holds a %v binary", arch, bin.Machine)
			}
			// The docker-archive tarball is the same image.
			tb, err := tarball.ImageFromPath(filepath.Join(dist, fmt.Sprintf("pagerd-%s.linux-%s.tar", testVersion, arch)), nil)
			if err != nil {
				t.Fatal(err)
			}
			cn1, _ := img.ConfigName()
			cn2, _ := tb.ConfigName()
			if cn1 != cn2 {
				t.Errorf("the tarball's config %s differs from the layout's %s", cn2, cn1)
			}
			if arch == "amd64" {
				runImage(t, img, fs)
			}
		})
	}
	checkDockerfile(t, im, idx)
}

// runImage unpacks the image and runs its entrypoint and command the way a
// runtime would: chrooted into the image's filesystem (no zoneinfo, no
// libc, no shell there), as its user, in its working directory, with a
// config mounted at /etc/pagerd/pagerd.yaml. pagerd must start, answer
// /-/ready, take an alert (its data dir is writable by that user) and keep
// time zones working.
func runImage(t *testing.T, img v1.Image, fs map[string]imageFile) {
	if os.Geteuid() != 0 {
		t.Skip("running the image's filesystem chrooted as its user needs root (CI runs as root)")
	}
	rootfs := t.TempDir()
	if err := os.Chmod(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(fs))
	for name := range fs {
		names = append(names, name)
	}
	sort.Strings(names) // parents first
	for _, name := range names {
		f, p := fs[name], filepath.Join(rootfs, name)
		if f.dir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, f := range fs { // modes and owners after every file exists
		p := filepath.Join(rootfs, name)
		mode := os.FileMode(f.mode & 0o777)
		if f.mode&0o1000 != 0 {
			mode |= os.ModeSticky
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, f.uid, f.gid); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := os.ReadFile(filepath.Join("testdata", "image-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc/pagerd/pagerd.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	c := cf.Config
	addr := freeAddr(t)
	run := func(args ...string) *exec.Cmd {
		cmd := exec.Command(c.Entrypoint[0], args...)
		cmd.Dir = c.WorkingDir
		cmd.Env = []string{}
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rootfs, Credential: &syscall.Credential{Uid: 65532, Gid: 65532},
			Pdeathsig: syscall.SIGKILL}
		return cmd
	}
	if out, err := run("version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "pagerd "+testVersion+" (commit "+commit) {
		t.Fatalf("pagerd version in the image: %v %s", err, out)
	}
	serve := run(append(append([]string{}, c.Cmd...), "--listen", addr)...)
	logs := &syncBuffer{}
	serve.Stderr, serve.Stdout = logs, logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = serve.Process.Kill(); _ = serve.Wait() }()
	waitReady(t, addr, logs)
	body := `{"version":"4","groupKey":"g","status":"firing","receiver":"pagerd","groupLabels":{},"commonLabels":{},
"commonAnnotations":{},"externalURL":"http://am","alerts":[{"status":"firing","labels":{"alertname":"X","severity":"critical"},
"annotations":{},"startsAt":"2025-09-10T06:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"0000000000000001"}]}`
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/alertmanager", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer image0000000000000000000000000000")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("alert to the image's pagerd: %d %s\n%s", resp.StatusCode, b, logs.String())
	}
	st, err := os.Stat(filepath.Join(rootfs, "var/lib/pagerd/pagerd.db"))
	if err != nil || st.Sys().(*syscall.Stat_t).Uid != 65532 {
		t.Fatalf("the store was not written by the image's user in its data dir: %v", err)
	}
}

// freeAddr is a loopback address for a process the test starts to listen
// on: below the ephemeral range, not a ":0" port closed and handed over,
// which a connection's local end could take before the process binds it.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func waitReady(t *testing.T, addr string, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pagerd on %s did not become ready:\n%s", addr, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var dockerInstr = regexp.MustCompile(`(?m)^(USER|ENTRYPOINT|CMD|EXPOSE|VOLUME|WORKDIR)\s+(.*)$`)

// checkDockerfile: the Dockerfile (for builders with a container engine)
// describes the same image as `make image`.
func checkDockerfile(t *testing.T, im *v1.IndexManifest, idx v1.ImageIndex) {
	t.Helper()
	b, err := os.ReadFile(repo("deploy", "container", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	img, _ := idx.Image(im.Manifests[0].Digest)
	cf, _ := img.ConfigFile()
	c := cf.Config
	jsonList := func(l []string) string { return `["` + strings.Join(l, `", "`) + `"]` }
	want := map[string]string{
		"USER":       c.User,
		"ENTRYPOINT": jsonList(c.Entrypoint),
		"CMD":        jsonList(c.Cmd),
		"EXPOSE":     "8080/tcp",
		"VOLUME":     `["/var/lib/pagerd"]`,
		"WORKDIR":    c.WorkingDir,
	}
	got := map[string]string{}
	for _, m := range dockerInstr.FindAllStringSubmatch(string(b), -1) {
		got[m[1]] = strings.TrimSpace(m[2])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the Dockerfile's final stage says\n%v\nthe image built by make image says\n%v", got, want)
	}
	if !strings.Contains(string(b), "CGO_ENABLED=0") || !strings.Contains(string(b), "distroless/static") {
		t.Error("the Dockerfile should build a static binary onto a shell-less base")
	}
}
