// Package report turns incident history into the numbers both reference
// organisations run their on-call by, the pay their rules owe, and the
// handoff document their templates ask for.
//
// It is pure, like policy: no I/O and no clock. The period, the instant the
// report is as of, and the incidents with their timelines are arguments, so
// the CLI (reading the API), the HTTP endpoint and the web console (reading
// the store) get the same figures, and tests check them on a fixed week.
//
// A report streams: New takes the config and the period, Add takes one
// incident at a time (in any order) and keeps only counters and the
// durations percentiles need, and Report finishes. A year of a team's
// history (20,000 incidents) takes a fraction of a second
// (BenchmarkYearOfHistory).
//
// What each figure counts, precisely:
//
//   - An incident is in the period when it was created in [From, To);
//     everything about it (its pages too) counts there and in the report
//     week it was created in.
//   - Alerts: an Alertmanager incident counts the alerts of its group
//     (alerts_total in its details), any other incident one.
//   - MTTA and MTTR run from creation to the first acknowledgement and to
//     the resolution, less the time maintenance windows held the incident
//     (Incident.Held): nobody was paged then. An incident held from its
//     creation counts from the window's end; one acknowledged while held,
//     before anyone was paged, has the time it paged before the hold (zero
//     if none). Mean, median and p90; percentiles by nearest rank (the
//     median of 4 values is the 2nd smallest, the p90 of 10 the 9th).
//   - Acknowledged (resolved) within target: the acknowledge (resolution)
//     target in force when the incident was created, of the priority it
//     was created with, or, when a raise came before it was met, the new
//     priority's counted from the raise if that falls due sooner or the
//     created priority had none (as the engine arms them), business
//     hours and next_business_day included, as policy computes it, its
//     clock stopped while a maintenance window held the incident (as the
//     engine's targets are). An
//     incident resolved before its acknowledge deadline without an
//     acknowledgement, or still open before its deadline at AsOf, is not
//     counted either way.
//   - Escalated: the timeline has an escalation (a level timed out, every
//     page of a level failed, an "unresolved after" or "no status update"
//     rule fired, someone escalated it, or an auto-escalation trigger paged
//     a further level); a priority
//     raise is not one, nor a level paged again because a reload removed
//     the person it was paging, nor a level that paged nobody with no
//     level to go on to (a one-level policy whose tier nobody holds then:
//     the timeline says so, the incident stays at its level), nor the
//     page of such an incident when someone comes on call ("nobody was
//     on call when the alert came", or when its priority was raised: its
//     first page since, from level 1).
//   - Pages are the notify entries of the timeline (pages sent); a storm
//     bundle is one page per person and channel however many incidents it
//     carried. Failed pages are counted apart, a storm message that failed
//     as one. A page is outside business hours when the service's
//     business_hours calendar is closed, and at night when the person's own
//     clock shows reports.night (22:00 to 07:00).
//   - False-positive candidates: resolved within
//     reports.false_positive_within of creation, never acknowledged.
//   - Alerts per engineer per week: the incidents that paged the person,
//     in each report week.
//   - Time on call (pay weeks, for a weekly stipend): the time each person
//     was scheduled, overrides applied, in a schedule tier that a paid
//     service's escalation policy pages (levels and "unresolved after"
//     rules), each instant once, within the period and up to AsOf. It
//     comes from the config's schedules, not from the incidents: pass a
//     config with the run-time overrides merged in to count them.
package report
