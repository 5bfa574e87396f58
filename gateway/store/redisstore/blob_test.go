package redisstore

import (
	"bytes"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/blob"
	"github.com/pagerd/pagerd/gateway/store/internal/filltest"
	"github.com/pagerd/pagerd/policy"
)

// BenchmarkPackBlob packs a stored incident document, handed to a packer
// and encoded in place, on the benchmark's goroutine, whose stack stays
// grown: what handing over costs. What it saves (stacks grown again after
// every collection, on hundreds of goroutines) shows in a profile of the
// load run, not here.
func BenchmarkPackBlob(b *testing.B) {
	var r record
	filltest.Fill(b, reflect.ValueOf(&r).Elem(), time.Now().UTC(), new(int), false)
	filltest.PlainStrings(reflect.ValueOf(&r).Elem(), new(int))
	doc, err := appendRecord(nil, &r)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("handed over", func(b *testing.B) {
		for b.Loop() {
			blob.Pack(doc)
		}
	})
	b.Run("in place", func(b *testing.B) {
		for b.Loop() {
			blob.Encode(doc)
		}
	})
}

// TestEncodeDocAllocatesWhatItKeeps: a write's document costs the packed
// bytes it keeps and little more: the JSON goes into a pooled buffer and
// S2's room into the packer's scratch (each was a new buffer a write, and
// together more than twice what is kept).
func TestEncodeDocAllocatesWhatItKeeps(t *testing.T) {
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	inc := &store.Incident{ID: "0f-06h2rrcj3tt0a8e3", Service: "api", DedupKey: `{}:{alertname="DiskFull",instance="db1"}`,
		Summary: "Disk almost full on db1", CreatedAt: at, UpdatedAt: at, LastSeen: at,
		State: policy.Incident{Status: policy.StatusTriggered, Priority: "P1", TriggeredAt: at, LevelStartedAt: at,
			Pending: []policy.Deadline{
				{ID: "0001.000001.notify", At: at, Kind: policy.DeadlineNotify, User: "ann", Channel: "push", Seq: 1},
				{ID: "0001.000002.notify", At: at.Add(2 * time.Minute), Kind: policy.DeadlineNotify, User: "ann", Channel: "sms", Seq: 2},
				{ID: "0001.000003.notify", At: at.Add(5 * time.Minute), Kind: policy.DeadlineNotify, User: "ann", Channel: "voice", Seq: 3},
				{ID: "0001.000004.escalate", At: at.Add(15 * time.Minute), Kind: policy.DeadlineEscalate, Seq: 4},
			}}}
	doc, _, err := encodeDoc(inc)
	if err != nil {
		t.Fatal(err)
	}
	const runs = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		if _, _, err := encodeDoc(inc); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("encodeDoc allocated %d bytes a call for a %d-byte document", per, len(doc))
	if most := uint64(len(doc)) + 512; per > most {
		t.Errorf("encodeDoc allocated %d bytes a call for a %d-byte document, want at most %d", per, len(doc), most)
	}
}

// TestTriggerDocAndDetailsPackedTogetherAreTheBytesOfEach: Trigger packs an
// incident's document and its details in one hand-over to a packer; what
// it stores is byte for byte the document and details packed apart (as
// every earlier version stored them), for details set and none.
func TestTriggerDocAndDetailsPackedTogetherAreTheBytesOfEach(t *testing.T) {
	var inc store.Incident
	filltest.Fill(t, reflect.ValueOf(&inc).Elem(), time.Now().UTC(), new(int), false)
	for _, details := range []string{`{"labels":{"alertname":"Disk","instance":"db1"},"n":1}`, ""} {
		inc.Details = []byte(details)
		doc, det, lossy, err := encodeDocDetails(&inc, true)
		if err != nil {
			t.Fatal(err)
		}
		wantDoc, wantLossy, err := encodeDoc(&inc)
		if err != nil {
			t.Fatal(err)
		}
		j, err := appendRecord(nil, &record{ID: inc.ID, Service: inc.Service, DedupKey: inc.DedupKey, Source: inc.Source,
			Summary: inc.Summary, CreatedAt: inc.CreatedAt, UpdatedAt: inc.UpdatedAt, State: func() policy.Incident {
				s := inc.State
				s.ID, s.Service = "", ""
				return s
			}(), Outbox: inc.Outbox, NotPushed: inc.NotPushedToPagerDuty, NotPaged: inc.NotPaged, SilencedAt: inc.SilencedAt})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(doc, wantDoc) || !bytes.Equal(doc, blob.Encode(j)) || lossy != wantLossy {
			t.Errorf("details %q: the document packed with them differs from it packed alone", details)
		}
		if want := encodeDetails(inc.Details); !bytes.Equal(det, want) {
			t.Errorf("details %q: packed with the document %x, alone %x", details, det, want)
		}
	}
}
