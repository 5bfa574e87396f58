package gateway

import (
	"context"
	"testing"
	"time"
)

// TestStormMessageGoesOutThoughAnIncidentsRecordCannotBeRead: one of the
// incidents held in ann's storm has a record the store cannot decode. Its
// status could not be read, which failed the flush, at every claim: the
// message never went out, and every later page to ann by push past the
// storm's first three was held behind it, for good. Now the message goes
// out naming every incident held (whether any was acknowledged meanwhile
// is unknown: a page too many beats pages lost), and the storm is flushed.
func TestStormMessageGoesOutThoughAnIncidentsRecordCannotBeRead(t *testing.T) {
	st, srv := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(stormConfig))
	ids := storm(h, 5, "g")
	h.step(fixedNow)
	_, held := split(t, ids, h.rec.sentTo("ann", "push"))
	ctx := context.Background()
	direct := srv.Client(t)
	keys, err := direct.Keys(ctx, "*inc:"+held[0]).Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("the record of %s: %v %v", held[0], keys, err)
	}
	if err := direct.Set(ctx, keys[0], "not a record", 0).Err(); err != nil {
		t.Fatal(err)
	}
	h.step(fixedNow.Add(10 * time.Second))
	h.step(fixedNow.Add(41 * time.Second)) // a claim's lease later
	push := h.rec.sentTo("ann", "push")
	if len(push) != 4 || !sameSet(push[3].Incidents, held) || !push[3].At.Equal(fixedNow.Add(10*time.Second)) {
		t.Fatalf("ann got %d pushes, the last naming %v at %v; want 3 and one storm message naming %v at the window's end",
			len(push), push[len(push)-1].Incidents, push[len(push)-1].At, held)
	}
	if left, err := h.store.Held(ctx, "ann/push"); err != nil || len(left) != 0 {
		t.Fatalf("%d pages still held (%v): the storm was not flushed", len(left), err)
	}
}
