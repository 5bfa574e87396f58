package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pagerd/pagerd/gateway/store/boltstore"
)

// runBackup copies the embedded store to a file. Online, from a running
// pagerd (--server): the daemon holds the database's file lock, so the copy
// comes from inside it (GET /-/backup), one read transaction that never
// stops it paging. Offline (--data-dir): the store of a pagerd that is not
// running. Either way the copy is checked (every page, the format, every
// incident) before it replaces OUT.
func runBackup(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("backup", stdout, stderr)
	server := fs.String("server", "", "`URL` of a running pagerd to take the backup from (online)")
	tokenFile := fs.String("token-file", "", "`FILE` holding an API token for --server (default $PAGERD_API_TOKEN)")
	dataDir := fs.String("data-dir", "", "data `DIR` of a stopped pagerd to back up (offline)")
	pos, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 || (*server == "") == (*dataDir == "") {
		printUsage(stderr, fs.name, fs.FlagSet)
		return 2
	}
	out := pos[0]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var copyTo func(w io.Writer) error
	if *server != "" {
		token, err := apiToken(*tokenFile)
		if err != nil {
			return fail(stderr, "backup", err)
		}
		copyTo = func(w io.Writer) error { return fetchBackup(ctx, *server, token, w) }
	} else {
		copyTo = func(w io.Writer) error {
			_, err := boltstore.BackupDir(ctx, *dataDir, w)
			if errors.Is(err, boltstore.ErrInUse) {
				return fmt.Errorf("%w: take the backup through it with --server URL", err)
			}
			return err
		}
	}
	info, err := writeBackup(out, copyTo, stdout)
	if err != nil {
		return fail(stderr, "backup", err)
	}
	name := out
	if out == "-" {
		name = "stdout"
	}
	fmt.Fprintf(stderr, "pagerd backup: wrote %s: %d incidents (%d open, %d with steps pending), store format %d, %d bytes\n",
		name, info.Incidents, info.Open, info.Pending, info.Format, info.Size)
	return 0
}

// apiToken reads the API token from a file, or $PAGERD_API_TOKEN. Never a
// flag: command lines are visible to every user of the machine.
func apiToken(file string) (string, error) {
	if file == "" {
		if t := os.Getenv("PAGERD_API_TOKEN"); t != "" {
			return t, nil
		}
		return "", errors.New("--server needs an API token: --token-file FILE or $PAGERD_API_TOKEN")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("--token-file %s is empty", file)
	}
	return t, nil
}

// fetchBackup streams GET <server>/-/backup into w.
func fetchBackup(ctx context.Context, server, token string, w io.Writer) error {
	u := strings.TrimRight(server, "/") + "/-/backup"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("--server %q: %w", server, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	// No overall timeout: a large store takes as long as it takes. Connecting
	// and the first byte are bounded.
	client := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("backup from %s: %w", server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("backup from %s: %s: %s", server, resp.Status, strings.TrimSpace(string(body)))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("backup from %s cut off: %w", server, err)
	}
	return nil
}

// writeBackup has copyTo write the backup into a temporary file next to out,
// syncs and inspects it, then renames it to out (or copies it to stdout for
// "-"): out is only ever a whole, checked backup.
func writeBackup(out string, copyTo func(io.Writer) error, stdout io.Writer) (boltstore.Info, error) {
	dir := filepath.Dir(out)
	if out == "-" {
		dir = ""
	}
	f, err := os.CreateTemp(dir, ".pagerd-backup-*")
	if err != nil {
		return boltstore.Info{}, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = copyTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return boltstore.Info{}, err
	}
	info, err := boltstore.Inspect(tmp)
	if err != nil {
		return boltstore.Info{}, fmt.Errorf("the copy is not a readable store, nothing written: %w", err)
	}
	if out == "-" {
		f, err := os.Open(tmp)
		if err != nil {
			return boltstore.Info{}, err
		}
		defer f.Close()
		_, err = io.Copy(stdout, f)
		return info, err
	}
	return info, os.Rename(tmp, out)
}

// runRestore writes a backup into a new data dir, for `pagerd serve
// --data-dir` to start from. It never overwrites: the data dir must not
// exist or be empty.
func runRestore(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("restore", stdout, stderr)
	dataDir := fs.String("data-dir", "", "new data `DIR` to restore into (must not exist, or be empty)")
	pos, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 || *dataDir == "" {
		printUsage(stderr, fs.name, fs.FlagSet)
		return 2
	}
	var in io.Reader = os.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fail(stderr, "restore", err)
		}
		defer f.Close()
		in = f
	}
	info, err := boltstore.Restore(in, *dataDir)
	if err != nil {
		return fail(stderr, "restore", err)
	}
	fmt.Fprintf(stdout, "restored %d incidents (%d open, %d with steps pending), store format %d, into %s\n",
		info.Incidents, info.Open, info.Pending, info.Format, *dataDir)
	if info.Format < boltstore.Format() {
		fmt.Fprintf(stdout, "the backup is store format %d: pagerd serve upgrades it to format %d when it starts\n", info.Format, boltstore.Format())
	}
	return 0
}
