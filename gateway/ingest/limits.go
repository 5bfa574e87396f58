package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pagerd/pagerd/internal/textcut"
)

// Limits on the work one Alertmanager notification makes pagerd do and on
// what it keeps of it. Over a limit pagerd truncates rather than refuses:
// Alertmanager drops a notification answered with a 4xx until the group's
// next flush (group_interval later), so a 4xx would delay or lose the page,
// while a truncated incident still pages and says in its timeline what was
// cut (a "truncated" entry) and in its details ("truncated_by_pagerd").
const (
	// MaxAlertsPerMessage is how many alerts of one notification are read:
	// the first ones, in the order sent, as Alertmanager's own max_alerts
	// keeps them. The rest are counted and named as cut.
	MaxAlertsPerMessage = 1000
	// MaxIncidentsPerMessage is how many firing alerts of one notification
	// get an incident each in fingerprint mode (incident_key fingerprint).
	// Firing alerts beyond them share one more incident, the group's
	// overflow incident (OverflowDedupKey), which pages like any other and
	// resolves once a notification of the group has none beyond the cap
	// and left none out (pagerd's own limit, Alertmanager's max_alerts).
	MaxIncidentsPerMessage = 100
	// MaxGroupKeyBytes caps the groupKey in dedup keys and details. A longer
	// one keeps its first bytes and ends in a digest of the whole key, so
	// distinct groups never share an incident.
	MaxGroupKeyBytes = 1024
	// MaxFingerprintBytes caps a fingerprint the sender supplied
	// (Alertmanager's are 16 hex digits); a longer one is replaced by its
	// digest.
	MaxFingerprintBytes = 64
	// MaxLabelBytes caps each label name and value kept in an incident's
	// details (routing sees them whole).
	MaxLabelBytes = 1024
	// MaxAnnotationBytes caps each annotation value (and URL) kept in an
	// incident's details.
	MaxAnnotationBytes = 4096
	// MaxDetailsBytes caps an incident's details as stored: alerts are left
	// out of them (alerts_omitted) until they fit.
	MaxDetailsBytes = 64 << 10
)

// CutLimits are the values of Cut.Limit.
var CutLimits = []string{"alerts", "incidents", "group_key", "fingerprint", "label", "annotation", "details"}

// Cut is one way an alert group was truncated to fit pagerd's limits.
type Cut struct {
	// Limit names the limit, for the pagerd_alerts_truncated_total
	// metric: alerts, incidents, group_key, fingerprint, label,
	// annotation or details.
	Limit string
	// Detail says what was cut, for the incident's timeline.
	Detail string
}

// capKey keeps a key under max bytes without merging distinct keys: a
// longer one becomes its first bytes, "…sha256:" and 32 hex digits of the
// digest of the whole. ok is false when it had to.
func capKey(key string, max int) (string, bool) {
	if len(key) <= max {
		return key, true
	}
	sum := sha256.Sum256([]byte(key))
	tail := "…sha256:" + hex.EncodeToString(sum[:16])
	return textcut.Bytes(key, max, tail), false
}

// capValue cuts a stored value to max bytes, ending in "…" when it had to.
func capValue(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, true
	}
	return textcut.Bytes(s, max, textcut.Ellipsis), false
}

// valueCuts counts the values a set of maps lost to a limit, and the
// largest, for one Cut per limit.
type valueCuts struct {
	n       int
	largest int
	name    string
}

// capMap returns m with names and values cut to their limits (m itself
// when nothing needed cutting), counting what was cut.
func capMap(m map[string]string, valueMax int, c *valueCuts) map[string]string {
	over := false
	for k, v := range m {
		if len(k) > MaxLabelBytes || len(v) > valueMax {
			over = true
			break
		}
	}
	if !over {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		ck, okK := capValue(k, MaxLabelBytes)
		cv, okV := capValue(v, valueMax)
		if !okK || !okV {
			c.n++
			if size := len(k) + len(v); size > c.largest {
				c.largest, c.name = size, textcut.Bytes(k, 64, "")
			}
		}
		out[ck] = cv
	}
	return out
}

func (c valueCuts) cut(limit, what string, max int) (Cut, bool) {
	if c.n == 0 {
		return Cut{}, false
	}
	return Cut{Limit: limit, Detail: fmt.Sprintf("%s cut to %d bytes in the details: %d (the largest, %q, was %s)",
		what, max, c.n, c.name, byteSize(c.largest))}, true
}

// byteSize says how big something is, for people.
func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// CutDetails joins cuts into one line for a timeline entry.
func CutDetails(cuts []Cut) string {
	parts := make([]string, 0, len(cuts))
	for _, c := range cuts {
		parts = append(parts, c.Detail)
	}
	return "pagerd truncated this alert to fit its limits: " + strings.Join(parts, "; ")
}

// CutLabel tells whether a label name or value read back from an
// incident's details is one that pagerd cut to MaxLabelBytes, and if so
// the part of the original it kept: capValue keeps the first
// MaxLabelBytes-3 bytes (up to 3 fewer, at a rune boundary) and adds "…",
// so a cut one is 1021 to 1024 bytes ending in "…". A value that long that
// ended in "…" as sent reads as cut too; its kept part is still a prefix
// of it.
func CutLabel(s string) (kept string, cut bool) {
	// textcut.Bytes backs off at most UTFMax-1 bytes to a rune boundary.
	shortest := MaxLabelBytes - (utf8.UTFMax - 1)
	if len(s) > MaxLabelBytes || len(s) < shortest || !strings.HasSuffix(s, textcut.Ellipsis) {
		return s, false
	}
	return strings.TrimSuffix(s, textcut.Ellipsis), true
}
