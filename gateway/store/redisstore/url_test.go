package redisstore

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		url                string
		addrs              []string
		user, pass, master string
		db                 int
		cluster, tls       bool
	}{
		{url: "redis://127.0.0.1:6379/0", addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://:s3cret@redis:6380/2", addrs: []string{"redis:6380"}, pass: "s3cret", db: 2},
		{url: "rediss://app:pw@redis", addrs: []string{"redis:6379"}, user: "app", pass: "pw", tls: true},
		// Escaped colons and at signs belong to the part they are in.
		{url: "redis://p%3Ass@redis", addrs: []string{"redis:6379"}, pass: "p:ss"},
		{url: "redis://:p%3As%40s%20w@redis", addrs: []string{"redis:6379"}, pass: "p:s@s w"},
		{url: "redis://a%3Ab:c%3Ad@redis", addrs: []string{"redis:6379"}, user: "a:b", pass: "c:d"},
		{url: "redis-sentinel://s1:26379,s2:26379/mymaster/1", addrs: []string{"s1:26379", "s2:26379"}, master: "mymaster", db: 1},
		{url: "redis-cluster://a:7000,b:7001,c:7002", addrs: []string{"a:7000", "b:7001", "c:7002"}, cluster: true},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			o, err := ParseURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.Addrs, tc.addrs) || o.Username != tc.user || o.Password != tc.pass || o.MasterName != tc.master ||
				o.DB != tc.db || o.IsClusterMode != tc.cluster || (o.TLSConfig != nil) != tc.tls || !o.ContextTimeoutEnabled {
				t.Fatalf("%+v", o)
			}
		})
	}
	for _, bad := range []string{"127.0.0.1:6379", "http://x", "redis://a:1,b:2", "redis://h/x", "redis-sentinel://s1:26379", "redis-cluster://a:1/3", "redis://"} {
		t.Run("bad "+bad, func(t *testing.T) {
			_, err := ParseURL(bad + "?password=hunter2")
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error shows the URL: %v", err)
			}
		})
	}
}
