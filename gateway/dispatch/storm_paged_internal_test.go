package dispatch

import (
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
)

// TestPagedInMessageIsThisPersonsOnThisChannelForThisStep: a storm
// message stands for a step taken over or due again only when it went to
// the step's person on the step's channel, for that step (the page held
// for it), once it was due, since the incident's last reopen, and no
// report says it reached nobody. Any other message (someone else's, on
// another channel, for another step, before the step, failed) would have
// cost a page nobody sent.
func TestPagedInMessageIsThisPersonsOnThisChannelForThisStep(t *testing.T) {
	due := time.Date(2025, 9, 10, 6, 4, 50, 0, time.UTC)
	note := store.Entry{At: due.Add(10 * time.Second), Type: "notify", Level: 1, User: "ann", Channel: "push", Bundle: "b1",
		Detail: "via log, in one message for 2 incidents (alert storm)", Step: "1.1", ReopenedKnown: true}
	edit := func(f func(e *store.Entry)) []store.Entry { e := note; f(&e); return []store.Entry{e} }
	for _, c := range []struct {
		name string
		tl   []store.Entry
		want bool
	}{
		{"its message", []store.Entry{note}, true},
		{"its message, at the step's time", edit(func(e *store.Entry) { e.At = due }), true},
		{"someone else's", edit(func(e *store.Entry) { e.User = "bob" }), false},
		{"on another channel", edit(func(e *store.Entry) { e.Channel = "sms" }), false},
		{"for another step", edit(func(e *store.Entry) { e.Step = "1.4" }), false},
		{"before the step was due", edit(func(e *store.Entry) { e.At = due.Add(-time.Second) }), false},
		{"failed", edit(func(e *store.Entry) { e.Type = "notify_failed" }), false},
		{"a page on its own", edit(func(e *store.Entry) { e.Bundle = "" }), false},
		{"reported reaching nobody", []store.Entry{note,
			{At: note.At.Add(time.Second), Type: incident.DeliveryFailed, User: "ann", Channel: "push", Bundle: "b1", Unreached: true}}, false},
		{"reported reaching nobody before its note", []store.Entry{
			{At: note.At.Add(time.Second), Type: incident.DeliveryFailed, User: "ann", Channel: "push", Bundle: "b1", Unreached: true}, note}, false},
		{"another message reported reaching nobody", []store.Entry{note,
			{At: note.At.Add(time.Second), Type: incident.DeliveryFailed, User: "ann", Channel: "push", Bundle: "b0", Unreached: true}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := pagedInMessage(c.tl, "ann", "push", "1.1", due, 0)
			if ok != c.want || (ok && got.Bundle != "b1") {
				t.Errorf("pagedInMessage = %+v, %v; want %v", got, ok, c.want)
			}
		})
	}
	if _, ok := pagedInMessage([]store.Entry{note}, "ann", "push", "1.1", due, 1); ok {
		t.Error("a message before the incident's reopen stands for a step after it")
	}
}
