package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ReadSecretFile reads a secret held in a file (a config's *_file field,
// `serve --redis-url-file`), trimmed of surrounding white space. An error
// names the file, never what it holds, and for a file pagerd may not read
// says who pagerd runs as and who may read the file: a container runs
// pagerd as uid 65532, and a secret written 0600 by another user on the
// host, bind-mounted as it is (compose's file secrets), is the common case,
// which "permission denied" alone does not explain.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", explainUnreadable(path, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return v, nil
}

// explainUnreadable adds to a permission error what to change.
func explainUnreadable(path string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	who := fmt.Sprintf("pagerd runs as uid %d, gid %d", os.Getuid(), os.Getgid())
	fi, serr := os.Stat(path)
	if serr != nil {
		return fmt.Errorf("%w: %s and cannot reach the file: let that user into its directory", err, who)
	}
	owner := ""
	if uid, gid, ok := fileOwner(fi); ok {
		owner = fmt.Sprintf(" owned by uid %d, gid %d", uid, gid)
	}
	return fmt.Errorf("%w: %s and the file is %s%s: make it readable to that user (chmod 0444 it, or chown it to uid %d)",
		err, who, fi.Mode().Perm(), owner, os.Getuid())
}
