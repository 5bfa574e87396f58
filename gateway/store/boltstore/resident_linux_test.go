package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// fill writes n values of size bytes into a bucket of their own and reads
// them all back through the map, which makes their pages resident.
func fill(t *testing.T, s *Store, n, size int) {
	t.Helper()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("ballast"))
		if err != nil {
			return err
		}
		for i := range n {
			if err := b.Put(fmt.Appendf(nil, "%08d", i), bytes.Repeat([]byte{byte(i)}, size)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readBallast(t, s, n, size)
}

// readBallast reads fill's values back and checks each.
func readBallast(t *testing.T, s *Store, n, size int) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("ballast"))
		for i := range n {
			v := b.Get(fmt.Appendf(nil, "%08d", i))
			if len(v) != size || v[0] != byte(i) || v[size-1] != byte(i) {
				return fmt.Errorf("value %d: %d bytes, not %d of %d", i, len(v), size, byte(i))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func residentMB(t *testing.T) int64 {
	t.Helper()
	_, n, ok := residentBytes()
	if !ok {
		t.Fatal("file-backed resident memory not read from /proc/self/statm")
	}
	return n >> 20
}

// TestReleaseMappedGivesThePagesBackAndKeepsTheData: 64 MB of store read
// through the map is resident in the process until releaseMapped gives it
// back; what was there reads the same afterwards.
func TestReleaseMappedGivesThePagesBackAndKeepsTheData(t *testing.T) {
	s := open(t, t.TempDir())
	s.trim.close() // this test releases by hand
	before := residentMB(t)
	const n, size = 16 << 10, 4 << 10 // 64 MB
	fill(t, s, n, size)
	filled := residentMB(t)
	if filled-before < 48 {
		t.Fatalf("file-backed resident memory %d MB after reading 64 MB of store, from %d: the map's pages were not resident to begin with", filled, before)
	}
	if err := s.releaseMapped(); err != nil {
		t.Fatal(err)
	}
	released := residentMB(t)
	t.Logf("file-backed resident memory: %d MB, %d MB with the store read, %d MB released", before, filled, released)
	if released-before > 16 {
		t.Fatalf("file-backed resident memory %d MB after the release, from %d MB before the store was read: not given back", released, before)
	}
	readBallast(t, s, n, size)
}

// TestTrimmerReleasesPastItsBudget: the trimmer releases when the
// file-backed resident memory grew by more than its budget since it last
// released (or started), and counts from what is left after; with a
// memory limit, by more than the room the limit leaves pagerd's own
// memory and the base, when that is more than the budget.
func TestTrimmerReleasesPastItsBudget(t *testing.T) {
	for _, c := range []struct {
		name  string
		limit int64
		anon  int64
		// file are the readings of file-backed memory; after a release
		// the trimmer reads again: the next figure is what is left, its
		// new base.
		file []int64
		want []int64
	}{
		{"no limit", math.MaxInt64, 0, []int64{
			100,      // the base at start
			105, 110, // within the budget
			111, 104, // past it: released, 104 left
			114,
			115, 90, // past 104 + 10
			80,     // the kernel took pages itself: the base goes down
			91, 80, // past 80 + 10
			85, // one more look: everything before it is done
		}, []int64{111, 115, 91}},
		// 400 of limit, 200 of pagerd's own, 100 of base: 100 of room.
		{"room under the limit", 400, 200, []int64{100, 111, 150, 200, 201, 100, 150}, []int64{201}},
		// 300 of pagerd's own leave no room: the budget.
		{"no room under the limit", 400, 300, []int64{100, 110, 111, 100, 105}, []int64{111}},
	} {
		t.Run(c.name, func(t *testing.T) {
			readings := make(chan int64)
			var last int64 // the reading the trimmer took last
			var releasedAt []int64
			tr := &trimmer{budget: 10, every: time.Millisecond,
				resident: func() (int64, int64, bool) { last = <-readings; return c.anon, last, true },
				limit:    func() int64 { return c.limit },
				release:  func() error { releasedAt = append(releasedAt, last); return nil },
				stop:     make(chan struct{}), done: make(chan struct{})}
			go tr.run()
			for _, r := range c.file {
				readings <- r
			}
			readings <- c.file[len(c.file)-1] // one more look: the last is done
			tr.close()
			if !slices.Equal(releasedAt, c.want) {
				t.Fatalf("released at %v, want %v", releasedAt, c.want)
			}
		})
	}
}

// TestReleaseMappedWhileTheStoreWorks: releasing the map over and over
// while incidents are written and read loses and changes nothing (run
// under -race by make test).
func TestReleaseMappedWhileTheStoreWorks(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	stop := make(chan struct{})
	var releases sync.WaitGroup
	releases.Add(1)
	go func() {
		defer releases.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.releaseMapped(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	ids := make([][]string, 8)
	for w := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				id, _, err := s.Trigger(ctx, newIncident("svc", fmt.Sprintf("w%d-%d", w, i), at, 3), nil)
				if err != nil {
					t.Error(err)
					return
				}
				ids[w] = append(ids[w], id)
				if _, err := s.Get(ctx, id); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	releases.Wait()
	for w, list := range ids {
		for i, id := range list {
			inc, err := s.FindByDedup(ctx, "svc", fmt.Sprintf("w%d-%d", w, i))
			if err != nil || inc.ID != id {
				t.Fatalf("incident w%d-%d: %v, %v", w, i, inc, err)
			}
		}
	}
	claims, err := s.ClaimDue(ctx, at.Add(time.Hour), time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 800 {
		t.Fatalf("%d incidents claimed of 800", len(claims))
	}
	for _, c := range claims {
		if c.Record == nil || c.Record.ID != c.Incident || len(c.Record.State.Pending) != 3 {
			t.Fatalf("claim of %s read back as %+v", c.Incident, c.Record)
		}
	}
}
