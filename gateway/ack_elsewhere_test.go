package gateway

import (
	"net/url"
	"strings"
	"testing"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestSlackSaysWhoAcknowledgedInOpsgenieAndWhy: ann is paged; Bob
// acknowledges through the Opsgenie API with a note. The channel's card
// says Bob acknowledged, and its thread says so with his note (escaped
// for Slack). (Before: "acknowledged by opsgenie", and the note was lost.)
func TestSlackSaysWhoAcknowledgedInOpsgenieAndWhy(t *testing.T) {
	sl := providertest.NewSlack(t)
	cfg := strings.Replace(slackConfig(sl.URL), "integrations: {alertmanager_key: "+amKey+"}",
		"integrations: {alertmanager_key: "+amKey+", opsgenie_key: "+ogKey+"}", 1)
	h := newHarness(t, withConfig(cfg))
	h.og("POST", "/v2/alerts", `{"message":"db down","alias":"db","priority":"P1"}`, 202)
	h.step(fixedNow)
	h.og("POST", "/v2/alerts/db/acknowledge?identifierType=alias", `{"user":"bob","note":"rolling back <v2>\n& db1"}`, 202)
	h.step(h.clock.Now())
	m := channelMessages(sl, "CINCIDENTRESPONSE")
	if len(m) != 1 || !strings.Contains(m[0].Blocks, "acknowledged by Bob") || strings.Contains(m[0].Blocks, "acknowledged by Ann") {
		t.Fatalf("the card after Bob's acknowledgement in Opsgenie: %+v", m)
	}
	if want := "Acknowledged by Bob: rolling back &lt;v2&gt; &amp; db1"; len(m[0].Replies) != 1 || m[0].Replies[0] != want {
		t.Fatalf("the thread says %q, want %q", m[0].Replies, want)
	}
}

// TestConsoleShowsWhoAcknowledgedElsewhereAndTheirNote: an acknowledgement
// through the Opsgenie API by someone not in the config shows in the
// console's timeline as theirs, marked as Opsgenie's, with their note,
// escaped. (Before: "by opsgenie", no note.)
func TestConsoleShowsWhoAcknowledgedElsewhereAndTheirNote(t *testing.T) {
	h := newHarness(t, withConfig(strings.Replace(consoleConfig(t, ""),
		"integrations: {alertmanager_key: "+amKey+", pagerduty_routing_key: "+pdKey+"}",
		"integrations: {alertmanager_key: "+amKey+", pagerduty_routing_key: "+pdKey+", opsgenie_key: "+ogKey+"}", 1)))
	h.og("POST", "/v2/alerts", `{"message":"db down","alias":"db","priority":"P1"}`, 202)
	h.step(fixedNow)
	h.og("POST", "/v2/alerts/db/acknowledge?identifierType=alias", `{"user":"dana@corp.example","note":"<b>mine</b>"}`, 202)
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	id := h.list("")[0].ID
	page := ann.get("/ui/incidents/" + url.PathEscape(id))
	mustContain(t, "the incident", page.body, "by opsgenie:dana@corp.example", `<q class="note">&lt;b&gt;mine&lt;/b&gt;</q>`)
}
