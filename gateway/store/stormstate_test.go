package store

import (
	"testing"
	"time"
)

// TestStormStateSentBackIsPerWindow: when the provider first sent back a
// window's message counts for that window's message only. A flush that
// did not clear it (a replica of a version before it, in a rolling
// upgrade, writing the state back with its End moved) must not make the
// next window's message fail at its first 429.
func TestStormStateSentBackIsPerWindow(t *testing.T) {
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	r := StormRules{Window: 10 * time.Second, Immediate: 1}
	st := NewStormState()
	st.Admit(1, at, r)
	st.Admit(1, at, r)
	if got := st.SentBack(at.Add(time.Minute)); !got.Equal(at.Add(time.Minute)) {
		t.Fatalf("first send-back %v", got.Sub(at))
	}
	if got := st.SentBack(at.Add(2 * time.Minute)); !got.Equal(at.Add(time.Minute)) {
		t.Fatalf("second send-back says first %v, want 1m", got.Sub(at))
	}
	old := st
	old.End = at.Add(3 * time.Minute) // flushed without clearing it
	if got := old.SentBack(at.Add(4 * time.Minute)); !got.Equal(at.Add(4 * time.Minute)) {
		t.Fatalf("the next window's first send-back says %v, want 4m: the last window's counted", got.Sub(at))
	}
	st.Flushed(1, 1, at.Add(3*time.Minute), r)
	if !st.SentBackAt.IsZero() || !st.SentBackEnd.IsZero() {
		t.Fatalf("Flushed kept %v for %v", st.SentBackAt, st.SentBackEnd)
	}
}
