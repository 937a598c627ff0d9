package store_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/auditchain"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
)

// auditEvent is a sample event; i varies agent, principal and decision.
func auditEvent(orgID string, i int) *store.AuditEvent {
	decision := auditchain.DecisionVerified
	var reasons []string
	if i%3 == 0 {
		decision = auditchain.DecisionRejected
		reasons = []string{"status: revoked", "tab\there \"quoted\" <html> é"}
	}
	return &store.AuditEvent{
		OrganizationID: orgID,
		RelyingParty:   "https://erp.example.com",
		Agent:          fmt.Sprintf("did:key:zAgent%d", i%4),
		Principal:      fmt.Sprintf("did:key:zHuman%d", i%2),
		CredentialIDs:  []string{fmt.Sprintf("urn:uuid:cred-%d", i), "urn:uuid:delegation"},
		Action:         "invoices:pay",
		Resource:       "https://erp.example.com/api/invoices",
		Decision:       decision,
		Reasons:        reasons,
		RequestID:      fmt.Sprintf("req-%d", i),
	}
}

func appendEvents(t *testing.T, s *store.Store, orgID string, n int) []store.AuditEvent {
	t.Helper()
	out := make([]store.AuditEvent, 0, n)
	for i := range n {
		ev := auditEvent(orgID, i)
		if err := s.AppendAuditEvent(t.Context(), ev); err != nil {
			t.Fatalf("append event %d: %v", i, err)
		}
		out = append(out, *ev)
	}
	return out
}

// readChain reads a whole chain from the store.
func readChain(t *testing.T, s *store.Store, orgID string) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	err := s.AuditEventsFrom(t.Context(), orgID, 1, func(ev *store.AuditEvent) error {
		out = append(out, *ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// concurrently runs fn(0) … fn(n-1), each in a goroutine of its own, and
// fails t with the errors they return.
func concurrently(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// verifyChain checks a chain as stored, against its head row too.
func verifyChain(t *testing.T, s *store.Store, orgID string) *auditchain.Report {
	t.Helper()
	c := auditchain.NewChecker()
	for _, ev := range readChain(t, s, orgID) {
		if !c.Add(&ev) {
			break
		}
	}
	heads, err := s.AuditHeads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range heads {
		if h.OrganizationID == orgID {
			c.ExpectHead(h.Seq, h.Hash)
		}
	}
	return c.Report()
}

func wantBroken(t *testing.T, r *auditchain.Report, seq int64, kind string) {
	t.Helper()
	if r.OK || r.Broken == nil {
		t.Fatalf("chain verifies after tampering: %+v", r)
	}
	if r.Broken.Seq != seq || r.Broken.Kind != kind {
		t.Fatalf("broken at %d (%s: %s), want %d (%s)", r.Broken.Seq, r.Broken.Kind, r.Broken.Reason, seq, kind)
	}
}

func TestAuditAppendAndVerify(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		written := appendEvents(t, s, org.ID, 100)
		appendEvents(t, s, "", 7) // the operator chain, numbered on its own

		for i, ev := range written {
			if ev.Seq != int64(i+1) || len(ev.Hash) != 64 || len(ev.ID) != 36 || ev.Time.IsZero() {
				t.Fatalf("event %d after append: %+v", i, ev)
			}
		}
		if written[0].PrevHash != auditchain.GenesisHash || written[1].PrevHash != written[0].Hash {
			t.Fatalf("prev hashes: %s, %s", written[0].PrevHash, written[1].PrevHash)
		}

		got := readChain(t, s, org.ID)
		if len(got) != 100 {
			t.Fatalf("read %d events, want 100", len(got))
		}
		for i := range got {
			w := written[i]
			g := got[i]
			if !g.Time.Equal(w.Time) || g.Seq != w.Seq || g.ID != w.ID || g.Hash != w.Hash ||
				g.OrganizationID != w.OrganizationID || g.Agent != w.Agent || g.Principal != w.Principal ||
				g.Decision != w.Decision || g.RequestID != w.RequestID || !slices.Equal(g.CredentialIDs, w.CredentialIDs) ||
				len(g.Reasons) != len(w.Reasons) {
				t.Fatalf("event %d read back as\n%+v\nwant\n%+v", i, g, w)
			}
			if auditchain.ComputeHash(&g) != g.Hash {
				t.Fatalf("event %d: hash of what was read back differs", i)
			}
		}
		for _, chain := range []string{org.ID, ""} {
			r := verifyChain(t, s, chain)
			if !r.OK {
				t.Fatalf("chain %q: %+v", chain, r.Broken)
			}
		}
		if r := verifyChain(t, s, org.ID); r.Events != 100 || r.HeadSeq != 100 || r.HeadHash != written[99].Hash {
			t.Fatalf("report %+v", r)
		}

		heads, err := s.AuditHeads(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(heads) != 2 || heads[0].OrganizationID != "" || heads[0].Seq != 7 || heads[1].OrganizationID != org.ID || heads[1].Seq != 100 {
			t.Fatalf("heads %+v", heads)
		}
	})
}

func TestAuditAppendRefusesBadEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		ev := auditEvent("", 1)
		ev.Decision = "maybe"
		if err := s.AppendAuditEvent(ctx, ev); !errors.Is(err, auditchain.ErrInvalidEvent) {
			t.Fatalf("decision maybe: %v", err)
		}
		ev = auditEvent("", 1)
		ev.Agent = "did:key:\xff"
		if err := s.AppendAuditEvent(ctx, ev); !errors.Is(err, auditchain.ErrInvalidEvent) {
			t.Fatalf("invalid UTF-8: %v", err)
		}
		ev = auditEvent("no-such-org", 1)
		if err := s.AppendAuditEvent(ctx, ev); !errors.Is(err, store.ErrReference) {
			t.Fatalf("unknown organization: %v", err)
		}
		if ev.Seq != 0 || ev.Hash != "" {
			t.Fatalf("a failed append left seq %d hash %q", ev.Seq, ev.Hash)
		}
		// Nothing was half-written: the next append is event 1.
		ev = auditEvent("", 1)
		if err := s.AppendAuditEvent(ctx, ev); err != nil || ev.Seq != 1 {
			t.Fatalf("append after failures: seq %d, %v", ev.Seq, err)
		}
	})
}

func TestAuditTamperChangedEvent(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		appendEvents(t, s, org.ID, 20)
		for _, c := range []struct {
			column, value string
		}{
			{"decision", "verified"}, // event 7 was rejected
			{"agent_did", "did:key:zSomeoneElse"},
			{"reasons", "[]"},
			{"credential_ids", `["urn:uuid:other"]`},
		} {
			t.Run(c.column, func(t *testing.T) {
				before := readChain(t, s, org.ID)[6]
				n, err := store.TamperSQL(ctx, s, "UPDATE audit_events SET "+c.column+" = ? WHERE seq = 7 AND organization_id = ?", c.value, org.ID)
				if err != nil || n != 1 {
					t.Fatalf("tamper: %d rows, %v", n, err)
				}
				wantBroken(t, verifyChain(t, s, org.ID), 7, auditchain.BreakHash)
				// Put it back: the chain verifies again.
				restore := map[string]any{
					"decision": before.Decision, "agent_did": before.Agent,
					"reasons": `["status: revoked","tab\there \"quoted\" <html> é"]`, "credential_ids": `["urn:uuid:cred-6","urn:uuid:delegation"]`,
				}[c.column]
				if _, err := store.TamperSQL(ctx, s, "UPDATE audit_events SET "+c.column+" = ? WHERE seq = 7 AND organization_id = ?", restore, org.ID); err != nil {
					t.Fatal(err)
				}
				if r := verifyChain(t, s, org.ID); !r.OK {
					t.Fatalf("restored chain: %+v", r.Broken)
				}
			})
		}
		t.Run("time", func(t *testing.T) {
			if _, err := store.TamperSQL(ctx, s, "UPDATE audit_events SET occurred_at = ? WHERE seq = 9", time.Now().Add(-time.Hour).UTC()); err != nil {
				t.Fatal(err)
			}
			wantBroken(t, verifyChain(t, s, org.ID), 9, auditchain.BreakHash)
		})
	})
}

func TestAuditTamperRehashedEvent(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		appendEvents(t, s, "", 10)
		// An intruder who knows the hash changes event 4 and re-hashes it:
		// event 4 is self-consistent, event 5 no longer follows it.
		ev := readChain(t, s, "")[3]
		ev.Agent = "did:key:zSomeoneElse"
		ev.Hash = auditchain.ComputeHash(&ev)
		if _, err := store.TamperSQL(ctx, s, "UPDATE audit_events SET agent_did = ?, hash = ? WHERE seq = 4", ev.Agent, ev.Hash); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, verifyChain(t, s, ""), 5, auditchain.BreakPrevHash)
	})
}

func TestAuditTamperDeletedEvent(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		appendEvents(t, s, org.ID, 20)
		if n, err := store.TamperSQL(ctx, s, "DELETE FROM audit_events WHERE seq = 7"); err != nil || n != 1 {
			t.Fatalf("delete: %d, %v", n, err)
		}
		wantBroken(t, verifyChain(t, s, org.ID), 8, auditchain.BreakSequence)

		// Deleting and renumbering the rest still leaves event 7 (the old 8)
		// pointing at the deleted event's hash.
		if _, err := store.TamperSQL(ctx, s, "UPDATE audit_events SET seq = seq - 1 WHERE seq > 7"); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, verifyChain(t, s, org.ID), 7, auditchain.BreakHash)
	})
}

func TestAuditTamperTruncatedTail(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		appendEvents(t, s, "", 5)
		if _, err := store.TamperSQL(ctx, s, "DELETE FROM audit_events WHERE seq = 5"); err != nil {
			t.Fatal(err)
		}
		// The events left are intact; the head row says one is missing.
		wantBroken(t, verifyChain(t, s, ""), 5, auditchain.BreakHead)
	})
}

func TestAuditList(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		a := mustOrg(t, s, "acme")
		b := mustOrg(t, s, "globex")
		written := appendEvents(t, s, a.ID, 30)
		appendEvents(t, s, b.ID, 5)

		list := func(f store.AuditFilter) []int64 {
			t.Helper()
			events, err := s.ListAuditEvents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			seqs := make([]int64, 0, len(events))
			for _, ev := range events {
				if ev.OrganizationID != f.OrganizationID {
					t.Fatalf("event of chain %q in a list of %q", ev.OrganizationID, f.OrganizationID)
				}
				seqs = append(seqs, ev.Seq)
			}
			return seqs
		}
		if got := list(store.AuditFilter{OrganizationID: a.ID}); len(got) != 30 || got[0] != 1 || got[29] != 30 {
			t.Errorf("all: %v", got)
		}
		if got := list(store.AuditFilter{OrganizationID: b.ID}); len(got) != 5 {
			t.Errorf("other org: %v", got)
		}
		if got := list(store.AuditFilter{}); len(got) != 0 {
			t.Errorf("operator chain: %v", got)
		}
		if got := list(store.AuditFilter{OrganizationID: a.ID, Agent: "did:key:zAgent1"}); !slices.Equal(got, []int64{2, 6, 10, 14, 18, 22, 26, 30}) {
			t.Errorf("agent: %v", got)
		}
		if got := list(store.AuditFilter{OrganizationID: a.ID, Principal: "did:key:zHuman1", Decision: auditchain.DecisionRejected}); !slices.Equal(got, []int64{4, 10, 16, 22, 28}) {
			t.Errorf("principal and decision: %v", got)
		}
		if got := list(store.AuditFilter{OrganizationID: a.ID, AfterSeq: 25}); !slices.Equal(got, []int64{26, 27, 28, 29, 30}) {
			t.Errorf("after: %v", got)
		}
		if got := list(store.AuditFilter{OrganizationID: a.ID, AfterSeq: 3, Limit: 4}); !slices.Equal(got, []int64{4, 5, 6, 7}) {
			t.Errorf("limit: %v", got)
		}
		from, to := written[9].Time, written[14].Time
		if got := list(store.AuditFilter{OrganizationID: a.ID, From: from, To: to}); !slices.Equal(got, []int64{10, 11, 12, 13, 14}) {
			t.Errorf("from %s to %s: %v", from, to, got)
		}
		// Times in another zone mean the same instants.
		zone := time.FixedZone("east", 5*3600)
		if got := list(store.AuditFilter{OrganizationID: a.ID, From: from.In(zone), To: to.In(zone)}); !slices.Equal(got, []int64{10, 11, 12, 13, 14}) {
			t.Errorf("from/to in another zone: %v", got)
		}

		var streamed []int64
		err := s.EachAuditEvent(ctx, store.AuditFilter{OrganizationID: a.ID, Decision: auditchain.DecisionVerified, Limit: 7}, func(ev *store.AuditEvent) error {
			streamed = append(streamed, ev.Seq)
			return nil
		})
		if err != nil || !slices.Equal(streamed, []int64{2, 3, 5, 6, 8, 9, 11}) {
			t.Errorf("each: %v, %v", streamed, err)
		}
		stop := errors.New("stop")
		if err := s.AuditEventsFrom(ctx, a.ID, 1, func(*store.AuditEvent) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("AuditEventsFrom did not return fn's error: %v", err)
		}
	})
}

func TestAuditEachPagesPastOnePage(t *testing.T) {
	s := storetest.SQLite(t)
	appendEvents(t, s, "", store.MaxAuditLimit+5)
	n := 0
	if err := s.AuditEventsFrom(t.Context(), "", 1, func(ev *store.AuditEvent) error {
		n++
		if ev.Seq != int64(n) {
			return fmt.Errorf("event %d has seq %d", n, ev.Seq)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != store.MaxAuditLimit+5 {
		t.Fatalf("streamed %d events", n)
	}
}

// TestAuditConcurrentAppenders runs 8 goroutines × 50 appends through two
// store.Open pools on one database, as two server processes would: the
// chain must come out numbered 1..800 without a fork.
func TestAuditConcurrentAppenders(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		s1, s2 := twoHandles(t, dbURL)
		org := mustOrg(t, s1, "acme")

		const writers, each = 8, 50
		concurrently(t, writers, func(w int) error {
			s := s1
			if w%2 == 1 {
				s = s2
			}
			for i := range each {
				if err := s.AppendAuditEvent(t.Context(), auditEvent(org.ID, w*each+i)); err != nil {
					return err
				}
			}
			return nil
		})

		events := readChain(t, s2, org.ID)
		if len(events) != writers*each {
			t.Fatalf("%d events, want %d", len(events), writers*each)
		}
		for i, ev := range events {
			if ev.Seq != int64(i+1) {
				t.Fatalf("event %d has seq %d", i, ev.Seq)
			}
		}
		if r := verifyChain(t, s1, org.ID); !r.OK || r.HeadSeq != writers*each {
			t.Fatalf("chain after concurrent appends: %+v %+v", r, r.Broken)
		}
	})
}
