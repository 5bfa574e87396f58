package importer

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// builder maps the neutral model onto a pagerd config, writing every
// difference into the report.
type builder struct {
	opt    Options
	vendor string
	rep    *Report
	out    outConfig

	userNames, scheduleNames, policyNames, serviceNames, calendarNames namespace

	people keyIndex[*person]
	userID map[*person]string

	schedules keyIndex[*schedule]
	// placed are the pagerd tiers each imported source schedule became,
	// and the tiers of each rotation.
	placed    map[*schedule][]outTarget
	rotPlaced map[*rotation][]outTarget

	ladders  keyIndex[*ladder]
	policyOf map[*ladder]string

	// twilio, smtp and slack: a contact uses the transport, so the
	// config gets its notifiers settings.
	twilio, smtp, slack bool
	emails              map[string]string
	slackUsers          map[string]string
	envs                namespace
}

func newBuilder(vendor string, opt Options, rep *Report) *builder {
	return &builder{
		opt: opt, vendor: vendor, rep: rep,
		userNames: namespace{}, scheduleNames: namespace{}, policyNames: namespace{}, serviceNames: namespace{}, calendarNames: namespace{},
		people: keyIndex[*person]{}, userID: map[*person]string{},
		schedules: keyIndex[*schedule]{}, placed: map[*schedule][]outTarget{}, rotPlaced: map[*rotation][]outTarget{},
		ladders: keyIndex[*ladder]{}, policyOf: map[*ladder]string{},
		emails: map[string]string{}, slackUsers: map[string]string{}, envs: namespace{},
	}
}

// build maps the whole source, in dependency order.
func (b *builder) build(src *source) {
	for _, p := range src.people {
		b.people.add(p.keys, p)
		b.user(p)
	}
	for _, s := range src.schedules {
		b.schedules.add(s.keys, s)
		b.schedule(s)
	}
	for _, l := range src.ladders {
		b.ladders.add(l.keys, l)
		b.policy(l)
	}
	for _, s := range src.services {
		b.service(s)
	}
	b.notifiers()
	if b.opt.PublicURL != "" {
		b.out.Server = &outServer{PublicURL: b.opt.PublicURL}
	}
}

// notifiers writes the settings of the transports the contacts use, every
// secret, login and address from the environment, so none is written into
// the file: check-config lists the variables that are not set, and pagerd
// serve refuses to start without them.
func (b *builder) notifiers() {
	var n outNotifiers
	if b.twilio {
		n.Twilio = &outTwilio{
			AccountSID: "${PAGERD_TWILIO_ACCOUNT_SID}",
			AuthToken:  "${PAGERD_TWILIO_AUTH_TOKEN}",
			From:       "${PAGERD_TWILIO_FROM}",
		}
	}
	if b.slack {
		n.Slack = &outSlack{
			BotToken:      "${PAGERD_SLACK_BOT_TOKEN}",
			SigningSecret: "${PAGERD_SLACK_SIGNING_SECRET}",
		}
	}
	if b.smtp {
		n.Email = &outEmail{
			Smarthost: "${PAGERD_SMTP_SMARTHOST}",
			From:      "${PAGERD_SMTP_FROM}",
			Username:  "${PAGERD_SMTP_USERNAME}",
			Password:  "${PAGERD_SMTP_PASSWORD}",
		}
	}
	if n != (outNotifiers{}) {
		b.out.Notifiers = &n
	}
}

// contactVia is the transport that carries a channel's imported contacts.
var contactVia = map[string]string{
	policy.ChannelSMS:   "twilio",
	policy.ChannelVoice: "twilio",
	policy.ChannelEmail: "email",
	policy.ChannelSlack: "slack",
}

// validZone reports whether a vendor time zone is one pagerd accepts, by
// check-config's own check (policy.LoadZone). A zone the vendor left empty
// is not: the importer does not guess UTC.
func validZone(tz string) bool {
	if tz == "" {
		return false
	}
	_, err := policy.LoadZone(tz)
	return err == nil
}

func (b *builder) user(p *person) {
	id := b.userNames.take(ident(p.hint, "user"))
	b.userID[p] = id
	u := outUser{ID: id, Name: p.name, comment: p.ref.String()}
	if e := p.email; e != "" {
		switch other, dup := b.emails[strings.ToLower(e)]; {
		case !policy.IsPlainEmail(e):
			b.rep.add(Changed, p.ref, "%q is not an email address pagerd accepts; left out", e)
		case dup:
			b.rep.add(Changed, p.ref, "has the same email as %s (%s); pagerd needs one person per address, so it is left out here", other, e)
		default:
			b.emails[strings.ToLower(e)] = id
			u.Email = e
		}
	}
	if su := p.slackUser; su != "" {
		switch other, dup := b.slackUsers[su]; {
		case !policy.IsSlackMemberID(su):
			b.rep.add(Changed, p.ref, "%q is not a Slack member id pagerd accepts (U... or W...); left out", su)
		case dup:
			b.rep.add(Changed, p.ref, "has the same Slack member id as %s (%s); a button pressed in Slack acts as one person, so it is left out here", other, su)
		default:
			b.slackUsers[su] = id
			u.SlackUser = su
		}
	}
	if p.tz != "" {
		if validZone(p.tz) {
			u.TimeZone = p.tz
		} else {
			b.rep.add(Changed, p.ref, "time zone %q is not an IANA zone pagerd accepts; left out (UTC)", p.tz)
		}
	}
	has := map[string]bool{}
	for _, c := range p.contacts {
		switch {
		case has[c.channel]:
			b.rep.add(NotMapped, c.ref, "a second %s contact (%s): pagerd pages one contact per channel; the first is kept", c.channel, c.address)
			continue
		case c.channel == policy.ChannelVoice && b.opt.PublicURL == "":
			b.rep.add(NotMapped, c.ref, "voice calls through Twilio need pagerd's public URL (Twilio fetches the call's script from it): run pagerd import again with --public-url to import %s", c.address)
			continue
		case c.channel == policy.ChannelEmail && !policy.IsPlainEmail(c.address):
			b.rep.add(NotMapped, c.ref, "%q is not an email address pagerd can send to (one plain address, like jane@example.com); not imported", c.address)
			continue
		case c.channel == policy.ChannelSlack && !policy.IsSlackMemberID(c.address):
			b.rep.add(NotMapped, c.ref, "%q is not a Slack member id pagerd can message (U... or W...); not imported", c.address)
			continue
		case c.channel == policy.ChannelSlack && b.slackUsers[c.address] != "" && b.slackUsers[c.address] != id:
			b.rep.add(NotMapped, c.ref, "Slack member id %s is %s's too: a button pressed in Slack acts as one person, so pagerd refuses two users on one id; not imported", c.address, b.slackUsers[c.address])
			continue
		}
		if c.channel == policy.ChannelSlack {
			b.slackUsers[c.address] = id
		}
		via := contactVia[c.channel]
		switch via {
		case "twilio":
			b.twilio = true
		case "email":
			b.smtp = true
		case "slack":
			b.slack = true
		}
		has[c.channel] = true
		u.Contacts = append(u.Contacts, outContact{Channel: c.channel, Via: via, Address: quoted(c.address)})
	}
	if len(u.Contacts) == 0 {
		u.Contacts = []outContact{{Channel: policy.ChannelPush, Via: "log"}}
		b.rep.add(Changed, p.ref, "no contact pagerd can page (a phone number for SMS or calls, an email address, a Slack member id); given a push contact on the log transport so the config loads: pages to %s only reach pagerd's log until you add a contact", id)
	}
	rules := &outRules{High: b.steps(p, p.high, has, "high"), Low: b.steps(p, p.low, has, "low")}
	if len(rules.High) > 0 || len(rules.Low) > 0 {
		u.NotificationRules = rules
	}
	b.out.Users = append(b.out.Users, u)
}

func (b *builder) steps(p *person, steps []step, has map[string]bool, urgency string) []outStep {
	var out []outStep
	var dropped []string
	for _, s := range steps {
		if !has[s.channel] {
			dropped = append(dropped, fmt.Sprintf("%s after %s", s.channel, policy.Duration(s.after)))
			continue
		}
		out = append(out, outStep{After: policy.Duration(s.after).String(), Channel: s.channel})
	}
	if len(dropped) > 0 {
		what := "the default ladder for the channels kept"
		if len(out) > 0 {
			what = "the other steps"
		}
		b.rep.add(Changed, p.ref, "%s-urgency notification steps on channels without a contact in pagerd left out (%s); pagerd uses %s", urgency, strings.Join(dropped, ", "), what)
	}
	return out
}

// schedule maps a source schedule: the rotations of its layers on call at
// the source become tiers of one or more pagerd schedules (one per weekly
// handoff), stacked layers a tier's layers; its overrides pagerd
// overrides.
func (b *builder) schedule(s *schedule) {
	if s.disabled {
		b.rep.add(NotMapped, s.ref, "disabled at the source, so it pages nobody there; not imported")
		return
	}
	if !validZone(s.tz) {
		b.rep.add(NotMapped, s.ref, "time zone %q is not an IANA zone pagerd accepts; not imported", s.tz)
		return
	}
	loc, _ := policy.LoadZone(s.tz)
	// The layers on call at the source: from the top down to the first
	// with a rotation on call at every hour, which hides the layers below
	// it (whether or not that rotation could be imported).
	var (
		stack    [][]placedRotation // top first; each layer's rotations that map
		names    []string           // each layer's rotations, for the report
		covering []string
	)
	for _, layer := range s.layers {
		if len(covering) > 0 {
			for _, r := range layer {
				if ended(r, b.opt.Now) {
					b.rep.add(NotMapped, r.ref, "ended %s; not imported", r.end.In(loc).Format(time.RFC3339))
					continue
				}
				b.rep.add(NotMapped, r.ref, "never on call at the source: the layer above it (%s) is on call at every hour; not imported", strings.Join(covering, ", "))
			}
			continue
		}
		var mapped []placedRotation
		var labels []string
		for _, r := range layer {
			if ended(r, b.opt.Now) {
				b.rep.add(NotMapped, r.ref, "ended %s; not imported", r.end.In(loc).Format(time.RFC3339))
				continue
			}
			labels = append(labels, fmt.Sprintf("%q", r.name))
			var (
				members [][]string
				sh      tierShape
				err     *shapeError
			)
			if r.unmappable != "" {
				err = notMapped("%s", r.unmappable)
			} else if members, err = b.members(r); err == nil {
				sh, err = rotationShape(r, loc)
			}
			if err != nil {
				b.rep.add(NotMapped, r.ref, "%s", err.reason)
				continue
			}
			if sh.hours > 0 {
				b.hoursAcrossClockChange(r, sh, loc)
			}
			mapped = append(mapped, placedRotation{r, members, sh})
		}
		if len(mapped) > 0 {
			stack = append(stack, mapped)
			names = append(names, strings.Join(labels, ", "))
		}
		for _, r := range layer {
			if coversEveryHour(r, b.opt.Now) {
				covering = append(covering, fmt.Sprintf("%q", r.name))
			}
		}
	}
	if len(stack) == 0 {
		b.rep.add(NotMapped, s.ref, "no rotation could be imported, so the schedule is not either; escalations to it are left out")
		return
	}
	// One layer: each rotation is a tier of its own, all on call at once.
	// Several: one tier, the layers stacked on it bottom up, as long as
	// each layer is one rotation of as many people a turn as the others.
	if len(stack) > 1 {
		stackable := true
		for _, l := range stack {
			stackable = stackable && len(l) == 1 && len(l[0].members[0]) == len(stack[0][0].members[0])
		}
		if !stackable {
			for i, l := range stack[1:] {
				for _, pr := range l {
					b.rep.add(NotMapped, pr.r.ref, "on call at the source where the layer above it (%s) has nobody on call; pagerd stacks layers of one rotation each, with as many people a turn, and these layers are not: not imported", names[i])
				}
			}
			stack = stack[:1]
		}
	}
	var groups []*scheduleGroup
	if len(stack) == 1 {
		for _, chain := range b.successions(stack[0]) {
			var layers []placedRotation
			for _, pr := range chain[1:] {
				layers = append(layers, b.fromFirstTurn(pr, loc))
			}
			b.tier(s, loc, &groups, chain[0], layers)
		}
	} else {
		var layers []placedRotation
		for i := len(stack) - 2; i >= 0; i-- {
			layers = append(layers, b.fromFirstTurn(stack[i][0], loc))
		}
		b.tier(s, loc, &groups, stack[len(stack)-1][0], layers)
	}
	for _, g := range groups {
		b.out.Schedules = append(b.out.Schedules, *g.sched)
	}
	var placed []string
	for _, t := range b.placed[s] {
		placed = append(placed, t.Schedule+"/"+t.Tier)
	}
	b.rep.Imported = append(b.rep.Imported, fmt.Sprintf("%s → %s", s.ref, strings.Join(placed, ", ")))
	b.overrides(s, loc)
}

// placedRotation is a rotation that maps: its members by turn (as user
// ids) and its shape.
type placedRotation struct {
	r       *rotation
	members [][]string
	sh      tierShape
}

// scheduleGroup is a pagerd schedule made from a source schedule: its
// weekly tiers hand off at key.
type scheduleGroup struct {
	key   handoffKey
	sched *outSchedule
	tiers namespace
}

// tier writes a rotation as tiers (one per person of a turn), with layers
// stacked on it bottom up. Weekly turns go to the pagerd schedule that
// hands off when they do (a new one if none does); daily and hourly ones,
// and rotations of the same people every turn, carry their own handoff
// time, so they go to the first.
func (b *builder) tier(s *schedule, loc *time.Location, groups *[]*scheduleGroup, base placedRotation, layers []placedRotation) {
	r, sh := base.r, base.sh
	// The same people every turn: the turn does not matter either.
	anyTurn := len(layers) == 0 && len(distinctGroups(r.groups)) == 1
	var g *scheduleGroup
	for _, cand := range *groups {
		if g == nil && (!sh.weekly() || anyTurn || cand.key == sh.handoff) {
			g = cand
		}
	}
	if g == nil {
		name := ident(s.name, "schedule")
		if len(*groups) > 0 {
			name += "-" + ident(r.name, "rotation")
		}
		g = &scheduleGroup{key: sh.handoff, tiers: namespace{}, sched: &outSchedule{
			Name:     b.scheduleNames.take(name),
			TimeZone: s.tz,
			Handoff:  outHandoff{Weekday: strings.ToLower(sh.handoff.weekday.String()), Time: quoted(fmt.Sprintf("%02d:%02d", sh.handoff.hour, sh.handoff.minute))},
			comment:  s.ref.String(),
		}}
		if len(*groups) > 0 {
			b.rep.add(Changed, s.ref, "its rotations hand off at different times (%s and %s): pagerd schedules hand off together, so rotation %q is in schedule %s of its own; escalations to the schedule page both", (*groups)[0].key, sh.handoff, r.name, g.sched.Name)
		}
		*groups = append(*groups, g)
	}
	size := len(base.members[0])
	for i := 0; i < size; i++ {
		name := ident(r.name, "rotation")
		if size > 1 {
			name = fmt.Sprintf("%s-%d", name, i+1)
		}
		t := outTier{Name: g.tiers.take(name)}
		if r.name != "" && (&policy.Tier{Name: t.Name}).DisplayTitle() != r.name {
			t.Title = r.name
		}
		t.outRotation = rotationOf(sh, g.key, turnMembers(base.members, i))
		layerNames := namespace{}
		for _, l := range layers {
			t.Layers = append(t.Layers, outLayer{Name: layerNames.take(ident(l.r.name, "layer")),
				outRotation: rotationOf(l.sh, g.key, turnMembers(l.members, i))})
		}
		g.sched.Tiers = append(g.sched.Tiers, t)
		tg := outTarget{Schedule: g.sched.Name, Tier: t.Name}
		b.placed[s] = append(b.placed[s], tg)
		for _, pr := range append([]placedRotation{base}, layers...) {
			b.rotPlaced[pr.r] = append(b.rotPlaced[pr.r], tg)
		}
	}
	all := append([]placedRotation{base}, layers...)
	for i, pr := range all {
		// A layer holds nothing before its first turn (fromFirstTurn
		// anchored it there); the tier's own rotation runs backwards.
		if from := firstOnCall(pr.r); from.After(b.opt.Now) && pr.r == r {
			b.rep.add(Changed, pr.r.ref, "starts %s at the source, with nobody on call before; pagerd rotations run backwards too, so before then %s holds it as if it had started earlier", from.In(loc).Format(time.RFC3339), g.sched.Name)
		}
		if pr.r.end.IsZero() {
			continue
		}
		if by := takenOver(pr.r, all[i+1:]); by != nil {
			b.rep.add(Changed, pr.r.ref, "ends %s at the source, where %q takes over: that is stacked on it as a layer from then, so pagerd hands over then too", pr.r.end.In(loc).Format(time.RFC3339), by.name)
		} else {
			b.rep.add(Changed, pr.r.ref, "ends %s at the source; pagerd rotations do not end: remove it then", pr.r.end.In(loc).Format(time.RFC3339))
		}
	}
	if size > 1 {
		b.rep.add(Changed, r.ref, "each turn is %d people on call together: imported as %d tiers that turn together", size, size)
	}
}

// successions groups the rotations of one layer, all on call at once,
// into chains where each rotation hands over to the next: the next has
// not begun, begins the instant the one before ends (how Opsgenie records
// a team moving to a new rotation on a future date) and covers at least
// the hours the one before does, with as many people a turn. A chain is
// one tier, the later rotations stacked on the first as layers: a layer
// holds nothing before its first turn and hides the rotations below it
// from then, so exactly one of them is on call at every instant, where
// two tiers would page both until the first ends (the later one running
// backwards before its start). A rotation that takes over no one's turn
// is a chain of its own.
func (b *builder) successions(layer []placedRotation) [][]placedRotation {
	next := map[*rotation]int{}
	taken := map[int]bool{}
	for i, old := range layer {
		if old.r.end.IsZero() {
			continue
		}
		for j, cand := range layer {
			r := cand.r
			if j == i || taken[j] || !firstOnCall(r).After(b.opt.Now) || !firstOnCall(r).Equal(old.r.end) ||
				len(cand.members[0]) != len(old.members[0]) || !coversAsMuch(r, old.r) {
				continue
			}
			next[old.r] = j
			taken[j] = true
			break
		}
	}
	var chains [][]placedRotation
	for i, pr := range layer {
		if taken[i] {
			continue
		}
		chain := []placedRotation{pr}
		for j, ok := next[pr.r]; ok && len(chain) <= len(layer); j, ok = next[layer[j].r] {
			chain = append(chain, layer[j])
		}
		chains = append(chains, chain)
	}
	return chains
}

// coversAsMuch reports whether rotation r is on call at least whenever
// old is: with no restriction, or the same one (a layer with fewer hours
// would let the rotation it replaces show through after it ends).
func coversAsMuch(r, old *rotation) bool {
	if r.restriction == "" && len(r.windows) == 0 {
		return true
	}
	return r.restriction == old.restriction && reflect.DeepEqual(r.windows, old.windows)
}

// takenOver is the layer above a rotation (one of above) that begins
// when it ends and hides it from then, so the tier needs no change when it ends; or nil.
func takenOver(r *rotation, above []placedRotation) *rotation {
	for _, l := range above {
		if firstOnCall(l.r).Equal(r.end) && coversAsMuch(l.r, r) {
			return l.r
		}
	}
	return nil
}

// turnMembers are the i-th person of each turn.
func turnMembers(groups [][]string, i int) []string {
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		out = append(out, g[i])
	}
	return out
}

// rotationOf writes a shape as a pagerd rotation of members in a schedule
// handing off at key: whole weeks when it hands off then too, else days or
// hours from its own handoff time (a week on another weekday is seven
// days), with its restrictions.
func rotationOf(sh tierShape, key handoffKey, members []string) outRotation {
	r := outRotation{Start: sh.start.Format("2006-01-02"), Members: members, Restrictions: outRestrictions(sh.windows)}
	own := quoted(fmt.Sprintf("%02d:%02d", sh.handoff.hour, sh.handoff.minute))
	switch {
	case sh.weekly() && sh.handoff == key:
		if sh.weeks > 1 {
			r.ShiftWeeks = sh.weeks
		}
	case sh.weekly():
		r.ShiftDays, r.HandoffTime = 7*sh.weeks, own
	case sh.days > 0:
		r.ShiftDays, r.HandoffTime = sh.days, own
	default:
		r.ShiftHours, r.HandoffTime = sh.hours, own
	}
	return r
}

// outRestrictions writes windows as pagerd restrictions.
func outRestrictions(ws []window) []outRestriction {
	var out []outRestriction
	for _, w := range ws {
		r := outRestriction{Start: quoted(clock(w.start)), End: quoted(clock(w.end))}
		if w.weekly {
			r.StartDay, r.EndDay = strings.ToLower(w.startDay.String()), strings.ToLower(w.endDay.String())
		}
		for _, d := range w.days {
			r.Days = append(r.Days, strings.ToLower(d.String()[:3]))
		}
		out = append(out, r)
	}
	return out
}

// fromFirstTurn anchors a rotation stacked as a layer at its first turn
// on or after the instant it is first on call at the source, the members
// taking the same turns: a pagerd layer holds nothing before its first
// shift, as a PagerDuty layer or Grafana OnCall shift holds nothing before
// its start, while the virtual start (the phase of the turns) can be long
// before or after that. A start inside a turn is reported: pagerd's layer
// starts at the next handoff.
func (b *builder) fromFirstTurn(pr placedRotation, loc *time.Location) placedRotation {
	r := pr.r
	if r.from.IsZero() || r.from.Equal(r.start) {
		return pr
	}
	k := firstTurnFrom(r, loc)
	first := turnStart(r, loc, k)
	if !first.Equal(r.from) && first.After(b.opt.Now) {
		b.rep.add(Changed, r.ref, "starts %s at the source, inside a turn; pagerd's layer starts with the next turn, %s, and the layers below hold the time between", r.from.In(loc).Format(time.RFC3339), first.In(loc).Format(time.RFC3339))
	}
	if k == 0 {
		return pr
	}
	moved := *r
	moved.start = first
	shift := floorMod(k, len(r.groups))
	moved.groups = append(append([][]string(nil), r.groups[shift:]...), r.groups[:shift]...)
	sh, err := rotationShape(&moved, loc)
	if err != nil {
		return pr // the same shape from another turn; keep the virtual start
	}
	members := append(append([][]string(nil), pr.members[shift:]...), pr.members[:shift]...)
	return placedRotation{r: r, members: members, sh: sh}
}

// turnStart is when turn k of a rotation starts, counted on the wall
// clock of loc as pagerd counts its shifts.
func turnStart(r *rotation, loc *time.Location, k int) time.Time {
	l := r.start.In(loc)
	days, hours := 0, 0
	switch r.unit {
	case "week":
		days = 7 * r.length * k
	case "day":
		days = r.length * k
	default:
		hours = r.length * k
	}
	return time.Date(l.Year(), l.Month(), l.Day()+days, l.Hour()+hours, l.Minute(), l.Second(), l.Nanosecond(), loc)
}

// firstTurnFrom is the index of the first turn of a rotation that starts
// at or after the instant it is first on call.
func firstTurnFrom(r *rotation, loc *time.Location) int {
	nominal := time.Duration(r.length) * time.Hour
	switch r.unit {
	case "week":
		nominal *= 7 * 24
	case "day":
		nominal *= 24
	}
	if nominal <= 0 {
		return 0
	}
	k := int(r.from.Sub(r.start) / nominal)
	for turnStart(r, loc, k).Before(r.from) {
		k++
	}
	for !turnStart(r, loc, k-1).Before(r.from) {
		k--
	}
	return k
}

// coversEveryHour reports whether a rotation has someone on call at every
// hour from now on (as far as the source says): no restriction, no turn
// with nobody, already begun and never ending (until a rotation starts,
// and once it ends, the layers below it are on call).
func coversEveryHour(r *rotation, now time.Time) bool {
	if r.restriction != "" || len(r.windows) > 0 || !r.end.IsZero() || len(r.groups) == 0 || firstOnCall(r).After(now) {
		return false
	}
	for _, g := range r.groups {
		if len(g) == 0 {
			return false
		}
	}
	return true
}

// ended reports whether a rotation stopped before now.
func ended(r *rotation, now time.Time) bool { return !r.end.IsZero() && !r.end.After(now) }

// firstOnCall is when a rotation is first on call at the source.
func firstOnCall(r *rotation) time.Time {
	if !r.from.IsZero() {
		return r.from
	}
	return r.start
}

// members resolves a rotation's groups to user ids: every turn the same
// number of people, each of them imported.
func (b *builder) members(r *rotation) ([][]string, *shapeError) {
	if len(r.groups) == 0 {
		return nil, notMapped("has no participants")
	}
	var out [][]string
	for i, g := range r.groups {
		if len(g) == 0 {
			return nil, notMapped("turn %d has nobody on call: pagerd tiers always have someone; leave the turn out at the source or fill it", i+1)
		}
		if len(g) != len(r.groups[0]) {
			return nil, notMapped("its turns have different numbers of people (%d and %d): pagerd tiers hold one person each", len(r.groups[0]), len(g))
		}
		var ids []string
		for _, key := range g {
			p := b.people.get(key)
			if p == nil {
				return nil, notMapped("participant %q is not a user in the export (a team, an escalation, or a user not exported): pagerd tiers hold users", key)
			}
			ids = append(ids, b.userID[p])
		}
		out = append(out, ids)
	}
	return out, nil
}

// overrides maps a schedule's overrides onto the tiers of the rotations they
// name. pagerd refuses overlapping overrides of a tier, so where two
// overlap the one that wins at the source holds the overlap (the higher
// rank; of equal ranks, the one listed first, the report saying the
// source's choice is not in the export) and the other keeps the rest of
// its span, where the source has it on call.
func (b *builder) overrides(s *schedule, loc *time.Location) {
	type claim struct {
		span
		o *override
	}
	taken := map[outTarget][]claim{}
	order := make([]*override, len(s.overrides))
	copy(order, s.overrides)
	sort.SliceStable(order, func(i, j int) bool { return order[i].rank > order[j].rank })
	for _, o := range order {
		p := b.people.get(o.person)
		if p == nil {
			b.rep.add(NotMapped, o.ref, "puts %q on call, who is not a user in the export (or nobody): not imported", o.person)
			continue
		}
		if !o.until.After(o.from) {
			b.rep.add(NotMapped, o.ref, "ends before it starts; not imported")
			continue
		}
		// held: the tiers the override holds, each for the part of its
		// span when the rotations it names are on call at the source.
		type held struct {
			t outTarget
			span
		}
		var tiers []held
		if len(o.rotations) == 0 {
			for _, t := range b.placed[s] {
				tiers = append(tiers, held{t, span{o.from, o.until}})
			}
		} else {
			for _, key := range o.rotations {
				var found *rotation
				for _, layer := range s.layers {
					for _, r := range layer {
						for _, k := range r.keys {
							if k == key {
								found = r
							}
						}
					}
				}
				if found == nil || len(b.rotPlaced[found]) == 0 {
					b.rep.add(NotMapped, o.ref, "applies to rotation %q, which was not imported; not applied to it", key)
					continue
				}
				on, ok := b.whileOnCall(o, found, loc)
				if !ok {
					continue
				}
				if found.restriction != "" {
					// The override replaces the rotation's people, who
					// are on call only in its windows; pagerd's override
					// holds the tier at every hour of its span.
					b.rep.add(Changed, o.ref, "applies to rotation %q, which is on call at the source only %s: pagerd's override holds the rotation's tier for its whole span, %s to %s, so %q is on call outside those hours too (beside whoever else is then); cut it into overrides for those hours if the source has them on call only then",
						found.name, found.restriction, on.from.In(loc).Format(time.RFC3339), on.until.In(loc).Format(time.RFC3339), b.userID[p])
				}
				for _, t := range b.rotPlaced[found] {
					tiers = append(tiers, held{t, on})
				}
			}
		}
		// pieces: each span of the override left free on a tier, with
		// the schedule's tiers it holds then.
		type piece struct {
			span
			sched string
		}
		byPiece := map[piece]map[string]string{}
		var pieces []piece
		for _, h := range tiers {
			t := h.t
			var over []span
			var beaten []string
			for _, c := range taken[t] {
				if !h.from.Before(c.until) || !c.from.Before(h.until) {
					continue
				}
				over = append(over, c.span)
				if c.o.person == o.person {
					continue // the same person then: nothing lost
				}
				why := c.o.wins
				if c.o.rank == o.rank {
					why = tieBreak[b.vendor]
				}
				beaten = append(beaten, fmt.Sprintf("%q (%s to %s), which %s", c.o.ref.Name, c.from.In(loc).Format(time.RFC3339), c.until.In(loc).Format(time.RFC3339), why))
			}
			free := subtract(h.span, over)
			if len(beaten) > 0 {
				what := "not applied to it"
				if len(free) > 0 {
					var parts []string
					for _, f := range free {
						parts = append(parts, f.from.In(loc).Format(time.RFC3339)+" to "+f.until.In(loc).Format(time.RFC3339))
					}
					what = "applied to it only from " + strings.Join(parts, " and ")
				}
				b.rep.add(NotMapped, o.ref, "overlaps on tier %s/%s the override %s; pagerd overrides of one tier must not overlap, so it is %s", t.Schedule, t.Tier, strings.Join(beaten, "; "), what)
			}
			for _, f := range free {
				taken[t] = append(taken[t], claim{f, o})
				pc := piece{f, t.Schedule}
				if byPiece[pc] == nil {
					byPiece[pc] = map[string]string{}
					pieces = append(pieces, pc)
				}
				byPiece[pc][t.Tier] = b.userID[p]
			}
		}
		for _, pc := range pieces {
			for i := range b.out.Schedules {
				sc := &b.out.Schedules[i]
				if sc.Name != pc.sched {
					continue
				}
				// To the nanosecond: cut to the second, a piece of an
				// override inside one second would end as it starts.
				sc.Overrides = append(sc.Overrides, outOverride{
					Reason: o.reason,
					From:   pc.from.In(loc).Format(time.RFC3339Nano),
					Until:  pc.until.In(loc).Format(time.RFC3339Nano),
					Tiers:  byPiece[pc],
				})
			}
		}
	}
	for i := range b.out.Schedules {
		ovs := b.out.Schedules[i].Overrides
		sort.SliceStable(ovs, func(a, c int) bool { return ovs[a].From < ovs[c].From })
	}
}

// hoursAcrossClockChange reports an hourly rotation whose zone changes its
// clocks within a year: pagerd counts its turns on the schedule's wall
// clock (a 12-hour turn from 08:00 hands off at 08:00 and 20:00 all year),
// as Opsgenie documents a rotation's start time as its handover time,
// but none says whether hourly turns count elapsed hours across the
// change, which would move every handoff after it by the change.
func (b *builder) hoursAcrossClockChange(r *rotation, sh tierShape, loc *time.Location) {
	at, ok := nextClockChange(b.opt.Now, loc)
	if !ok {
		return
	}
	_, before := at.Add(-time.Hour).In(loc).Zone()
	_, after := at.In(loc).Zone()
	shift := time.Duration(after-before) * time.Second
	b.rep.add(Changed, r.ref, "turns of %d hours, counted on the schedule's wall clock as pagerd counts them (handing off at %02d:%02d plus whole turns, local time, whatever the clocks do); %s changes its clocks by %s on %s, and the source does not document whether its hourly turns count wall-clock or elapsed hours across such a change: if elapsed, its handoffs from then on are %s off pagerd's; compare the two after %s",
		sh.hours, sh.handoff.hour, sh.handoff.minute, loc, policy.Duration(shift.Abs()), at.In(loc).Format(time.RFC3339), policy.Duration(shift.Abs()), at.In(loc).Format("2006-01-02"))
}

// nextClockChange is the first instant after now, within a year, at which
// loc's offset from UTC changes.
func nextClockChange(now time.Time, loc *time.Location) (time.Time, bool) {
	_, off := now.In(loc).Zone()
	for t := now; t.Before(now.AddDate(1, 0, 0)); t = t.Add(time.Hour) {
		if _, o := t.In(loc).Zone(); o != off {
			lo := t.Add(-time.Hour)
			for t.Sub(lo) > time.Second {
				mid := lo.Add(t.Sub(lo) / 2)
				if _, o := mid.In(loc).Zone(); o != off {
					t = mid
				} else {
					lo = mid
				}
			}
			return t.Truncate(time.Second), true
		}
	}
	return time.Time{}, false
}

// tieBreak says, for the report, why the first listed of two overlapping
// overrides that nothing in the export ranks holds the time they share.
var tieBreak = map[string]string{
	Opsgenie:      "Opsgenie documents no rule for which of two overlapping overrides it pages, and its export says neither when they were made nor in what order they apply: the one listed first is kept; check the final schedule in Opsgenie",
	PagerDuty:     "PagerDuty pages the override created last, which the listed overrides do not say: the one listed first is kept; check it there",
	GrafanaOnCall: "the source pages the override created last, which its export does not say: the one listed first is kept; check it there",
}

// whileOnCall is the part of an override's span when rotation r, which
// it names, is on call at the source: an override of a rotation replaces
// its participants, so it holds nothing before the rotation starts or
// after it ends, even where pagerd keeps the rotation's tier (a rotation
// and the one that takes over from it are one tier). A span cut short is
// reported; ok is false when nothing is left.
func (b *builder) whileOnCall(o *override, r *rotation, loc *time.Location) (span, bool) {
	on := span{o.from, o.until}
	if from := firstOnCall(r); from.After(on.from) {
		on.from = from
	}
	if !r.end.IsZero() && r.end.Before(on.until) {
		on.until = r.end
	}
	if on == (span{o.from, o.until}) {
		return on, true
	}
	when := "from " + firstOnCall(r).In(loc).Format(time.RFC3339)
	if !r.end.IsZero() {
		when += " until " + r.end.In(loc).Format(time.RFC3339)
	}
	if !on.from.Before(on.until) {
		b.rep.add(Changed, o.ref, "applies to rotation %q, which is on call at the source only %s: the override changes nothing there, so it is left out", r.name, when)
		return on, false
	}
	b.rep.add(Changed, o.ref, "applies to rotation %q, which is on call at the source only %s: applied only from %s to %s, where the override holds there",
		r.name, when, on.from.In(loc).Format(time.RFC3339), on.until.In(loc).Format(time.RFC3339))
	return on, true
}

// span is an interval of time, from inclusive, until exclusive.
type span struct{ from, until time.Time }

// subtract is what is left of s outside the spans cut, in order.
func subtract(s span, cut []span) []span {
	sort.Slice(cut, func(i, j int) bool { return cut[i].from.Before(cut[j].from) })
	var out []span
	at := s.from
	for _, c := range cut {
		if c.from.After(at) {
			out = append(out, span{at, minTime(c.from, s.until)})
		}
		if c.until.After(at) {
			at = c.until
		}
		if !at.Before(s.until) {
			return out
		}
	}
	if at.Before(s.until) {
		out = append(out, span{at, s.until})
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// targets resolves rung targets to pagerd targets, reporting those that
// did not survive the import.
func (b *builder) targets(r rung) []outTarget {
	var out []outTarget
	seen := map[outTarget]bool{}
	addT := func(t outTarget) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, t := range r.targets {
		switch {
		case t.schedule != "":
			s := b.schedules[t.schedule]
			if s == nil || len(b.placed[s]) == 0 {
				b.rep.add(NotMapped, r.ref, "pages schedule %q, which was not imported; left out", t.schedule)
				continue
			}
			for _, pt := range b.placed[s] {
				addT(pt)
			}
		case t.person != "":
			p := b.people.get(t.person)
			if p == nil {
				b.rep.add(NotMapped, r.ref, "pages %q, who is not a user in the export; left out", t.person)
				continue
			}
			addT(outTarget{User: b.userID[p]})
		}
	}
	return out
}

// policy maps a ladder: rungs at the same offset share a level; each level's
// timeout is the time to the next; the last level's is the wait before the
// ladder starts over.
func (b *builder) policy(l *ladder) {
	type level struct {
		at      time.Duration
		targets []outTarget
	}
	rungs := append([]rung(nil), l.rungs...)
	var unresolved []rung
	for _, u := range l.unresolved {
		if u.at <= 0 {
			rungs = append(rungs, u) // "not closed" at creation is paged at once, like the rest
		} else {
			unresolved = append(unresolved, u)
		}
	}
	sort.SliceStable(rungs, func(i, j int) bool { return rungs[i].at < rungs[j].at })
	var levels []*level
	for _, r := range rungs {
		ts := b.targets(r)
		if len(ts) == 0 {
			if len(r.targets) == 0 {
				b.rep.add(NotMapped, r.ref, "pages nobody pagerd could import; left out")
			}
			continue
		}
		if n := len(levels); n > 0 && levels[n-1].at == r.at {
			for _, t := range ts {
				if !slices.Contains(levels[n-1].targets, t) {
					levels[n-1].targets = append(levels[n-1].targets, t)
				}
			}
			continue
		}
		levels = append(levels, &level{at: r.at, targets: ts})
	}
	if len(levels) == 0 {
		b.rep.add(NotMapped, l.ref, "nobody it pages was imported, so the escalation is not either; services using it are left out")
		return
	}
	// The last level waits until the source starts over, counted from
	// when the source pages it (before the first level is moved to 0).
	restartWait := l.restartAt - levels[len(levels)-1].at
	if levels[0].at > 0 {
		b.rep.add(Changed, l.ref, "pages its first responders %s after the alert; pagerd pages the first level at once (later levels keep their times)", policy.Duration(levels[0].at))
		levels[0].at = 0
	}
	p := outPolicy{Name: b.policyNames.take(ident(l.name, "escalation")), Repeat: l.repeat, comment: l.ref.String()}
	for i, lv := range levels {
		ol := outLevel{Targets: lv.targets}
		if i+1 < len(levels) {
			ol.Timeout = policy.Duration(levels[i+1].at - lv.at).String()
		} else if l.repeat > 0 {
			wait := restartWait
			if wait <= 0 {
				wait = time.Minute
				b.rep.add(Changed, l.ref, "starts over right after its last step; pagerd waits at least a minute (the last level's timeout)")
			}
			ol.Timeout = policy.Duration(wait).String()
		}
		p.Levels = append(p.Levels, ol)
	}
	for _, u := range unresolved {
		ts := b.targets(u)
		if len(ts) == 0 {
			continue
		}
		p.Unresolved = append(p.Unresolved, outUnresolved{
			Priorities: append([]string(nil), b.opt.Scheme.Priorities...),
			After:      policy.Duration(u.at).String(),
			Notify:     ts,
		})
		if len(p.Levels) > 1 {
			// The source's rule only notifies its people. pagerd's also
			// reopens an acknowledged incident, and when nobody
			// acknowledges it again the ladder climbs on from the level
			// acknowledged: people the source never pages once someone
			// has acknowledged.
			var who []string
			for _, t := range ts {
				if t.User != "" {
					who = append(who, t.User)
				} else {
					who = append(who, t.Schedule+"/"+t.Tier)
				}
			}
			b.rep.add(Changed, u.ref, "pages %s when the incident is still open %s after it opens, acknowledged or not: imported as an unresolved rule, which also reopens an acknowledged incident, so when nobody acknowledges it again the levels after the one acknowledged are paged too, on their timeouts; the source notifies only this rule's people. Remove the rule, or the levels it should not wake, if that is not what you want",
				strings.Join(who, ", "), policy.Duration(u.at))
		}
	}
	b.policyOf[l] = p.Name
	b.out.EscalationPolicies = append(b.out.EscalationPolicies, p)
	b.rep.Imported = append(b.rep.Imported, fmt.Sprintf("%s → escalation policy %s (%d levels, repeat %d)", l.ref, p.Name, len(p.Levels), p.Repeat))
}

// service maps a service: its policy, integration keys (from the
// environment, so no secret is written into the file), Opsgenie priority
// rules and PagerDuty urgencies.
func (b *builder) service(s *service) {
	l := b.ladders[s.ladder]
	pol := b.policyOf[l]
	if l == nil || pol == "" {
		b.rep.add(NotMapped, s.ref, "its escalation (%q) was not imported, and a pagerd service needs one; not imported", s.ladder)
		return
	}
	name := b.serviceNames.take(ident(s.name, "service"))
	amEnv := b.envs.takeEnv(envName(name, "ALERTMANAGER_KEY"))
	o := outService{
		Name: name, Description: s.description, PriorityScheme: b.opt.Scheme.Name, EscalationPolicy: pol,
		Integrations: &outIntegrations{AlertmanagerKey: quoted("${" + amEnv + "}")},
		comment:      s.ref.String(),
	}
	senderEnv := amEnv
	if s.pagerDutyKey {
		senderEnv = b.envs.takeEnv(envName(name, "PAGERDUTY_ROUTING_KEY"))
		o.Integrations.PagerDutyRoutingKey = quoted("${" + senderEnv + "}")
	}
	if s.opsgeniePriorities {
		o.Rules = opsgenieRules(b.opt.Scheme)
	}
	if u := s.urgency; u != nil {
		o.Targets = map[string]outTargets{}
		if u.calendar != nil {
			o.BusinessHours = b.calendar(name, s, u.calendar)
		}
		for rank, pr := range b.opt.Scheme.Priorities {
			switch {
			case o.BusinessHours != "" && (u.inHours[rank] != policy.UrgencyHigh || u.offHours[rank] != policy.UrgencyHigh):
				o.Targets[pr] = outTargets{BusinessHours: &outTargetSet{u.inHours[rank]}, OffHours: &outTargetSet{u.offHours[rank]}}
			case o.BusinessHours == "" && u.always[rank] == policy.UrgencyLow:
				o.Targets[pr] = outTargets{Urgency: policy.UrgencyLow}
			}
		}
		if len(o.Targets) == 0 {
			o.Targets = nil
		}
		b.lowUrgencyEscalates(s, o, pol)
	}
	for _, sr := range s.senders {
		b.rep.add(Changed, sr, "a sender: point it at pagerd (docs/MIGRATING.md) and set $%s to the key it presents", senderEnv)
	}
	hbNames := namespace{}
	for _, h := range s.heartbeats {
		hn := hbNames.take(ident(h.name, "heartbeat"))
		o.Heartbeats = append(o.Heartbeats, outHeartbeat{Name: hn, Interval: policy.Duration(h.interval).String(),
			Labels: map[string]string{"priority": h.priority}})
		b.rep.add(Changed, h.ref, "a heartbeat of service %s: point its pinger at pagerd, /api/v1/heartbeats/%s/ping with the service's key ($%s) as bearer, or Opsgenie's /v2/heartbeats/%s/ping with an integrations.opsgenie_key you add (docs/MIGRATING.md); its grace is 0s, as in Opsgenie",
			name, hn, amEnv, hn)
	}
	b.out.Services = append(b.out.Services, o)
	b.rep.Imported = append(b.rep.Imported, fmt.Sprintf("%s → service %s (escalation policy %s)", s.ref, name, pol))
}

// lowUrgencyEscalates reports a service some of whose incidents are low
// urgency when its policy escalates past its first level: PagerDuty
// notifies a low-urgency incident's first rule on the people's
// low-urgency rules and never escalates it, while a pagerd level
// escalates at any urgency, so pagerd wakes the later levels (and starts
// over) where the source wakes nobody more.
func (b *builder) lowUrgencyEscalates(s *service, o outService, pol string) {
	var p *outPolicy
	for i := range b.out.EscalationPolicies {
		if b.out.EscalationPolicies[i].Name == pol {
			p = &b.out.EscalationPolicies[i]
		}
	}
	if p == nil || (len(p.Levels) < 2 && p.Repeat == 0) {
		return
	}
	var low []string
	when := ""
	for _, pr := range b.opt.Scheme.Priorities {
		t, ok := o.Targets[pr]
		switch {
		case !ok:
		case t.Urgency == policy.UrgencyLow:
			low = append(low, pr)
		case t.OffHours != nil && t.OffHours.Urgency == policy.UrgencyLow:
			low, when = append(low, pr), " outside its business hours ("+o.BusinessHours+")"
		case t.BusinessHours != nil && t.BusinessHours.Urgency == policy.UrgencyLow:
			low, when = append(low, pr), " in its business hours ("+o.BusinessHours+")"
		}
	}
	if len(low) == 0 {
		return
	}
	b.rep.add(Changed, s.ref, "pages %s at low urgency%s, and the source does not escalate a low-urgency incident (it notifies the first rule's people on their low-urgency rules, and stops there); pagerd escalates every incident through the levels of escalation policy %s (%d levels, repeat %d), so those incidents also wake the later levels: to keep them with the first level, give its level 1 a long timeout for them (levels[].timeouts; or ack_target, with an acknowledge target for the hours they are low urgency: docs/CONFIG.md)",
		strings.Join(low, ", "), when, p.Name, len(p.Levels), p.Repeat)
}

// opsgenieRules are the routing rules that give alerts carrying an Opsgenie
// priority label the scheme's priority, by policy's published table.
func opsgenieRules(sc *policy.Scheme) []outRule {
	var rules []outRule
	for _, pr := range sc.Priorities {
		var ogs []string
		for _, og := range policy.OpsgeniePriorities {
			if got, _ := sc.FromOpsgenie(og); got == pr {
				ogs = append(ogs, og)
			}
		}
		if len(ogs) == 0 {
			continue
		}
		m := fmt.Sprintf("priority=%q", ogs[0])
		if len(ogs) > 1 {
			m = fmt.Sprintf("priority=~%q", strings.Join(ogs, "|"))
		}
		rules = append(rules, outRule{Name: "Opsgenie " + strings.Join(ogs, ", "), Matchers: []string{m}, Priority: pr})
	}
	return rules
}

// calendar writes a service's support hours as a business_hours calendar.
func (b *builder) calendar(service string, s *service, c *calendar) string {
	if !validZone(c.tz) {
		b.rep.add(NotMapped, s.ref, "support hours in time zone %q, which pagerd does not accept; urgency is the same at every hour", c.tz)
		return ""
	}
	if !validSpan(c.start, c.end) {
		b.rep.add(NotMapped, s.ref, "support hours %s to %s are not a span of one day pagerd can express (HH:MM, end after start); urgency is the same at every hour", c.start, c.end)
		return ""
	}
	if len(c.days) == 0 {
		b.rep.add(NotMapped, s.ref, "support hours on no weekday; urgency is the same at every hour")
		return ""
	}
	name := b.calendarNames.take(service + "-support-hours")
	cal := outCalendar{Name: name, TimeZone: c.tz, Start: quoted(c.start), End: quoted(c.end), comment: s.ref.String() + " support hours"}
	for _, d := range c.days {
		cal.Days = append(cal.Days, strings.ToLower(d.String()[:3]))
	}
	b.out.BusinessHours = append(b.out.BusinessHours, cal)
	return name
}

// validSpan reports whether start and end are times of day "HH:MM" with
// end after start ("24:00" ends at midnight), as a pagerd calendar needs.
func validSpan(start, end string) bool {
	parse := func(s string) (int, bool) {
		t, err := time.Parse("15:04", s)
		if s == "24:00" {
			return 24 * 60, true
		}
		if err != nil || len(s) != 5 {
			return 0, false
		}
		return t.Hour()*60 + t.Minute(), true
	}
	a, ok1 := parse(start)
	b, ok2 := parse(end)
	return ok1 && ok2 && b > a
}

// checkFinal compares each imported schedule with who the source itself
// says is on call (PagerDuty's final schedule in the export), at the start
// and the last minute of each of its entries and in the gaps between
// them, from the import on, and reports where the imported schedule has
// someone else: every
// difference the import knows of is reported on its own, and this catches
// the ones it does not.
func (b *builder) checkFinal(src *source, cfg *policy.Config) {
	for _, s := range src.schedules {
		if len(s.final) == 0 || len(b.placed[s]) == 0 {
			continue
		}
		loc, _ := policy.LoadZone(s.tz)
		entries := append([]finalEntry(nil), s.final...)
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].from.Before(entries[j].from) })
		want := func(t time.Time) string {
			for _, e := range entries {
				if !t.Before(e.from) && t.Before(e.until) {
					if p := b.people.get(e.person); p != nil {
						return b.userID[p]
					}
					return "?"
				}
			}
			return ""
		}
		var instants []time.Time
		for _, e := range entries {
			instants = append(instants, e.from, e.until.Add(-time.Minute), e.until)
		}
		last := entries[len(entries)-1].until
		for _, e := range entries {
			if e.until.After(last) {
				last = e.until
			}
		}
		var first string
		differ := 0
		seen := map[time.Time]bool{}
		for _, t := range instants {
			if seen[t] || !t.Before(last) || t.Before(b.opt.Now) {
				continue // what was before the import pages nobody now
			}
			seen[t] = true
			w := want(t)
			if w == "?" {
				continue // someone not in the export: reported as such
			}
			got := map[string]bool{}
			var names []string
			for _, pt := range b.placed[s] {
				sc := cfg.Schedule(pt.Schedule)
				if sc == nil {
					continue
				}
				if sh, ok := sc.OnCallTier(pt.Tier, t); ok && sh.User != "" && !got[sh.User] {
					got[sh.User] = true
					names = append(names, sh.User)
				}
			}
			if (w == "" && len(got) == 0) || (w != "" && len(got) == 1 && got[w]) {
				continue
			}
			differ++
			if first == "" {
				who, has := "nobody", "nobody"
				if w != "" {
					who = w
				}
				if len(names) > 0 {
					has = strings.Join(names, " and ")
				}
				first = fmt.Sprintf("%s at %s, where the imported schedule has %s", who, t.In(loc).Format(time.RFC3339), has)
			}
		}
		if differ > 0 {
			b.rep.add(Changed, s.ref, "the source's own final schedule in the export has %s (%d of the %d instants checked, entry starts and ends, differ): compare the two there", first, differ, len(seen))
		}
	}
}
