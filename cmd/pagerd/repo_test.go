package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The repository keeps its promises to a new user: the Go version README
// states is the one go.mod requires, `make run` listens on loopback,
// `make install` puts a working pagerd on the PATH, and `make test` never
// stops a Redis it did not install.

func TestGoVersionAgrees(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Go " + string(m[1]) + " or newer"; !strings.Contains(string(readme), want) {
		t.Errorf("README does not say %q (go.mod's go line)", want)
	}
	// CI's message to a machine without Go says the same.
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	for f, text := range map[string][]byte{"README.md": readme, ".ci/run": ci} {
		says := regexp.MustCompile(`Go (1\.\d+(?:\.\d+)?) or newer`).FindAllStringSubmatch(string(text), -1)
		if len(says) == 0 {
			t.Errorf("%s names no Go version", f)
		}
		for _, v := range says {
			if v[1] != string(m[1]) {
				t.Errorf("%s says Go %s or newer; go.mod says %s", f, v[1], m[1])
			}
		}
	}
}

// TestReadmeNamesTheTestDependencies: README's `make test` line names the
// packages scripts/test-deps.sh installs, by their package names (promtool
// comes in prometheus, systemd-analyze in systemd), so that a reader
// without root installs the right ones.
func TestReadmeNamesTheTestDependencies(t *testing.T) {
	script, err := os.ReadFile("../../scripts/test-deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, line, ok := strings.Cut(string(readme), "$ make test ")
	if !ok {
		t.Fatal("README has no `$ make test` line")
	}
	line, _, _ = strings.Cut(line, "```")
	pkgs := regexp.MustCompile(`need\+=\(([a-z0-9.-]+)\)`).FindAllStringSubmatch(string(script), -1)
	if len(pkgs) == 0 {
		t.Fatal("scripts/test-deps.sh installs nothing this test can read")
	}
	named := map[string]bool{}
	for _, p := range pkgs {
		if named[p[1]] {
			continue
		}
		named[p[1]] = true
		if !regexp.MustCompile(`(?:^|[^\w-])` + regexp.QuoteMeta(p[1]) + `(?:[^\w-]|$)`).MatchString(line) {
			t.Errorf("README's make test line does not name the package %s, which scripts/test-deps.sh installs:\n%s", p[1], line)
		}
	}
}

// TestOneName: every doc calls the command pagerd, the name make install
// puts on the PATH, not bin/pagerd or ./pagerd.
func TestOneName(t *testing.T) {
	docs, _ := filepath.Glob("../../docs/*.md")
	docs = append(docs, "../../README.md")
	for _, f := range docs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"bin/pagerd ", "./pagerd ", "go run ./cmd/pagerd"} {
			if strings.Contains(string(b), "$ "+bad) || strings.Contains(string(b), "`"+bad) {
				t.Errorf("%s runs %q; call it pagerd (make install)", f, strings.TrimSpace(bad))
			}
		}
	}
}

func TestMakeRunListensOnLoopback(t *testing.T) {
	out, err := exec.Command("make", "-s", "-n", "-C", "../..", "run").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "serve --config configs/quickstart.yaml --listen 127.0.0.1:8080 ") {
		t.Errorf("make run does not listen on 127.0.0.1:8080 by default:\n%s", out)
	}
}

func TestMakeInstall(t *testing.T) {
	dest := t.TempDir()
	out, err := exec.Command("make", "-s", "-C", "../..", "install", "DESTDIR="+dest, "PREFIX=/opt/pagerd").CombinedOutput()
	if err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	bin := filepath.Join(dest, "opt", "pagerd", "bin", "pagerd")
	v, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(v), "pagerd ") {
		t.Fatalf("%s --version: %q %v", bin, v, err)
	}
	if strings.Contains(string(out), "PATH") {
		t.Errorf("make install with DESTDIR (packaging) spoke of the PATH:\n%s", out)
	}
}

// TestMakeInstallSaysWhenNotOnPath: `make install PREFIX=$HOME/.local`, as
// README says, into a bin that is not on the PATH (~/.local/bin on a fresh
// machine until the next login) says so and how to add it; the next
// command README shows, `pagerd ...`, had failed with "command not found"
// and nothing said why. Into a bin on the PATH it says nothing of it.
func TestMakeInstallSaysWhenNotOnPath(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), ".local")
	install := func(path string) string {
		t.Helper()
		cmd := exec.Command("make", "-s", "-C", "../..", "install", "PREFIX="+prefix)
		cmd.Env = append(os.Environ(), "PATH="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make install: %v\n%s", err, out)
		}
		return string(out)
	}
	bin := filepath.Join(prefix, "bin")
	if out := install(os.Getenv("PATH")); !strings.Contains(out, bin+" is not on your PATH") || !strings.Contains(out, `export PATH="`+bin+`:$PATH"`) {
		t.Errorf("make install into %s, not on the PATH, did not say so:\n%s", bin, out)
	}
	if out := install(bin + string(os.PathListSeparator) + os.Getenv("PATH")); strings.Contains(out, "PATH") {
		t.Errorf("make install into %s, on the PATH, spoke of it:\n%s", bin, out)
	}
}

// TestTestDepsNeverStopsForeignServices runs scripts/test-deps.sh as root
// would, with apt-get, id and service replaced by stubs that record what
// they are asked: while installing, a policy-rc.d forbids starting any
// service, nothing is stopped, and the policy-rc.d is removed after; where
// the machine has its own policy-rc.d, only the services of the packages
// installed just now are stopped. Chromium, for the console's browser
// tests, is installed when missing unless PAGERD_CHROMIUM names a browser.
func TestTestDepsNeverStopsForeignServices(t *testing.T) {
	script, err := filepath.Abs("../../scripts/test-deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, have []string, policyRcD string, env ...string) (string, string) {
		t.Helper()
		dir := t.TempDir()
		bin := filepath.Join(dir, "bin")
		if err := os.Mkdir(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		log := filepath.Join(dir, "log")
		prc := filepath.Join(dir, "policy-rc.d")
		if policyRcD != "" {
			if err := os.WriteFile(prc, []byte(policyRcD), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		stub := func(name, body string) {
			if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		stub("id", "echo 0")
		stub("service", `echo "service $*" >>"$LOG"`)
		stub("apt-get", `echo "apt-get $*" >>"$LOG"
case "$1" in install)
  if [ -x "$POLICY_RC_D" ]; then "$POLICY_RC_D" redis-server start; echo "policy-rc.d answers $?" >>"$LOG"; else echo "no policy-rc.d" >>"$LOG"; fi ;;
esac`)
		for _, p := range have {
			stub(p, "exit 0")
		}
		for _, tool := range []string{"sort", "chmod", "rm"} {
			p, err := exec.LookPath(tool)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
		bash, err := exec.LookPath("bash")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bash, script)
		cmd.Env = append([]string{"PATH=" + bin, "LOG=" + log, "POLICY_RC_D=" + prc}, env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("test-deps.sh: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(log)
		after, _ := os.ReadFile(prc)
		return string(b), string(after)
	}

	t.Run("no policy-rc.d: services never start, none is stopped", func(t *testing.T) {
		log, after := run(t, nil, "")
		if !strings.Contains(log, "apt-get install -y -qq --no-install-recommends chromium prometheus prometheus-alertmanager redis-server redis-tools systemd\n") {
			t.Errorf("did not install the six packages:\n%s", log)
		}
		if !strings.Contains(log, "policy-rc.d answers 101") {
			t.Errorf("services could start during the install:\n%s", log)
		}
		if strings.Contains(log, "service ") {
			t.Errorf("stopped a service:\n%s", log)
		}
		if after != "" {
			t.Errorf("left its policy-rc.d behind: %q", after)
		}
	})
	t.Run("the machine's own policy-rc.d: only what was installed is stopped", func(t *testing.T) {
		const theirs = "#!/bin/sh\nexit 0\n"
		log, after := run(t, []string{"redis-server", "redis-cli", "redis-benchmark", "promtool", "systemd-analyze", "chromium"}, theirs)
		if !strings.Contains(log, "apt-get install -y -qq --no-install-recommends prometheus-alertmanager\n") {
			t.Errorf("did not install only alertmanager:\n%s", log)
		}
		if strings.Contains(log, "service redis-server") || !strings.Contains(log, "service prometheus-alertmanager stop") {
			t.Errorf("stopped a Redis it did not install, or not the Alertmanager it did:\n%s", log)
		}
		if after != theirs {
			t.Errorf("changed the machine's policy-rc.d: %q", after)
		}
	})
	t.Run("nothing missing: nothing done", func(t *testing.T) {
		log, _ := run(t, []string{"redis-server", "redis-cli", "redis-benchmark", "prometheus-alertmanager", "amtool", "promtool", "systemd-analyze", "chromium"}, "")
		if log != "" {
			t.Errorf("did something with everything installed:\n%s", log)
		}
	})
	t.Run("chromium: installed when missing, and only it; not when PAGERD_CHROMIUM names one", func(t *testing.T) {
		rest := []string{"redis-server", "redis-cli", "redis-benchmark", "prometheus-alertmanager", "amtool", "promtool", "systemd-analyze"}
		log, _ := run(t, rest, "")
		if !strings.Contains(log, "apt-get install -y -qq --no-install-recommends chromium\n") {
			t.Errorf("did not install chromium alone:\n%s", log)
		}
		if log, _ := run(t, rest, "", "PAGERD_CHROMIUM=/opt/chrome/chrome"); log != "" {
			t.Errorf("installed something with PAGERD_CHROMIUM set:\n%s", log)
		}
	})
}

// TestDocsConfigPathsExist: a command in the docs that names one of the
// repository's configs names it by its path from a clone (configs/...), and
// that file exists; the only bare name is pagerd.yaml, the reader's own.
// README's override example ran `pagerd oncall --config aivo.yaml`, which a
// reader in a clone does not have.
func TestDocsConfigPathsExist(t *testing.T) {
	docs, _ := filepath.Glob("../../docs/*.md")
	docs = append(docs, "../../README.md")
	flag := regexp.MustCompile(`--config ([^\s\]]+\.ya?ml)`)
	for _, f := range docs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range flag.FindAllStringSubmatch(string(b), -1) {
			path := m[1]
			switch {
			case path == "pagerd.yaml" || strings.HasPrefix(path, "/"):
			case strings.HasPrefix(path, "configs/"):
				if _, err := os.Stat(filepath.Join("../..", path)); err != nil {
					t.Errorf("%s runs --config %s, which the repository does not have", f, path)
				}
			default:
				t.Errorf("%s runs --config %s: name a config of the repository by its path (configs/...), or the reader's own as pagerd.yaml", f, path)
			}
		}
	}
}
