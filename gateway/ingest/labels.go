package ingest

import (
	"encoding/json"

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
		labels, _, _ := EventGroup(&pagerduty.V2Event{Action: d.Event.Action, Payload: d.Event.Payload})
		return []map[string]string{labels}, true
	}
	if head.Labels != nil {
		return []map[string]string{head.Labels}, true
	}
	return nil, false
}
