package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestAddrIsBelowTheEphemeralRangeAndFree: the address is on loopback,
// below the kernel's ephemeral range (where connections' local ends are
// picked), and can be bound.
func TestAddrIsBelowTheEphemeralRangeAndFree(t *testing.T) {
	lo := ephemeralLow()
	for range 20 {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		host, p, err := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		if err != nil || host != "127.0.0.1" || (lo > lowest+1000 && (port < lowest || port >= lo)) {
			t.Fatalf("%s: want 127.0.0.1 and a port in [%d, %d)", addr, lowest, lo)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is not free: %v", addr, err)
		}
		l.Close()
	}
}
