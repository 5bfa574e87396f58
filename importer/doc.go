// Package importer turns another pager's configuration, as its REST API
// returns it, into a pagerd config: Opsgenie (API responses and the
// opsgenie-configuration-backup layout), PagerDuty (REST API v2) and Grafana
// OnCall (HTTP API v1).
//
// Each vendor file reads that vendor's JSON into one vendor-neutral model
// (people, schedules of rotations and overrides, escalation ladders,
// services); one builder maps that model onto pagerd's, one function per
// rotation shape, and writes down in a Report everything it could not carry
// over as it was, naming the source entity and why. Nothing is dropped
// without a line in the report. The config it writes is loaded with
// policy.Parse before it is returned, so an import either yields a config
// that check-config accepts or fails.
package importer
