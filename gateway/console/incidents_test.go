package console

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// TestIncidentLevelIsOneBased: the page counts levels from 1, as the
// timeline and the escalation policy's docs do, when a level has no name.
func TestIncidentLevelIsOneBased(t *testing.T) {
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	inc := &store.Incident{ID: "i1", Service: "api", Summary: "s", CreatedAt: at,
		State: policy.Incident{Status: policy.StatusTriggered, Priority: "P1", Urgency: "high", Level: 0}}
	v := &viewer{User: &policy.User{ID: "ann"}, Role: policy.RoleViewer}
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, "incident.html", page{Viewer: v, Body: incidentView{Inc: inc, Age: "1m"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "<dt>Level</dt><dd>1 (urgency high)</dd>") {
		t.Errorf("the first level of an unnamed ladder is not shown as 1:\n%s", b.String())
	}
}
