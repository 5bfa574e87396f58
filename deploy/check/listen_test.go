package check

import (
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// containerPort is where the image, the Services and the probes expect
// pagerd: every interface, port 8080.
const containerPort = "8080"

// The config's own listen address: server.listen, the first `listen:`
// under the top-level `server:`.
var (
	serverSection = regexp.MustCompile(`(?m)^server:[ \t]*\n`)
	listenKey     = regexp.MustCompile(`(?m)^[ \t]+listen:[ \t]*(\S+)[ \t]*$`)
)

// asDeployed readies a way's own pagerd command line to run here: the
// checks never add a --listen of their own, which would hide a way that
// drops the image's `--listen :8080` (its `command:` or `args:` replace
// the image's CMD). When userConfig is set the way ships a config for
// the user to edit (compose, the plain manifests), so the config is first
// given what one made from configs/quickstart.yaml says, a loopback
// server.listen. The address pagerd would then listen on in the container
// must be every interface on 8080, or the Service, the kubelet's probes
// and Alertmanager reach nothing: the check fails. Only the port is moved,
// to a free one here; asDeployed returns the args and where pagerd
// answers.
func asDeployed(t *testing.T, args []string, userConfig bool) ([]string, string) {
	t.Helper()
	args = append([]string(nil), args...)
	i := slices.Index(args, "--config")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("pagerd runs %q: no --config", args)
	}
	cfgPath := args[i+1]
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	if userConfig {
		cfg = setServerListen(cfg, freeAddr(t))
	}
	listen, fromFlag := ":8080", false // pagerd's default
	if j := slices.Index(args, "--listen"); j >= 0 && j+1 < len(args) {
		listen, fromFlag = args[j+1], true
	} else if loc := serverSection.FindStringIndex(cfg); loc != nil {
		if m := listenKey.FindStringSubmatch(cfg[loc[1]:]); m != nil {
			listen = m[1]
		}
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("pagerd would listen on %q: %v", listen, err)
	}
	if (host != "" && host != "0.0.0.0" && host != "::") || port != containerPort {
		t.Fatalf("pagerd run as %q (config server.listen as a user's may say it) listens on %s in the container, not every interface on %s: "+
			"the Service, the kubelet's probes and Alertmanager reach nothing", args, listen, containerPort)
	}
	here := freeAddr(t)
	_, herePort, _ := net.SplitHostPort(here)
	moved := strings.Replace(listen, ":"+containerPort, ":"+herePort, 1)
	if fromFlag {
		args[slices.Index(args, "--listen")+1] = moved
	} else {
		cfg = setServerListen(cfg, moved)
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return args, here
}

// setServerListen sets server.listen in a config's text.
func setServerListen(cfg, addr string) string {
	loc := serverSection.FindStringIndex(cfg)
	if loc == nil {
		return "server:\n  listen: " + addr + "\n" + cfg
	}
	rest := cfg[loc[1]:]
	if m := listenKey.FindStringSubmatchIndex(rest); m != nil {
		return cfg[:loc[1]] + rest[:m[2]] + addr + rest[m[3]:]
	}
	return cfg[:loc[1]] + "  listen: " + addr + "\n" + rest
}
