package gateway

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// stampListener has the kernel stamp each TCP segment l's connections
// receive (SO_TIMESTAMPNS, which accepted sockets inherit) and reads them
// with that stamp (stampedConn): a request that waited in the socket
// while this process was stopped is known to have arrived when it did.
// A listener that is not TCP, or whose socket refuses the option, is
// returned as it is, with why.
func stampListener(l net.Listener) (net.Listener, error) {
	tl, ok := l.(*net.TCPListener)
	if !ok {
		return l, fmt.Errorf("the listener is not TCP (%T)", l)
	}
	rc, err := tl.SyscallConn()
	if err == nil {
		err = stamping(rc)
	}
	if err != nil {
		return l, err
	}
	return stampingListener{tl}, nil
}

// stamping sets SO_TIMESTAMPNS on the socket rc is of.
func stamping(rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt SO_TIMESTAMPNS", serr)
}

type stampingListener struct{ *net.TCPListener }

func (l stampingListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return c, nil
	}
	// Set again: a connection made before the listener's was set (in
	// its backlog already) did not inherit it. One that refuses it (a
	// socket the listener's took) is read unstamped.
	if stamping(rc) != nil {
		return c, nil
	}
	return &stampedConn{TCPConn: c, rc: rc}, nil
}

// stampedConn reads with recvmsg, keeping the kernel's stamp of the
// latest segment each read took (arrived): for a request, its last
// segment's arrival (the kernel merges segments queued together and
// stamps them with the latest), however long after that it was read.
type stampedConn struct {
	*net.TCPConn
	rc  syscall.RawConn
	oob [64]byte // reads of a connection come one at a time
	arrivedAt
}

// Read reads as net.TCPConn.Read does, noting the data's arrival.
func (c *stampedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n, oobn int
	var rerr error
	if err := c.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), p, c.oob[:], 0)
			if rerr != syscall.EINTR {
				return rerr != syscall.EAGAIN
			}
		}
	}); err != nil {
		return 0, err // the deadline's, or a closed connection's: a *net.OpError
	}
	if rerr != nil {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("recvmsg", rerr)}
	}
	if n == 0 {
		return 0, io.EOF
	}
	if ns := rxStamp(c.oob[:oobn]); ns != 0 {
		c.arrived.Store(ns)
	}
	return n, nil
}

// rxStamp is the SO_TIMESTAMPNS stamp among the control messages of a
// read (Unix nanoseconds), or zero when there is none.
func rxStamp(oob []byte) int64 {
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < syscall.SizeofCmsghdr || int(h.Len) > len(oob) {
			return 0
		}
		data := oob[syscall.CmsgLen(0):h.Len]
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SO_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&data[0]))
			return time.Unix(ts.Unix()).UnixNano()
		}
		oob = oob[min(syscall.CmsgSpace(int(h.Len)-syscall.CmsgLen(0)), len(oob)):]
	}
	return 0
}
