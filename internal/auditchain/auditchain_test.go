package auditchain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func sample() *Event {
	return &Event{
		Seq:            7,
		ID:             "5f2b0c1e-8d3a-4c1b-9e2f-0a1b2c3d4e5f",
		Time:           time.Date(2026, 11, 29, 11, 0, 0, 123456000, time.FixedZone("CET", 3600)),
		OrganizationID: "org-1",
		RelyingParty:   "https://erp.example.com",
		Agent:          "did:key:zDnaeAgent",
		Principal:      "did:key:z6MkHuman",
		CredentialIDs:  []string{"urn:uuid:a", "urn:uuid:b"},
		Action:         "invoices:pay",
		Resource:       "https://erp.example.com/api/invoices",
		Decision:       DecisionRejected,
		Reasons:        []string{"status: \"revoked\"\n", "<é>\x01"},
		RequestID:      "req-1",
		PrevHash:       GenesisHash,
	}
}

// The canonical form is the specification: this string is what the hash is
// computed over, byte for byte.
const sampleCanonical = `{"action":"invoices:pay","agent":"did:key:zDnaeAgent","credentialIds":["urn:uuid:a","urn:uuid:b"],"decision":"rejected","id":"5f2b0c1e-8d3a-4c1b-9e2f-0a1b2c3d4e5f","organizationId":"org-1","prevHash":"0000000000000000000000000000000000000000000000000000000000000000","principal":"did:key:z6MkHuman","reasons":["status: \"revoked\"\n","<é>\u0001"],"relyingParty":"https://erp.example.com","requestId":"req-1","resource":"https://erp.example.com/api/invoices","seq":7,"time":"2026-11-29T10:00:00.123456000Z"}`

func TestCanonical(t *testing.T) {
	e := sample()
	if got := string(Canonical(e)); got != sampleCanonical {
		t.Fatalf("canonical form\n got %s\nwant %s", got, sampleCanonical)
	}
	sum := sha256.Sum256([]byte(sampleCanonical))
	if got, want := ComputeHash(e), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
	// It is JSON, with the keys in order, and Hash is not part of it.
	var m map[string]any
	if err := json.Unmarshal([]byte(sampleCanonical), &m); err != nil || len(m) != 14 {
		t.Fatalf("canonical form is not a 14-key JSON object: %v", err)
	}
	e.Hash = "anything"
	if string(Canonical(e)) != sampleCanonical {
		t.Fatal("Hash changes the canonical form")
	}
	// Absent lists and an absent organization are [] and "".
	e = &Event{Seq: 1, Time: time.Unix(0, 0), Decision: DecisionVerified}
	want := `{"action":"","agent":"","credentialIds":[],"decision":"verified","id":"","organizationId":"","prevHash":"","principal":"","reasons":[],"relyingParty":"","requestId":"","resource":"","seq":1,"time":"1970-01-01T00:00:00.000000000Z"}`
	if got := string(Canonical(e)); got != want {
		t.Fatalf("empty event\n got %s\nwant %s", got, want)
	}
}

func TestValidate(t *testing.T) {
	if err := sample().Validate(); err != nil {
		t.Fatal(err)
	}
	e := sample()
	e.Decision = "allow"
	if err := e.Validate(); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("decision allow: %v", err)
	}
	e = sample()
	e.Reasons = []string{"\xff"}
	if err := e.Validate(); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("invalid UTF-8: %v", err)
	}
}

// chain builds a valid chain of n events.
func chain(n int) []Event {
	out := make([]Event, n)
	prev := GenesisHash
	for i := range out {
		e := sample()
		e.Seq = int64(i + 1)
		e.PrevHash = prev
		e.Hash = ComputeHash(e)
		prev = e.Hash
		out[i] = *e
	}
	return out
}

func TestVerify(t *testing.T) {
	r, err := Verify(Events(chain(10)))
	if err != nil || !r.OK || r.Events != 10 || r.HeadSeq != 10 {
		t.Fatalf("intact chain: %+v, %v", r, err)
	}
	if r, _ := Verify(Events(nil)); !r.OK || r.HeadHash != GenesisHash {
		t.Fatalf("empty chain: %+v", r)
	}

	for name, c := range map[string]struct {
		tamper func([]Event) []Event
		seq    int64
		kind   string
	}{
		"changed":        {func(c []Event) []Event { c[3].Agent = "x"; return c }, 4, BreakHash},
		"deleted":        {func(c []Event) []Event { return append(c[:3], c[4:]...) }, 5, BreakSequence},
		"deleted first":  {func(c []Event) []Event { return c[1:] }, 2, BreakSequence},
		"duplicated":     {func(c []Event) []Event { return append(c[:4], c[3:]...) }, 4, BreakSequence},
		"swapped":        {func(c []Event) []Event { c[3], c[4] = c[4], c[3]; return c }, 5, BreakSequence},
		"other chain":    {func(c []Event) []Event { c[2].OrganizationID = "org-2"; return c }, 3, BreakChain},
		"rehashed":       {func(c []Event) []Event { c[3].Agent = "x"; c[3].Hash = ComputeHash(&c[3]); return c }, 5, BreakPrevHash},
		"wrong genesis":  {func(c []Event) []Event { c[0].PrevHash = "11"; c[0].Hash = ComputeHash(&c[0]); return c }, 1, BreakPrevHash},
		"hash uppercase": {func(c []Event) []Event { c[0].Hash = "A" + c[0].Hash[1:]; return c }, 1, BreakHash},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Verify(Events(c.tamper(chain(10))))
			if err != nil || r.OK || r.Broken == nil {
				t.Fatalf("tampered chain verifies: %+v, %v", r, err)
			}
			if r.Broken.Seq != c.seq || r.Broken.Kind != c.kind {
				t.Fatalf("broken at %d %s (%s), want %d %s", r.Broken.Seq, r.Broken.Kind, r.Broken.Reason, c.seq, c.kind)
			}
		})
	}

	ch := NewChecker()
	for _, e := range chain(3) {
		ch.Add(&e)
	}
	ch.ExpectHead(4, "beef")
	if r := ch.Report(); r.OK || r.Broken.Kind != BreakHead || r.Broken.Seq != 4 {
		t.Fatalf("truncated tail: %+v", r)
	}
}
