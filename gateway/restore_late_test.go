package gateway

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store/boltstore"
)

// repeatConfig is testConfig with a ladder that starts again five times
// (primary 15m, secondary 10m), so an hour holds two and a half rounds.
var repeatConfig = strings.Replace(strings.Replace(testConfig,
	"  - name: p\n    levels:", "  - name: p\n    repeat: 5\n    levels:", 1),
	"tier: secondary}]}", "tier: secondary}], timeout: 10m}", 1)

// TestRestoredBackupPagesEachPersonOncePerChannel: a backup taken a
// minute into an unacknowledged P0 is restored an hour later (a disk
// replaced; the same holds for an hour's outage or upgrade). Every step
// that came due in that hour is due at once, and the ladder is counted
// from each step's own time, so it has gone round twice since: each
// person is owed the level's pages, once. Ann was called three times at
// the same instant, and sent three SMS, one for each missed round. A
// step that a later step to the same person on the same channel, due as
// well, supersedes is recorded as skipped, not sent.
func TestRestoredBackupPagesEachPersonOncePerChannel(t *testing.T) {
	h := newHarness(t, withConfig(repeatConfig))
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"severity": "critical"}),
		"Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("alert: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(time.Minute))
	backup := h.api("GET", "/-/backup", "")
	if backup.code != 200 {
		t.Fatalf("backup: %d", backup.code)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := boltstore.Restore(strings.NewReader(backup.body), dir); err != nil {
		t.Fatal(err)
	}
	rs, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })

	restored := fixedNow.Add(time.Hour)
	r := newHarness(t, withConfig(repeatConfig), withStore(rs), startAt(restored))
	r.step(restored)
	r.step(restored) // anything the first look armed and left due
	count := map[string]int{}
	for _, l := range r.rec.lines(fixedNow) {
		f := strings.Fields(l)
		count[f[2]+" "+f[3]]++
	}
	for _, who := range []string{"ann push", "ann sms", "ann voice", "bob push", "bob sms", "bob voice"} {
		if count[who] != 1 {
			t.Errorf("%s paged %d times at the restored start, want once: %v", who, count[who], r.rec.lines(fixedNow))
		}
	}
	list := r.list("")
	if len(list) != 1 {
		t.Fatalf("incidents: %+v", list)
	}
	skipped := 0
	for _, e := range r.incident(list[0].ID).Timeline {
		if e.Type == "notify_skipped" {
			skipped++
			if !strings.Contains(e.Detail, "a later step") {
				t.Errorf("skipped page does not say why: %+v", e)
			}
		}
	}
	if skipped == 0 {
		t.Errorf("the steps not sent are not in the timeline")
	}
	if n := metric(t, r.reg, "pagerd_pages_total", "channel", "voice", "via", "log", "result", "skipped"); n != 3 {
		t.Errorf("pagerd_pages_total{channel=voice,result=skipped} = %v, want ann's two calls and bob's one", n)
	}
	if !strings.Contains(r.logs.String(), "each person is paged once a channel, the earlier steps are skipped") {
		t.Errorf("the log does not say steps were skipped:\n%s", r.logs)
	}
}

// TestOnTimeRepeatsStillPageEachRound: the same ladder worked on time
// pages ann at each round; nothing is skipped.
func TestOnTimeRepeatsStillPageEachRound(t *testing.T) {
	h := newHarness(t, withConfig(repeatConfig))
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"severity": "critical"}),
		"Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("alert: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(time.Hour))
	count := map[string]int{}
	for _, l := range h.rec.lines(fixedNow) {
		f := strings.Fields(l)
		count[f[2]+" "+f[3]]++
	}
	if count["ann voice"] != 3 || count["bob voice"] != 2 {
		t.Errorf("on time, ann called %d times and bob %d in an hour, want 3 and 2: %v", count["ann voice"], count["bob voice"], h.rec.lines(fixedNow))
	}
	for _, e := range h.incident(h.list("")[0].ID).Timeline {
		if e.Type == "notify_skipped" {
			t.Errorf("a step worked on time was skipped: %+v", e)
		}
	}
}
