package policy

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A secret file pagerd may not read (a compose secret written 0600 by root
// on the host, read by the container's uid 65532) is named with who pagerd
// runs as, the file's mode and owner, and what to change; other errors are
// left as they are. The error is made up here, as a test running as root
// can read any file.
func TestUnreadableSecretFileSaysWhoMayReadIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api-token")
	if err := os.WriteFile(path, []byte("s3cr3t-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := explainUnreadable(path, &fs.PathError{Op: "open", Path: path, Err: syscall.EACCES})
	msg := err.Error()
	for _, want := range []string{
		"open " + path + ": permission denied",
		fmt.Sprintf("pagerd runs as uid %d, gid %d", os.Getuid(), os.Getgid()),
		"the file is -rw-------",
		fmt.Sprintf("owned by uid %d", os.Getuid()),
		"chmod 0444",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cr3t-value") || !strings.Contains(msg, path) {
		t.Errorf("error %q: want the path and never the contents", msg)
	}
	missing := &fs.PathError{Op: "open", Path: path + ".x", Err: syscall.ENOENT}
	if got := explainUnreadable(path+".x", missing); got != error(missing) {
		t.Errorf("a missing file's error became %q", got)
	}
}
