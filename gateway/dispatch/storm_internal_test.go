package dispatch

import (
	"reflect"
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestDistinctIncidentsKeepTheLatestReopenCount: an incident held twice
// (paged again after a reopen while its first page waited) is one line of
// the message, its most urgent page's, with the highest reopen count of
// its pages: the message is an answer to the incident as it is since, and
// a PagerDuty acknowledgement of it must not be refused as one from before
// that reopen.
func TestDistinctIncidentsKeepTheLatestReopenCount(t *testing.T) {
	held := []store.HeldPage{
		{Incident: "a", Rank: 2, Reopened: 0, Deadline: "a1"},
		{Incident: "b", Rank: 1, Reopened: 3, Deadline: "b1"},
		{Incident: "a", Rank: 3, Reopened: 1, Deadline: "a2"}, // less urgent, later reopen
		{Incident: "b", Rank: 0, Reopened: 2, Deadline: "b2"}, // more urgent, older count
	}
	want := []store.HeldPage{
		{Incident: "a", Rank: 2, Reopened: 1, Deadline: "a1"},
		{Incident: "b", Rank: 0, Reopened: 3, Deadline: "b2"},
	}
	if got := distinctIncidents(held); !reflect.DeepEqual(got, want) {
		t.Fatalf("distinctIncidents = %+v, want %+v", got, want)
	}
}
