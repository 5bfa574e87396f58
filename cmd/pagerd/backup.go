package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/pagerd/pagerd/gateway"
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
	sf := addServerFlags(fs, "`URL` of a running pagerd to take the backup from (online)", tokenFileUsage)
	dataDir := fs.String("data-dir", "", "data `DIR` of a stopped pagerd to back up (offline)")
	pos, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 || (*sf.server == "") == (*dataDir == "") {
		printUsage(stderr, fs.name, fs.FlagSet)
		return 2
	}
	out := pos[0]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var copyTo func(w io.Writer) error
	if *sf.server != "" {
		token, err := sf.token()
		if err != nil {
			return fail(stderr, "backup", err)
		}
		copyTo = func(w io.Writer) error { return gateway.FetchBackup(ctx, *sf.server, token, w) }
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

// writeBackup writes the backup to out through a checked file
// (boltstore.WriteBackup); "-" is stdout, by way of a temporary file.
func writeBackup(out string, copyTo func(io.Writer) error, stdout io.Writer) (boltstore.Info, error) {
	if out != "-" {
		return boltstore.WriteBackup(out, copyTo)
	}
	dir, err := os.MkdirTemp("", "pagerd-backup-")
	if err != nil {
		return boltstore.Info{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "backup.db")
	info, err := boltstore.WriteBackup(path, copyTo)
	if err != nil {
		return info, err
	}
	f, err := os.Open(path)
	if err != nil {
		return info, err
	}
	defer f.Close()
	_, err = io.Copy(stdout, f)
	return info, err
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
