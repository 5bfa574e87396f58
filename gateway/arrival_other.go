//go:build !linux

package gateway

import (
	"errors"
	"net"
)

// stampListener returns l and why: the kernel's receive stamps are read
// on Linux only; elsewhere a request's arrival is its reading (arrivals).
func stampListener(l net.Listener) (net.Listener, error) {
	return l, errors.New("the kernel's receive stamps are read on Linux only")
}
