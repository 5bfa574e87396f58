// Package boltstore is the embedded default store: incidents live in one
// bbolt file (pagerd.db) in the data directory, so a single pagerd replica
// needs no Redis and no setup. bbolt is pure Go (no cgo), crash-safe
// copy-on-write B+trees with one writer at a time.
//
// Durability: every operation is one bbolt transaction, and every write
// transaction is fsynced before it returns (NoSync stays false). An alert the
// daemon acknowledged with a 2xx is therefore on disk and survives a crash or
// power loss; an acknowledged incident cannot page again after a restart,
// because the incident, its timeline and its due entry are written in the
// same transaction. The file is locked while open, so two pagerd processes
// cannot share a data directory (bbolt has no multi-process writer safety);
// the second one fails after a short wait instead of corrupting it.
//
// Buckets:
//
//	meta       "format" -> stored format version ("2")
//	incidents  id -> JSON of the whole store.Incident (version, repeats, details)
//	dedup      service "\x00" dedup key -> id of the latest incident for the key
//	timeline   id -> nested bucket: 8-byte big-endian sequence -> JSON entry
//	due        8-byte due ms + id -> empty: one entry per incident with a
//	           pending deadline, at the earliest one (at the lease end while
//	           the incident is claimed)
//	sched      id -> 8-byte due key ms + 8-byte original due ms + claim token
//	           ("" when unclaimed): where the incident's due entry is; an
//	           unclaimed incident that Release put off has "!" and that
//	           time's 8 bytes in place of the token (notBeforeOf)
//	created    8-byte created ms + id -> index record (status, priority, service)
//	open       the same, for incidents that are not resolved
//	resolved   8-byte resolved ms + id -> empty, for resolved incidents
//	           (their created index record ends with that resolved ms)
//	storms, held, bundles: alert-storm bundling (storm.go)
//
// Open upgrades a store of an older format in place (format 1 kept one due
// entry per deadline, in a "deadlines" bucket) and refuses a newer one
// (ErrNewerFormat); format.go holds the upgrades.
//
// Times in keys are Unix milliseconds with the sign bit flipped, so they sort
// as unsigned big-endian bytes in time order, before 1970 included. Due times
// keep millisecond precision, like the Redis store.
package boltstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/blob"
	"github.com/pagerd/pagerd/gateway/store/internal/created"
	"github.com/pagerd/pagerd/gateway/store/internal/docjson"
	"github.com/pagerd/pagerd/policy"
)

// FileName is the database file Open keeps in the data directory.
const FileName = "pagerd.db"

// LockTimeout is how long Open waits for the file lock another process
// holds. Short, so a second pagerd on the same data directory (or one
// started before the old one exited) fails fast with a clear error, instead
// of hanging, as bbolt does by default.
const LockTimeout = 2 * time.Second

// format is the stored format version, checked on open so an incompatible
// future layout is refused rather than misread.
const format = "4"

// oldestReadable is the oldest format read as it is, without the upgrade
// only Open makes (OpenReadOnly): format 4 only packs the incidents'
// documents (blob), and reads format 3's plain JSON.
const oldestReadable = 3

var (
	bucketMeta      = []byte("meta")
	bucketIncidents = []byte("incidents")
	bucketDedup     = []byte("dedup")
	bucketTimeline  = []byte("timeline")
	bucketDue       = []byte("due")
	bucketSched     = []byte("sched")
	bucketCreated   = []byte("created")
	bucketOpen      = []byte("open")
	// bucketResolved is the index of resolve times (Filter.ResolvedSince).
	bucketResolved = []byte("resolved")

	allBuckets = [][]byte{bucketMeta, bucketIncidents, bucketDedup, bucketTimeline,
		bucketDue, bucketSched, bucketCreated, bucketOpen, bucketStorms, bucketHeld, bucketBundles, bucketJobs, bucketDocs, bucketDocsVer,
		bucketResolved}
)

// idKey is an incident's key in the buckets kept by incident (incidents,
// timeline, sched): its id with the shard moved from the front to the end,
// so that keys sort by creation time across shards (format 3). Ids sort by
// shard first, so in format 2 a commit of 32 new alerts, spread over the 32
// shards, dirtied a leaf page of each shard's run in each of these buckets,
// and every page is a write of its own (bbolt writes page by page) inside
// the one writer: 4.3 pages written a new incident in
// BenchmarkTriggerConcurrent, 1.5 with the incidents of a commit sharing
// pages. Keys that are not incident ids (a storm's or a job's sched entry,
// "s:..." and "j:...") are kept as they are: a moved key is letters and
// digits only, so none is mistaken for another.
func idKey(id string) []byte {
	if !movable(id) {
		return []byte(id)
	}
	k := make([]byte, 0, len(id)-1)
	return append(append(k, id[3:]...), id[:2]...)
}

// movable reports whether id has the form idKey moves: two lower-case hex
// digits of shard, a dash, and then letters and digits only.
func movable(id string) bool {
	if len(id) < 4 || id[2] != '-' || !isLowerHex(id[0]) || !isLowerHex(id[1]) {
		return false
	}
	for i := 3; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// appendFill is how full bbolt leaves the first of two leaves it splits, in
// the buckets that fillAppended names, whose keys grow with time: an
// incident's id (idKey) or creation time, or a due time. bbolt's default is
// half, which suits keys that land anywhere; where new keys go at the end,
// the left half of a split is never written again, so half of every leaf
// of those buckets stayed empty for good. In the load run's ingest
// (`TestLoadIngest/embedded`), 2,348-2,521 bytes of file an incident in
// four runs at the default, 1,817 and 1,824 with these buckets at 0.9.
// Not 1.0: a leaf that an update makes longer (a document that grew, a due
// time moved) splits again at once when it is full to the brim. etcd fills
// its sequential keys to 0.9 for the same reason. The timeline is left at
// half: its values are incidents' inline timelines, which grow after they
// are written (a page, a storm's note), and at 0.9 its leaves took 877
// bytes an incident against 805. bbolt also merges, after deletes, a leaf
// under half of FillPercent (45% of a page here, 25% at the default): in
// open and due, whose keys are deleted as incidents resolve and steps are
// claimed, leaves merge more often; the load runs' closed loops did not
// drop with it.
const appendFill = 0.9

// fillAppended sets appendFill on the buckets whose keys grow with time.
// bbolt does not store a bucket's FillPercent; a writable transaction keeps
// the Bucket value it hands out, so every later tx.Bucket of these names in
// tx splits by it.
func fillAppended(tx *bbolt.Tx) {
	for _, name := range [][]byte{bucketIncidents, bucketCreated, bucketOpen, bucketSched, bucketDue} {
		if b := tx.Bucket(name); b != nil {
			b.FillPercent = appendFill
		}
	}
}

// Store is a store.Store in one local bbolt file. It is safe for concurrent
// use: bbolt runs one write transaction at a time and reads concurrently, so
// every operation is atomic and isolated by construction.
type Store struct {
	db  *bbolt.DB
	dir string
	w   *committer
	// upgradedFrom is the older format Open upgraded, or 0.
	upgradedFrom int
	// log is where the store says what goes wrong without failing a
	// call (a record Expire cannot decode): OpenLogged's.
	log *slog.Logger
	// heads is the head of the documents this process wrote last
	// (heads.go); nil in a store opened for a report.
	heads *created.Cache[*headDoc]
	// created is the incidents this store just created, for the claim
	// of their first page (created.go); nil in a store opened for a
	// report.
	created *created.Cache[*createdDoc]
	// storms is the storm states this store wrote last
	// (stormstate.go); nil in a store opened for a report.
	storms *stormStates
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file pagerd.db in dir, which
// is created with mode 0700 (incidents carry alert details). If another
// pagerd holds the file, Open gives up after LockTimeout with "data dir ...
// is in use by another pagerd".
//
// The database is opened with fsync on every commit (the bbolt default,
// kept on purpose: an acknowledged alert must survive power loss) and the
// hashmap freelist, which keeps commits fast as the file grows. The
// freelist is not written to the file (as etcd does): every commit wrote
// the whole list of free pages again, 8 bytes each, and a file that has
// deleted much (retention, a storm's held pages flushed) holds many: with
// 180 KB of it, the cycle of writes of an alert went from 1,800–2,000 a
// second to 1,400–1,800 (BenchmarkWriteCycleAfterDeletes). Open finds
// the free pages by reading the file's tree instead, which takes about a
// second a gigabyte (1.7 s for 1.5 GB, from the page cache). The file
// is mapped with room ahead (mapAhead), so that writes never wait for a
// long read: a backup streamed to a slow client, a year's report.
func Open(dir string) (*Store, error) { return OpenLogged(dir, slog.Default()) }

// OpenLogged is Open with the store saying through log what it does at
// open (an upgrade that moves every incident, which can take a while) and
// what goes wrong later without failing a call (a record Expire cannot
// decode), in the daemon's log rather than slog.Default()'s plain text.
func OpenLogged(dir string, log *slog.Logger) (*Store, error) {
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	var size int64
	fi, err := os.Stat(path)
	if err == nil {
		size = fi.Size()
	} else if _, rerr := os.Stat(filepath.Join(dir, restoringName)); rerr == nil {
		return nil, fmt.Errorf("data dir %s: %w (%s is there, and no %s): run pagerd restore again, which replaces it; "+
			"to start with an empty store instead, remove %s", dir, ErrRestoreUnfinished, restoringName, FileName, restoringName)
	}
	if err := checkLength(path, size); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         LockTimeout,
		FreelistType:    bbolt.FreelistMapType,
		NoSync:          false,
		NoFreelistSync:  true,
		InitialMmapSize: mapAhead(size),
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data dir %s is in use by another pagerd", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	var upgradedFrom int
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		var err error
		upgradedFrom, err = checkFormat(tx)
		return err
	})
	if err == nil {
		var moved int
		if moved, err = finishMoves(db, log); moved > 0 && upgradedFrom == currentFormat() {
			upgradedFrom = 2 // an upgrade a crash had stopped, finished
		}
	}
	if err == nil {
		// bbolt fsyncs the file but not the directory entries naming it:
		// without this, a power loss soon after the first start could
		// lose the whole (fsynced) file.
		err = syncDir(dir)
		if err == nil && statErr != nil {
			err = syncDir(filepath.Dir(filepath.Clean(dir)))
		}
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", filepath.Join(dir, FileName), err)
	}
	if upgradedFrom == currentFormat() {
		upgradedFrom = 0
	}
	return &Store{db: db, dir: dir, w: newCommitter(db, log), upgradedFrom: upgradedFrom, log: log,
		created: created.NewCache[*createdDoc](created.Kept), heads: created.NewCache[*headDoc](keptHeads),
		storms: &stormStates{}}, nil
}

// checkLength refuses, before bbolt maps it, a store file of size bytes
// (0: none yet, which bbolt makes) shorter than its last commit says
// (checkWhole): a copy that did not finish, a restore cut short. bbolt
// would map it and crash the process on the first read past its end (a
// fault no recover catches), with a register dump instead of what to do.
func checkLength(path string, size int64) error {
	if size == 0 {
		return nil
	}
	if err := checkWhole(path); err != nil {
		return fmt.Errorf("%w: the store file is damaged; restore it from a backup into a new data dir (pagerd restore, docs/OPERATIONS.md#restore)", err)
	}
	return nil
}

// mapAhead is how much of the database file to map at open, for a file of
// size bytes: twice the file, and at least 4 GiB on 64-bit platforms (the
// map is address space, not memory: only the pages read count as
// resident). bbolt grows a map the file outgrows by mapping it again,
// which waits for every read transaction to end, and every write waits
// behind it: a backup downloaded for minutes would hold up the store's
// writes, the dispatcher's claims of due pages included, for as long.
// With room mapped ahead that happens only once the file has doubled
// since the start. etcd maps 10 GiB ahead for the same reason. On Windows
// bbolt would make the file as large as the map, so there it maps only
// what the file holds, as before.
func mapAhead(size int64) int {
	switch {
	case runtime.GOOS == "windows":
		return 0
	case math.MaxInt == math.MaxInt32: // 2-4 GiB of address space in all
		return int(min(max(256<<20, 2*size), math.MaxInt32))
	}
	return int(max(4<<30, 2*size))
}

// syncDir makes a directory's entries durable. Windows cannot fsync a
// directory (NTFS journals metadata), so there it does nothing.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// errNoop ends a write transaction that found nothing to change: it is
// rolled back instead of committed, which saves an fsync (bbolt syncs the
// meta page on every commit, even an empty one).
var errNoop = errors.New("nothing to write")

// plainError marks errors that are not the disk's fault (bad input, a
// record that does not decode), so they are not reported as ErrUnavailable:
// a sender retrying after a 503 would never succeed.
type plainError struct{ err error }

func (e plainError) Error() string { return e.err.Error() }
func (e plainError) Unwrap() error { return e.err }

func plain(format string, args ...any) error { return plainError{fmt.Errorf(format, args...)} }

// result turns what a transaction returned into what the caller sees:
// ErrNotFound, ErrConflict and plain errors as they are; anything else came
// from bbolt (I/O, a closed database, a full disk) and is ErrUnavailable, so
// the daemon answers 503 and senders retry.
//
// Every call of the store ends here, so the success path allocates
// nothing: errors.As's target escapes to the heap, and declared for the
// whole function it was an allocation in every call, every alert's three
// writes and its read included.
func result(err error) error {
	switch {
	case err == nil, errors.Is(err, errNoop):
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrUnavailable):
		return err
	}
	if p, ok := errors.AsType[plainError](err); ok {
		return p.err
	}
	if errors.Is(err, berrors.ErrKeyRequired) || errors.Is(err, berrors.ErrKeyTooLarge) ||
		errors.Is(err, berrors.ErrValueTooLarge) {
		return err
	}
	return fmt.Errorf("%w: bolt: %v", store.ErrUnavailable, err)
}

// update runs fn in a write transaction, committed (and fsynced) only if
// fn returns nil, possibly together with other writes (commit.go), in the
// urgent lane.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	return s.updateIn(ctx, urgentLane, fn)
}

// updateIn is update in lane l: an alert's write goes in the intake lane,
// behind the dispatcher's and people's writes.
func (s *Store) updateIn(ctx context.Context, l lane, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return result(s.w.run(ctx, l, fn))
}

// view runs fn in one read-only transaction, a consistent snapshot.
func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return result(s.db.View(fn))
}

// timeKey encodes Unix milliseconds as 8 bytes that sort in time order.
func timeKey(ms int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(ms)^(1<<63))
	return b
}

func keyTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b[:8]) ^ (1 << 63)) }

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// maxDedupKey bounds dedup index keys well under bbolt's 32 KiB key limit;
// longer service/key pairs are indexed by their SHA-256 instead, so an
// absurd dedup key is still accepted rather than failing forever.
const maxDedupKey = 1024

func dedupKey(service, key string) []byte {
	k := concat([]byte(service), []byte{0}, []byte(key))
	if len(k) <= maxDedupKey {
		return k
	}
	sum := sha256.Sum256(k)
	return concat([]byte{1}, sum[:])
}

// stored is the copy of inc that is written: times in UTC, the deadlines
// slice not shared with the caller, and empty details as nil.
func stored(in *store.Incident) store.Incident {
	c := *in
	c.CreatedAt, c.UpdatedAt, c.LastSeen, c.LastReceived = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), c.LastSeen.UTC(), c.LastReceived.UTC()
	st := &c.State
	st.TriggeredAt, st.LevelStartedAt, st.LevelEscalatedAt = st.TriggeredAt.UTC(), st.LevelStartedAt.UTC(), st.LevelEscalatedAt.UTC()
	st.AcknowledgedAt, st.ResolvedAt, st.LastStatusAt = st.AcknowledgedAt.UTC(), st.ResolvedAt.UTC(), st.LastStatusAt.UTC()
	st.LastAcknowledgedAt = st.LastAcknowledgedAt.UTC()
	if in.State.Pending != nil {
		st.Pending = make([]policy.Deadline, len(in.State.Pending))
		for i, d := range in.State.Pending {
			d.At = d.At.UTC()
			st.Pending[i] = d
		}
	}
	c.Details = details(c.Details)
	return c
}

func details(d json.RawMessage) json.RawMessage {
	if len(d) == 0 || string(bytes.TrimSpace(d)) == "null" {
		return nil
	}
	return d
}

func readIncident(tx *bbolt.Tx, id string) (*store.Incident, error) {
	v := tx.Bucket(bucketIncidents).Get(idKey(id))
	if v == nil {
		return nil, fmt.Errorf("%w: %s", store.ErrNotFound, id)
	}
	return decodeIncident(id, v)
}

// decodeIncident decodes the stored document v of the incident named id
// (its id or its key, for the error).
func decodeIncident(id string, v []byte) (*store.Incident, error) {
	inc := new(store.Incident)
	j, err := blob.Unpack(v)
	if err == nil {
		// By hand, as json.Unmarshal reads it (docjson.DecodeIncident):
		// json.Unmarshal was a seventh of a repeated alert's CPU, and is
		// paid by every claim and Get.
		err = docjson.DecodeIncident(j, inc)
	}
	if err != nil {
		return nil, plain("decode incident %s: %w", id, err)
	}
	inc.Details = details(inc.Details)
	return inc, nil
}

// unpackDoc decodes into dst what it needs of the stored document v of the
// incident named id (a struct with fewer fields skips the rest unbuilt).
func unpackDoc(id string, v []byte, dst any) error {
	j, err := blob.Unpack(v)
	if err != nil {
		return plain("decode incident %s: %w", id, err)
	}
	if err := json.Unmarshal(j, dst); err != nil {
		return plain("decode incident %s: %w", id, err)
	}
	return nil
}

// putIncident writes an incident's document alone, for a repeat, which
// changes neither its status, priority, service nor creation time. A
// write that changes any of them must rewrite its index records too
// (putIndex, as updateTx does): List, CountOpen and Statuses read those
// instead of the document.
func putIncident(tx *bbolt.Tx, inc *store.Incident) error {
	doc, err := encodeIncident(inc)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketIncidents).Put(idKey(inc.ID), doc)
}

// encodeIncident is the stored form of an incident's document: its JSON,
// as json.Marshal writes it but by hand (docjson: the reflection was a
// twentieth of the CPU an alert costs on this store), packed.
func encodeIncident(inc *store.Incident) ([]byte, error) {
	doc, _, err := encodeDoc(inc)
	return doc, err
}

// encodeDoc is encodeIncident, and reports whether decoding the document
// gives back inc's strings and details as they are: none replaced for not
// being UTF-8 (the JSON then holds \ufffd), the details compact with HTML
// characters escaped.
func encodeDoc(inc *store.Incident) (doc []byte, asIs bool, err error) {
	j, asIs, err := docjson.AppendIncidentAsIs(docjson.Buffer(), inc)
	if err != nil {
		return nil, false, plain("encode incident %s: %w", inc.ID, err)
	}
	doc = blob.Pack(j)
	asIs = asIs && !bytes.Contains(j, []byte(`\ufffd`))
	docjson.Release(j)
	return doc, asIs, nil
}

// A write is an incident as it will be stored, its document encoded before
// the transaction, in the caller's goroutine: every write of the store goes
// through one writer (bbolt has one, and the committer gives it many writes
// an fsync), so work done before the transaction is work that writer does
// not do. In the load run's profile its JSON (a full decode of the stored
// incident and an encode of the new one in every Update and Finish, an
// encode in every Trigger, a decode of each incident a claim took) was a
// sixth of its time.
type write struct {
	rec store.Incident
	doc []byte
	// kept is, for a new incident's write (newTrigger), the copy of it
	// its first claim is handed (created.go), or nil.
	kept *store.Incident
	// head is the head decoding doc gives (heads.go), or nil when
	// decoding would not give rec back as it is.
	head *head
}

// newWrite is the write of rec, which stored made.
func newWrite(rec store.Incident) (*write, error) {
	doc, asIs, err := encodeDoc(&rec)
	if err != nil {
		return nil, err
	}
	w := &write{rec: rec, doc: doc}
	if asIs {
		w.head = headOf(&w.rec)
	}
	return w, nil
}

// head is what a write needs of the incident it replaces. Decoding it skips
// the escalation state, the outbox and the details' contents, which the
// decoder still reads past but neither builds nor allocates: 38% of the
// time of a full decode of a 1.4 KB incident, 9 allocations of 40.
type head struct {
	ID        string          `json:"id"`
	CreatedAt time.Time       `json:"created_at"`
	Details   json.RawMessage `json:"details,omitempty"`
	Repeats   int             `json:"repeats"`
	LastSeen  time.Time       `json:"last_seen"`
	// LastReceived is store.Incident's, zero when the document has none.
	LastReceived time.Time `json:"last_received"`
	Version      int64     `json:"version"`
}

func (s *Store) readHead(tx *bbolt.Tx, id string) (*head, error) {
	v := tx.Bucket(bucketIncidents).Get(idKey(id))
	if v == nil {
		return nil, fmt.Errorf("%w: %s", store.ErrNotFound, id)
	}
	if h := s.keptHead(id, v); h != nil {
		return h, nil
	}
	var h head
	if err := unpackDoc(id, v, &h); err != nil {
		return nil, err
	}
	h.Details = details(h.Details)
	return &h, nil
}

// indexRecord is the value of the created and open indexes: what List
// filters on, so it skips non-matching incidents without decoding them.
// A resolved incident's ends with its key time in the index of resolve
// times (resolvedKeyTime), so that the write that reopens it, or resolves
// it at another time, finds its entry there without another lookup;
// records written before the index have none, and readers of the first
// three fields ignore it.
func indexRecord(inc *store.Incident) []byte {
	var b []byte
	for _, s := range []string{string(inc.State.Status), inc.State.Priority, inc.Service} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if !inc.Open() {
		b = binary.AppendUvarint(b, 8)
		b = append(b, timeKey(store.ResolvedMS(inc))...)
	}
	return b
}

// resolvedKeyTime is the key time an index record says its incident has
// in the index of resolve times, nil for none.
func resolvedKeyTime(b []byte) []byte {
	for range 3 {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil
		}
		b = b[w+int(n):]
	}
	if n, w := binary.Uvarint(b); w > 0 && n == 8 && len(b)-w >= 8 {
		return bytes.Clone(b[w : w+8])
	}
	return nil
}

func parseIndexRecord(b []byte) (status, priority, service string, ok bool) {
	var out [3]string
	for i := range out {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return "", "", "", false
		}
		out[i] = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	return out[0], out[1], out[2], true
}

// putIndex writes the incident's entries in the created and open indexes
// and the index of resolve times, moving them if its creation time
// changed (old is the incident it replaces, nil for a new one).
func putIndex(tx *bbolt.Tx, old *head, inc *store.Incident) error {
	created, open := tx.Bucket(bucketCreated), tx.Bucket(bucketOpen)
	key := concat(timeKey(inc.CreatedAt.UnixMilli()), []byte(inc.ID))
	was := key
	if old != nil {
		was = concat(timeKey(old.CreatedAt.UnixMilli()), []byte(old.ID))
	}
	rec := indexRecord(inc)
	// The record written before, read once: for the index of resolve
	// times, and to leave an unchanged one alone (a new incident has
	// none: no lookup, on the intake's path).
	var cur []byte
	if old != nil {
		cur = created.Get(was)
	}
	if err := putResolved(tx, inc.ID, resolvedKeyTime(cur), resolvedKeyTime(rec)); err != nil {
		return err
	}
	if !bytes.Equal(was, key) {
		if err := created.Delete(was); err != nil {
			return err
		}
		if err := open.Delete(was); err != nil {
			return err
		}
		cur = nil
	}
	switch {
	case cur != nil && bytes.Equal(cur, rec):
		// Unchanged (a step paged, a note): the open index holds the
		// same record as the created index while the incident is open,
		// and none once it is resolved, so it is as it should be too,
		// and not looked up (a walk down its tree inside the one
		// writer, in every Finish).
		return nil
	case old == nil && inc.Open():
		// A new incident has no record in either index to compare.
		if err := created.Put(key, rec); err != nil {
			return err
		}
		return open.Put(key, rec)
	}
	if err := created.Put(key, rec); err != nil {
		return err
	}
	if inc.Open() {
		return putChanged(open, key, rec)
	}
	return open.Delete(key)
}

// putResolved moves the incident's entry in the index of resolve times
// from the key time was to want (nil for none: not resolved, or resolved
// before the index was kept). A store opened without the index
// (OpenReadOnly of an older format) keeps nothing.
func putResolved(tx *bbolt.Tx, id string, was, want []byte) error {
	index := tx.Bucket(bucketResolved)
	if index == nil || bytes.Equal(was, want) {
		return nil
	}
	if was != nil {
		if err := index.Delete(concat(was, []byte(id))); err != nil {
			return err
		}
	}
	if want != nil {
		return index.Put(concat(want, []byte(id)), nil)
	}
	return nil
}

// putChanged puts the value unless it is there already. bbolt writes a
// leaf again (and every branch above it) for any Put, even of the value
// it holds, and pages are what a commit costs on this store's disks (about
// 50 µs each to write and sync): most updates (a step paged, a repeat
// counted) leave an incident's status, priority and service as they were,
// and the index leaves of an incident minutes old are leaves of their own.
func putChanged(b *bbolt.Bucket, key, value []byte) error {
	if v := b.Get(key); v != nil && bytes.Equal(v, value) {
		return nil
	}
	return b.Put(key, value)
}

// schedValue is a sched record: the time of the incident's due key (its
// earliest pending deadline, or the lease end while claimed), the original
// due time (what a claim reports as Due) and the token of the current claim
// ("" if unclaimed).
func schedValue(current, original int64, token string) []byte {
	return concat(timeKey(current), timeKey(original), []byte(token))
}

func parseSched(v []byte) (current []byte, original int64, token string, ok bool) {
	if len(v) < 16 {
		return nil, 0, "", false
	}
	if _, held := notBeforeOf(v); held {
		return v[:8], keyTime(v[8:16]), "", true
	}
	return v[:8], keyTime(v[8:16]), string(v[16:]), true
}

// notBeforeMark, in an unclaimed incident's sched record, stands where a
// claim's token would, before the time Release put the incident off to
// (schedNotBefore). A claim's token is hex, so neither is taken for the
// other.
const notBeforeMark = '!'

// schedNotBefore is the sched record of an unclaimed incident that
// Release put off to notBefore: its due key at current, no earlier, until
// a claim takes it (and its record) again, so that the Updates in between
// (a status update, an acknowledgement elsewhere, a new step), which move the due
// key to the earliest pending deadline, keep it there too.
func schedNotBefore(current, original, notBefore int64) []byte {
	return append(concat(timeKey(current), timeKey(original), []byte{notBeforeMark}), timeKey(notBefore)...)
}

// notBeforeOf is the time, in Unix milliseconds, that a sched record
// says Release put its unclaimed incident off to (schedNotBefore).
func notBeforeOf(v []byte) (int64, bool) {
	if len(v) != 25 || v[16] != notBeforeMark {
		return 0, false
	}
	return keyTime(v[17:]), true
}

// setDue puts the incident's due entry at the given time, moving it from
// wherever it was, and records the original due time and claim token.
func setDue(tx *bbolt.Tx, id string, at, original int64, token string) error {
	ik := idKey(id)
	return putDue(tx, id, ik, tx.Bucket(bucketSched).Get(ik), at, original, token)
}

// putDue is setDue with the incident's key (idKey) and its sched record
// as read in tx (was; nil for none). The record is read once and written
// once: a Finish read it three times (whether the incident was claimed,
// whether by this claim, where its due entry was) and deleted it before
// putting it back, each a walk down the sched bucket's tree inside the
// one writer; a Put replaces a value, and a due entry that stays where it
// is is not deleted and put again.
func putDue(tx *bbolt.Tx, id string, ik, was []byte, at, original int64, token string) error {
	return putDueRecord(tx, id, ik, was, at, schedValue(at, original, token))
}

// putDueRecord is putDue with the sched record to write, rec, which puts
// the due key at at.
func putDueRecord(tx *bbolt.Tx, id string, ik, was []byte, at int64, rec []byte) error {
	due := tx.Bucket(bucketDue)
	key := concat(timeKey(at), []byte(id))
	if cur, _, _, ok := parseSched(was); ok {
		if old := concat(cur, []byte(id)); !bytes.Equal(old, key) {
			if err := due.Delete(old); err != nil {
				return err
			}
		}
	}
	if err := due.Put(key, []byte{}); err != nil {
		return err
	}
	return tx.Bucket(bucketSched).Put(ik, rec)
}

// dropDue removes the incident's due entry and whatever claim it has.
func dropDue(tx *bbolt.Tx, id string) error {
	ik := idKey(id)
	return dropDueOf(tx, id, ik, tx.Bucket(bucketSched).Get(ik))
}

// dropDueOf is dropDue with the incident's key and its sched record as
// read in tx (putDue).
func dropDueOf(tx *bbolt.Tx, id string, ik, was []byte) error {
	if was == nil {
		return nil
	}
	if cur, _, _, ok := parseSched(was); ok {
		if err := tx.Bucket(bucketDue).Delete(concat(cur, []byte(id))); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketSched).Delete(ik)
}

// claimed reports whether the incident is leased to a replica.
func claimed(tx *bbolt.Tx, id string) bool {
	return claimedBy(tx.Bucket(bucketSched).Get(idKey(id)))
}

// claimedBy reports whether a sched record holds a claim.
func claimedBy(sched []byte) bool {
	_, _, tok, ok := parseSched(sched)
	return ok && tok != ""
}

// schedule puts the incident's due entry, unclaimed, at its earliest pending
// deadline, or drops it (and any claim) with nothing pending.
func schedule(tx *bbolt.Tx, id string, inc *store.Incident) error {
	return scheduleNotBefore(tx, id, inc, 0)
}

// scheduleNotBefore is schedule with the entry due no earlier than
// notBeforeMS (Release), 0 for none.
func scheduleNotBefore(tx *bbolt.Tx, id string, inc *store.Incident, notBeforeMS int64) error {
	ik := idKey(id)
	return scheduleOf(tx, id, ik, tx.Bucket(bucketSched).Get(ik), inc, notBeforeMS)
}

// scheduleOf is scheduleNotBefore with the incident's key and its sched
// record as read in tx (putDue). The time is kept in the sched record
// (schedNotBefore) until a claim takes the incident. Without notBeforeMS,
// the time an unclaimed record was put off to holds (notBeforeOf): an
// Update keeps it, but only while a step is pending: an acknowledgement
// that leaves the incident only its outbox work (telling PagerDuty,
// cancelling calls) has that done at its own time, and forgets the time.
// No step is made due later than the time, or its own.
func scheduleOf(tx *bbolt.Tx, id string, ik, was []byte, inc *store.Incident, notBeforeMS int64) error {
	at, ok := store.DueAt(inc)
	if !ok {
		return dropDueOf(tx, id, ik, was)
	}
	ms := at.UnixMilli()
	if notBeforeMS == 0 {
		// An Update: the common case has none, which costs no lookup.
		if notBeforeMS, _ = notBeforeOf(was); len(inc.State.Pending) == 0 {
			notBeforeMS = 0
		}
	}
	if notBeforeMS == 0 {
		return putDue(tx, id, ik, was, ms, ms, "")
	}
	current := max(ms, notBeforeMS)
	return putDueRecord(tx, id, ik, was, current, schedNotBefore(current, ms, notBeforeMS))
}

func appendTimeline(tx *bbolt.Tx, id string, entries [][]byte) error {
	if len(entries) == 0 {
		return nil
	}
	b, err := tx.Bucket(bucketTimeline).CreateBucketIfNotExists(idKey(id))
	if err != nil {
		return err
	}
	for _, e := range entries {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		k := make([]byte, 8)
		binary.BigEndian.PutUint64(k, seq)
		if err := b.Put(k, e); err != nil {
			return err
		}
	}
	return nil
}

// encodeEntries is each timeline entry as JSON, at UTC, written by hand
// (docjson.AppendEntry) into one buffer the entries share.
func encodeEntries(timeline []store.Entry) ([][]byte, error) {
	out := make([][]byte, 0, len(timeline))
	buf := make([]byte, 0, 160*len(timeline)) // one allocation for all, as a rule
	for _, e := range timeline {
		e.At = e.At.UTC()
		start := len(buf)
		var err error
		if buf, err = docjson.AppendEntry(buf, &e); err != nil {
			return nil, fmt.Errorf("encode timeline entry: %w", err)
		}
		out = append(out, buf[start:len(buf):len(buf)])
	}
	return out, nil
}

func checkID(inc *store.Incident) error {
	shard, err := store.ShardOfID(inc.ID)
	if err != nil {
		return err
	}
	if want := store.ShardOf(inc.Service, inc.DedupKey); shard != want {
		return fmt.Errorf("incident id %s is not in shard %02x of its dedup key", inc.ID, want)
	}
	return nil
}

// Trigger stores inc unless an open incident of the same service has the
// same dedup key, in which case it records a repeat on that one (repeat
// count, last seen, details; nothing else, so the version, the escalation
// state, the due entry and the timeline are untouched). One transaction.
func (s *Store) Trigger(ctx context.Context, inc *store.Incident, timeline []store.Entry) (string, store.Outcome, error) {
	if err := checkID(inc); err != nil {
		return "", 0, err
	}
	entries, err := encodeEntries(timeline)
	if err != nil {
		return "", 0, err
	}
	w, rep, err := s.prepareTrigger(ctx, inc)
	if err != nil {
		return "", 0, err
	}
	var id string
	var out store.Outcome
	kept := s.keepCreated(w)
	err = s.updateIn(ctx, intakeLane, func(tx *bbolt.Tx) error {
		var err error
		id, out, err = triggerTx(tx, inc, w, rep, entries)
		return err
	})
	kept(id, out, err)
	if err != nil {
		return "", 0, err
	}
	if out == store.Created {
		inc.Version = 1
		if w != nil && w.head != nil && id == w.rec.ID {
			s.keepHead(id, &headDoc{doc: w.doc, h: w.head})
		}
	}
	return id, out, nil
}

// A repeat is a Trigger's write when its alert repeats an open incident:
// that incident's document as read before the transaction, and as it is
// with the repeat counted.
type repeat struct {
	id       string
	was, doc []byte
}

// prepareTrigger does before the transaction, outside the one writer
// (see write), the JSON work of a Trigger of inc: it looks the dedup key
// up, and has either the repeat of the open incident that holds it or
// the write of inc as new. Most alerts Alertmanager sends are repeats
// (every group_interval while they fire). The transaction takes the
// repeat only if the incident's document is still the one read, and
// otherwise works from what it finds, as it does with neither.
func (s *Store) prepareTrigger(ctx context.Context, inc *store.Incident) (*write, *repeat, error) {
	var rep *repeat
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		cur := tx.Bucket(bucketDedup).Get(dedupKey(inc.Service, inc.DedupKey))
		if cur == nil {
			return nil
		}
		if v := tx.Bucket(bucketIncidents).Get(idKey(string(cur))); v != nil {
			rep = &repeat{id: string(cur), was: bytes.Clone(v)}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if rep != nil {
		var old store.Incident
		if j, err := blob.Unpack(rep.was); err == nil && docjson.DecodeIncident(j, &old) == nil && old.Open() {
			repeated(&old, inc)
			if rep.doc, err = encodeIncident(&old); err != nil {
				return nil, nil, err
			}
			return nil, rep, nil
		}
	}
	w, err := newTrigger(inc)
	return w, nil, err
}

// repeated counts on old, an open incident, the repeat inc's Trigger
// makes of it: its repeat count, last seen time and details, and its
// latest firing's receipt raised to inc's when that is later.
func repeated(old, inc *store.Incident) {
	old.Repeats++
	old.LastSeen = inc.LastSeen.UTC()
	old.Details = details(inc.Details)
	if inc.LastReceived.After(old.LastReceived) {
		old.LastReceived = inc.LastReceived.UTC()
	}
}

// triggerTx is Trigger's transaction, w and rep what prepareTrigger made
// of inc (either may be nil).
func triggerTx(tx *bbolt.Tx, inc *store.Incident, w *write, rep *repeat, entries [][]byte) (string, store.Outcome, error) {
	dk := dedupKey(inc.Service, inc.DedupKey)
	dedup := tx.Bucket(bucketDedup)
	if cur := dedup.Get(dk); cur != nil {
		incidents := tx.Bucket(bucketIncidents)
		if rep != nil && string(cur) == rep.id && bytes.Equal(incidents.Get(idKey(rep.id)), rep.was) {
			return rep.id, store.Repeated, incidents.Put(idKey(rep.id), rep.doc)
		}
		old, err := readIncident(tx, string(cur))
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A dangling index entry: create afresh below.
		case err != nil:
			return "", 0, err
		case old.Open():
			repeated(old, inc)
			return old.ID, store.Repeated, putIncident(tx, old)
		case !inc.ReceivedBy.IsZero() && store.ResolvedMS(old) > inc.ReceivedBy.UnixMilli():
			// Resolved after the alert was received: superseded.
			return old.ID, store.Superseded, nil
		}
	}
	if tx.Bucket(bucketIncidents).Get(idKey(inc.ID)) != nil {
		return "", 0, plain("incident id %s already exists", inc.ID)
	}
	if w == nil {
		// Read as a repeat, and resolved since.
		var err error
		if w, err = newTrigger(inc); err != nil {
			return "", 0, err
		}
	}
	rec := &w.rec
	if err := tx.Bucket(bucketIncidents).Put(idKey(rec.ID), w.doc); err != nil {
		return "", 0, err
	}
	if err := dedup.Put(dk, []byte(rec.ID)); err != nil {
		return "", 0, err
	}
	if err := putIndex(tx, nil, rec); err != nil {
		return "", 0, err
	}
	if at, ok := store.TriggerScore(rec); ok {
		due, _ := store.DueAt(rec)
		if err := setDue(tx, rec.ID, at.UnixMilli(), due.UnixMilli(), ""); err != nil {
			return "", 0, err
		}
	} else if err := schedule(tx, rec.ID, rec); err != nil {
		return "", 0, err
	}
	if err := appendTimeline(tx, rec.ID, entries); err != nil {
		return "", 0, err
	}
	return rec.ID, store.Created, nil
}

// FindByDedup returns the latest incident of the service with the key, open
// or resolved, or ErrNotFound.
func (s *Store) FindByDedup(ctx context.Context, service, key string) (*store.Incident, error) {
	var inc *store.Incident
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		id := tx.Bucket(bucketDedup).Get(dedupKey(service, key))
		if id == nil {
			return store.ErrNotFound
		}
		var err error
		inc, err = readIncident(tx, string(id))
		return err
	})
	return inc, err
}

// Get returns the incident with the id, or ErrNotFound (also for an id
// that is not well formed).
func (s *Store) Get(ctx context.Context, id string) (*store.Incident, error) {
	if _, err := store.ShardOfID(id); err != nil {
		return nil, err
	}
	var inc *store.Incident
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		inc, err = readIncident(tx, id)
		return err
	})
	return inc, err
}

// Update writes inc if its stored version is still inc.Version, appends the
// timeline entries and moves the incident's due entry to its earliest pending
// deadline, all in one transaction. While the incident is claimed its due
// entry stays at the lease end (Complete moves it), so no other replica works
// it meanwhile; with nothing pending, the entry and any claim are dropped.
// The repeat count, last seen time and details are kept as
// stored: a repeat does not change the version, so it may have happened
// since inc was read, and must not be lost.
func (s *Store) Update(ctx context.Context, inc *store.Incident, timeline []store.Entry) error {
	if _, err := store.ShardOfID(inc.ID); err != nil {
		return err
	}
	entries, err := encodeEntries(timeline)
	if err != nil {
		return err
	}
	w, err := newUpdate(inc)
	if err != nil {
		return err
	}
	var written *headDoc
	err = s.update(ctx, func(tx *bbolt.Tx) (err error) {
		_, written, _, err = s.updateTx(tx, inc, w, entries)
		return err
	})
	if err != nil {
		return err
	}
	s.keepHead(inc.ID, written)
	inc.Version++
	return nil
}

// newUpdate is the write of inc over the version it was read at, with the
// repeat count, last seen time and details as read: updateTx encodes it
// again in the transaction only if a repeat changed them since.
func newUpdate(inc *store.Incident) (*write, error) {
	rec := stored(inc)
	rec.Version = inc.Version + 1
	return newWrite(rec)
}

// updateTx is Update's transaction, w the write of inc (newUpdate); it
// returns the state written.
//
// written is the document written with its head, to keep once the
// transaction is committed (keepHead), or nil when its head is not known.
// sched is the incident's sched record as updateTx found and left it (a
// claim's, for Finish to release), nil if it rewrote or dropped it.
func (s *Store) updateTx(tx *bbolt.Tx, inc *store.Incident, w *write, entries [][]byte) (_ *store.Incident, written *headDoc, sched []byte, err error) {
	old, err := s.readHead(tx, inc.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	if old.Version != inc.Version || (inc.CheckRepeats && old.Repeats != inc.Repeats) {
		return nil, nil, nil, store.ErrConflict
	}
	rec, doc, h := w.rec, w.doc, w.head
	if old.Repeats != rec.Repeats || !old.LastSeen.Equal(rec.LastSeen) || !old.LastReceived.Equal(rec.LastReceived) ||
		!bytes.Equal(old.Details, rec.Details) {
		rec.Repeats, rec.LastSeen, rec.LastReceived, rec.Details = old.Repeats, old.LastSeen.UTC(), old.LastReceived.UTC(), old.Details
		var asIs bool
		if doc, asIs, err = encodeDoc(&rec); err != nil {
			return nil, nil, nil, err
		}
		if h = nil; asIs {
			h = headOf(&rec)
		}
	}
	ik := idKey(rec.ID)
	if err := tx.Bucket(bucketIncidents).Put(ik, doc); err != nil {
		return nil, nil, nil, err
	}
	if err := putIndex(tx, old, &rec); err != nil {
		return nil, nil, nil, err
	}
	sched = tx.Bucket(bucketSched).Get(ik)
	if _, ok := store.DueAt(&rec); !ok || !claimedBy(sched) {
		if err := scheduleOf(tx, rec.ID, ik, sched, &rec, 0); err != nil {
			return nil, nil, nil, err
		}
		sched = nil // rewritten unclaimed, or dropped
	}
	if h != nil {
		written = &headDoc{doc: doc, h: h}
	}
	return &rec, written, sched, appendTimeline(tx, rec.ID, entries)
}

// Finish is Update and Complete in one transaction.
func (s *Store) Finish(ctx context.Context, c store.Claim, inc *store.Incident, timeline []store.Entry) error {
	if c.Incident != inc.ID {
		return fmt.Errorf("finish: claim of %q for incident %q", c.Incident, inc.ID)
	}
	if _, err := store.ShardOfID(inc.ID); err != nil {
		return err
	}
	entries, err := encodeEntries(timeline)
	if err != nil {
		return err
	}
	w, err := newUpdate(inc)
	if err != nil {
		return err
	}
	var written *headDoc
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		rec, wr, sched, err := s.updateTx(tx, inc, w, entries)
		if err != nil {
			return err
		}
		written = wr
		if _, _, tok, ok := parseSched(sched); ok && c.Token != "" && tok == c.Token {
			return scheduleOf(tx, inc.ID, idKey(inc.ID), sched, rec, 0)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.keepHead(inc.ID, written)
	inc.Version++
	return nil
}

// List returns incidents matching the filter, newest first (by creation
// time, then id). Open statuses are read from the open index, so the common
// query does not walk resolved history; the index is keyed by creation
// time, so a time range or a cursor starts where it begins; the index
// records carry status, priority and service, so only matching incidents
// are decoded.
func (s *Store) List(ctx context.Context, f store.Filter) ([]*store.Incident, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	index := bucketCreated
	if f.OpenOnly() {
		index = bucketOpen
	}
	lo, hi, ok := f.CreatedRange()
	if !ok {
		return nil, nil
	}
	if !f.ResolvedSince.IsZero() {
		return s.listResolved(ctx, f, limit)
	}
	var out []*store.Incident
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(index).Cursor()
		// The newest key at or before hi: the one before the first key
		// past it.
		k, v := c.Last()
		if hi < math.MaxInt64 {
			if k, v = c.Seek(timeKey(hi + 1)); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			if len(k) < 8 {
				continue
			}
			created := keyTime(k)
			if created < lo {
				break
			}
			if !f.Admits(created, string(k[8:])) {
				continue
			}
			status, priority, service, ok := parseIndexRecord(v)
			if ok && (!f.AdmitsStatus(policy.Status(status)) ||
				(f.Service != "" && service != f.Service) ||
				(f.Priority != "" && priority != f.Priority)) {
				continue
			}
			inc, err := readKept(tx, string(k[8:]), func(inc *store.Incident) bool { return matches(inc, f) })
			if err != nil {
				return err
			}
			if inc != nil {
				out = append(out, inc)
			}
		}
		return nil
	})
	return out, err
}

// readKept reads incident id and returns it if keep admits it, nil if not
// or if it is gone (expired since its index was read).
func readKept(tx *bbolt.Tx, id string, keep func(*store.Incident) bool) (*store.Incident, error) {
	inc, err := readIncident(tx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil || !keep(inc) {
		return nil, err
	}
	return inc, nil
}

// listResolved is List with f.ResolvedSince: of the incidents the index
// of resolve times holds from then on, the limit resolved last that
// match, newest created first. Bounded: after a flood resolved, a bare
// SMS reply read every incident of it.
func (s *Store) listResolved(ctx context.Context, f store.Filter, limit int) ([]*store.Incident, error) {
	var out []*store.Incident
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketResolved)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		since := timeKey(f.ResolvedSince.UnixMilli())
		for k, _ := c.Last(); k != nil && bytes.Compare(k, since) >= 0 && len(out) < limit; k, _ = c.Prev() {
			if len(k) < 8 {
				continue
			}
			inc, err := readKept(tx, string(k[8:]), func(inc *store.Incident) bool {
				return matches(inc, f) && f.Admits(store.CursorOf(inc).CreatedAt.UnixMilli(), inc.ID)
			})
			if err != nil {
				return err
			}
			if inc != nil {
				out = append(out, inc)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	store.SortNewestFirst(out)
	return out[:min(len(out), limit)], nil
}

func matches(inc *store.Incident, f store.Filter) bool {
	return f.AdmitsResolved(inc) && f.AdmitsStatus(inc.State.Status) &&
		(f.Service == "" || inc.Service == f.Service) &&
		(f.Priority == "" || inc.State.Priority == f.Priority)
}

// Timeline returns the incident's entries, oldest first, or ErrNotFound.
func (s *Store) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	if _, err := store.ShardOfID(id); err != nil {
		return nil, err
	}
	var out []store.Entry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketIncidents).Get(idKey(id)) == nil {
			return fmt.Errorf("%w: %s", store.ErrNotFound, id)
		}
		var err error
		out, err = readTimeline(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ClaimDue leases up to max incidents due at or before now, earliest first:
// each one's due key moves to now+lease, and its sched record remembers the
// original due time and a fresh token. An incident found with a token had
// been claimed and its lease ran out: that claim is a takeover, and keeps
// the original due time. When nothing is due the transaction is rolled
// back, so an idle dispatcher costs no disk writes.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	if max <= 0 {
		return nil, nil
	}
	var out []store.Claim
	// The claimed incidents' documents, decoded once the transaction is
	// done, outside the one writer (see write).
	var docs [][]byte
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		out, docs = out[:0], docs[:0]
		due, sched := tx.Bucket(bucketDue), tx.Bucket(bucketSched)
		limit := timeKey(now.UnixMilli())
		var keys [][]byte
		c := due.Cursor()
		for k, _ := c.First(); len(k) >= 8 && len(keys) < max && bytes.Compare(k[:8], limit) <= 0; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		if len(keys) == 0 {
			return errNoop
		}
		leaseEnd := now.Add(lease).UnixMilli()
		for _, k := range keys {
			id := k[8:]
			ik := idKey(string(id))
			orig, takeover := keyTime(k), false
			if _, o, tok, ok := parseSched(sched.Get(ik)); ok {
				// The original due time: when it was really due (a new
				// incident's first page is queued ahead of it), and what
				// a takeover reports.
				orig, takeover = o, tok != ""
			}
			token := newToken()
			if err := due.Delete(k); err != nil {
				return err
			}
			if err := due.Put(concat(timeKey(leaseEnd), id), []byte{}); err != nil {
				return err
			}
			if err := sched.Put(ik, schedValue(leaseEnd, orig, token)); err != nil {
				return err
			}
			c := store.Claim{Incident: string(id), Due: msTime(orig), Token: token, Takeover: takeover}
			if key, ok := store.StormOfMember(c.Incident); ok {
				c.Incident, c.Storm = "", key
			} else if kind, key, ok := store.JobOfMember(c.Incident); ok {
				c.Incident = ""
				c.Job = &store.Job{Kind: kind, Key: key} // a job deleted meanwhile: version 0
				if j, err := readJob(tx, kind, key); err == nil {
					c.Job = j
				}
			}
			var doc []byte
			if c.Incident != "" {
				doc = bytes.Clone(tx.Bucket(bucketIncidents).Get(ik))
			}
			out, docs = append(out, c), append(docs, doc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, doc := range docs {
		if doc == nil {
			continue
		}
		if out[i].Record = s.takeCreated(out[i].Incident, doc); out[i].Record != nil {
			continue
		}
		var rec store.Incident
		if j, err := blob.Unpack(doc); err == nil && docjson.DecodeIncident(j, &rec) == nil {
			rec.Details = details(rec.Details)
			out[i].Record = &rec
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	return out, nil
}

// Complete releases a claim if it is still this one (same token): the
// incident is due again at its earliest pending deadline as stored now, or
// leaves the due set with none pending. A claim voided by a takeover, or one
// an Update already cancelled, is left alone without error.
func (s *Store) Complete(ctx context.Context, c store.Claim) error {
	if c.Job != nil {
		return s.FinishJob(ctx, c, c.Job)
	}
	return s.Release(ctx, c, time.Time{})
}

// Release gives up a claim as Complete does, the incident (or storm) due
// again no earlier than notBefore (its claim still says when its step was
// due), through the incident's Updates until it is claimed again
// (scheduleOf).
func (s *Store) Release(ctx context.Context, c store.Claim, notBefore time.Time) error {
	if c.Storm != "" {
		return s.completeStorm(ctx, c, notBefore.UnixMilli())
	}
	if _, err := store.ShardOfID(c.Incident); err != nil {
		return err
	}
	if c.Token == "" {
		return nil
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if _, _, tok, ok := parseSched(tx.Bucket(bucketSched).Get(idKey(c.Incident))); !ok || tok != c.Token {
			return errNoop
		}
		inc, err := readIncident(tx, c.Incident)
		if errors.Is(err, store.ErrNotFound) {
			return dropDue(tx, c.Incident)
		}
		if err != nil {
			return err
		}
		return scheduleNotBefore(tx, c.Incident, inc, notBeforeMS(notBefore))
	})
}

// notBeforeMS is Release's notBefore in Unix milliseconds, 0 for none
// (Complete's zero time).
func notBeforeMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Extend moves the claim's due entry to until if its sched record still
// has the claim's token: the lease end, kept or cut short.
func (s *Store) Extend(ctx context.Context, c store.Claim, until time.Time) (bool, error) {
	_, member, err := store.ClaimMember(c)
	if err != nil || c.Token == "" {
		return false, err
	}
	held := false
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		_, orig, tok, ok := parseSched(tx.Bucket(bucketSched).Get(idKey(member)))
		if held = ok && tok == c.Token; !held {
			return errNoop
		}
		return setDue(tx, member, until.UnixMilli(), orig, tok)
	})
	return held && err == nil, err
}

// NextDue is the earliest due time in the due set (a claimed incident at its
// lease end); ok is false when nothing is pending.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var at time.Time
	var ok bool
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if k, _ := tx.Bucket(bucketDue).Cursor().First(); len(k) >= 8 {
			at, ok = msTime(keyTime(k)), true
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, err
	}
	return at, ok, nil
}

// Broken closes when the store takes no more writes: the disk failed a
// commit that may have become visible (commit.go). Ping then says why.
func (s *Store) Broken() <-chan struct{} { return s.w.broken }

// Ping reports whether the database answers: a read transaction, which
// fails once the store is closed. It fails too, with the reason, once the
// disk failed a commit and the store takes no more writes (commit.go):
// readiness must be red at once, not only at the next probe, and the
// reason is a restart, not a wait.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.failure(); err != nil {
		return err
	}
	return s.view(ctx, func(*bbolt.Tx) error { return nil })
}

// Probe writes the time in the meta bucket, fsynced like any write (and
// batched with the writes around it).
func (s *Store) Probe(ctx context.Context) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("probe"), []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	})
}

// Close closes the database and releases the file lock, after the running
// transactions end. Closing twice is harmless.
func (s *Store) Close() error {
	s.w.close()
	return s.db.Close()
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
