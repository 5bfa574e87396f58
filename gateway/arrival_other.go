//go:build !linux

package gateway

import "net"

// stampListener returns l: the kernel's receive stamps are read on Linux
// only; elsewhere a request's arrival is its reading (arrivals).
func stampListener(l net.Listener) net.Listener { return l }
