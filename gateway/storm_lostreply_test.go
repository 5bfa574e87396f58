package gateway

import (
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// lostAdmitReply lets the first storm admit script sent once armed run
// in Redis, and loses its reply: the client sees a read timeout, as
// after a Redis that stalled past the client's timeout, then ran it.
type lostAdmitReply struct{ armed, lost atomic.Bool }

func (h *lostAdmitReply) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *lostAdmitReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if h.lose(cmd) {
			return cmd.Err()
		}
		return err
	}
}

func (h *lostAdmitReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if h.lose(cmd) {
				err = cmd.Err()
			}
		}
		return err
	}
}

// lose loses cmd's reply if it is the admit script's first call since
// armed (the only script naming a storm's held pages then).
func (h *lostAdmitReply) lose(cmd redis.Cmder) bool {
	args := cmd.Args()
	if len(args) < 4 || !h.armed.Load() || !strings.EqualFold(args[0].(string), "evalsha") {
		return false
	}
	if !slices.ContainsFunc(args, func(a any) bool { s, ok := a.(string); return ok && strings.Contains(s, "held:") }) {
		return false
	}
	if !h.armed.CompareAndSwap(true, false) {
		return false
	}
	h.lost.Store(true)
	cmd.SetErr(&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded})
	return true
}

// pageWithLostAdmitAnswer lets n of ann's storm's pages out at once, then
// fires the alert named and loses Redis's answer to its page's admission,
// a second later; it returns the harness and the incident.
func pageWithLostAdmitAnswer(t *testing.T, n int, name string) (*harness, string) {
	t.Helper()
	lost := &lostAdmitReply{}
	st, _ := redisStore(t, lost)
	h := newHarness(t, withStore(st), withConfig(stormConfig))
	storm(h, n, "g")
	h.step(fixedNow)
	if got := len(h.rec.sentTo("ann", "push")); got != n {
		t.Fatalf("ann got %d pushes at once, want %d", got, n)
	}
	h.clock.Set(fixedNow.Add(time.Second))
	id := fireAs(h, amKey, name, "critical")
	lost.armed.Store(true)
	h.step(fixedNow.Add(time.Second))
	if !lost.lost.Load() {
		t.Fatal("no admit's answer was lost: the test shows nothing")
	}
	return h, id
}

// TestStormPageWhoseAdmitAnswerWasLostPagesOnce: ann's storm has let its
// first three pages out; the fourth incident's page is held by the store,
// and Redis's answer is lost. Not knowing whether it was held, the
// dispatcher sent it on its own, and the storm's message carried it
// too: ann was paged twice for it, ten seconds apart. Now the dispatcher
// asks the store again, whose answer stands: held, it goes out in the
// message only.
func TestStormPageWhoseAdmitAnswerWasLostPagesOnce(t *testing.T) {
	h, id := pageWithLostAdmitAnswer(t, 3, "late")
	h.step(fixedNow.Add(11 * time.Second))
	var paged int
	for _, m := range h.rec.sentTo("ann", "push") {
		if m.Incident == id || slices.Contains(m.Incidents, id) {
			paged++
		}
	}
	if paged != 1 {
		t.Fatalf("ann was paged %d times for %s, whose page's admit answer was lost; want once", paged, id)
	}
}

// TestStormPageLetOutWhoseAdmitAnswerWasLostGoesOutAtOnce: ann's storm has
// let two pages out; the third incident's page is let out by the store
// (the third of three at once), and Redis's answer is lost. Asked again,
// the storm must not count it a second time: counted twice, the page
// that was the third to go at once was held to the window's end, ten
// seconds late.
func TestStormPageLetOutWhoseAdmitAnswerWasLostGoesOutAtOnce(t *testing.T) {
	h, id := pageWithLostAdmitAnswer(t, 2, "third")
	var alone int
	for _, m := range h.rec.sentTo("ann", "push") {
		if m.Incident == id {
			alone++
		}
	}
	if alone != 1 {
		t.Fatalf("ann got %d pages of %s on its own at once, want 1 (the third of three at once; its admit's answer was lost, and it was held)", alone, id)
	}
}
