package report_test

import (
	"fmt"
	"os"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

// fromStore is all it takes to feed a report from the store: one field
// each, and one conversion per timeline entry (report.Entry has
// store.Entry's fields).
func fromStore(inc *store.Incident, timeline []store.Entry) report.Incident {
	st := inc.State
	out := report.Incident{ID: inc.ID, Service: inc.Service, Status: string(st.Status), Priority: st.Priority,
		Summary: inc.Summary, CreatedAt: inc.CreatedAt, AcknowledgedAt: st.AcknowledgedAt, AcknowledgedBy: st.AcknowledgedBy,
		ResolvedAt: st.ResolvedAt, ResolvedBy: st.ResolvedBy, Details: inc.Details, Timeline: make([]report.Entry, len(timeline))}
	for i, e := range timeline {
		out.Timeline[i] = report.Entry(e)
	}
	return out
}

// A report streams: Add each incident as the store pages through them,
// then render it.
func Example() {
	cfg, err := policy.LoadFile("../configs/aion-r.yaml")
	if err != nil {
		panic(err)
	}
	b, err := report.New(cfg, report.Options{
		From: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC),
		To:   time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2025, 10, 11, 10, 0, 0, 0, time.UTC) // a Saturday
	inc := &store.Incident{ID: "01-x", Service: "aion-r-platform", Summary: "Payments webhook failing", CreatedAt: t0,
		State: policy.Incident{Status: policy.StatusResolved, Priority: "SEV-1", AcknowledgedAt: t0.Add(4 * time.Minute),
			AcknowledgedBy: "eng-a", ResolvedAt: t0.Add(270 * time.Minute), ResolvedBy: "eng-a"}}
	timeline := []store.Entry{
		{At: t0, Type: "notify", Level: 1, User: "eng-a", Channel: "push"},
		{At: t0.Add(4 * time.Minute), Type: "ack", Level: 1, User: "eng-a", Actor: "eng-a"},
		{At: t0.Add(270 * time.Minute), Type: "resolve", Level: 1, User: "eng-a", Actor: "eng-a"},
	}
	ri := fromStore(inc, timeline)
	b.Add(&ri)
	r := b.Report()
	fmt.Printf("MTTA %s, MTTR %s\n", report.FormatDuration(time.Duration(r.Total.MTTA.Mean)), report.FormatDuration(time.Duration(r.Total.MTTR.Mean)))
	if err := r.WritePayrollCSV(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// MTTA 4m, MTTR 4h30m
	// week,user,name,billable_minutes,billable_hours,comp_days,incidents,on_call_minutes,on_call_hours,weekend_minutes,weekend_hours,after_hours_minutes,after_hours_hours
	// 2025-10-06,eng-a,Engineer A,270,4.50,2,01-x,10080,168.00,270,4.50,0,0.00
	// 2025-10-06,eng-b,Engineer B,0,0.00,0,,10080,168.00,0,0.00,0,0.00
	// 2025-10-06,lead-x,Team Lead X,0,0.00,0,,10080,168.00,0,0.00,0,0.00
}
