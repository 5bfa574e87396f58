package importer

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// The config as written: only the sections and fields an import sets, in
// the order docs/CONFIG.md describes them, so the file reads like one a
// person wrote.

type outConfig struct {
	Server             *outServer    `yaml:"server,omitempty"`
	Notifiers          *outNotifiers `yaml:"notifiers,omitempty"`
	BusinessHours      []outCalendar `yaml:"business_hours,omitempty"`
	Users              []outUser     `yaml:"users,omitempty"`
	Schedules          []outSchedule `yaml:"schedules,omitempty"`
	EscalationPolicies []outPolicy   `yaml:"escalation_policies,omitempty"`
	Services           []outService  `yaml:"services,omitempty"`
}

type outServer struct {
	PublicURL string `yaml:"public_url,omitempty"`
}

type outNotifiers struct {
	Twilio *outTwilio `yaml:"twilio,omitempty"`
	Slack  *outSlack  `yaml:"slack,omitempty"`
	Email  *outEmail  `yaml:"email,omitempty"`
}

type outTwilio struct {
	AccountSID quoted `yaml:"account_sid"`
	AuthToken  quoted `yaml:"auth_token"`
	From       quoted `yaml:"from"`
}

type outSlack struct {
	BotToken      quoted `yaml:"bot_token"`
	SigningSecret quoted `yaml:"signing_secret"`
}

type outEmail struct {
	Smarthost quoted `yaml:"smarthost"`
	From      quoted `yaml:"from"`
	Username  quoted `yaml:"username"`
	Password  quoted `yaml:"password"`
}

type outCalendar struct {
	Name     string   `yaml:"name"`
	TimeZone string   `yaml:"time_zone,omitempty"`
	Days     []string `yaml:"days,flow"`
	Start    quoted   `yaml:"start"`
	End      quoted   `yaml:"end"`
	comment  string
}

type outUser struct {
	ID                string       `yaml:"id"`
	Name              string       `yaml:"name,omitempty"`
	Email             string       `yaml:"email,omitempty"`
	TimeZone          string       `yaml:"time_zone,omitempty"`
	Contacts          []outContact `yaml:"contacts"`
	SlackUser         string       `yaml:"slack_user,omitempty"`
	NotificationRules *outRules    `yaml:"notification_rules,omitempty"`
	comment           string
}

type outContact struct {
	Channel string `yaml:"channel"`
	Via     string `yaml:"via"`
	Address quoted `yaml:"address,omitempty"`
}

type outRules struct {
	High []outStep `yaml:"high,omitempty,flow"`
	Low  []outStep `yaml:"low,omitempty,flow"`
}

type outStep struct {
	After   string `yaml:"after"`
	Channel string `yaml:"channel"`
}

type outSchedule struct {
	Name      string        `yaml:"name"`
	TimeZone  string        `yaml:"time_zone"`
	Handoff   outHandoff    `yaml:"handoff,flow"`
	Tiers     []outTier     `yaml:"tiers"`
	Overrides []outOverride `yaml:"overrides,omitempty"`
	comment   string
}

type outHandoff struct {
	Weekday string `yaml:"weekday"`
	Time    quoted `yaml:"time"`
}

type outTier struct {
	Name        string `yaml:"name"`
	Title       string `yaml:"title,omitempty"`
	outRotation `yaml:",inline"`
	Layers      []outLayer `yaml:"layers,omitempty"`
}

// outLayer is a rotation stacked on a tier: the same fields as the tier's
// own rotation, and a name.
type outLayer struct {
	Name        string `yaml:"name"`
	outRotation `yaml:",inline"`
}

// outRotation is a rotation's fields, a tier's own or a layer's.
type outRotation struct {
	Start        string           `yaml:"start"`
	ShiftWeeks   int              `yaml:"shift_weeks,omitempty"`
	ShiftDays    int              `yaml:"shift_days,omitempty"`
	ShiftHours   int              `yaml:"shift_hours,omitempty"`
	HandoffTime  quoted           `yaml:"handoff_time,omitempty"`
	Members      []string         `yaml:"members,flow"`
	Restrictions []outRestriction `yaml:"restrictions,omitempty"`
}

type outRestriction struct {
	Days     []string `yaml:"days,omitempty,flow"`
	StartDay string   `yaml:"start_day,omitempty"`
	Start    quoted   `yaml:"start"`
	EndDay   string   `yaml:"end_day,omitempty"`
	End      quoted   `yaml:"end"`
}

type outOverride struct {
	Reason string            `yaml:"reason,omitempty"`
	From   string            `yaml:"from"`
	Until  string            `yaml:"until"`
	Tiers  map[string]string `yaml:"tiers,flow"`
}

type outPolicy struct {
	Name       string          `yaml:"name"`
	Repeat     int             `yaml:"repeat,omitempty"`
	Levels     []outLevel      `yaml:"levels"`
	Unresolved []outUnresolved `yaml:"unresolved,omitempty"`
	comment    string
}

type outLevel struct {
	Targets []outTarget `yaml:"targets"`
	Timeout string      `yaml:"timeout,omitempty"`
}

type outTarget struct {
	Schedule string `yaml:"schedule,omitempty"`
	Tier     string `yaml:"tier,omitempty"`
	User     string `yaml:"user,omitempty"`
}

type outUnresolved struct {
	Priorities []string    `yaml:"priorities,flow"`
	After      string      `yaml:"after"`
	Notify     []outTarget `yaml:"notify"`
}

type outService struct {
	Name             string                `yaml:"name"`
	Description      string                `yaml:"description,omitempty"`
	PriorityScheme   string                `yaml:"priority_scheme"`
	EscalationPolicy string                `yaml:"escalation_policy"`
	BusinessHours    string                `yaml:"business_hours,omitempty"`
	Integrations     *outIntegrations      `yaml:"integrations,omitempty"`
	Rules            []outRule             `yaml:"rules,omitempty"`
	Targets          map[string]outTargets `yaml:"targets,omitempty"`
	Heartbeats       []outHeartbeat        `yaml:"heartbeats,omitempty"`
	comment          string
}

type outHeartbeat struct {
	Name     string            `yaml:"name"`
	Interval string            `yaml:"interval"`
	Labels   map[string]string `yaml:"labels,omitempty,flow"`
}

type outIntegrations struct {
	AlertmanagerKey     quoted `yaml:"alertmanager_key,omitempty"`
	PagerDutyRoutingKey quoted `yaml:"pagerduty_routing_key,omitempty"`
}

type outRule struct {
	Name     string   `yaml:"name"`
	Matchers []string `yaml:"matchers,flow"`
	Priority string   `yaml:"priority"`
}

type outTargets struct {
	Urgency       string        `yaml:"urgency,omitempty"`
	BusinessHours *outTargetSet `yaml:"business_hours,omitempty,flow"`
	OffHours      *outTargetSet `yaml:"off_hours,omitempty,flow"`
}

type outTargetSet struct {
	Urgency string `yaml:"urgency"`
}

// quoted is a string written in double quotes: times of day, phone numbers
// and ${ENV} references, which other YAML readers would take for numbers
// or which need quotes in a flow mapping.
type quoted string

// MarshalYAML writes the string double-quoted.
func (q quoted) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle, Tag: "!!str", Value: string(q)}, nil
}

// encode writes the config with a header comment and, above each entry of
// the lists, the source entity it came from.
func (c *outConfig) encode(header string) ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	comments := map[string][]string{}
	for _, u := range c.Users {
		comments["users"] = append(comments["users"], u.comment)
	}
	for _, s := range c.Schedules {
		comments["schedules"] = append(comments["schedules"], s.comment)
	}
	for _, p := range c.EscalationPolicies {
		comments["escalation_policies"] = append(comments["escalation_policies"], p.comment)
	}
	for _, s := range c.Services {
		comments["services"] = append(comments["services"], s.comment)
	}
	for _, cal := range c.BusinessHours {
		comments["business_hours"] = append(comments["business_hours"], cal.comment)
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key, val := doc.Content[i], doc.Content[i+1]
		for j, item := range val.Content {
			if cs := comments[key.Value]; j < len(cs) && cs[j] != "" {
				item.HeadComment = cs[j]
			}
		}
	}
	doc.HeadComment = header
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}
