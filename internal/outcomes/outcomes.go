// Package outcomes makes the counters of what became of something, by a
// "result" label, with every result reported at 0 from the start: a
// series that is missing always means something, and an alert on
// increase() sees the first one.
package outcomes

import "github.com/prometheus/client_golang/prometheus"

// Counter registers the counter name{result} on reg, with each of results
// at 0.
func Counter(reg prometheus.Registerer, name, help string, results ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"result"})
	reg.MustRegister(c)
	for _, r := range results {
		c.WithLabelValues(r)
	}
	return c
}
