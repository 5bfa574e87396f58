package importer

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// The vendors pagerd imports from, as `pagerd import` names them.
const (
	Opsgenie      = "opsgenie"
	PagerDuty     = "pagerduty"
	GrafanaOnCall = "grafana-oncall"
)

// Vendors lists the vendor names Import takes.
var Vendors = []string{Opsgenie, PagerDuty, GrafanaOnCall}

// Options shape the config an import writes.
type Options struct {
	// Scheme is the priority scheme of the services written (P0–P3 when
	// nil); Opsgenie's P1–P5 map onto it by policy's table.
	Scheme *policy.Scheme
	// PublicURL is pagerd's public URL, which voice contacts need (Twilio
	// fetches the call's script from it). Without it, voice contacts are
	// reported and left out.
	PublicURL string
	// Now is when the import runs: rotations and layers that ended before
	// it are left out, ones that start after it are noted. Zero means
	// time.Now().
	Now time.Time
}

// Result is an imported config and its report.
type Result struct {
	// Config is the pagerd config, YAML; policy.Parse accepts it.
	Config []byte
	// Report is everything the config does not carry as the source had it.
	Report *Report
}

// Import reads one vendor's JSON documents and writes a pagerd config. It
// fails on input it cannot read at all (not JSON, not that vendor's), and
// if the config it wrote did not load, which would be a bug here; anything
// it can read but not map goes into the report.
func Import(vendor string, docs []Document, opt Options) (*Result, error) {
	if opt.Scheme == nil {
		opt.Scheme = policy.SchemeP
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	rep := &Report{Vendor: vendor}
	var (
		src *source
		err error
	)
	switch vendor {
	case Opsgenie:
		src, err = readOpsgenie(docs, rep)
	case PagerDuty:
		src, err = readPagerDuty(docs, rep, opt.Now)
	case GrafanaOnCall:
		src, err = readGrafana(docs, rep)
	default:
		return nil, fmt.Errorf("unknown vendor %q (use %s)", vendor, strings.Join(Vendors, ", "))
	}
	if err != nil {
		return nil, err
	}
	if len(src.people)+len(src.schedules)+len(src.ladders)+len(src.services) == 0 {
		return nil, errors.New("found no users, schedules, escalations or services in the input; is it that vendor's export?")
	}
	b := newBuilder(vendor, opt, rep)
	b.build(src)
	header := fmt.Sprintf("Imported by `pagerd import %s`. Read the import report before you use it:\n"+
		"it lists everything this file does not carry as the source had it.\n"+
		"Secrets come from the environment (${PAGERD_...}); pagerd check-config lists\n"+
		"the ones that are not set, and pagerd serve refuses to start without them.", vendor)
	data, err := b.out.encode(header)
	if err != nil {
		return nil, err
	}
	cfg, err := policy.Parse(data, "the imported config", "")
	if ce := (*policy.ConfigError)(nil); errors.As(err, &ce) && ce.OnlyEnv {
		// The config reads its secrets and addresses from PAGERD_*
		// variables, and the config is checked with them as this shell
		// sets them: one set and malformed here is the environment's
		// fault, not the import's nor the source file's.
		what := "environment variable " + ce.Env[0] + ", which the imported config reads, is"
		if len(ce.Env) > 1 {
			what = "environment variables " + strings.Join(ce.Env, ", ") + ", which the imported config reads, are"
		}
		return nil, fmt.Errorf("%s set here to a value pagerd cannot use (the import itself is sound); fix or unset it and import again:\n%w", what, err)
	}
	if err != nil {
		return nil, fmt.Errorf("the imported config does not load, which is a bug in pagerd import (please report it with the input): %w", err)
	}
	b.checkFinal(src, cfg)
	rep.Warnings = cfg.Warnings()
	tiers := 0
	for _, s := range cfg.Schedules {
		tiers += len(s.Tiers)
	}
	rep.Summary = fmt.Sprintf("Imported %d users, %d schedules (%d tiers), %d escalation policies and %d services; %d not imported, %d imported with a difference.",
		len(cfg.Users), len(cfg.Schedules), tiers, len(cfg.EscalationPolicies), len(cfg.Services),
		rep.Count(NotMapped), rep.Count(Changed))
	return &Result{Config: data, Report: rep}, nil
}
