package store

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// TestParallelDecode checks what both stores' History rely on: every
// record decoded exactly once, into its own place, and an error returned.
func TestParallelDecode(t *testing.T) {
	bad := errors.New("bad record")
	for _, tc := range []struct {
		name    string
		n       int
		failAt  int // -1: none fails
		wantErr bool
	}{
		{"empty", 0, -1, false},
		{"one", 1, -1, false},
		{"a batch", 1000, -1, false},
		{"a failure", 1000, 517, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]int, tc.n)
			var calls atomic.Int64
			err := ParallelDecode(tc.n, func(i int) error {
				calls.Add(1)
				if i == tc.failAt {
					return fmt.Errorf("record %d: %w", i, bad)
				}
				out[i] = i + 1
				return nil
			})
			if tc.wantErr {
				if !errors.Is(err, bad) {
					t.Fatalf("err = %v, want %v", err, bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if calls.Load() != int64(tc.n) {
				t.Errorf("decode called %d times, want %d", calls.Load(), tc.n)
			}
			for i, v := range out {
				if v != i+1 {
					t.Fatalf("out[%d] = %d, want %d", i, v, i+1)
				}
			}
		})
	}
}

// TestPartlyStored: a refused write after another of the request stored
// is marked outcome unknown; one already so, or not the store's, is left
// as it is.
func TestPartlyStored(t *testing.T) {
	refused := fmt.Errorf("%w: READONLY", ErrUnavailable)
	if err := PartlyStored(refused); !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("refused: %v", err)
	}
	unknown := fmt.Errorf("%w: %w: timeout", ErrUnavailable, ErrOutcomeUnknown)
	if err := PartlyStored(unknown); err != unknown {
		t.Errorf("already unknown: %v", err)
	}
	conflict := errors.New("conflict")
	if err := PartlyStored(conflict); err != conflict {
		t.Errorf("not the store's: %v", err)
	}
	if err := PartlyStored(nil); err != nil {
		t.Errorf("nil: %v", err)
	}
}
