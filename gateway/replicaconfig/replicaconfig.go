// Package replicaconfig keeps, in the store every replica shares, which config
// each live replica runs: the config file's hash and when the replica took
// it into use. Replicas publish nothing else of their config to each
// other, and in a rolling config change one still on the old config must
// be able to tell that it is behind (a replica runs a config loaded later
// than its own): a step for a person its config lacks is then the newer
// config's to page, not a person a reload removed (gateway/dispatch). It
// also tells operators when replicas run different configs for longer
// than a rollout takes (pagerd_config_replicas).
package replicaconfig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Kind is the store.Docs kind of the registry: one document per replica,
// by its id (Entry in JSON).
const Kind = "replica-configs"

const (
	// Interval is how often a replica writes its entry again (and reads
	// everyone's).
	Interval = 15 * time.Second
	// TTL is how long an entry counts as live after it was last written:
	// a replica that stopped (killed, partitioned from the store) drops
	// out of the registry within it, and with it any hold its config had
	// on another replica's steps.
	TTL = 4 * Interval
	// callTimeout bounds each store call of the registry.
	callTimeout = 2 * time.Second
)

// Entry is what one replica says of the config it runs.
type Entry struct {
	// Replica is the replica's id (host name and a random suffix).
	Replica string `json:"replica"`
	// Hash is its config's policy.Config.Hash.
	Hash string `json:"hash"`
	// LoadedAt is when it took a config of this hash into use: at start,
	// or at the reload that changed the hash. A reload of the same file
	// keeps it, so that reloading every replica with an unchanged config
	// does not make an old one look newest.
	LoadedAt time.Time `json:"loaded_at"`
	// SeenAt is when it last wrote the entry (its heartbeat).
	SeenAt time.Time `json:"seen_at"`
}

// live reports whether the entry was written within TTL of now.
func (e Entry) live(now time.Time) bool { return now.Sub(e.SeenAt) < TTL }

// Options configure a Registry.
type Options struct {
	Store  store.Docs
	Now    func() time.Time
	Logger *slog.Logger
	// Registry receives pagerd_config_replicas (nil: not registered).
	Registry prometheus.Registerer
	// ID names this replica in the registry (default the host name and
	// a random suffix: unique per process).
	ID string
}

// Registry is this replica's entry in the store, and its reading of
// everyone's.
type Registry struct {
	o        Options
	replicas *prometheus.GaugeVec
	kick     chan struct{}

	mu       sync.Mutex
	hash     string
	loadedAt time.Time
	failing  bool
	// counted is set once pagerd_config_replicas was set from the
	// registry.
	counted bool
}

// New builds this replica's registry. Nothing is written until Loaded and
// Publish (or Run).
func New(o Options) *Registry {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ID == "" {
		o.ID = newID()
	}
	r := &Registry{o: o, kick: make(chan struct{}, 1),
		replicas: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pagerd_config_replicas",
			Help: "Live replicas (those that wrote their entry in the store's registry within the last minute) by the hash of the config they run, as this replica last read the registry. More than one hash: replicas run different configs (a rollout in progress, or one that stopped half-way)."},
			[]string{"hash"}),
	}
	if o.Registry != nil {
		o.Registry.MustRegister(r.replicas)
	}
	return r
}

// newID is a replica id unique to this process: the host name (the pod's,
// under Kubernetes) for whoever reads the store, and a random suffix, for
// two processes on one host.
func newID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	if host == "" {
		host = "pagerd"
	}
	return host + "-" + hex.EncodeToString(b)
}

// ID is this replica's id in the registry.
func (r *Registry) ID() string { return r.o.ID }

// Loaded records cfg as the config this replica runs, as of now unless it
// has the hash of the one it ran already, and has Run write it at once.
// For configHolder.OnLoad: at start and at every reload.
func (r *Registry) Loaded(cfg *policy.Config) {
	r.mu.Lock()
	if cfg.Hash != r.hash || r.loadedAt.IsZero() {
		r.hash, r.loadedAt = cfg.Hash, r.o.Now()
	}
	if !r.counted {
		// Until the registry is first read, this replica knows of
		// itself: the series is there from the first scrape.
		r.replicas.Reset()
		r.replicas.WithLabelValues(Short(r.hash)).Set(1)
	}
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default: // one is on its way
	}
}

// own is this replica's entry as of now.
func (r *Registry) own(now time.Time) Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Entry{Replica: r.o.ID, Hash: r.hash, LoadedAt: r.loadedAt, SeenAt: now}
}

// Publish writes this replica's entry, drops the entries no longer live
// (a replica stopped without removing its own), and sets
// pagerd_config_replicas from what the registry holds then.
func (r *Registry) Publish(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		docs, ver, err := r.o.Store.ListDocs(ctx, Kind)
		if err != nil {
			return err
		}
		now := r.o.Now()
		me := r.own(now)
		b, err := json.Marshal(me)
		if err != nil {
			return err
		}
		entries := decode(docs)
		var del []string
		live := []Entry{me}
		for id, e := range entries {
			switch {
			case id == me.Replica:
			case !e.live(now):
				del = append(del, id)
			default:
				live = append(live, e)
			}
		}
		_, err = r.o.Store.PutDocs(ctx, Kind, ver, map[string][]byte{me.Replica: b}, del)
		if errors.Is(err, store.ErrConflict) && attempt < 10 {
			continue // another replica wrote its entry at the same moment
		}
		if err != nil {
			return err
		}
		r.count(live)
		return nil
	}
}

// count sets pagerd_config_replicas from the live entries.
func (r *Registry) count(live []Entry) {
	n := map[string]int{}
	for _, e := range live {
		n[Short(e.Hash)]++
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counted = true
	r.replicas.Reset()
	for h, c := range n {
		r.replicas.WithLabelValues(h).Set(float64(c))
	}
}

// Short is the hash as pagerd_config_replicas and the log show it: enough
// of it to tell configs apart.
func Short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// Live reads the entries of the replicas live now, this one's as last
// written included.
func (r *Registry) Live(ctx context.Context) ([]Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	docs, _, err := r.o.Store.ListDocs(ctx, Kind)
	if err != nil {
		return nil, err
	}
	now := r.o.Now()
	var live []Entry
	for _, e := range decode(docs) {
		if e.live(now) {
			live = append(live, e)
		}
	}
	return live, nil
}

// Newer returns the entry of a live replica that runs another config than
// this one, taken into use later than this one's (this replica is behind
// it in a rollout), if there is one: the latest such. The registry is
// read at each call (a replica that started a moment ago counts). ok is
// false when there is none, and when the registry cannot be read: the
// caller then acts on its own config, as if it ran alone.
func (r *Registry) Newer(ctx context.Context) (newer Entry, ok bool) {
	live, err := r.Live(ctx)
	if err != nil {
		r.o.Logger.Warn("replicas: the registry of replicas' configs could not be read; acting on this replica's config alone", "err", err)
		return Entry{}, false
	}
	me := r.own(r.o.Now())
	if me.Hash == "" {
		return Entry{}, false
	}
	for _, e := range live {
		if e.Replica == me.Replica || e.Hash == me.Hash || e.Hash == "" || !e.LoadedAt.After(me.LoadedAt) {
			continue
		}
		if !ok || e.LoadedAt.After(newer.LoadedAt) {
			newer, ok = e, true
		}
	}
	return newer, ok
}

// Run publishes this replica's entry at once, after each Loaded, and every
// Interval until ctx ends, then removes it: a replica that stops holds no
// other's steps for the TTL.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(Interval)
	defer t.Stop()
	for {
		r.publish(ctx)
		select {
		case <-ctx.Done():
			r.remove(context.WithoutCancel(ctx))
			return
		case <-t.C:
		case <-r.kick:
		}
	}
}

// publish is Publish, its failures logged once per streak.
func (r *Registry) publish(ctx context.Context) {
	err := r.Publish(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil && !r.failing && ctx.Err() == nil:
		r.failing = true
		r.o.Logger.Warn("replicas: this replica's config not written to the registry; replicas on an older config may act on it as on a removal until it is",
			"err", err)
	case err == nil && r.failing:
		r.failing = false
		r.o.Logger.Info("replicas: this replica's config written to the registry again")
	}
}

// remove deletes this replica's entry.
func (r *Registry) remove(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	for attempt := 0; attempt < 10; attempt++ {
		_, ver, err := r.o.Store.ListDocs(ctx, Kind)
		if err != nil {
			return
		}
		_, err = r.o.Store.PutDocs(ctx, Kind, ver, nil, []string{r.o.ID})
		if !errors.Is(err, store.ErrConflict) {
			return
		}
	}
}

// decode reads the registry's documents; one that does not decode is left
// out (and dropped by the next Publish, once it is no longer live: its
// SeenAt is zero).
func decode(docs map[string][]byte) map[string]Entry {
	out := make(map[string]Entry, len(docs))
	for id, b := range docs {
		var e Entry
		_ = json.Unmarshal(b, &e)
		e.Replica = id
		out[id] = e
	}
	return out
}
