package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/textcut"
	"github.com/pagerd/pagerd/policy"
)

// TestOpsgenieAcknowledgementRecordsUserAndNote: an Opsgenie-compatible
// acknowledge names who acknowledged (user) and what they wrote (note).
// The incident and its ack entry name that person, the config user the
// name is (id, email or display name) or else the name marked as
// Opsgenie's, never ann, who was paged; the entry keeps the note, on one
// line and cut (a 1 MB note is not kept whole), as its note, on both
// stores (the Redis store writes entries by hand). A close names its
// user too. (Before, both were ignored: "opsgenie" acknowledged, no note.)
func TestOpsgenieAcknowledgementRecordsUserAndNote(t *testing.T) {
	huge, _ := json.Marshal(strings.Repeat("all hands on db1. ", 1<<20/18))
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name, body, by, note string
			}{
				{"a config user by id, with a note", `{"user":"bob","source":"cli","note":"taking it:\nrestarting db1\u001b[2J"}`, "bob", "taking it: restarting db1 [2J"},
				{"a config user by display name", `{"user":" BOB "}`, "bob", ""},
				{"someone not in the config", `{"user":"dana@corp.example","note":"mine"}`, "opsgenie:dana@corp.example", "mine"},
				{"no user", `{"note":"from a script"}`, "opsgenie", "from a script"},
				{"no body", ``, "opsgenie", ""},
				{"a 1 MB note", `{"user":"bob","note":` + string(huge) + `}`, "bob", "all hands on db1."},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, withStore(mk(t)), withConfig(ogConfig))
					h.og("POST", "/v2/alerts", `{"message":"DB down","alias":"db-down","priority":"P1"}`, 202)
					id := h.list("")[0].ID
					h.step(fixedNow)
					h.og("POST", "/v2/alerts/db-down/acknowledge?identifierType=alias", tc.body, 202)
					v := h.incident(id)
					if v.Status != policy.StatusAcknowledged || v.AcknowledgedBy != tc.by {
						t.Fatalf("after acknowledge: %s by %q, want by %q", v.Status, v.AcknowledgedBy, tc.by)
					}
					var ack *store.Entry
					for i := range v.Timeline {
						if v.Timeline[i].Type == "ack" {
							ack = &v.Timeline[i]
						}
					}
					if ack == nil || ack.Actor != tc.by || ack.User != tc.by || ack.Detail != "level primary" {
						t.Fatalf("the ack entry: %+v, want by %q", ack, tc.by)
					}
					if tc.name == "a 1 MB note" {
						if len(ack.Note) > policy.MaxNoteBytes || !utf8.ValidString(ack.Note) ||
							!strings.HasPrefix(ack.Note, tc.note) || !strings.HasSuffix(ack.Note, textcut.Ellipsis) {
							t.Fatalf("a 1 MB note is kept as %d bytes: %.80q…", len(ack.Note), ack.Note)
						}
					} else if ack.Note != tc.note {
						t.Fatalf("the ack entry's note is %q, want %q", ack.Note, tc.note)
					}
					h.og("POST", "/v2/alerts/db-down/close?identifierType=alias", tc.body, 202)
					if v := h.incident(id); v.Status != policy.StatusResolved || v.ResolvedBy != tc.by {
						t.Fatalf("after close: %s by %q, want by %q", v.Status, v.ResolvedBy, tc.by)
					}
				})
			}
		})
	}
}

// TestOpsgenieCloseRecordsNote: Opsgenie's close takes a note ("fixed by
// the rollback of 4.2"), as its acknowledge does; it was answered 202 and
// dropped. The resolve entry keeps it, cleaned and cut as an
// acknowledgement's is, on both stores.
func TestOpsgenieCloseRecordsNote(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(ogConfig))
			h.og("POST", "/v2/alerts", `{"message":"DB down","alias":"db-down","priority":"P1"}`, 202)
			id := h.list("")[0].ID
			h.og("POST", "/v2/alerts/db-down/close?identifierType=alias", `{"user":"bob","source":"cli","note":"fixed by the\nrollback of 4.2"}`, 202)
			v := h.incident(id)
			var resolve *store.Entry
			for i := range v.Timeline {
				if v.Timeline[i].Type == "resolve" {
					resolve = &v.Timeline[i]
				}
			}
			if v.Status != policy.StatusResolved || resolve == nil || resolve.Actor != "bob" || resolve.Note != "fixed by the rollback of 4.2" {
				t.Fatalf("after a close with a note: %s, the resolve entry %+v", v.Status, resolve)
			}
		})
	}
}
