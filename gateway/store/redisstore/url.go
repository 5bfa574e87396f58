package redisstore

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ParseURL turns a Redis URL into go-redis UniversalOptions, so one
// setting covers a single server, Sentinel and Cluster:
//
//	redis://[user:pass@]host:port[/db]             one server
//	rediss://...                                    the same over TLS
//	redis-sentinel://[user:pass@]h1:p1,h2:p2/MASTER[/db]
//	redis-cluster://[user:pass@]h1:p1,h2:p2
//
// Errors never include the URL: it may hold a password.
func ParseURL(raw string) (*redis.UniversalOptions, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("redis url: missing scheme (redis://, rediss://, redis-sentinel://, redis-cluster://)")
	}
	if strings.ContainsAny(rest, "?#") {
		return nil, fmt.Errorf("redis url: query parameters are not supported; put the password in user info (redis://:PASSWORD@host)")
	}
	// url.Parse does not accept several comma-separated hosts with ports,
	// so parse the authority by hand.
	authority, path, _ := strings.Cut(rest, "/")
	// No retries inside the client: a command retried after its reply was
	// lost may have run, and the retry's own failure (a refused dial) would
	// then say it certainly did not, so a stored alert would be answered
	// "nothing was stored". The daemon retries where retrying is safe (the
	// dispatcher's backoff, the record journal) and senders retry a 503.
	// A cluster client has a retry loop of its own (MaxRedirects, 3 by
	// default), which also sends a command again after a lost reply, and
	// every script of a pipeline that failed part-way: off too. A MOVED
	// or ASK reply (a slot moving) then fails the command, which did not
	// run, and the cluster client reloads its slot map for the next try.
	o := &redis.UniversalOptions{ContextTimeoutEnabled: true, MaxRetries: -1, MaxRedirects: -1}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		// Split before unescaping: a password's %3A is a colon of the
		// password, not the one between user and password.
		user, pass, hasPass := strings.Cut(authority[:at], ":")
		authority = authority[at+1:]
		var err error
		if user, err = url.PathUnescape(user); err != nil {
			return nil, fmt.Errorf("redis url: bad user info")
		}
		if pass, err = url.PathUnescape(pass); err != nil {
			return nil, fmt.Errorf("redis url: bad user info")
		}
		if hasPass {
			o.Username, o.Password = user, pass
		} else {
			o.Password = user
		}
	}
	if authority == "" {
		return nil, fmt.Errorf("redis url: no host")
	}
	o.Addrs = strings.Split(authority, ",")
	for i, a := range o.Addrs {
		if !strings.Contains(a, ":") {
			o.Addrs[i] = a + ":6379"
		}
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	db := func(s string) error {
		if s == "" {
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("redis url: database must be a number")
		}
		o.DB = n
		return nil
	}
	switch scheme {
	case "redis", "rediss":
		if len(o.Addrs) != 1 {
			return nil, fmt.Errorf("redis url: one host for %s://; use redis-cluster:// or redis-sentinel:// for several", scheme)
		}
		if err := db(parts[0]); err != nil {
			return nil, err
		}
		if scheme == "rediss" {
			o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	case "redis-sentinel":
		if parts[0] == "" {
			return nil, fmt.Errorf("redis url: name the sentinel master: redis-sentinel://host:port/MASTER")
		}
		o.MasterName = parts[0]
		if len(parts) > 1 {
			if err := db(parts[1]); err != nil {
				return nil, err
			}
		}
	case "redis-cluster":
		o.IsClusterMode = true
		if path != "" {
			return nil, fmt.Errorf("redis url: a cluster has no database number")
		}
	default:
		return nil, fmt.Errorf("redis url: unknown scheme %q", scheme)
	}
	o.Dialer = dialer(o.TLSConfig)
	return o, nil
}
