package boltstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestGroupCommitSharesFsyncs: two hundred alerts arriving together are
// all stored, in far fewer transactions (fsyncs) than alerts.
func TestGroupCommitSharesFsyncs(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	before := s.w.commits.Load()
	var wg sync.WaitGroup
	const n = 200
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, out, err := s.Trigger(ctx, newIncident("api", fmt.Sprintf("g%d", i), base, 1), nil); err != nil || out != store.Created {
				t.Errorf("trigger %d: %v %v", i, out, err)
			}
		}()
	}
	wg.Wait()
	commits := s.w.commits.Load() - before
	if list, _ := s.List(ctx, store.Filter{Limit: 1000}); len(list) != n {
		t.Fatalf("%d incidents stored, want %d", len(list), n)
	}
	t.Logf("%d alerts in %d commits", n, commits)
	if commits >= n/2 {
		t.Fatalf("%d alerts took %d commits: writes are not sharing them", n, commits)
	}
}

// TestGroupCommitFailureIsOnlyItsOwn: in a batch where one write fails
// (after writing, even), the others are committed and the failed one
// leaves nothing behind; a write that found nothing to do is answered as
// such.
func TestGroupCommitFailureIsOnlyItsOwn(t *testing.T) {
	s := open(t, t.TempDir())
	put := func(k string) func(*bbolt.Tx) error {
		return func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte(k), []byte("v")) }
	}
	boom := errors.New("boom")
	reqs := []*txReq{
		{fn: put("a")},
		{fn: func(tx *bbolt.Tx) error {
			if err := tx.Bucket(bucketMeta).Put([]byte("half"), []byte("v")); err != nil {
				return err
			}
			return boom
		}},
		{fn: func(*bbolt.Tx) error { return errNoop }},
		{fn: put("b")},
	}
	for _, r := range reqs {
		r.done = make(chan struct{})
	}
	s.w.commit(reqs)
	if reqs[0].err != nil || reqs[3].err != nil || !errors.Is(reqs[1].err, boom) || !errors.Is(reqs[2].err, errNoop) {
		t.Fatalf("results %v %v %v %v", reqs[0].err, reqs[1].err, reqs[2].err, reqs[3].err)
	}
	_ = s.db.View(func(tx *bbolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m.Get([]byte("a")) == nil || m.Get([]byte("b")) == nil || m.Get([]byte("half")) != nil {
			t.Fatalf("a=%q b=%q half=%q: want a and b written, half not", m.Get([]byte("a")), m.Get([]byte("b")), m.Get([]byte("half")))
		}
		return nil
	})
}

// TestGroupCommitPanicIsOnlyItsOwn: a write whose fn panics fails alone,
// and the writes batched with it are stored: on the committer's
// goroutine, the panic took down the daemon and every write queued.
func TestGroupCommitPanicIsOnlyItsOwn(t *testing.T) {
	s := open(t, t.TempDir())
	put := func(k string) func(*bbolt.Tx) error {
		return func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte(k), []byte("v")) }
	}
	reqs := []*txReq{
		{fn: put("a")},
		{fn: func(tx *bbolt.Tx) error {
			if err := tx.Bucket(bucketMeta).Put([]byte("half"), []byte("v")); err != nil {
				return err
			}
			panic("a record that decodes to nonsense")
		}},
		{fn: put("b")},
	}
	for _, r := range reqs {
		r.done = make(chan struct{})
	}
	s.w.commit(reqs)
	if reqs[0].err != nil || reqs[2].err != nil || reqs[1].err == nil || errors.Is(reqs[1].err, store.ErrUnavailable) {
		t.Fatalf("results %v %v %v: want a and b stored, the panicking write an error of its own", reqs[0].err, reqs[1].err, reqs[2].err)
	}
	_ = s.db.View(func(tx *bbolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m.Get([]byte("a")) == nil || m.Get([]byte("b")) == nil || m.Get([]byte("half")) != nil {
			t.Fatalf("a=%q b=%q half=%q: want a and b written, half not", m.Get([]byte("a")), m.Get([]byte("b")), m.Get([]byte("half")))
		}
		return nil
	})
	if err := s.update(context.Background(), put("c")); err != nil {
		t.Fatalf("a write after the panic: %v", err)
	}
}

// TestGroupCommitAbandonedWriteNeverRuns: a caller whose deadline passes
// while its write is still queued gets ErrUnavailable, and the write never
// happens (so "not stored" is true); one already being committed is waited
// for.
func TestGroupCommitAbandonedWriteNeverRuns(t *testing.T) {
	s := open(t, t.TempDir())
	release, entered := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.update(context.Background(), func(tx *bbolt.Tx) error {
			close(entered)
			<-release
			return tx.Bucket(bucketMeta).Put([]byte("first"), []byte("v"))
		})
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		ran = true
		return tx.Bucket(bucketMeta).Put([]byte("second"), []byte("v"))
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a write queued past its deadline: %v", err)
	}
	close(release)
	// The committer is free again: a write goes through, and the abandoned
	// one was never run.
	if err := s.update(context.Background(), func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte("third"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("an abandoned write ran")
	}
	_ = s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketMeta).Get([]byte("second")) != nil || tx.Bucket(bucketMeta).Get([]byte("first")) == nil {
			t.Fatal("the abandoned write is on disk, or the first is not")
		}
		return nil
	})
}

// TestGroupCommitUnfinishedCommitMayHaveStored: an alert whose write was
// taken into a batch, and whose caller's deadline passes before the
// batch's commit finishes (a stalled disk), is answered at once with
// ErrUnavailable and ErrOutcomeUnknown: not a success, and not "nothing
// was stored", since the commit then finishes and the incident is stored.
func TestGroupCommitUnfinishedCommitMayHaveStored(t *testing.T) {
	s := open(t, t.TempDir())
	blocker := func(key string) (entered, release chan struct{}) { return blockingWrite(s, key) }
	queued := func(n int) { waitQueued(s, n) }
	// The committer is busy with a first write while the alert and a
	// second slow write (in the alert's lane, so behind it) queue behind
	// it, so that the two go in one batch, the alert first.
	enteredA, releaseA := blocker("a")
	<-enteredA
	inc := newIncident("api", "stalled", base, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	answered := make(chan error, 1)
	go func() {
		_, _, err := s.Trigger(ctx, inc, nil)
		answered <- err
	}()
	queued(1)
	enteredB, releaseB := blockingWriteIn(s, intakeLane, "b")
	var once sync.Once
	finishB := func() { once.Do(func() { close(releaseB) }) }
	t.Cleanup(finishB) // before Close, which waits for the committer
	queued(2)
	close(releaseA)
	// The second write runs after the alert's in the same transaction: the
	// alert's write is taken, and its commit waits on the second.
	<-enteredB
	cancel() // the caller's deadline
	select {
	case err := <-answered:
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, store.ErrOutcomeUnknown) || !errors.Is(err, context.Canceled) {
			t.Fatalf("the caller whose commit did not finish got %v, want ErrUnavailable and ErrOutcomeUnknown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the caller is held until the commit finishes, past its deadline")
	}
	finishB()
	// The commit finishes after the answer: the alert is stored, which is
	// why the answer may not say it was not.
	if err := s.update(context.Background(), func(*bbolt.Tx) error { return errNoop }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), inc.ID)
	if err != nil || got.DedupKey != "stalled" {
		t.Fatalf("after the commit finished, the alert: %+v %v", got, err)
	}
}

// TestGroupCommitWriteTakenButNotRunNeverRuns: a caller whose deadline
// passes while its write is taken into a batch but not yet run (a write
// before it in the batch holds the committer) is told the write was not
// stored, and it never runs: it would otherwise encode the caller's
// incident, and set the caller's results, after the caller had left with
// an answer (and perhaps changed the incident for a retry).
func TestGroupCommitWriteTakenButNotRunNeverRuns(t *testing.T) {
	s := open(t, t.TempDir())
	block := func(key string) (entered, release chan struct{}) { return blockingWrite(s, key) }
	queued := func(n int) { waitQueued(s, n) }
	enteredA, releaseA := block("a")
	<-enteredA
	// B then X queue behind A, to go in one batch, B first.
	enteredB, releaseB := block("b")
	var once sync.Once
	finishB := func() { once.Do(func() { close(releaseB) }) }
	t.Cleanup(finishB) // before Close, which waits for the committer
	queued(1)
	var ran atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	answered := make(chan error, 1)
	go func() {
		answered <- s.update(ctx, func(tx *bbolt.Tx) error {
			ran.Store(true)
			return tx.Bucket(bucketMeta).Put([]byte("x"), []byte("v"))
		})
	}()
	queued(2)
	close(releaseA)
	<-enteredB // X is taken, and waits for B's fn
	cancel()
	err := <-answered
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrOutcomeUnknown) {
		t.Fatalf("a write taken but not run when its caller left: %v, want ErrUnavailable, not ErrOutcomeUnknown (it will not run)", err)
	}
	finishB()
	if err := s.update(context.Background(), func(*bbolt.Tx) error { return errNoop }); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("the write ran after its caller had left")
	}
	_ = s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketMeta).Get([]byte("x")) != nil || tx.Bucket(bucketMeta).Get([]byte("b")) == nil {
			t.Fatal("the abandoned write is on disk, or B is not")
		}
		return nil
	})
}

// blockingWrite starts a write that holds its transaction open until
// release is closed (the slow commit); entered is closed once it runs.
func blockingWrite(s *Store, key string) (entered, release chan struct{}) {
	return blockingWriteIn(s, urgentLane, key)
}

// blockingWriteIn is blockingWrite in lane l.
func blockingWriteIn(s *Store, l lane, key string) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.updateIn(context.Background(), l, func(tx *bbolt.Tx) error {
			close(entered)
			<-release
			return tx.Bucket(bucketMeta).Put([]byte(key), []byte("v"))
		})
	}()
	return entered, release
}

// pausing is fn that, when it runs, closes entered and waits for let.
func pausing(fn func(*bbolt.Tx) error, entered, let chan struct{}) func(*bbolt.Tx) error {
	return func(tx *bbolt.Tx) error {
		close(entered)
		<-let
		return fn(tx)
	}
}

// waitQueued waits until n writes wait in the committer's queues.
func waitQueued(s *Store, n int) {
	for len(s.w.urgent)+len(s.w.intake) < n {
		runtime.Gosched()
	}
}

// TestGroupCommitCallerLeavingWhileItsWriteRunsWaitsForIt: a caller whose
// deadline passes while its write's fn is running (reading the map the
// write changes) does not leave until fn returns, since fn works on the
// caller's memory; it is then told the outcome is unknown (or that it was
// stored), never "not stored": the write goes on to be committed.
func TestGroupCommitCallerLeavingWhileItsWriteRunsWaitsForIt(t *testing.T) {
	s := open(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	running, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(letGo) // before Close, which waits for the committer
	answered := make(chan error, 1)
	var fnDone atomic.Bool
	go func() {
		answered <- s.update(ctx, func(tx *bbolt.Tx) error {
			close(running)
			<-release
			fnDone.Store(true)
			return tx.Bucket(bucketMeta).Put([]byte("k"), []byte("v"))
		})
	}()
	<-running
	cancel()
	select {
	case err := <-answered:
		t.Fatalf("the caller left while its write's fn was running: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	letGo()
	err := <-answered
	if !fnDone.Load() {
		t.Fatal("the caller was answered before its fn returned")
	}
	if err != nil && !(errors.Is(err, store.ErrUnavailable) && errors.Is(err, store.ErrOutcomeUnknown)) {
		t.Fatalf("the caller whose write was running got %v, want success or an unknown outcome", err)
	}
	// The write was committed: a claim of "not stored" would have been false.
	if err := s.update(context.Background(), func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte("after"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	_ = s.db.View(func(tx *bbolt.Tx) error {
		if string(tx.Bucket(bucketMeta).Get([]byte("k"))) != "v" {
			t.Fatal("the write whose caller left while it ran is not on disk")
		}
		return nil
	})
}

// order records the order writes' fns run in.
type order struct {
	mu  sync.Mutex
	ran []string
}

// write is a write that records its name and puts it in the meta bucket.
func (o *order) write(name string) func(*bbolt.Tx) error {
	return func(tx *bbolt.Tx) error {
		o.mu.Lock()
		o.ran = append(o.ran, name)
		o.mu.Unlock()
		return tx.Bucket(bucketMeta).Put([]byte(name), []byte("v"))
	}
}

func (o *order) names() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ran...)
}

// TestGroupCommitUrgentWritesGoFirst: a write of the urgent lane (a
// claim, a page recorded, an acknowledgement) queued behind alerts' writes
// runs before them: in the load run's flood, a page outside the flood
// waited behind batches of the flood's alerts.
func TestGroupCommitUrgentWritesGoFirst(t *testing.T) {
	s := open(t, t.TempDir())
	enteredA, releaseA := blockingWrite(s, "a")
	<-enteredA
	var o order
	var wg sync.WaitGroup
	const alerts = 20
	for i := range alerts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.updateIn(context.Background(), intakeLane, o.write(fmt.Sprintf("alert%d", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	waitQueued(s, alerts)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.update(context.Background(), o.write("claim")); err != nil {
			t.Error(err)
		}
	}()
	waitQueued(s, alerts+1)
	close(releaseA)
	wg.Wait()
	if got := o.names(); len(got) != alerts+1 || got[0] != "claim" {
		t.Fatalf("writes ran in the order %v: the urgent write queued last should run first", got)
	}
}

// TestGroupCommitUrgentWriteStopsABatchOfAlerts: an urgent write arriving
// while a batch runs alerts' writes runs in that batch, after the alerts'
// writes already run (at least minIntake), and the alerts' writes not yet
// run wait for the next batch: the urgent write waits for one alert's
// write, not a whole batch. All are stored; an alert whose caller left
// while its write was carried over is answered "not stored" and never runs.
func TestGroupCommitUrgentWriteStopsABatchOfAlerts(t *testing.T) {
	s := open(t, t.TempDir())
	enteredA, releaseA := blockingWrite(s, "a")
	<-enteredA
	var o order
	const alerts = minIntake + 12
	blockAt := minIntake + 1 // the alert whose fn lets the urgent write in
	inBlock, letBlock := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	leaving := make(chan error, 1)
	leaveCtx, leave := context.WithCancel(context.Background())
	defer leave()
	for i := 1; i <= alerts; i++ {
		fn := o.write(fmt.Sprintf("alert%d", i))
		if i == blockAt {
			fn = pausing(fn, inBlock, letBlock)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if i == alerts {
				ctx = leaveCtx
			}
			err := s.updateIn(ctx, intakeLane, fn)
			if i == alerts {
				leaving <- err
				return
			}
			if err != nil {
				t.Error(err)
			}
		}()
		waitQueued(s, i) // in this order
	}
	close(releaseA)
	select {
	case <-inBlock:
	case <-time.After(10 * time.Second):
		t.Fatal("the alert that lets the urgent write in never ran")
	}
	urgentIn, urgentGo := make(chan struct{}), make(chan struct{})
	var once sync.Once
	letUrgent := func() { once.Do(func() { close(urgentGo) }) }
	t.Cleanup(letUrgent) // before Close, which waits for the committer
	urgentDone := make(chan error, 1)
	go func() {
		w := o.write("claim")
		urgentDone <- s.update(context.Background(), func(tx *bbolt.Tx) error {
			close(urgentIn)
			<-urgentGo
			return w(tx)
		})
	}()
	waitQueued(s, 1)
	close(letBlock)
	<-urgentIn
	// The last alert is carried over, not run: its caller leaves now.
	leave()
	if err := <-leaving; !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrOutcomeUnknown) {
		t.Fatalf("an alert carried over whose caller left: %v, want ErrUnavailable (not stored)", err)
	}
	letUrgent()
	if err := <-urgentDone; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	got := o.names()
	want := []string{}
	for i := 1; i <= blockAt; i++ {
		want = append(want, fmt.Sprintf("alert%d", i))
	}
	want = append(want, "claim")
	for i := blockAt + 1; i < alerts; i++ {
		want = append(want, fmt.Sprintf("alert%d", i))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("writes ran in the order\n%v, want\n%v", got, want)
	}
	_ = s.db.View(func(tx *bbolt.Tx) error {
		for _, k := range want {
			if tx.Bucket(bucketMeta).Get([]byte(k)) == nil {
				t.Errorf("%s is not stored", k)
			}
		}
		if tx.Bucket(bucketMeta).Get([]byte(fmt.Sprintf("alert%d", alerts))) != nil {
			t.Error("the alert whose caller left is stored")
		}
		return nil
	})
}

// TestGroupCommitFailedUrgentWriteInABatchOfAlerts: an urgent write that
// joined a batch of alerts' writes and failed rolls the batch back, and
// every write of it, the alerts' carried over too, runs again alone: the
// alerts are stored, the failed write leaves nothing behind.
func TestGroupCommitFailedUrgentWriteInABatchOfAlerts(t *testing.T) {
	s := open(t, t.TempDir())
	enteredA, releaseA := blockingWrite(s, "a")
	<-enteredA
	const alerts = minIntake + 4
	inBlock, letBlock := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var o order
	for i := 1; i <= alerts; i++ {
		fn := o.write(fmt.Sprintf("alert%d", i))
		if i == minIntake+1 {
			inner := fn
			fn = func(tx *bbolt.Tx) error {
				if inBlock != nil {
					close(inBlock)
					inBlock = nil // run again alone: do not block
					<-letBlock
				}
				return inner(tx)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.updateIn(context.Background(), intakeLane, fn); err != nil {
				t.Error(err)
			}
		}()
		waitQueued(s, i)
	}
	wait := inBlock
	close(releaseA)
	select {
	case <-wait:
	case <-time.After(10 * time.Second):
		t.Fatal("the alert that lets the urgent write in never ran")
	}
	boom := fmt.Errorf("%w: boom", store.ErrConflict)
	failed := make(chan error, 1)
	go func() {
		failed <- s.update(context.Background(), func(tx *bbolt.Tx) error {
			if err := tx.Bucket(bucketMeta).Put([]byte("half"), []byte("v")); err != nil {
				return err
			}
			return boom
		})
	}()
	waitQueued(s, 1)
	close(letBlock)
	if err := <-failed; !errors.Is(err, boom) {
		t.Fatalf("the failed urgent write: %v", err)
	}
	wg.Wait()
	_ = s.db.View(func(tx *bbolt.Tx) error {
		for i := 1; i <= alerts; i++ {
			if tx.Bucket(bucketMeta).Get([]byte(fmt.Sprintf("alert%d", i))) == nil {
				t.Errorf("alert%d is not stored", i)
			}
		}
		if tx.Bucket(bucketMeta).Get([]byte("half")) != nil {
			t.Error("the failed write is on disk")
		}
		return nil
	})
}

// TestGroupCommitAlertsGoInABatchFullOfUrgentWrites: however many urgent
// writes wait, a batch leaves room for minIntake alerts' writes, so that
// alerts are never starved.
func TestGroupCommitAlertsGoInABatchFullOfUrgentWrites(t *testing.T) {
	s := open(t, t.TempDir())
	enteredA, releaseA := blockingWrite(s, "a")
	<-enteredA
	var o order
	var wg sync.WaitGroup
	for i := range maxBatch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.update(context.Background(), o.write(fmt.Sprintf("u%d", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	waitQueued(s, maxBatch)
	for i := range minIntake {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.updateIn(context.Background(), intakeLane, o.write(fmt.Sprintf("alert%d", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	waitQueued(s, maxBatch+minIntake)
	close(releaseA)
	wg.Wait()
	got := o.names()
	last := 0
	for i, name := range got {
		if strings.HasPrefix(name, "alert") {
			last = i
		}
	}
	if last >= maxBatch {
		t.Fatalf("the last alert ran %dth, after %d urgent writes: a batch full of urgent writes left no room for alerts", last+1, maxBatch)
	}
}

// TestGroupCommitCarriesNoAlertsAfterClose: once Close has begun, a batch
// runs every alert's write it took, even when an urgent write is waiting:
// carried over, they would start the next batch without the committer
// looking at its stop, and under a flood with claims coming every batch
// (the dispatcher's), Close would wait for as long as the flood lasted.
// The urgent write then runs after them, or is answered "closed".
func TestGroupCommitCarriesNoAlertsAfterClose(t *testing.T) {
	s := open(t, t.TempDir())
	enteredA, releaseA := blockingWrite(s, "a")
	<-enteredA
	var o order
	const alerts = minIntake + 10
	inBlock, letBlock := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for i := 1; i <= alerts; i++ {
		fn := o.write(fmt.Sprintf("alert%d", i))
		if i == minIntake { // the last alert a batch runs before an urgent write may stop it
			fn = pausing(fn, inBlock, letBlock)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.updateIn(context.Background(), intakeLane, fn); err != nil {
				t.Error(err)
			}
		}()
		waitQueued(s, i) // in this order
	}
	close(releaseA)
	select {
	case <-inBlock:
	case <-time.After(10 * time.Second):
		t.Fatal("the batch of alerts never ran")
	}
	urgentDone := make(chan error, 1)
	go func() { urgentDone <- s.update(context.Background(), o.write("claim")) }()
	waitQueued(s, 1)
	closed := make(chan struct{})
	go func() {
		s.w.close()
		close(closed)
	}()
	for !s.w.stopping() {
		runtime.Gosched()
	}
	close(letBlock)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	wg.Wait()
	err := <-urgentDone
	if err != nil && !errors.Is(err, errClosed) {
		t.Fatalf("the urgent write: %v, want it stored or answered closed", err)
	}
	var want []string
	for i := 1; i <= alerts; i++ {
		want = append(want, fmt.Sprintf("alert%d", i))
	}
	if err == nil {
		want = append(want, "claim")
	}
	if got := o.names(); !slices.Equal(got, want) {
		t.Fatalf("ran %v,\nwant every alert the batch took, then the urgent write if it ran: %v", got, want)
	}
}
