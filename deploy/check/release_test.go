package check

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

var platforms = []struct {
	os, arch string
	elf      elf.Machine
	macho    macho.Cpu
}{
	{"linux", "amd64", elf.EM_X86_64, 0},
	{"linux", "arm64", elf.EM_AARCH64, 0},
	{"darwin", "amd64", 0, macho.CpuAmd64},
	{"darwin", "arm64", 0, macho.CpuArm64},
}

// readArchive returns the files of a release tar.gz by name.
func readArchive(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s owned by %d:%d, want 0:0", path, h.Name, h.Uid, h.Gid)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[h.Name] = b
		}
	}
}

// `make release`: an archive per platform with SHA256SUMS that match, each
// holding a static binary for its platform and the files a user needs; the
// binary for this machine runs and names its version, commit and Go.
func TestRelease(t *testing.T) {
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not in sha256sum's format", line)
		}
		listed[name] = sum
	}
	if len(listed) != len(platforms) {
		t.Fatalf("SHA256SUMS lists %d archives, want %d:\n%s", len(listed), len(platforms), sums)
	}
	for _, p := range platforms {
		dir := fmt.Sprintf("pagerd-%s.%s-%s", testVersion, p.os, p.arch)
		archive := dir + ".tar.gz"
		t.Run(p.os+"-"+p.arch, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dist, archive))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); listed[archive] != got {
				t.Fatalf("SHA256SUMS says %s for %s, the file hashes to %s", listed[archive], archive, got)
			}
			files := readArchive(t, filepath.Join(dist, archive))
			var names []string
			for n := range files {
				names = append(names, n)
			}
			sort.Strings(names)
			want := []string{"CHANGELOG.md", "LICENSE", "README.md", "pagerd", "pagerd.service", "quickstart.yaml"}
			for i := range want {
				want[i] = dir + "/" + want[i]
			}
			if strings.Join(names, " ") != strings.Join(want, " ") {
				t.Fatalf("%s holds %v, want %v", archive, names, want)
			}
			bin := files[dir+"/pagerd"]
			if p.os == "linux" {
				f, err := elf.NewFile(bytes.NewReader(bin))
				if err != nil {
					t.Fatal(err)
				}
				if f.Machine != p.elf {
					t.Fatalf("%s is built for %v", archive, f.Machine)
				}
				for _, prog := range f.Progs {
					if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
						t.Fatalf("%s's binary is dynamically linked (%v): it would not run in a scratch image", archive, prog.Type)
					}
				}
			} else {
				f, err := macho.NewFile(bytes.NewReader(bin))
				if err != nil {
					t.Fatal(err)
				}
				if f.Cpu != p.macho {
					t.Fatalf("%s is built for %v", archive, f.Cpu)
				}
			}
		})
	}
	out, err := pagerd(t, "version")
	want := fmt.Sprintf("pagerd %s (commit %s, %s, %s/%s)\n", testVersion, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if err != nil || out != want {
		t.Fatalf("pagerd version: %q %v, want %q", out, err, want)
	}
}

// The archives are reproducible: building the same commit again gives the
// same bytes, so anyone can check a published release against the source.
func TestReleaseReproducible(t *testing.T) {
	again := t.TempDir()
	cmd := exec.Command("scripts/release.sh", testVersion, commit, again)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	a, _ := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	b, _ := os.ReadFile(filepath.Join(again, "SHA256SUMS"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("a second build of the same commit differs:\n%s\n%s", a, b)
	}
}

// The archives do not depend on the builder's umask: with umask 027 (a
// hardened host's) the binary must still extract as 0755, or the
// README's `sudo tar -x ... -C /usr/local/bin` installs a pagerd that
// only root can run, and the systemd unit's dynamic user cannot start it.
func TestReleaseModesIgnoreUmask(t *testing.T) {
	again := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	cmd := exec.Command("sh", "-c", `umask 027 && exec scripts/release.sh "$@"`, "sh", testVersion, commit, again)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PLATFORMS="+platform)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	name := fmt.Sprintf("pagerd-%s.%s-%s", testVersion, runtime.GOOS, runtime.GOARCH)
	f, err := os.Open(filepath.Join(again, name+".tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0o644)
		if h.Typeflag == tar.TypeDir || h.Name == name+"/pagerd" {
			want = 0o755
		}
		if h.Mode&0o777 != want {
			t.Errorf("%s is mode %o built with umask 027, want %o", h.Name, h.Mode&0o777, want)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dist, name+".tar.gz"))
	b, _ := os.ReadFile(filepath.Join(again, name+".tar.gz"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("%s built with umask 027 differs from the one make release built", name+".tar.gz")
	}
}
