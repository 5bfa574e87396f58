package check

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestFreeAddrIsBelowTheEphemeralRange: the address the tests hand to the
// pagerd, Redis and Alertmanager they start is not one the kernel gave for
// ":0": such a port, closed and handed over, is in the range the kernel
// picks connections' local ends from, and one of the many connections a
// run makes could take it before the process binds it.
func TestFreeAddrIsBelowTheEphemeralRange(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skip("no ephemeral range to compare with:", err)
	}
	lo, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil || lo <= 11000 {
		t.Skipf("ephemeral range from %q leaves no room below it", b)
	}
	for range 20 {
		_, p, err := net.SplitHostPort(freeAddr(t))
		if err != nil {
			t.Fatal(err)
		}
		if port, _ := strconv.Atoi(p); port >= lo {
			t.Fatalf("port %d is in the ephemeral range (from %d)", port, lo)
		}
	}
}
