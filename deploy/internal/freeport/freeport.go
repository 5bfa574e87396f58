// Package freeport picks a free loopback TCP address for a process a test
// starts and hands the address to (pagerd serve --listen). A port the
// kernel gives for ":0" and the test closes again comes from the
// ephemeral range, where the kernel also picks the local end of every
// outgoing connection: a test run makes thousands, and one could take the
// port before the process binds it ("address already in use", or worse, a
// test talking to another server). A port below that range is never given
// out so; one is picked at random there and checked free by binding it.
//
// It is the main module's internal/freeport, copied: deploy/ is a module
// of its own and cannot import that one's internal packages.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowest is the lowest port Addr picks: above the well-known and most
// registered ports that services on a build machine listen on.
const lowest = 10000

// Addr is "127.0.0.1:PORT" for a port no socket uses now, below the
// kernel's ephemeral range when the range leaves room below it, else one
// the kernel gives for ":0".
func Addr() (string, error) {
	if lo := ephemeralLow(); lo > lowest+1000 {
		for range 200 {
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(lowest+rand.IntN(lo-lowest)))
			if l, err := net.Listen("tcp", addr); err == nil {
				_ = l.Close()
				return addr, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("no free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// net.ipv4.ip_local_port_range), or 32768, Linux's default, when it
// cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}
