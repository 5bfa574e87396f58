package check

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's install section gives one command per way, and each names
// what the other tests of this package check: the binary line is run
// (release archive extracted as written, into a directory here instead of
// /usr/local/bin), the others must refer to the files, value sets and
// overlays those tests render and run, so the README cannot drift from
// what is proven.
func TestReadmeInstall(t *testing.T) {
	b, err := os.ReadFile(repo("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := regexp.MustCompile("(?s)\n## Install\n.*?```console\n(.*?)```").FindSubmatch(b)
	if sec == nil {
		t.Fatal("README.md has no Install section with a console block")
	}
	// A container's embedded store on the image's anonymous volume is gone
	// once the container is replaced (an upgrade: docker rm, docker run),
	// open incidents and their pending pages with it: every docker run the
	// section shows keeps /var/lib/pagerd on a named volume.
	runs := regexp.MustCompile(`docker run [^\n]*`).FindAllString(string(sec[1]), -1)
	if len(runs) == 0 {
		t.Error("the README's install section shows no docker run for the image")
	}
	for _, r := range runs {
		if !regexp.MustCompile(`(^| )-v [a-zA-Z0-9][a-zA-Z0-9_.-]*:/var/lib/pagerd( |$)`).MatchString(r) {
			t.Errorf("%q keeps the store on the container's anonymous volume: give /var/lib/pagerd a named volume (-v pagerd-data:/var/lib/pagerd)", r)
		}
	}
	var cmds []string
	for _, l := range strings.Split(string(sec[1]), "\n") {
		if strings.HasPrefix(l, "$ ") {
			cmds = append(cmds, strings.TrimPrefix(l, "$ "))
		}
	}
	ways := []struct {
		name  string
		match *regexp.Regexp
		check func(t *testing.T, m []string)
	}{
		{"binary", regexp.MustCompile(`^make release VERSION=(\S+) && sudo tar -xzf (dist/\S+) -C /usr/local/bin --strip-components=1 (\S+)$`),
			func(t *testing.T, m []string) {
				// The same command on the release TestMain built.
				archive := filepath.Join(dist, strings.ReplaceAll(strings.TrimPrefix(m[2], "dist/"), m[1], testVersion))
				member := strings.ReplaceAll(m[3], m[1], testVersion)
				bin := t.TempDir()
				if out, err := exec.Command("tar", "-xzf", archive, "-C", bin, "--strip-components=1", member).CombinedOutput(); err != nil {
					t.Fatalf("tar: %v\n%s", err, out)
				}
				out, err := exec.Command(filepath.Join(bin, "pagerd"), "version").CombinedOutput()
				if err != nil || !strings.HasPrefix(string(out), "pagerd "+testVersion+" (commit ") {
					t.Fatalf("the installed binary: %v %s", err, out)
				}
			}},
		{"container", regexp.MustCompile(`^make image VERSION=(\S+) && docker load -i (dist/\S+)$`),
			func(t *testing.T, m []string) {
				tar := filepath.Join(dist, strings.ReplaceAll(strings.TrimPrefix(m[2], "dist/"), m[1], testVersion))
				if _, err := os.Stat(tar); err != nil {
					t.Fatalf("make image did not write the tarball the README loads: %v", err)
				}
			}},
		{"helm", regexp.MustCompile(`^helm install pagerd (deploy/helm/pagerd) -f deploy/helm/(examples/\S+)$`),
			func(t *testing.T, m []string) {
				mustRender(t, []string{m[2]})
			}},
		{"kubernetes", regexp.MustCompile(`^kubectl apply -k deploy/kubernetes/overlays/(\S+)$`),
			func(t *testing.T, m []string) { kustomize(t, m[1]) }},
		{"systemd", regexp.MustCompile(`^sudo install -m 0644 (deploy/systemd/pagerd\.service) /etc/systemd/system/ && sudo systemctl enable --now pagerd$`),
			func(t *testing.T, m []string) {}},
		{"compose", regexp.MustCompile(`^chmod 0444 deploy/compose/secrets/\* && docker compose -f (deploy/compose/compose\.yaml) up -d$`),
			func(t *testing.T, m []string) { loadCompose(t) }},
	}
	found := map[string]bool{}
	for _, c := range cmds {
		matched := false
		for _, w := range ways {
			m := w.match.FindStringSubmatch(c)
			if m == nil {
				continue
			}
			matched, found[w.name] = true, true
			t.Run(w.name, func(t *testing.T) {
				for _, p := range m[1:] {
					if strings.HasPrefix(p, "deploy/") {
						if _, err := os.Stat(repo(p)); err != nil {
							t.Fatalf("the README refers to %s: %v", p, err)
						}
					}
				}
				w.check(t, m)
			})
		}
		if !matched {
			t.Errorf("the README's install command %q is not one this test knows how to check", c)
		}
	}
	for _, w := range ways {
		if !found[w.name] {
			t.Errorf("the README's install section gives no %s command", w.name)
		}
	}
}
