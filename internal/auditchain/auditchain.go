// Package auditchain defines agentid's tamper-evident audit trail: the audit
// event, its canonical serialization, its hash, and the check of a chain of
// events. It is the one place the hash is defined; internal/store computes it
// when it appends an event, and the verifier and `agentid audit verify`
// recompute it when they check a chain. It is a library: no database, no
// HTTP, no state.
//
// # Chains
//
// Every organization has a chain of its own, and events that belong to no
// organization form one more chain, the operator chain (OrganizationID "").
// In a chain, events are numbered 1, 2, 3, ... without gaps (Seq), and each
// event carries the hash of the one before it (PrevHash); the first event's
// PrevHash is GenesisHash, 64 zeros. Changing an event changes its hash;
// deleting or inserting an event breaks the next event's PrevHash and
// sequence. Truncating the tail of a chain is only detectable against a head
// (sequence and hash) recorded elsewhere, which is why `agentid audit verify`
// prints the head.
//
// # Hash
//
// Hash is the lower-case hex SHA-256 of Canonical: a JSON object with every
// field of the event except "hash" — action, agent, credentialIds, decision,
// id, organizationId, prevHash, principal, reasons, relyingParty, requestId,
// resource, seq, time — always all of them, absent text as "" and absent
// lists as []. It is the JSON Canonicalization Scheme (RFC 8785) for the
// values an event holds: keys sorted, no insignificant whitespace, strings
// with only '"', '\\' and the control characters escaped (\b \f \n \r \t,
// others as \u00xx), "seq" an integer, "time" a string in UTC RFC 3339 with
// exactly nine fractional digits (2026-11-29T10:00:00.123456000Z). Strings
// must be valid UTF-8. Fields added in later versions will be serialized
// only when they are not empty, so that events written before keep their
// hashes.
package auditchain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"
	"unicode/utf8"
)

// GenesisHash is the PrevHash of the first event of every chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// TimeFormat is how Canonical writes an event's time (always in UTC).
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Decisions an event records.
const (
	// DecisionVerified: the verifier accepted what the agent presented
	// (and the requested action, when one was asked for).
	DecisionVerified = "verified"
	// DecisionRejected: the verifier refused it; Reasons says why.
	DecisionRejected = "rejected"
)

// ErrInvalidEvent means an event cannot be hashed or stored as it is: a
// string that is not UTF-8, or an unknown decision.
var ErrInvalidEvent = errors.New("invalid audit event")

// Event is one audit event: one verification, attributed to one agent. Its
// JSON form is the line format of the JSON-lines export.
type Event struct {
	// Seq numbers the event in its chain: 1, 2, 3, ... without gaps.
	Seq int64 `json:"seq"`
	// ID is a UUID.
	ID string `json:"id"`
	// Time is when the verification happened.
	Time time.Time `json:"time"`
	// OrganizationID names the chain: the organization the event belongs
	// to, or "" for the operator chain.
	OrganizationID string `json:"organizationId,omitempty"`
	// RelyingParty is the service that asked for the verification.
	RelyingParty string `json:"relyingParty"`
	// Agent is the DID of the agent that presented.
	Agent string `json:"agent"`
	// Principal is the DID of the human the agent acts for.
	Principal string `json:"principal"`
	// CredentialIDs are the ids of the credentials presented.
	CredentialIDs []string `json:"credentialIds"`
	// Action and Resource are what the agent asked to do, if it said.
	Action   string `json:"action"`
	Resource string `json:"resource"`
	// Decision is DecisionVerified or DecisionRejected.
	Decision string `json:"decision"`
	// Reasons are the failed checks of a rejection (and any warnings).
	Reasons []string `json:"reasons"`
	// RequestID ties the event to the server's logs.
	RequestID string `json:"requestId"`
	// PrevHash is the Hash of the previous event of the chain, or
	// GenesisHash.
	PrevHash string `json:"prevHash"`
	// Hash is ComputeHash of the event.
	Hash string `json:"hash"`
}

// Validate reports, as ErrInvalidEvent, a decision other than the two
// known ones or a string that is not valid UTF-8.
func (e *Event) Validate() error {
	if e.Decision != DecisionVerified && e.Decision != DecisionRejected {
		return fmt.Errorf("%w: decision %q (want %q or %q)", ErrInvalidEvent, e.Decision, DecisionVerified, DecisionRejected)
	}
	for name, s := range map[string]string{
		"id": e.ID, "organizationId": e.OrganizationID, "relyingParty": e.RelyingParty,
		"agent": e.Agent, "principal": e.Principal, "action": e.Action, "resource": e.Resource,
		"requestId": e.RequestID, "prevHash": e.PrevHash,
	} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidEvent, name)
		}
	}
	for _, list := range [][]string{e.CredentialIDs, e.Reasons} {
		for _, s := range list {
			if !utf8.ValidString(s) {
				return fmt.Errorf("%w: a list entry is not valid UTF-8", ErrInvalidEvent)
			}
		}
	}
	return nil
}

// Canonical is the canonical serialization of e that its hash is computed
// over: every field but Hash (see the package documentation).
func Canonical(e *Event) []byte {
	b := make([]byte, 0, 512)
	// Keys in sorted order.
	b = appendKey(b, "action", true)
	b = appendString(b, e.Action)
	b = appendKey(b, "agent", false)
	b = appendString(b, e.Agent)
	b = appendKey(b, "credentialIds", false)
	b = appendStrings(b, e.CredentialIDs)
	b = appendKey(b, "decision", false)
	b = appendString(b, e.Decision)
	b = appendKey(b, "id", false)
	b = appendString(b, e.ID)
	b = appendKey(b, "organizationId", false)
	b = appendString(b, e.OrganizationID)
	b = appendKey(b, "prevHash", false)
	b = appendString(b, e.PrevHash)
	b = appendKey(b, "principal", false)
	b = appendString(b, e.Principal)
	b = appendKey(b, "reasons", false)
	b = appendStrings(b, e.Reasons)
	b = appendKey(b, "relyingParty", false)
	b = appendString(b, e.RelyingParty)
	b = appendKey(b, "requestId", false)
	b = appendString(b, e.RequestID)
	b = appendKey(b, "resource", false)
	b = appendString(b, e.Resource)
	b = appendKey(b, "seq", false)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = appendKey(b, "time", false)
	b = appendString(b, e.Time.UTC().Format(TimeFormat))
	return append(b, '}')
}

// ComputeHash is the hex SHA-256 of Canonical(e).
func ComputeHash(e *Event) string {
	sum := sha256.Sum256(Canonical(e))
	return hex.EncodeToString(sum[:])
}

func appendKey(b []byte, key string, first bool) []byte {
	if first {
		b = append(b, '{')
	} else {
		b = append(b, ',')
	}
	b = appendString(b, key)
	return append(b, ':')
}

func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString writes s as an RFC 8785 JSON string. Invalid UTF-8 is
// written as is (Validate refuses it before an event is stored).
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Break kinds: why a chain is broken at an event.
const (
	// BreakHash: the event's hash does not match its content — the event
	// was changed after it was written.
	BreakHash = "hash-mismatch"
	// BreakSequence: the event's sequence number is not the one after its
	// predecessor's — events before it were deleted, or it was inserted.
	BreakSequence = "sequence-gap"
	// BreakPrevHash: the event does not carry its predecessor's hash — the
	// event before it was deleted, inserted, or changed and re-hashed.
	BreakPrevHash = "prev-hash-mismatch"
	// BreakChain: the event belongs to another chain (organization).
	BreakChain = "chain-mismatch"
	// BreakHead: the chain ends before the head recorded for it — events
	// at its end were deleted.
	BreakHead = "head-mismatch"
)

// Break names the first event at which a chain is broken.
type Break struct {
	// Seq and ID are the broken event's, as it claims them.
	Seq int64  `json:"seq"`
	ID  string `json:"id"`
	// Index is the event's position in the input, from 0.
	Index int64 `json:"index"`
	// Kind is one of the Break* constants.
	Kind string `json:"kind"`
	// Reason says what was expected, for people.
	Reason string `json:"reason"`
}

// Report is the outcome of checking one chain.
type Report struct {
	// OrganizationID names the chain ("" for the operator chain).
	OrganizationID string `json:"organizationId"`
	// OK is true when every event checked and the chain is intact.
	OK bool `json:"ok"`
	// Events is the number of events read.
	Events int64 `json:"events"`
	// HeadSeq and HeadHash are those of the last intact event (0 and
	// GenesisHash for an empty chain); record them elsewhere to detect a
	// truncated tail later.
	HeadSeq  int64  `json:"headSeq"`
	HeadHash string `json:"headHash"`
	// Broken is the first broken event; nil when OK.
	Broken *Break `json:"broken,omitempty"`
}

// Checker checks a chain one event at a time, for callers that read events
// from somewhere Verify's iterator does not fit. The zero value is not
// usable: use NewChecker.
type Checker struct {
	r       Report
	started bool
}

// NewChecker starts checking a chain from its genesis.
func NewChecker() *Checker {
	return &Checker{r: Report{OK: true, HeadHash: GenesisHash}}
}

// Add checks the next event of the chain. It returns false once the chain
// is broken (at this event or before); later events are not checked.
func (c *Checker) Add(e *Event) bool {
	if !c.r.OK {
		return false
	}
	index := c.r.Events
	c.r.Events++
	if !c.started {
		c.started = true
		c.r.OrganizationID = e.OrganizationID
	}
	fail := func(kind, reason string) bool {
		c.r.OK = false
		c.r.Broken = &Break{Seq: e.Seq, ID: e.ID, Index: index, Kind: kind, Reason: reason}
		return false
	}
	wantSeq := c.r.HeadSeq + 1
	switch {
	case e.OrganizationID != c.r.OrganizationID:
		return fail(BreakChain, fmt.Sprintf("the event belongs to chain %q, not %q", e.OrganizationID, c.r.OrganizationID))
	case ComputeHash(e) != e.Hash:
		return fail(BreakHash, "the event's content does not match its hash: the event was changed")
	case e.Seq > wantSeq:
		return fail(BreakSequence, fmt.Sprintf("sequence %d follows %d: events %d to %d are missing (deleted)", e.Seq, c.r.HeadSeq, wantSeq, e.Seq-1))
	case e.Seq < wantSeq:
		return fail(BreakSequence, fmt.Sprintf("sequence %d follows %d: the event was inserted, duplicated or moved", e.Seq, c.r.HeadSeq))
	case e.PrevHash != c.r.HeadHash:
		return fail(BreakPrevHash, fmt.Sprintf("prevHash %s is not the hash %s of event %d: an event before it was deleted, inserted or changed", short(e.PrevHash), short(c.r.HeadHash), c.r.HeadSeq))
	}
	c.r.HeadSeq, c.r.HeadHash = e.Seq, e.Hash
	return true
}

// ExpectHead checks that the chain ended at the head (sequence and hash)
// recorded for it elsewhere, for example the audit_heads row of the
// database or a head an auditor noted earlier. A chain that was already
// broken is left as it is.
func (c *Checker) ExpectHead(seq int64, hash string) {
	if !c.r.OK || (seq == c.r.HeadSeq && hash == c.r.HeadHash) {
		return
	}
	c.r.OK = false
	c.r.Broken = &Break{Seq: c.r.HeadSeq + 1, Index: c.r.Events, Kind: BreakHead,
		Reason: fmt.Sprintf("the chain ends at event %d (hash %s) but its head is event %d (hash %s): events at its end were deleted or changed", c.r.HeadSeq, short(c.r.HeadHash), seq, short(hash))}
}

// Report returns the outcome so far.
func (c *Checker) Report() *Report {
	r := c.r
	if r.Broken != nil {
		b := *r.Broken
		r.Broken = &b
	}
	return &r
}

// Verify checks the events of one chain, in order from its first event,
// and returns the report; it stops reading at the first broken event. The
// error is the iterator's (a read failure), never the chain's state.
func Verify(events iter.Seq2[*Event, error]) (*Report, error) {
	c := NewChecker()
	for e, err := range events {
		if err != nil {
			return c.Report(), err
		}
		if !c.Add(e) {
			break
		}
	}
	return c.Report(), nil
}

// Events adapts a slice to Verify's iterator.
func Events(list []Event) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		for i := range list {
			if !yield(&list[i], nil) {
				return
			}
		}
	}
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
