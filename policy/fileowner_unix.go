//go:build unix

package policy

import (
	"os"
	"syscall"
)

// fileOwner is the uid and gid owning a file.
func fileOwner(fi os.FileInfo) (uid, gid uint32, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Uid, st.Gid, true
}
