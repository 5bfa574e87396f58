package boltstore

import (
	"bytes"

	"github.com/pagerd/pagerd/gateway/store"
)

// A write reads the head of the document it replaces (readHead: version,
// repeats, last seen, details), and decoding it, inside the one writer,
// was 4% of pagerd's CPU on this store under load, the document most
// often one this process wrote a moment before. So the head of each
// document this process writes is kept with the document's bytes, and a
// write whose stored document is byte for byte the one kept takes its
// head from there. A document written since by any other way (a repeat,
// an import, a write whose commit failed after the head was kept) is not
// those bytes, and is decoded as before.

// keptHeads is how many documents' heads are kept: the oldest go first.
const keptHeads = 8192

// headDoc is a document this process wrote and the head decoding it gives.
type headDoc struct {
	doc []byte
	h   *head
}

// headOf is the head decoding the document of rec gives, rec being as
// stored made it (times at UTC, details as encodeDoc wrote them as is).
func headOf(rec *store.Incident) *head {
	return &head{ID: rec.ID, CreatedAt: rec.CreatedAt, Details: rec.Details, Repeats: rec.Repeats,
		LastSeen: rec.LastSeen, LastReceived: rec.LastReceived, Version: rec.Version}
}

// keepHead keeps w, the document written for the incident id and its
// head, once its transaction is committed; nil keeps nothing.
func (s *Store) keepHead(id string, w *headDoc) {
	if s.heads != nil && w != nil {
		s.heads.Keep(id, w)
	}
}

// keptHead is a copy of the head kept for the incident id if doc is the
// document it was kept with, or nil.
func (s *Store) keptHead(id string, doc []byte) *head {
	if s.heads == nil {
		return nil
	}
	k, ok := s.heads.Peek(id)
	if !ok || !bytes.Equal(k.doc, doc) {
		return nil
	}
	h := *k.h
	return &h
}
