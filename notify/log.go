package notify

import (
	"context"
	"encoding/json"
	"io"
	"sync"
)

// Log writes each page as one JSON object on its own line: time (RFC 3339,
// sub-second), incident, priority, level, user, channel and text, and for an
// alert-storm message the incidents it carries. It is how
// the quickstart pages people, and how anyone can watch pagerd work without
// a phone provider.
type Log struct {
	mu sync.Mutex
	w  io.Writer
}

var _ Notifier = (*Log)(nil)

// NewLog writes to w.
func NewLog(w io.Writer) *Log { return &Log{w: w} }

type logLine struct {
	Time     string `json:"time"`
	Incident string `json:"incident"`
	Service  string `json:"service"`
	Priority string `json:"priority"`
	Urgency  string `json:"urgency"`
	Level    int    `json:"level"`
	User     string `json:"user"`
	Channel  string `json:"channel"`
	Text     string `json:"text"`
	// Incidents are an alert-storm message's incidents; Incident is then
	// the bundle's id.
	Incidents []string `json:"incidents,omitempty"`
}

// Notify writes the line. A write error is worth retrying (a full disk can
// free up); nothing else can fail.
func (l *Log) Notify(_ context.Context, m Message) error {
	b, err := json.Marshal(logLine{Time: m.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Incident: m.Incident,
		Service: m.Service, Priority: m.Priority, Urgency: m.Urgency, Level: m.Level, User: m.User, Channel: m.Channel, Text: m.Text, Incidents: m.Incidents})
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(append(b, '\n'))
	return Temporary(err)
}
