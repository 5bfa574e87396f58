package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/outcomes"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/slack"
	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

// The daemon's side of Slack: what an incident's channel message says and
// when it changes (the outbox handler the dispatcher runs), where a
// schedule's handoff document goes, and who is on call for /oncall.
// notify/slack does the talking.

// slackPosted starts the timeline entry that records where an incident's
// channel message is: "message <channel> <ts> posted to <channel>". The
// entry expires with the incident, and no other replica needs to know.
const slackPosted = "message "

// slackOutbox brings incidents' channel messages up to date.
type slackOutbox struct {
	client *slack.Client
	store  store.Store
	config func() *policy.Config
	now    func() time.Time
	log    *slog.Logger
	// posts is pagerd_slack_channel_posts_total{result}: a channel that
	// refuses pagerd for good (renamed, archived, the app removed from
	// it) stays silent on every incident, and only a count an alert
	// watches makes that seen.
	posts *prometheus.CounterVec
}

// The results pagerd_slack_channel_posts_total counts: the message posted
// or brought up to date; a failure Slack may get over, tried again
// later; a refusal that will not change, given up.
const (
	slackPostSent    = "sent"
	slackPostFailed  = "failed"
	slackPostRefused = "refused"
)

// newSlackChannelPosts registers pagerd_slack_channel_posts_total with
// every result at 0, whether Slack is configured or not: a series that is
// missing always means something.
func newSlackChannelPosts(reg prometheus.Registerer) *prometheus.CounterVec {
	return outcomes.Counter(reg, "pagerd_slack_channel_posts_total",
		"Tries to post or update incidents' messages in their services' Slack channels, by result (sent, failed: retried, refused: given up for good).",
		slackPostSent, slackPostFailed, slackPostRefused)
}

// handle is the dispatcher's handler of store.OutboxSlack items: the first
// posts the incident's message to its service's channel and records where
// it is; each later one updates it in place and says in its thread what
// happened (a change of the summary, incident.ChatSummary, only updates
// it). An item whose message cannot be found (posting failed for
// good) posts it then, so the channel always ends up with the incident as
// it stands; so does one whose message was deleted. A post whose answer
// was lost is looked for in the channel before it is posted again (lost).
// Failures Slack may get over are retried; a refusal that will
// not change (no such channel, the app not in it) is recorded, logged at
// Error, counted and given up.
func (o *slackOutbox) handle(ctx context.Context, inc *store.Incident, item store.OutboxItem, earlier []store.Entry) (store.Entry, error) {
	cfg := o.config()
	svc := cfg.Service(inc.Service)
	if !incident.ChatConfigured(cfg, inc.Service) {
		// Owed before a reload that set notifiers.slack.dry_run or made
		// the service a shadow (or took its channel out): held back,
		// as at the change that owed it, since either keeps the
		// channel from hearing of the service's incidents.
		return store.Entry{}, nil
	}
	tl, err := o.store.Timeline(ctx, inc.ID)
	if err != nil {
		return store.Entry{}, err
	}
	tl = append(tl, earlier...)
	card := slackCard(cfg, inc)
	now := o.now().UTC().Truncate(time.Millisecond)
	ref, ok := slackRef(tl)
	var found store.Entry // where a post whose answer was lost put it
	if !ok {
		if ref, ok, err = o.lost(ctx, inc, tl, svc.SlackChannel); err != nil {
			return store.Entry{}, err
		}
		if !ok {
			return o.post(ctx, inc, item, card, svc.SlackChannel, svc.SlackChannel, "", now)
		}
		found = slackFound(ref, svc.SlackChannel, now)
	}
	err = o.client.Update(ctx, ref, card)
	if slack.ErrorCode(err) == "message_not_found" {
		// Deleted in the channel (a cleanup, a misclick): refused for
		// good, every later change would be too, and the channel would
		// never hear of the incident again. It is posted again, as it
		// stands, where it was; later changes update the new message.
		r, ok, err := o.lost(ctx, inc, tl, ref.Channel)
		if err != nil {
			return store.Entry{}, err
		}
		if !ok || r == ref {
			return o.post(ctx, inc, item, card, ref.Channel, svc.SlackChannel, " again: the message there was deleted", now)
		}
		ref, found = r, slackFound(r, ref.Channel, now)
		err = o.client.Update(ctx, ref, card)
	}
	if err == nil && item.Action != "trigger" && item.Action != incident.ChatSummary {
		err = o.client.Reply(ctx, ref, slackReply(cfg, inc, item, tl))
	}
	if err != nil {
		e, err := o.failed(inc, item, svc.SlackChannel, err, fmt.Sprintf("message not updated for the %s", item.Action), now)
		if e.Type == "" {
			e = found // the card found is recorded, and the update tried again
		}
		return e, err
	}
	o.posts.WithLabelValues(slackPostSent).Inc()
	return found, nil
}

// post posts the incident's message to channel (again: a deleted one's,
// saying why); a refusal names the service's channel, configured. A post
// Slack may have taken though its answer was lost (notify.ErrMaybeSent)
// is retried like any failure Slack may get over, and recorded
// (slackMaybePosted): the next try looks for the message in the channel
// before it posts, since a second post would leave the incident in the
// channel twice, one of the two never brought up to date.
func (o *slackOutbox) post(ctx context.Context, inc *store.Incident, item store.OutboxItem, card slack.Card, channel, configured, again string,
	now time.Time) (store.Entry, error) {
	r, err := o.client.Post(ctx, channel, card)
	switch {
	case errors.Is(err, notify.ErrMaybeSent):
		o.posts.WithLabelValues(slackPostFailed).Inc()
		return store.Entry{At: now, Type: "slack", Detail: fmt.Sprintf("%s%s: %v", slackMaybePosted, channel, err)}, err
	case err != nil && again != "":
		return o.failed(inc, item, configured, err, fmt.Sprintf("message deleted, and not posted again to %s", channel), now)
	case err != nil:
		return o.failed(inc, item, configured, err, fmt.Sprintf("not posted to %s", channel), now)
	}
	o.posts.WithLabelValues(slackPostSent).Inc()
	return store.Entry{At: now, Type: "slack", Detail: slackPosted + r.String() + " posted to " + channel + again}, nil
}

// slackMaybePosted starts the timeline entry of a post of the incident's
// channel message that Slack may have taken, its answer lost: "maybe
// posted to <channel>: <error>" (not slackPosted's start: where the
// message is, if it is, is not known).
const slackMaybePosted = "maybe posted to "

// slackClockSkew is how far before a post whose answer was lost its
// message is looked for: the message's ts is Slack's clock, the post's
// time pagerd's.
const slackClockSkew = time.Minute

// lost finds the incident's channel message in channel when a post of it
// since the message last recorded may have gone out, its answer lost
// (slackMaybePosted): it is looked for in the channel's history from
// that post to the last such post's time, by the metadata each carries.
// ok is false when there was no such post, when the message is not there
// (Slack did not take it), or when the history cannot be read (logged):
// the message is then posted, since one missing is worse than two. Slack's 429 to the reading (its
// rate limits allow an app not approved for its Marketplace one read a
// minute, and it answers 429 most when it struggles, when answers get
// lost) is no such failure: the error returned (dispatch.RetryAfter)
// has the outbox item tried again once Slack's Retry-After has passed,
// its "maybe posted" entry kept, so that the next try looks again
// rather than post a second message.
func (o *slackOutbox) lost(ctx context.Context, inc *store.Incident, tl []store.Entry, channel string) (slack.Ref, bool, error) {
	var since, last time.Time
	for i := len(tl) - 1; i >= 0; i-- {
		e := tl[i]
		if e.Type != "slack" {
			continue
		}
		if strings.HasPrefix(e.Detail, slackMaybePosted) {
			since = e.At // the earliest since the last recorded
			if last.IsZero() {
				last = e.At
			}
			continue
		}
		if strings.HasPrefix(e.Detail, slackPosted) {
			break
		}
	}
	if since.IsZero() {
		return slack.Ref{}, false, nil
	}
	// Only the messages of those posts' time are read: a try long after
	// them (past Slack's Retry-After, a dispatcher behind) in a busy
	// channel read every message since, up to the 1,000 it reads, and
	// posted the card again when they were more. An entry's time is when
	// its outbox item started: its post went out after at most an update,
	// a reading of the history and the post itself, each within the
	// client's timeout.
	to := last.Add(slackClockSkew + 3*o.client.Timeout())
	ref, ok, err := o.client.FindCard(ctx, channel, inc.ID, since.Add(-slackClockSkew), to)
	if wait, limited := slack.RetryAfter(err); limited {
		o.posts.WithLabelValues(slackPostFailed).Inc()
		return slack.Ref{}, false, dispatch.RetryAfter(wait, fmt.Errorf("the incident's channel message may have been posted, "+
			"and Slack rate-limited the reading of the channel's history to find it; not posted again: %w", err))
	}
	if err != nil {
		o.log.Warn("slack: the incident's channel message may have been posted, and the channel's history could not be read to find it; posting it again",
			"incident", inc.ID, "channel", channel, "err", err)
		return slack.Ref{}, false, nil
	}
	return ref, ok, nil
}

// slackFound is the timeline entry of the incident's channel message
// found in channel after a post whose answer was lost.
func slackFound(ref slack.Ref, channel string, now time.Time) store.Entry {
	return store.Entry{At: now, Type: "slack", Detail: slackPosted + ref.String() + " posted to " + channel + ", found there after Slack's answer to the post was lost"}
}

// failed counts a failed post or update of an incident's channel message.
// A failure Slack may get over is returned, for the outbox to try again;
// a refusal for good is given up: recorded in the timeline (what says it,
// prefixed to the error), and returned as dispatch.Refused, which the
// dispatcher counts and logs at Error with Slack's reason, since nobody
// reads the timeline of an incident whose channel stays silent.
//
// Slack's 429 (chat.update, a thread reply, a post) is retried no sooner
// than its Retry-After (dispatch.RetryAfter, which bounds the wait at the
// outbox's longest backoff, 30 minutes): tried at the outbox's own
// backoff, 30 s after the first failure, it came inside Slack's wait, was
// refused again, and counted against the app's rate once more.
func (o *slackOutbox) failed(inc *store.Incident, item store.OutboxItem, channel string, err error, what string, now time.Time) (store.Entry, error) {
	if !slack.IsPermanent(err) {
		o.posts.WithLabelValues(slackPostFailed).Inc()
		if wait, limited := slack.RetryAfter(err); limited {
			return store.Entry{}, dispatch.RetryAfter(wait, err)
		}
		return store.Entry{}, err
	}
	o.posts.WithLabelValues(slackPostRefused).Inc()
	return store.Entry{At: now, Type: "slack_failed", Detail: fmt.Sprintf("%s: %v", what, err)},
		dispatch.Refused("slack: the incident's channel message was refused for good; the channel is not told of it", err,
			"service", inc.Service, "channel", channel, "slack_error", slack.ErrorCode(err))
}

// slackRef finds where the incident's channel message is, from the
// timeline.
func slackRef(tl []store.Entry) (slack.Ref, bool) {
	for i := len(tl) - 1; i >= 0; i-- {
		if e := tl[i]; e.Type == "slack" && strings.HasPrefix(e.Detail, slackPosted) {
			f := strings.Fields(strings.TrimPrefix(e.Detail, slackPosted))
			if len(f) >= 2 {
				return slack.ParseRef(f[0] + " " + f[1])
			}
		}
	}
	return slack.Ref{}, false
}

// slackCard is an incident as its channel message shows it.
func slackCard(cfg *policy.Config, inc *store.Incident) slack.Card {
	st := inc.State
	level := fmt.Sprint(st.Level + 1)
	if name := cfg.IncidentLevelName(&st); name != "" {
		level += " (" + name + ")"
	}
	c := slack.Card{Incident: inc.ID, Service: inc.Service, Priority: st.Priority, Summary: inc.Summary, Status: string(st.Status),
		Level: level, Escalated: st.Level > 0, AtLevel: st.Level + 1, AtLevelSince: st.LevelStartedAt}
	if st.AcknowledgedBy != "" {
		c.AcknowledgedBy = cfg.UserName(st.AcknowledgedBy)
	}
	if st.ResolvedBy != "" {
		c.ResolvedBy = cfg.UserName(st.ResolvedBy)
	}
	return c
}

// slackReply says in the message's thread what an outbox item's change
// was: the timeline entry of the action that owed the item (its id names
// the action's time and level, incident.ChatItems), or the latest of its
// kind when none matches. Not simply the latest: items held while Slack
// was down go out after later changes of their kind, and the thread said
// "Acknowledged by Bob" for Ann's acknowledgement before a reopen.
func slackReply(cfg *policy.Config, inc *store.Incident, item store.OutboxItem, tl []store.Entry) string {
	action := item.Action
	kind := map[string]string{"acknowledge": "ack", "resolve": "resolve", "escalate": "escalate", "status_update": "status_update"}[action]
	ms, level, keyed := int64(0), 0, false
	if key, ok := strings.CutPrefix(item.ID, "slack-"+action+"-"); ok {
		a, b, _ := strings.Cut(key, ".")
		var err1, err2 error
		ms, err1 = strconv.ParseInt(a, 10, 64)
		level, err2 = strconv.Atoi(b)
		keyed = err1 == nil && err2 == nil
	}
	var e store.Entry
	found := false
	for i := len(tl) - 1; i >= 0; i-- {
		if tl[i].Type != kind {
			continue
		}
		if !found {
			e, found = tl[i], true // the latest, unless the item's own is found
			if !keyed {
				break
			}
		}
		if keyed && tl[i].At.UnixMilli() == ms && tl[i].Level == level+1 {
			e = tl[i]
			break
		}
	}
	who := cfg.UserName(e.Actor)
	switch action {
	case "acknowledge":
		if e.Note != "" {
			// What they wrote with it in another system (Opsgenie's
			// note), or why their act there acknowledged this one (a
			// PagerDuty incident holding its alert acknowledged or
			// merged away): the channel reads why, not only who.
			return fmt.Sprintf("Acknowledged by %s: %s", who, e.Note)
		}
		return "Acknowledged by " + who
	case "resolve":
		return "Resolved by " + who
	case "status_update":
		return fmt.Sprintf("Status update by %s: %s", who, e.Detail)
	}
	text := fmt.Sprintf("Escalated to level %d", e.Level)
	if e.Detail != "" {
		text += ": " + e.Detail
	}
	if e.Actor != "" && e.Actor != "pagerd" {
		text += " (by " + who + ")"
	}
	return text
}

// slackHandoffs posts each schedule's handoff document to the team's
// channel, the one its shift notices go to (notices.slack_channel), in the
// schedule's template. Like shift notices, and unlike pages, it is held
// back by notifiers.slack.dry_run only: a document is about a schedule,
// not a service, so services' shadow mode does not reach it. The config is
// read at each handoff, so a reload that sets the channel or dry_run takes
// effect at the next one.
func slackHandoffs(client *slack.Client, config func() *policy.Config) history.HandoffPoster {
	return func(ctx context.Context, schedule string, doc *report.HandoffDoc) error {
		cfg := config()
		if err := slackHandoffHeld(cfg, schedule); err != nil {
			return err
		}
		channel := cfg.Schedule(schedule).Notices.SlackChannel
		err := client.PostDocument(ctx, channel, doc.String(), doc.Template == policy.HandoffMarkdown)
		if slack.IsPermanent(err) {
			return fmt.Errorf("%w: %s: %v", history.ErrRefused, channel, err)
		}
		return err
	}
}

// slackHandoffHeld says why the config holds back a schedule's handoff
// document from Slack (an error wrapping history.ErrNotPosted), or nil
// when it is posted. The handoff job asks it before making the document
// (history.Handoffs.Check), and slackHandoffs again before posting it.
func slackHandoffHeld(cfg *policy.Config, schedule string) error {
	sc := cfg.Schedule(schedule)
	switch {
	case sc == nil:
		return fmt.Errorf("%w: schedule %s is not in the config", history.ErrNotPosted, schedule)
	case sc.Notices == nil || sc.Notices.SlackChannel == "":
		return fmt.Errorf("%w: schedule %s names no team channel (schedules[].notices.slack_channel)", history.ErrNotPosted, schedule)
	case !cfg.Notifiers.Slack.Configured():
		return fmt.Errorf("%w: notifiers.slack is no longer configured", history.ErrNotPosted)
	case cfg.DryRun("slack"):
		return fmt.Errorf("%w: notifiers.slack.dry_run (it would have gone to %s)", history.ErrNotPosted, sc.Notices.SlackChannel)
	}
	return nil
}

// slackOnCall answers /oncall: every tier of every schedule (or one) now,
// and who holds it next, by the config with the run-time overrides.
func slackOnCall(config func() *policy.Config, now func() time.Time) func(ctx context.Context, schedule string) (slack.OnCall, error) {
	return func(ctx context.Context, schedule string) (slack.OnCall, error) {
		cfg := config()
		t := now()
		rows, err := cfg.WhoIsOnCall(t, schedule)
		if err != nil {
			return slack.OnCall{}, errors.New("No schedule " + schedule + ": try /oncall without a name")
		}
		var oc slack.OnCall
		for _, r := range rows {
			oc.Now = append(oc.Now, slack.Shift{Schedule: r.Schedule, Tier: r.Tier, User: r.User, Name: r.Name, From: r.From,
				Until: r.Until, Override: r.Reason})
			if sh, ok := cfg.Schedule(r.Schedule).NextOnCall(r.Tier, r.Until, t); ok {
				oc.Next = append(oc.Next, slack.Shift{Schedule: r.Schedule, Tier: r.Tier, User: sh.User,
					Name: cfg.UserName(sh.User), From: sh.From, Until: sh.Until, Override: sh.Override})
			}
		}
		return oc, nil
	}
}
