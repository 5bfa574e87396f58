package console

import (
	"net"
	"time"

	"golang.org/x/time/rate"
)

// Password sign-in attempts are limited on four counts, each a token
// bucket, and an attempt is taken only when every one of its buckets has
// a token (none is spent on an attempt refused):
//
//   - per client address: a flood of wrong passwords from one client stops
//     that client, never the others (one global bucket did: five attempts
//     a second from anywhere locked every person out of password sign-in);
//   - per name and address: how fast one client may guess one person's
//     password;
//   - per name, from every address together: how fast a guesser with many
//     addresses may guess one person's password. It refills faster than
//     one address may draw on it, so that one client flooding a name
//     leaves that person able to sign in from elsewhere;
//   - overall: a ceiling on the bcrypt work sign-ins cost, far above
//     what one client may draw.
var (
	perAddress     = limit{every: 6 * time.Second, burst: 20}
	perNameAddress = limit{every: 12 * time.Second, burst: 5}
	perName        = limit{every: 6 * time.Second, burst: 10}
	overall        = limit{every: 100 * time.Millisecond, burst: 50}
)

// maxLimiters bounds each set of buckets: the keys are chosen by strangers.
const maxLimiters = 10000

// limit is a token bucket's shape.
type limit struct {
	every time.Duration
	burst int
}

func (l limit) new() *rate.Limiter { return rate.NewLimiter(rate.Every(l.every), l.burst) }

// limiters is a set of buckets of one shape by key, bounded in memory: a
// full bucket is forgotten (a new one is the same), and when the set is
// at its bound with none full, the one used longest ago goes, which
// gives that key a full bucket again; the overall bucket still bounds
// what that is worth.
type limiters struct {
	shape limit
	max   int
	m     map[string]*limiterEntry
}

type limiterEntry struct {
	l    *rate.Limiter
	used time.Time
}

func newLimiters(shape limit, max int) *limiters {
	return &limiters{shape: shape, max: max, m: map[string]*limiterEntry{}}
}

// get is the key's bucket, made (full) when there is none.
func (s *limiters) get(key string, now time.Time) *rate.Limiter {
	if e, ok := s.m[key]; ok {
		e.used = now
		return e.l
	}
	if len(s.m) >= s.max {
		s.sweep(now)
	}
	e := &limiterEntry{l: s.shape.new(), used: now}
	s.m[key] = e
	return e.l
}

// sweep forgets the full buckets and, if the set is still at its bound,
// the one used longest ago.
func (s *limiters) sweep(now time.Time) {
	var oldest string
	for k, e := range s.m {
		if e.l.TokensAt(now) >= float64(s.shape.burst) {
			delete(s.m, k)
			continue
		}
		if oldest == "" || e.used.Before(s.m[oldest].used) {
			oldest = k
		}
	}
	if len(s.m) >= s.max && oldest != "" {
		delete(s.m, oldest)
	}
}

// takeAll takes a token from every bucket at now if each has one, and
// none otherwise.
func takeAll(now time.Time, ls ...*rate.Limiter) bool {
	for _, l := range ls {
		if l.TokensAt(now) < 1 {
			return false
		}
	}
	for _, l := range ls {
		l.AllowN(now, 1)
	}
	return true
}

// clientKey is the address a limit counts a client by: its IP, or for
// IPv6 its /64, which one host commonly has whole.
func clientKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil {
		return ip
	}
	if a.To4() != nil {
		return a.String()
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// remoteIP is the connection's peer address without its port.
func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
