package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/gateway/store"
)

// Opsgenie's request status (GET /v2/alerts/requests/<requestId>): Opsgenie
// does a request later and its SDKs (the Go SDK's RetrieveStatus, the
// Python SDK's get_request_status) ask how it went, and for the alert's id.
// pagerd does every request before it answers, so the answer is known
// then; it is written into the request id itself (a UUID, as Opsgenie's
// are), so any replica answers the lookup with no state kept: the action,
// whether it found an alert, the incident's id and when it was done.
// Without this the lookup was 405, and a script that created an alert
// and asked for its id failed after the alert paged.

const opsgenieRequestPath = "/v2/alerts/requests/:requestId"

// ogAction is what an Opsgenie request did, as its request id says.
type ogAction uint8

const (
	ogCreate ogAction = iota + 1
	ogClose
	ogAcknowledge
	ogUpdateMessage
	ogUpdateDescription
	ogAddNote
)

// ogActions are Opsgenie's names of the actions and the status of each done.
var ogActions = map[ogAction][2]string{
	ogCreate:            {"Create", "Created alert"},
	ogClose:             {"Close", "Closed alert"},
	ogAcknowledge:       {"Acknowledge", "Acknowledged alert"},
	ogUpdateMessage:     {"UpdateMessage", "Updated alert message"},
	ogUpdateDescription: {"UpdateDescription", "Updated alert description"},
	ogAddNote:           {"AddNote", "Added note"},
}

// ogTag marks a request id that carries its request's outcome (3 bits);
// any other request id (a refused request's) has 0 there.
const ogTag = 0b101

// ogBits are the bits of a version 4 UUID that are not its version or
// variant, most significant first: the request id's payload goes there.
var ogBits = func() []int {
	var out []int
	for i := range 128 {
		if (i >= 48 && i < 52) || (i >= 64 && i < 66) {
			continue
		}
		out = append(out, i)
	}
	return out
}()

// ogPayload writes and reads the request id's payload, field by field.
type ogPayload struct {
	u   [16]byte
	pos int
}

func (p *ogPayload) put(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		b := ogBits[p.pos]
		if v>>uint(i)&1 == 1 {
			p.u[b/8] |= 1 << (7 - uint(b%8))
		}
		p.pos++
	}
}

func (p *ogPayload) get(n int) uint64 {
	var v uint64
	for range n {
		b := ogBits[p.pos]
		v = v<<1 | uint64(p.u[b/8]>>(7-uint(b%8))&1)
		p.pos++
	}
	return v
}

// uuid sets the version and variant bits and formats the UUID.
func (p *ogPayload) uuid() string {
	p.u[6] = p.u[6]&0x0f | 0x40
	p.u[8] = p.u[8]&0x3f | 0x80
	b := p.u
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// plainRequestID is a random version 4 UUID whose first 3 bits are not
// ogTag: the request id of a request that did nothing (refused), which
// the request status must not read as one that did. A random id had ogTag
// there one time in eight, and about one in twenty was answered 200 with
// an action no request did.
func plainRequestID() string {
	p := &ogPayload{}
	_, _ = rand.Read(p.u[:])
	p.u[0] &= 0x1f
	return p.uuid()
}

// ogRequestID is the request id of a request that did action: to the
// incident id (found), or to nothing (id "": the identifier named no open
// alert), at now. An incident id NewID did not make gets a plain random id.
func ogRequestID(action ogAction, id string, now time.Time) (string, bool) {
	var r [8]byte
	_, _ = rand.Read(r[:])
	p := &ogPayload{}
	p.put(ogTag, 3)
	p.put(uint64(action), 3)
	if id == "" {
		p.put(0, 1+5)
		p.put(uint64(now.UnixMilli())&(1<<48-1), 48)
		p.put(uint64(binary.BigEndian.Uint32(r[:4])), 32)
		p.put(0, 24)
	} else {
		shard, b, ok := store.IDParts(id)
		created, _ := store.MillisOfID(id)
		if !ok {
			return "", false
		}
		p.put(1, 1)
		p.put(uint64(shard), 5)
		p.put(binary.BigEndian.Uint64(b[:8]), 64)
		p.put(uint64(binary.BigEndian.Uint16(b[8:])), 16)
		p.put(uint64(min(max(now.UnixMilli()-created, 0)/1000, 1<<24-1)), 24)
	}
	p.put(uint64(r[4]&0x3f), 6)
	return p.uuid(), true
}

// ogRequest is what a request id says of its request.
type ogRequest struct {
	action    ogAction
	found     bool
	incident  string
	processed time.Time
}

// ogEarliest is before the first request any pagerd answered: a request id
// that says it was done earlier was not made by ogRequestID.
var ogEarliest = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// parseOgRequestID reads a request id ogRequestID made, at now. An id
// made elsewhere (a client's own, another tool's) can carry ogTag by
// chance; one that says it was done before ogEarliest or after now (a
// minute's leeway for replicas' clocks) was not made here, which leaves
// about one random id in a million read as a request that found nothing,
// and an id read as one that found an incident is trusted only once the
// incident is found (opsgenieRequestStatus).
func parseOgRequestID(s string, now time.Time) (ogRequest, bool) {
	var r ogRequest
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 || len(s) != 36 {
		return r, false
	}
	p := &ogPayload{}
	copy(p.u[:], raw)
	if p.get(3) != ogTag {
		return r, false
	}
	r.action = ogAction(p.get(3))
	if _, ok := ogActions[r.action]; !ok {
		return r, false
	}
	r.found = p.get(1) == 1
	shard := int(p.get(5))
	plausible := func() bool {
		return !r.processed.Before(ogEarliest) && !r.processed.After(now.Add(time.Minute))
	}
	if !r.found {
		r.processed = time.UnixMilli(int64(p.get(48))).UTC()
		return r, shard == 0 && plausible()
	}
	var b [10]byte
	binary.BigEndian.PutUint64(b[:8], p.get(64))
	binary.BigEndian.PutUint16(b[8:], uint16(p.get(16)))
	r.incident = store.IDOf(shard, b)
	created, ok := store.MillisOfID(r.incident)
	if !ok || shard >= store.Shards {
		return r, false
	}
	r.processed = time.UnixMilli(created).Add(time.Duration(p.get(24)) * time.Second).UTC()
	return r, plausible()
}

// done answers 202 for a request that did action to the incident id (""
// for none), with a request id that says so (ogRequestID).
func (o *opsgenie) done(action ogAction, id string, now time.Time, result string) error {
	if rid, ok := ogRequestID(action, id, now); ok {
		o.id = rid
		o.c.Response().Header().Set(echo.HeaderXRequestID, rid)
	}
	return o.accepted(result)
}

// opsgenieRequestStatus data: Opsgenie's fields.
type opsgenieRequestStatus struct {
	Success       bool   `json:"success"`
	Action        string `json:"action"`
	ProcessedAt   string `json:"processedAt"`
	IntegrationID string `json:"integrationId"`
	IsSuccess     bool   `json:"isSuccess"`
	Status        string `json:"status"`
	AlertID       string `json:"alertId"`
	Alias         string `json:"alias"`
}

// opsgenieRequestStatus is GET /v2/alerts/requests/<requestId>: what the
// request with that id did, for the key's service. A request id pagerd
// did not give for a request it did, or one of another service's
// incident, is 404, as Opsgenie answers an id it does not know.
func (s *Server) opsgenieRequestStatus(c echo.Context) error {
	o := s.opsgenieRequest(c)
	svc, err := s.opsgenieService(o, s.config(), opsgenieActBucket)
	if svc == nil {
		return err
	}
	unknown := func() error {
		return o.refuse(http.StatusNotFound, "Request does not exist: pagerd knows the request ids it answered 202 with, to the same key", nil)
	}
	r, ok := parseOgRequestID(c.Param("requestId"), s.now())
	if !ok {
		return unknown()
	}
	names := ogActions[r.action]
	st := opsgenieRequestStatus{Success: true, Action: names[0], ProcessedAt: r.processed.Format("2006-01-02T15:04:05.000Z"),
		IsSuccess: r.found, Status: "Alert does not exist"}
	if r.found {
		ctx, cancel := storeBudget(c.Request())
		defer cancel()
		inc, err := s.o.Incidents.Get(ctx, r.incident)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Gone (retention), or an id made elsewhere that reads as
			// one of pagerd's: not known, so not claimed.
			return unknown()
		case err != nil:
			return o.stored(err, "asking again changes nothing.")
		case inc.Service != svc.Name:
			return unknown()
		default:
			st.Alias, _ = strings.CutPrefix(inc.DedupKey, "og:")
		}
		st.Status, st.AlertID = names[1], r.incident
	}
	return o.c.JSON(http.StatusOK, struct {
		Data      opsgenieRequestStatus `json:"data"`
		Took      float64               `json:"took"`
		RequestID string                `json:"requestId"`
	}{st, o.took(), o.id})
}
