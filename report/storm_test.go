package report

import (
	"testing"
	"time"
)

// TestFailedStormMessageIsOneFailedPage: a storm bundle is one page per
// person and channel however many incidents it carried, and so is a
// bundle that did not go out: the dispatcher writes its notify_failed
// entry, with the bundle's id, into every incident the message carried.
func TestFailedStormMessageIsOneFailedPage(t *testing.T) {
	cfg := loadSeed(t, "aivo.yaml")
	ny := mustZone(t, "America/New_York")
	const svc = "aivo-production"
	failedBundle := func(after time.Duration, user, channel, bundle string) step {
		s := failed(after, 1, user, channel)
		s.bundle, s.detail = bundle, "via twilio, in one message for 3 incidents (alert storm): 21610 unsubscribed"
		return s
	}
	// Three P2s a second apart on Monday 10:00: their pushes go out as one
	// storm message, their SMS as another that Twilio refuses.
	var incs []Incident
	for _, id := range []string{"s1", "s2", "s3"} {
		incs = append(incs, incident(ny, id, svc, "P2", "2025-10-06 10:00", "Disk filling on "+id, alertmanager("DiskFilling", 1),
			bundled(10*time.Second, 1, "jennifer", "push", "b-push"), failedBundle(2*m, "jennifer", "sms", "b-sms"),
			ack(4*m, 1, "jennifer"), resolve(30*m, "jennifer")))
	}
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 8, 0, 0, 0, ny), To: time.Date(2025, 10, 13, 8, 0, 0, 0, ny)}, incs)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Total.Pages; p.Total != 1 || p.Failed != 1 {
		t.Errorf("total: %d pages, %d failed; want 1 and 1", p.Total, p.Failed)
	}
	for _, e := range r.Engineers {
		if e.User == "jennifer" && (e.Pages.Total != 1 || e.Pages.Failed != 1) {
			t.Errorf("jennifer: %d pages, %d failed; want 1 and 1", e.Pages.Total, e.Pages.Failed)
		}
	}
	if len(r.Services) != 1 || r.Services[0].Pages.Failed != 1 {
		t.Errorf("service: %+v", r.Services)
	}
}
