package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/pagerd/pagerd/gateway/heartbeat"
	"github.com/pagerd/pagerd/gateway/maintenance"
	"github.com/pagerd/pagerd/policy"
)

// armJobs stores the jobs every config taken into use needs (its new
// heartbeats' first expiries, its maintenance windows' starts and ends,
// the watch of each Alertmanager its services name),
// retrying with backoff while the store refuses, until a newer config
// replaces it or ctx ends. Every replica does it; the jobs are keyed, so
// doing it twice stores them once.
func (d *Daemon) armJobs(ctx context.Context) {
	wait := 100 * time.Millisecond
	for {
		var cfg *policy.Config
		select {
		case <-ctx.Done():
			return
		case cfg = <-d.arm:
		}
		for {
			err := d.armConfig(ctx, cfg)
			if err == nil {
				wait = 100 * time.Millisecond
				break
			}
			d.log.Warn("heartbeats and maintenance windows not armed yet; retrying", "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return
			case cfg = <-d.arm: // a newer config: arm that one
			case <-time.After(wait):
			}
			wait = min(wait*2, 5*time.Second)
		}
	}
}

// armConfig stores the jobs of one config.
func (d *Daemon) armConfig(ctx context.Context, cfg *policy.Config) error {
	actx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if err := d.heartbeats.Arm(actx, cfg); err != nil {
		return err
	}
	if err := d.notices.Arm(actx); err != nil {
		return err
	}
	// A reload that names another Alertmanager has its config watched
	// from now, not from the next hourly EnsureJobs.
	if err := d.withheld.ArmConfigWatch(actx, cfg); err != nil {
		return err
	}
	if err := d.windows.Arm(actx, cfg); err != nil || d.handoffs == nil {
		return err
	}
	// A reload that moved a schedule's handoff moves its document's job
	// now, not at the next hourly EnsureJobs, after the handoff.
	return d.handoffs.Move(actx)
}

// Arm stores the jobs of the config in force (as Run does at start and at
// every reload), for tests and tools that do not Run the daemon.
func (d *Daemon) Arm(ctx context.Context) error {
	select {
	case <-d.arm:
	default:
	}
	return d.armConfig(ctx, d.cfg.Load())
}

// Heartbeats is the daemon's heartbeat monitor.
func (d *Daemon) Heartbeats() *heartbeat.Monitor { return d.heartbeats }

// Maintenance is the daemon's maintenance windows.
func (d *Daemon) Maintenance() *maintenance.Windows { return d.windows }

// rearmPoll is how often, in real time, rearmJobs looks whether a
// re-arm is due on the daemon's clock.
const rearmPoll = time.Second

// rearmJobs re-arms the jobs of the config in force (the heartbeats'
// expiries, the shift notices, the maintenance windows' starts) every
// heartbeat.RearmEvery, and at once when the store comes back from an
// outage: a store that lost its data (Redis restarted without persistence)
// lost those jobs (the windows' are those last armed: a newer config is
// armJobs' to arm), and a heartbeat whose sender is dead would otherwise
// never be missed, a shift notice never sent, and a window never hold the
// incidents opened before it starts, until the next restart or reload.
// Each arming only puts back a job that is missing, and never moves one
// still stored. The timer is this process's own, not a store job, which
// the same loss would take; the heartbeat monitor keeps its time.
func (d *Daemon) rearmJobs(ctx context.Context) {
	t := time.NewTicker(rearmPoll)
	defer t.Stop()
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.storeBack:
			force = true
		}
		actx, cancel := context.WithTimeout(ctx, requestTimeout)
		cfg := d.cfg.Load()
		did, err := d.heartbeats.Rearm(actx, cfg, force)
		if did {
			// Not stopped by a heartbeat the store refused: the notices and
			// windows are tried too, and again at the heartbeats' retry.
			err = errors.Join(err, d.notices.Arm(actx), d.windows.Rearm(actx))
		}
		cancel()
		if did && err != nil && ctx.Err() == nil {
			d.heartbeats.RetrySoon()
			d.log.Warn("jobs not re-armed; trying again soon", "err", err)
		}
	}
}
