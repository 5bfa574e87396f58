// Package policy is pagerd's pure core: the config model and its strict
// loading, how an alert is routed to a priority and its targets, business
// hours, who is on call from rotations and overrides, and the escalation
// state machine (Engine) that turns an incident and an event into a new
// state and the actions to take.
//
// It does no I/O and never reads the clock: time is always an argument. So
// the daemon (gateway) and `pagerd simulate` drive the same machine, one on
// stored incidents and the real clock, the other on a virtual one, and
// every rule can be tested at any instant. Errors name the config file, the
// field path and the fix; they never name a command line flag, which is the
// CLI's business.
package policy
