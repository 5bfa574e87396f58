package twilio_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/twilio"
)

// receiver is pagerd as the callbacks see it: one person, one incident
// paged to them by SMS.
type receiver struct {
	acted []string
	// err, when set, is what acting returns; aboutErr what About does.
	err, aboutErr error
	// storm, when set, is what acting says it did, as for a storm
	// message (notify.Acted.Storm).
	storm string
	// about is what About answers.
	about notify.About
}

func (r *receiver) Act(_ context.Context, target, user string, a notify.Action) (notify.Acted, error) {
	if r.err != nil {
		return notify.Acted{}, r.err
	}
	if r.storm != "" {
		return notify.Acted{Storm: r.storm}, nil
	}
	r.acted = append(r.acted, target+" "+user+" "+string(a))
	return notify.Acted{Changed: true, Incident: target, Service: "api", Priority: "P0", Summary: "disk full"}, nil
}
func (r *receiver) EscalateFrom(ctx context.Context, user string, p notify.Page) (notify.Acted, error) {
	return r.Act(ctx, p.Target, user, notify.Escalate)
}
func (r *receiver) AcknowledgePage(ctx context.Context, user string, p notify.Page) (notify.Acted, error) {
	return r.Act(ctx, p.Target, user, notify.Acknowledge)
}
func (r *receiver) ResolvePage(ctx context.Context, user string, p notify.Page) (notify.Acted, error) {
	return r.Act(ctx, p.Target, user, notify.Resolve)
}
func (r *receiver) NotApplied(context.Context, string, notify.Page, notify.Action, string) (notify.Acted, error) {
	return notify.Acted{}, nil
}
func (r *receiver) Delivered(context.Context, string, notify.Delivery) error { return nil }
func (r *receiver) LastPaged(_ context.Context, user, channel string, _ bool, match func(string) bool) (notify.Page, error) {
	if user == "ann" && channel == "sms" && match("00-incidentab12") {
		return notify.Page{Target: "00-incidentab12", Level: 1}, nil
	}
	return notify.Page{}, nil
}
func (r *receiver) ResolvedPaged(context.Context, string, string, func(string) bool) ([]notify.Acted, error) {
	return nil, nil
}
func (r *receiver) About(context.Context, string) (notify.About, error) {
	return r.about, r.aboutErr
}
func (r *receiver) UserByAddress(channel, address string) string {
	if channel == "sms" && address == "+15555550111" {
		return "ann"
	}
	return ""
}
func (r *receiver) UsersByAddress(channel, address string) []string {
	if u := r.UserByAddress(channel, address); u != "" {
		return []string{u}
	}
	return nil
}
func (r *receiver) KnowsUser(user string) bool                        { return user == "ann" }
func (r *receiver) FirstAnswer(context.Context, string) (bool, error) { return true, nil }
func (r *receiver) PagedVia(context.Context, string, string, string) (bool, error) {
	return false, nil
}

// TestSMSReplyThroughTheReceiver: the SMS callback needs nothing of pagerd
// but the Receiver: a signed reply from a paged number acts as its owner,
// on what was paged to them, and says so.
func TestSMSReplyThroughTheReceiver(t *testing.T) {
	r := &receiver{}
	cb := &twilio.Callbacks{Receiver: r}
	srv := httptest.NewServer(handler(cb.SMS))
	defer srv.Close()
	cb.Settings = func() twilio.Settings {
		return twilio.Settings{AuthToken: providertest.TwilioToken, PublicURL: srv.URL}
	}
	reply := func(from, body string) string {
		u, form := srv.URL+twilio.SMSPath, url.Values{"From": {from}, "Body": {body}}
		_, out := providertest.TwilioPost(t, u, form, providertest.TwilioSign(providertest.TwilioToken, u, form))
		return out
	}
	if out := reply("+15555550999", "4"); !strings.Contains(out, "not on call here") {
		t.Fatalf("a stranger's reply: %s", out)
	}
	if out := reply("+15555550111", "4 ZZZZ"); !strings.Contains(out, "no open incident with code ZZZZ") {
		t.Fatalf("a wrong code: %s", out)
	}
	if out := reply("+15555550111", "ack ab12"); !strings.Contains(out, "pagerd: Acknowledged [P0] api: disk full (code AB12).") {
		t.Fatalf("an acknowledgement: %s", out)
	}
	if strings.Join(r.acted, ",") != "00-incidentab12 ann acknowledge" {
		t.Fatalf("acted: %v", r.acted)
	}
	if code, _ := providertest.TwilioPost(t, srv.URL+twilio.SMSPath, url.Values{"From": {"+15555550111"}, "Body": {"6"}}, "forged"); code != 403 {
		t.Fatalf("a forged reply: %d", code)
	}
}

// handler serves a callback as the daemon's HTTP layer does, a refusal
// answered with its status.
func handler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			code := http.StatusInternalServerError
			var re *notify.RequestError
			if errors.As(err, &re) {
				code = re.Status
			}
			http.Error(w, err.Error(), code)
		}
	})
}

// TestSMSReplyAsPhonesSendIt: what real phones and carriers send for "4":
// punctuation, a carrier's signature on the next lines, full-width and
// other scripts' digits, Crockford's look-alike letters in the code, the
// code run into the action, the keycap emoji 4️⃣ and invisible characters
// around a word. Each acts; words around the action do not.
func TestSMSReplyAsPhonesSendIt(t *testing.T) {
	r := &receiver{}
	cb := &twilio.Callbacks{Receiver: r}
	srv := httptest.NewServer(handler(cb.SMS))
	defer srv.Close()
	cb.Settings = func() twilio.Settings {
		return twilio.Settings{AuthToken: providertest.TwilioToken, PublicURL: srv.URL}
	}
	reply := func(body string) string {
		u, form := srv.URL+twilio.SMSPath, url.Values{"From": {"+15555550111"}, "Body": {body}}
		_, out := providertest.TwilioPost(t, u, form, providertest.TwilioSign(providertest.TwilioToken, u, form))
		return out
	}
	acts := []string{
		"4.", "Ack!", " ACK ", "4\n", "\n4", "4\n--\nSent from my T-Mobile", "Ack\r\nSent from Yahoo Mail on Android",
		"４", "٤", "４ ＡＢ１２", "4 ab12.", "4 ABI2", "4 abl2", "4AB12", "ack, ab12",
		// The keycap emoji of 4 (with and without its emoji
		// presentation selector), and the invisible characters a
		// keyboard or a paste leaves around a word (a zero-width space,
		// a byte-order mark, a bidirectional isolate).
		"4\ufe0f\u20e3", "4\u20e3", "\u200b4", "\ufeff4", "ack\u200b ab12", "4\u2069",
	}
	for _, body := range acts {
		r.acted = nil
		if out := reply(body); !strings.Contains(out, "pagerd: Acknowledged") || len(r.acted) != 1 || r.acted[0] != "00-incidentab12 ann acknowledge" {
			t.Errorf("%q: %s (acted %v)", body, out, r.acted)
		}
	}
	for _, body := range []string{"ok 4", "4 on it", "will do", "4 AB12 AB13", "44", "4444", ""} {
		r.acted = nil
		if out := reply(body); len(r.acted) != 0 || !strings.Contains(out, "reply 4 (ack)") {
			t.Errorf("%q acted or was not answered with the help: %s (acted %v)", body, out, r.acted)
		}
	}
	if out := reply("Ack 12"); len(r.acted) != 0 || !strings.Contains(out, "no open incident with code 12") {
		t.Errorf("a code that is not one: %s", out)
	}
}

// TestReplyRefusedSaysWhyAndDoesNotAskAgain: an action pagerd refuses as
// things stand (the incident's service left the config) is not "the store
// is unavailable, reply again": the person is told why, and the call does
// not gather a key that cannot act.
func TestReplyRefusedSaysWhyAndDoesNotAskAgain(t *testing.T) {
	r := &receiver{err: fmt.Errorf("service %q is no longer in the config: %w", "api", notify.ErrRefused)}
	cb := &twilio.Callbacks{Receiver: r}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h := cb.SMS
		if strings.HasPrefix(req.URL.Path, twilio.GatherPath) {
			h = cb.Gather
		}
		handler(h).ServeHTTP(w, req)
	}))
	defer srv.Close()
	cb.Settings = func() twilio.Settings {
		return twilio.Settings{AuthToken: providertest.TwilioToken, PublicURL: srv.URL}
	}
	post := func(u string, form url.Values) string {
		_, out := providertest.TwilioPost(t, u, form, providertest.TwilioSign(providertest.TwilioToken, u, form))
		return out
	}
	out := post(srv.URL+twilio.SMSPath, url.Values{"From": {"+15555550111"}, "Body": {"4"}})
	if !strings.Contains(out, "was NOT recorded: pagerd refused it (service") || !strings.Contains(out, "is no longer in the config") ||
		strings.Contains(out, "unavailable") || strings.Contains(out, "reply again") {
		t.Errorf("SMS reply refused: %s", out)
	}
	out = post(srv.URL+twilio.GatherPath+"?incident=00-incidentab12&user=ann&channel=voice", url.Values{"Digits": {"4"}})
	if !strings.Contains(out, "was not recorded: pagerd refused it") || strings.Contains(out, "<Gather") || !strings.Contains(out, "<Hangup") {
		t.Errorf("keypress refused: %s", out)
	}
}

// TestStormKeypressPartlyRefusedIsSaidNotSpelled: a 4 on a storm message's
// call that acknowledged some of its incidents and not others is answered
// with what it did to each, as a reply is; the call says "not", where the
// SMS's capitals would have the voice spell out N, O, T.
func TestStormKeypressPartlyRefusedIsSaidNotSpelled(t *testing.T) {
	r := &receiver{storm: `Acknowledged 5 of 9 incidents; 4 NOT acknowledged, refused (service "web" is no longer in the config: it can only be resolved): disk full (incident 00-x)`}
	cb := &twilio.Callbacks{Receiver: r}
	srv := httptest.NewServer(handler(cb.Gather))
	defer srv.Close()
	cb.Settings = func() twilio.Settings {
		return twilio.Settings{AuthToken: providertest.TwilioToken, PublicURL: srv.URL}
	}
	u := srv.URL + twilio.GatherPath + "?incident=b00-bundleab12&user=ann&channel=voice"
	form := url.Values{"Digits": {"4"}}
	_, out := providertest.TwilioPost(t, u, form, providertest.TwilioSign(providertest.TwilioToken, u, form))
	if !strings.Contains(out, "Acknowledged 5 of 9 incidents; 4 not acknowledged, refused") || strings.Contains(out, "NOT") {
		t.Errorf("4 on a storm call, partly refused: %s", out)
	}
}

// TestVoiceGreetingWithoutTheStoreSaysWhatTheCallCarries: a call answered
// while the incident cannot be read says what its URL carries, for one
// incident or an alert-storm message, and offers the keys.
func TestVoiceGreetingWithoutTheStoreSaysWhatTheCallCarries(t *testing.T) {
	r := &receiver{aboutErr: errors.New("store unavailable")}
	cb := &twilio.Callbacks{Receiver: r}
	srv := httptest.NewServer(handler(cb.Voice))
	defer srv.Close()
	cb.Settings = func() twilio.Settings {
		return twilio.Settings{AuthToken: providertest.TwilioToken, PublicURL: srv.URL}
	}
	for query, want := range map[string]string{
		"incident=00-incidentab12&user=ann&channel=voice&level=1&priority=P1&service=api":    "You are being paged for a P 1 incident on api, code A B 1 2.",
		"incident=00-incidentab12&user=ann&channel=voice":                                    "You are being paged, code A B 1 2.",
		"incident=00-incidentab12&user=ann&channel=voice&level=1&priority=SEV-1&service=api": "You are being paged for a sev 1 incident on api, code A B 1 2.",
		"incident=b-stormcd34&user=ann&channel=voice&priority=P0&incidents=8":                "you are being paged for 8 incidents, code C D 3 4. pagerd cannot read their details just now. Your key acts on all of them.",
	} {
		u, form := srv.URL+twilio.VoicePath+"?"+query, url.Values{"AnsweredBy": {"human"}}
		code, out := providertest.TwilioPost(t, u, form, providertest.TwilioSign(providertest.TwilioToken, u, form))
		if code != 200 || !strings.Contains(out, want) || !strings.Contains(out, "<Gather") {
			t.Errorf("%s: %d %s; want %q", query, code, out, want)
		}
	}
}

// TestStormCallGreetingOffersOnlyKeysThatApply: an alert-storm message's
// call answered once none of its incidents is unacknowledged offers 5 and
// 6, not 4 (which would acknowledge none); once all are resolved it says
// so and hangs up. (Before: it offered 4, 5 and 6 whatever they were.)
func TestStormCallGreetingOffersOnlyKeysThatApply(t *testing.T) {
	r := &receiver{}
	cb := &twilio.Callbacks{Receiver: r}
	srv := httptest.NewServer(handler(cb.Voice))
	defer srv.Close()
	cb.Settings = func() twilio.Settings {
		return twilio.Settings{AuthToken: providertest.TwilioToken, PublicURL: srv.URL}
	}
	for _, tc := range []struct {
		unacked, resolved int
		want              string
		gather            bool
	}{
		{2, 1, "Press 4 to acknowledge, 5 to escalate, 6 to resolve", true},
		{0, 1, "3 incidents, 0 of them not acknowledged. The most urgent, P 0, on api: disk full. Your key acts on all of them. Press 5 to escalate, 6 to resolve, or star to repeat.", true},
		{0, 3, "All of them are resolved. Nothing is left to do. Goodbye.", false},
	} {
		r.about = notify.About{Storm: true, Incidents: 3, Unacknowledged: tc.unacked, Resolved: tc.resolved, Priority: "P0", Top: "api: disk full"}
		u, form := srv.URL+twilio.VoicePath+"?incident=b-stormcd34&user=ann&channel=voice&priority=P0&incidents=3", url.Values{"AnsweredBy": {"human"}}
		code, out := providertest.TwilioPost(t, u, form, providertest.TwilioSign(providertest.TwilioToken, u, form))
		if code != 200 || !strings.Contains(out, tc.want) || strings.Contains(out, "<Gather") != tc.gather ||
			(tc.unacked == 0 && strings.Contains(out, "4 to acknowledge")) {
			t.Errorf("%d unacknowledged, %d resolved of 3: %d %s; want %q, gather %v", tc.unacked, tc.resolved, code, out, tc.want, tc.gather)
		}
	}
}
