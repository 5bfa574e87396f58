package ingest

import (
	"encoding/json"
	"maps"
	"regexp"
	"strings"

	"github.com/PagerDuty/go-pagerduty"
)

// LabelSets reads back from an incident's stored details the label sets
// it was routed on, one per alert, so that a maintenance window starting
// after the incident opened can be matched against it. complete is false
// when the details cannot tell every alert's labels (alerts were left out
// of them, or they are of no known shape): the caller must then not take
// the incident as covered.
func LabelSets(details json.RawMessage) (sets []map[string]string, complete bool) {
	var head struct {
		Source string            `json:"source"`
		Labels map[string]string `json:"labels"`
	}
	if len(details) == 0 || json.Unmarshal(details, &head) != nil {
		return nil, false
	}
	switch head.Source {
	case "alertmanager":
		var d amDetails
		if json.Unmarshal(details, &d) != nil || d.AlertsOmitted > 0 || d.TruncatedAlerts > 0 {
			return nil, false
		}
		var firing, all []map[string]string
		for _, a := range d.Alerts {
			all = append(all, a.Labels)
			if a.Status == StatusFiring {
				firing = append(firing, a.Labels)
			}
		}
		if len(firing) > 0 {
			return firing, true
		}
		return all, len(all) > 0
	case "pagerduty":
		var d pdDetails
		if json.Unmarshal(details, &d) != nil || d.Event == nil {
			return nil, false
		}
		sl := d.SeverityLabel
		if sl == "" {
			sl = "severity"
		}
		labels, _, _ := EventGroupFor(&pagerduty.V2Event{Action: d.Event.Action, Payload: d.Event.Payload}, sl)
		return []map[string]string{labels}, true
	}
	if head.Labels != nil {
		return []map[string]string{head.Labels}, true
	}
	return nil, false
}

// KeptAlerts is what an Alertmanager incident's details kept of its
// group's alerts, for acting on them in Alertmanager (silencing them): the
// details keep at most MaxDetailAlerts alerts, and label names and values
// cut to MaxLabelBytes (CutLabel tells which).
type KeptAlerts struct {
	// Firing are the label sets of the firing alerts kept, in the order
	// Alertmanager sent them.
	Firing []map[string]string
	// FiringTotal is how many firing alerts the group had of those pagerd
	// read, or -1 when the details do not say (stored before they counted
	// them, with alerts left out).
	FiringTotal int
	// Unread is how many alerts of the notification pagerd did not read
	// (over MaxAlertsPerMessage), and TruncatedByAlertmanager how many
	// Alertmanager itself left out of it (its max_alerts): whether they
	// fire is not known.
	Unread, TruncatedByAlertmanager int
}

// ReadKeptAlerts reads from an incident's stored details what they kept of
// its Alertmanager group's alerts; ok is false for details that are not an
// Alertmanager group's.
func ReadKeptAlerts(details json.RawMessage) (k KeptAlerts, ok bool) {
	var d amDetails
	if len(details) == 0 || json.Unmarshal(details, &d) != nil || d.Source != "alertmanager" {
		return KeptAlerts{}, false
	}
	for _, a := range d.Alerts {
		if a.Status == StatusFiring {
			k.Firing = append(k.Firing, a.Labels)
		}
	}
	switch {
	case d.AlertsFiring != nil:
		k.FiringTotal = *d.AlertsFiring
	case d.AlertsOmitted == 0:
		k.FiringTotal = len(k.Firing)
	default:
		k.FiringTotal = -1
	}
	k.Unread, k.TruncatedByAlertmanager = d.AlertsUnread, int(d.TruncatedAlerts)
	return k, true
}

// AlertFilter is what to ask Alertmanager's list of alerts (GET
// /api/v2/alerts) for the alerts an incident stands for.
type AlertFilter struct {
	// Receiver and Labels are the filter: Alertmanager lists every alert
	// that routes to the receiver and carries all of the labels.
	Receiver string
	Labels   map[string]string
	// Fingerprint is set for an incident of one alert in fingerprint
	// mode: that alert's fingerprint as its dedup key carries it
	// (CapFingerprint). The filter on its labels also lists the alerts
	// that carry them and more, which have incidents of their own, so
	// the answer must be held to it.
	Fingerprint string
}

// ReadAlertFilter reads from an incident's stored details what to ask
// Alertmanager's list of alerts for the alerts the incident stands for:
// the group's receiver and labels, or, with byFingerprint (incident_key:
// fingerprint) for an incident of one alert, that alert's labels and
// fingerprint. A value pagerd cut is left out (matched exactly it would
// match nothing, and the incident look over), and so is a receiver it
// cut: what is left can only match more alerts, never fewer. ok is false
// for details that are not an Alertmanager group's.
func ReadAlertFilter(details json.RawMessage, byFingerprint bool) (f AlertFilter, ok bool) {
	var d amDetails
	if len(details) == 0 || json.Unmarshal(details, &d) != nil || d.Source != "alertmanager" {
		return AlertFilter{}, false
	}
	from := d.GroupLabels
	if byFingerprint && d.AlertsTotal == 1 && len(d.Alerts) == 1 {
		from, f.Fingerprint = d.Alerts[0].Labels, d.Alerts[0].Fingerprint
	}
	f.Labels = make(map[string]string, len(from))
	for name, value := range from {
		_, nameCut := CutLabel(name)
		_, valueCut := CutLabel(value)
		if !nameCut && !valueCut {
			f.Labels[name] = value
		}
	}
	if _, cut := CutLabel(d.Receiver); !cut {
		f.Receiver = d.Receiver
	}
	return f, true
}

// groupLabelsDropped names, in the details' list of cuts, the group's
// labels left out of details too large to keep them (ReadGroup tells
// them from a group that has none).
const groupLabelsDropped = "the group's common labels and annotations"

// StoredGroup is the Alertmanager group an incident came from, as its
// details keep it: the receiver as the webhook named it (Alertmanager
// quotes it as a regular expression, regexp.QuoteMeta) and the group's
// labels, names and values cut to MaxLabelBytes.
type StoredGroup struct {
	Receiver string
	Labels   map[string]string
	// Fingerprints are those of the alerts the details keep (the
	// group's latest notification's, up to the details' cut).
	Fingerprints []string
}

// ReadGroup reads from an incident's stored details the Alertmanager
// group it came from. ok is false for details that are not an
// Alertmanager group's, and for those that left the group's labels out
// (details too large): which group they were is then not known.
func ReadGroup(details json.RawMessage) (g StoredGroup, ok bool) {
	var d amDetails
	if len(details) == 0 || json.Unmarshal(details, &d) != nil || d.Source != "alertmanager" {
		return StoredGroup{}, false
	}
	if len(d.GroupLabels) == 0 {
		for _, cut := range d.Truncated {
			if strings.Contains(cut, groupLabelsDropped) {
				return StoredGroup{}, false
			}
		}
	}
	g = StoredGroup{Receiver: d.Receiver, Labels: d.GroupLabels}
	for _, a := range d.Alerts {
		if a.Fingerprint != "" {
			g.Fingerprints = append(g.Fingerprints, a.Fingerprint)
		}
	}
	return g, true
}

// Is reports whether the group Alertmanager lists with receiver (its
// name, as GET /api/v2/alerts/groups gives it) and labels is g: stored
// from it, the same receiver and labels would read back as g's, with the
// webhook's quoting and pagerd's cuts. A receiver unquoted matches too,
// which can only find more groups, never fewer.
func (g StoredGroup) Is(receiver string, labels map[string]string) bool {
	return g.SameReceiver(receiver) && maps.Equal(capMap(labels, MaxLabelBytes, &valueCuts{}), g.Labels)
}

// SameReceiver reports whether receiver (its name, as GET
// /api/v2/alerts/groups gives it) is g's, as Is reads it.
func (g StoredGroup) SameReceiver(receiver string) bool {
	quoted, _ := capValue(regexp.QuoteMeta(receiver), MaxLabelBytes)
	plain, _ := capValue(receiver, MaxLabelBytes)
	return g.Receiver == quoted || g.Receiver == plain
}
