package store

import "context"

// quietKey marks a context as an alert's from a sender with nothing else
// in flight (WithQuietSender).
type quietKey struct{}

// WithQuietSender marks ctx as carrying the alert of a sender that had
// nothing else in flight when it came, which the intake let in on one of
// its reserved slots. The embedded store writes such an alert ahead of
// the alerts queued for its commits, as it does the dispatcher's writes:
// in another sender's flood, that sender's one alert would otherwise wait
// behind hundreds of the flood's (in the load run's flood, 69–101 ms).
// The reserved slots bound how many alerts go ahead at once.
func WithQuietSender(ctx context.Context) context.Context {
	return context.WithValue(ctx, quietKey{}, true)
}

// QuietSender reports whether ctx was marked by WithQuietSender.
func QuietSender(ctx context.Context) bool {
	v, _ := ctx.Value(quietKey{}).(bool)
	return v
}
