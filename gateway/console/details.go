package console

import (
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// details is what the console shows of what the sender sent: each alert's
// labels and annotations, and the links worth opening (the alert's
// source in Prometheus, runbooks, dashboards). All of it is the sender's
// text: the templates escape it, and only http(s) links are links.
type details struct {
	Alerts []alertView
	Links  []link
	// Text is a description that came without labels (Opsgenie's).
	Text string
}

type alertView struct {
	Status      string
	Labels      []kv
	Annotations []kv
}

type kv struct{ Key, Value string }

type link struct{ Text, URL string }

// readDetails reads an incident's stored details, whatever the intake
// (Alertmanager, PagerDuty Events, Opsgenie); what it cannot read is left
// out.
func readDetails(raw json.RawMessage) details {
	var d struct {
		Source            string            `json:"source"`
		CommonAnnotations map[string]string `json:"common_annotations"`
		ExternalURL       string            `json:"external_url"`
		Labels            map[string]string `json:"labels"`
		Alerts            []struct {
			Status       string            `json:"status"`
			Labels       map[string]string `json:"labels"`
			Annotations  map[string]string `json:"annotations"`
			GeneratorURL string            `json:"generator_url"`
		} `json:"alerts"`
		Event *struct {
			Links []struct {
				Href string `json:"href"`
				Text string `json:"text"`
			} `json:"links"`
			Client    string `json:"client"`
			ClientURL string `json:"client_url"`
			Payload   *struct {
				Severity      string         `json:"severity"`
				Source        string         `json:"source"`
				Component     string         `json:"component"`
				Group         string         `json:"group"`
				Class         string         `json:"class"`
				CustomDetails map[string]any `json:"custom_details"`
			} `json:"payload"`
		} `json:"event"`
		Alert *struct {
			Description string            `json:"description"`
			Details     map[string]string `json:"details"`
		} `json:"alert"`
	}
	var out details
	if len(raw) == 0 || json.Unmarshal(raw, &d) != nil {
		return out
	}
	seen := map[string]bool{}
	addLink := func(text, u string) {
		if !isWebURL(u) || seen[u] {
			return
		}
		seen[u] = true
		out.Links = append(out.Links, link{Text: text, URL: u})
	}
	annotationLinks := func(ann map[string]string) {
		for _, k := range slices.Sorted(maps.Keys(ann)) {
			lk := strings.ToLower(k)
			if strings.Contains(lk, "runbook") || strings.Contains(lk, "dashboard") || strings.Contains(lk, "playbook") {
				addLink(k, ann[k])
			}
		}
	}
	for _, a := range d.Alerts {
		out.Alerts = append(out.Alerts, alertView{Status: a.Status, Labels: pairs(a.Labels), Annotations: pairs(a.Annotations)})
		annotationLinks(a.Annotations)
		addLink("Source (generator URL)", a.GeneratorURL)
	}
	annotationLinks(d.CommonAnnotations)
	addLink("Alertmanager", d.ExternalURL)
	if e := d.Event; e != nil {
		a := alertView{}
		if p := e.Payload; p != nil {
			labels := map[string]string{"severity": p.Severity, "source": p.Source, "component": p.Component, "group": p.Group, "class": p.Class}
			custom := map[string]string{}
			for k, v := range p.CustomDetails {
				if s, ok := v.(string); ok {
					custom[k] = s
				}
			}
			a.Labels, a.Annotations = pairs(labels), pairs(custom)
			annotationLinks(custom)
		}
		out.Alerts = append(out.Alerts, a)
		for _, l := range e.Links {
			text := l.Text
			if text == "" {
				text = "Link"
			}
			addLink(text, l.Href)
		}
		text := e.Client
		if text == "" {
			text = "Source"
		}
		addLink(text, e.ClientURL)
	}
	if d.Alert != nil {
		out.Text = d.Alert.Description
		out.Alerts = append(out.Alerts, alertView{Labels: pairs(d.Labels), Annotations: pairs(d.Alert.Details)})
		annotationLinks(d.Alert.Details)
	} else if len(d.Alerts) == 0 && d.Event == nil && len(d.Labels) > 0 {
		out.Alerts = append(out.Alerts, alertView{Labels: pairs(d.Labels)})
	}
	return out
}

// isWebURL reports whether s is an absolute http or https URL: nothing
// else (javascript:, data:) becomes a link.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// pairs are a map's non-empty entries, sorted by key.
func pairs(m map[string]string) []kv {
	var out []kv
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != "" {
			out = append(out, kv{k, m[k]})
		}
	}
	return out
}
