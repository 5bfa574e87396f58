package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
)

// decodedHead is the head of the document s holds for id, decoded.
func decodedHead(t *testing.T, s *Store, id string) *head {
	t.Helper()
	var h head
	if err := s.db.View(func(tx *bbolt.Tx) error {
		return unpackDoc(id, tx.Bucket(bucketIncidents).Get(idKey(id)), &h)
	}); err != nil {
		t.Fatal(err)
	}
	h.Details = details(h.Details)
	return &h
}

// TestKeptHeadIsWhatDecodingGives: the head kept for a document this
// process wrote (a new incident's, an update's encoded again in its
// transaction, a finish's) is kept with that document and is what decoding
// it gives, for an incident with every field set and times with a
// monotonic reading in a zone at UTC's offset.
func TestKeptHeadIsWhatDecodingGives(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	if _, off := now.Zone(); off != 0 {
		now = time.Now().In(time.FixedZone("here", 0))
	}
	s := open(t, t.TempDir())
	inc := filledIncident(t, now, 0, false)
	check := func(when string) {
		t.Helper()
		kept, ok := s.heads.Peek(inc.ID)
		if !ok {
			t.Fatalf("%s: no head kept", when)
		}
		var stored []byte
		_ = s.db.View(func(tx *bbolt.Tx) error {
			stored = bytes.Clone(tx.Bucket(bucketIncidents).Get(idKey(inc.ID)))
			return nil
		})
		if !bytes.Equal(kept.doc, stored) {
			t.Fatalf("%s: the head kept is of another document than the one stored", when)
		}
		if want := decodedHead(t, s, inc.ID); !reflect.DeepEqual(kept.h, want) {
			t.Errorf("%s: kept head %+v, decoded %+v", when, kept.h, want)
		}
	}
	if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	check("after Trigger")
	inc.Summary = "updated"
	inc.LastSeen = time.Now() // as stored is kept: written again in the transaction
	if err := s.Update(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	check("after Update")
	claims, err := s.ClaimDue(ctx, now.Add(time.Hour), time.Minute, 10)
	if err != nil || len(claims) != 1 {
		t.Fatalf("ClaimDue: %v %v", claims, err)
	}
	got := claims[0].Record
	got.Summary = "finished"
	if err := s.Finish(ctx, claims[0], got, nil); err != nil {
		t.Fatal(err)
	}
	check("after Finish")
}

// TestKeptHeadIsReadOnlyForItsDocument: a write takes the head kept for
// the document it replaces (a kept head made to say another version makes
// the write a conflict), and only while the stored document is the one it
// was kept with: after a repeat wrote another, the write sees the repeat.
func TestKeptHeadIsReadOnlyForItsDocument(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	t.Run("taken", func(t *testing.T) {
		s := open(t, t.TempDir())
		inc := newIncident("db", "k", now, 1)
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		kept, ok := s.heads.Peek(inc.ID)
		if !ok {
			t.Fatal("no head kept")
		}
		kept.h.Version = 7
		if err := s.Update(ctx, inc, nil); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Update over a kept head of version 7: %v, want a conflict: the head was decoded, not taken", err)
		}
	})
	t.Run("not after a repeat", func(t *testing.T) {
		s := open(t, t.TempDir())
		inc := newIncident("db", "k", now, 1)
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		again := newIncident("db", "k", now.Add(time.Second), 1)
		if _, out, err := s.Trigger(ctx, again, nil); err != nil || out != store.Repeated {
			t.Fatalf("repeat: %v %v", out, err)
		}
		inc.CheckRepeats = true // read before the repeat: 0
		if err := s.Update(ctx, inc, nil); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Update of an incident read before a repeat: %v, want a conflict: the kept head of the document before it was used", err)
		}
	})
	t.Run("none for details not as is", func(t *testing.T) {
		s := open(t, t.TempDir())
		inc := newIncident("db", "k", now, 1)
		inc.Details = json.RawMessage(`{"a": 1}`)
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.heads.Peek(inc.ID); ok {
			t.Error("kept a head whose details decoding gives in other bytes")
		}
	})
}
