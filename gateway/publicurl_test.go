package gateway

import (
	"net"
	"strings"
	"testing"
)

// TestPublicURLMisses: a public_url on this host is judged against the
// address pagerd listens on; any other is left alone (a proxy may front it).
func TestPublicURLMisses(t *testing.T) {
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		name, url, listen, want string
	}{
		{"the quickstart as shipped", "http://127.0.0.1:8080", "127.0.0.1:8080", ""},
		{"every interface, same port", "http://127.0.0.1:8080", "0.0.0.0:8080", ""},
		{"make run LISTEN on another port", "http://127.0.0.1:8080", "127.0.0.1:18080", "lead to whatever listens at port 8080"},
		{"localhost, another port", "http://localhost:8080", "[::]:9090", "lead to whatever listens at port 8080"},
		{"IPv6 loopback, another port", "http://[::1]:8080", "[::1]:8081", "pagerd listens on [::1]:8081"},
		{"no port: the scheme's", "http://localhost", "127.0.0.1:8080", "port 80 of this host"},
		{"no port, https, listening there", "https://127.0.0.1", "127.0.0.1:443", ""},
		{"loopback URL, listening elsewhere only", "http://127.0.0.1:8080", "10.1.2.3:8080", "reach nothing"},
		{"a name: maybe a proxy", "https://pagerd.example.com", "127.0.0.1:8080", ""},
		{"a private address: maybe a proxy", "http://10.1.2.3:80", "127.0.0.1:8080", ""},
		{"unset", "", "127.0.0.1:8080", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := publicURLMisses(tc.url, tcp(tc.listen))
			switch {
			case tc.want == "" && got != "":
				t.Errorf("publicURLMisses(%q, %s) = %q; want nothing", tc.url, tc.listen, got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("publicURLMisses(%q, %s) = %q; want it to say %q", tc.url, tc.listen, got, tc.want)
			}
		})
	}
}
