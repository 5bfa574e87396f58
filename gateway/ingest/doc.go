// Package ingest decodes and validates what pagerd receives: Prometheus
// Alertmanager webhook notifications (payload version 4) and PagerDuty
// Events API v2 events.
//
// It is pure on purpose: no HTTP server, no storage and no clock reads, so
// the HTTP handlers stay thin and every rule about what input is acceptable
// can be tested (and fuzzed) without a daemon. A handler reads the body under
// its own size limit, calls DecodeAlertmanager or DecodeEvent, answers 400
// for input that can never succeed, and hands the resulting groups to the
// incident service (gateway/incident), which routes and stores them.
package ingest
