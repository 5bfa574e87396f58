package notify

import (
	"context"
	"sync"
)

type sentRefKey struct{}

// sentRef is where a transport leaves the provider's id of what a send
// created.
type sentRef struct {
	mu  sync.Mutex
	ref string
}

// WithSentRef gives a send a place for the provider's id of what it
// created (Twilio's SMS or call SID): the dispatcher records it on the
// page's timeline entry, so that the page's delivery report finds it by
// it, and an acknowledgement can reach what the page left ringing (a
// call still queued or ringing is cancelled). ref reads
// it once the send returns: "" when the transport set none (it has no
// such id, or the send failed). Notifier keeps its one method; a
// transport that has no use for it ignores it.
func WithSentRef(ctx context.Context) (_ context.Context, ref func() string) {
	r := &sentRef{}
	return context.WithValue(ctx, sentRefKey{}, r), func() string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.ref
	}
}

// SetSentRef records, for the send ctx carries (WithSentRef), the
// provider's id of what it created; without a place for it, it does
// nothing. A send tried again after a failure records its last try's.
func SetSentRef(ctx context.Context, ref string) {
	r, _ := ctx.Value(sentRefKey{}).(*sentRef)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ref = ref
}
