package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify"
)

// stormTwoServices is stormConfig with service web paged to ann too, so
// that one storm message carries incidents of both services.
var stormTwoServices = strings.Replace(stormConfig, "    escalation_policy: w\n", "    escalation_policy: p\n", 1)

// stormWithoutWeb is stormTwoServices without service web: the config a
// restart comes back on.
var stormWithoutWeb = stormTwoServices[:strings.Index(stormTwoServices, "  - name: web\n")]

// bundleOfTwoServices fires a storm of 12 for ann, alternately of api and
// web, sends its message, and puts a config without web in force, as a
// restart onto it would (a reload refuses it while web has open
// incidents). It returns the held incidents of each service and the
// message's link.
func bundleOfTwoServices(t *testing.T, h *harness) (api, web []string, link string) {
	t.Helper()
	var ids []string
	service := map[string]string{}
	for i := range 12 {
		key, svc := amKey, "api"
		if i%2 == 1 {
			key, svc = webKey, "web"
		}
		id := fireAs(h, key, fmt.Sprintf("g%02d", i), "critical")
		ids, service[id] = append(ids, id), svc
	}
	h.step(fixedNow)
	_, held := split(t, ids, h.rec.sentTo("ann", "push"))
	for _, id := range held {
		if service[id] == "web" {
			web = append(web, id)
		} else {
			api = append(api, id)
		}
	}
	if len(api) == 0 || len(web) == 0 {
		t.Fatalf("held %d of api and %d of web: the test does not test what it says", len(api), len(web))
	}
	h.step(fixedNow.Add(10 * time.Second))
	link = stormLink(t, h.rec.sentTo("ann", "push")[3])
	h.d.cfg.keeps = nil
	if err := h.reload(stormWithoutWeb); err != nil {
		t.Fatal(err)
	}
	return api, web, link
}

// TestStormAckLinkOneRefusedAcknowledgesTheRest: a storm message carries
// incidents of api and of web, and pagerd restarted onto a config without
// web: web's incidents can only be resolved. Ann's "Acknowledge all"
// acknowledged api's, and was answered 409 "Your acknowledgement was NOT
// recorded: pagerd refused it", so she believed the storm still paged
// her, and never learnt which incidents were left. The answer says how
// many were acknowledged, shows them so, and names those refused and why.
func TestStormAckLinkOneRefusedAcknowledgesTheRest(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormTwoServices))
			api, web, link := bundleOfTwoServices(t, h)
			r := h.do("POST", link+"/acknowledge", "")
			for _, id := range api {
				if v := h.incident(id); v.Status != "acknowledged" {
					t.Errorf("api's %s is %s after the bundle's acknowledgement", id, v.Status)
				}
			}
			for _, id := range web {
				if v := h.incident(id); v.Status != "triggered" {
					t.Errorf("web's %s is %s: a service gone can only be resolved", id, v.Status)
				}
			}
			if r.code != 200 || strings.Contains(r.body, "NOT recorded") {
				t.Fatalf("%d of %d acknowledged, the answer: %d %s", len(api), len(api)+len(web), r.code, r.body)
			}
			want := []string{fmt.Sprintf("Acknowledged %d of %d incidents", len(api), len(api)+len(web)),
				fmt.Sprintf("%d NOT acknowledged, refused", len(web)), `service &#34;web&#34; is no longer in the config`}
			for _, w := range want {
				if !strings.Contains(r.body, w) {
					t.Errorf("the answer does not say %q: %s", w, r.body)
				}
			}
			// It names the first five refused in the message's order,
			// which is the bundle's (when each was held), not
			// necessarily when each was opened.
			named := 0
			for _, id := range web {
				if strings.Contains(r.body, id) {
					named++
				}
			}
			if named != min(len(web), 5) {
				t.Errorf("the answer names %d of web's %d incidents, want %d: %s", named, len(web), min(len(web), 5), r.body)
			}
		})
	}
}

// TestStormReplyOneRefusedAcknowledgesTheRest: the same through a reply
// (an SMS "4", a key on the call, a Slack button: notify.Receiver). It was
// "NOT recorded: pagerd refused it" for the whole message.
func TestStormReplyOneRefusedAcknowledgesTheRest(t *testing.T) {
	h := newHarness(t, withStore(boltStore(t)), withConfig(stormTwoServices))
	api, web, _ := bundleOfTwoServices(t, h)
	bundle := h.rec.sentTo("ann", "push")[3].Incident
	acted, err := h.d.Incidents().AcknowledgePage(context.Background(), "ann", notify.Page{Target: bundle})
	if err != nil {
		t.Fatalf("%d of %d acknowledged, the answer: %v", len(api), len(api)+len(web), err)
	}
	want := []string{fmt.Sprintf("Acknowledged %d of %d incidents", len(api), len(api)+len(web)),
		fmt.Sprintf("%d NOT acknowledged, refused", len(web)), `service "web" is no longer in the config`, web[0]}
	for _, w := range want {
		if !strings.Contains(acted.Storm, w) {
			t.Errorf("the answer %q does not say %q", acted.Storm, w)
		}
	}
	for _, id := range api {
		if v := h.incident(id); v.Status != "acknowledged" {
			t.Errorf("api's %s is %s after the bundle's acknowledgement", id, v.Status)
		}
	}
}

// TestStormReplyPartlyStoredSaysWhatWasStored: a reply to a storm message
// (notify.Receiver, as an SMS "4", a key on the call, a Slack button) that
// acknowledged one incident before the store refused the rest was
// answered "may not have been recorded" for the whole message. It says
// how many were acknowledged, and that the rest were not and why.
func TestStormReplyPartlyStoredSaysWhatWasStored(t *testing.T) {
	st := &updatesAllowed{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(stormConfig))
	ids := storm(h, 12, "g")
	h.step(fixedNow)
	_, held := split(t, ids, h.rec.sentTo("ann", "push"))
	h.step(fixedNow.Add(10 * time.Second))
	bundle := h.rec.sentTo("ann", "push")[3].Incident
	st.allow.Store(1)
	st.limited.Store(true)
	acted, err := h.d.Incidents().Act(context.Background(), bundle, "ann", notify.Acknowledge)
	st.limited.Store(false)
	if err != nil {
		t.Fatalf("1 of %d acknowledged, the answer: %v", len(held), err)
	}
	want := []string{fmt.Sprintf("Acknowledged 1 of %d incidents; %d NOT acknowledged (incident ", len(held), len(held)-1),
		fmt.Sprintf("and %d more): the incident store is unavailable, and their paging goes on; try again in a minute", len(held)-6)}
	for _, w := range want {
		if !strings.Contains(acted.Storm, w) {
			t.Errorf("the answer %q does not say %q", acted.Storm, w)
		}
	}
	named := 0
	for _, id := range held {
		if h.incident(id).Status == "triggered" && strings.Contains(acted.Storm, "incident "+id) {
			named++
		}
	}
	if named != 5 {
		t.Errorf("the answer names %d of the incidents not acknowledged, want 5: %s", named, acted.Storm)
	}
}
