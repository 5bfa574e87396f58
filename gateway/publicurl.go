package gateway

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// publicURLMisses says why the links pages carry, made from publicURL
// (server.public_url), cannot reach a pagerd listening on addr, or "" when
// they may. Only a URL on this host (loopback) can be judged: any other
// name may be a proxy or a load balancer in front of pagerd. The case it is
// for: `make run LISTEN=127.0.0.1:18080` (8080 taken) on the quickstart
// config, whose public_url is http://127.0.0.1:8080, paged ack links that
// led to whatever else listened at 8080, and nothing said so.
func publicURLMisses(publicURL string, addr net.Addr) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return ""
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return ""
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return ""
	}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			return ""
		}
	}
	switch {
	case port != strconv.Itoa(tcp.Port):
		return fmt.Sprintf("server.public_url %s is port %s of this host, but pagerd listens on %s: the ack links in pages (and providers' callbacks) lead to whatever listens at port %s, not to this pagerd; set server.public_url to pagerd's address (http://%s), or listen where it says",
			publicURL, port, tcp, port, tcp)
	case !tcp.IP.IsUnspecified() && !tcp.IP.IsLoopback():
		return fmt.Sprintf("server.public_url %s is on this host's loopback, but pagerd listens on %s only: the ack links in pages (and providers' callbacks) reach nothing; set server.public_url to pagerd's address (http://%s)",
			publicURL, tcp, tcp)
	}
	return ""
}
