package store_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/agentid/agentid/internal/auditchain"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
)

// prepared returns n sample events of chain orgID, prepared for
// AppendAuditEvents.
func prepared(t *testing.T, orgID string, from, n int) []*store.AuditEvent {
	t.Helper()
	out, err := prepare(orgID, from, n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func prepare(orgID string, from, n int) ([]*store.AuditEvent, error) {
	out := make([]*store.AuditEvent, 0, n)
	for i := range n {
		ev := auditEvent(orgID, from+i)
		if err := store.PrepareAuditEvent(ev); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

func TestAuditAppendBatch(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		appendEvents(t, s, org.ID, 3) // a batch continues a chain

		// Events of two chains, interleaved, in one batch of more rows
		// than one INSERT carries.
		acme, operator := prepared(t, org.ID, 3, 250), prepared(t, "", 0, 250)
		var batch []*store.AuditEvent
		for i := range acme {
			batch = append(batch, acme[i], operator[i])
		}
		if err := s.AppendAuditEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for i, ev := range acme {
			if ev.Seq != int64(4+i) {
				t.Fatalf("acme event %d has seq %d, want %d", i, ev.Seq, 4+i)
			}
		}
		for i, ev := range operator {
			if ev.Seq != int64(1+i) {
				t.Fatalf("operator event %d has seq %d, want %d", i, ev.Seq, 1+i)
			}
		}
		got := readChain(t, s, org.ID)
		if len(got) != 253 {
			t.Fatalf("%d acme events, want 253", len(got))
		}
		for i, ev := range acme {
			if g := got[3+i]; g.ID != ev.ID || g.RequestID != ev.RequestID || g.Hash != ev.Hash {
				t.Fatalf("acme event %d read back as %+v, want %+v", i, g, *ev)
			}
		}
		for _, chain := range []string{org.ID, ""} {
			if r := verifyChain(t, s, chain); !r.OK {
				t.Fatalf("chain %q: %+v", chain, r.Broken)
			}
		}
	})
}

// Groups of every size from 1 to 40 are appended through an appender, as
// the verifier appends them; on SQLite each group is inserted in chunks of
// a power of two rows, so that six INSERT statements at most are ever
// prepared (each one held compiled by SQLite), not one per group size.
func TestAuditAppendGroupsOfEverySize(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		a := s.NewAuditAppender()
		total := 0
		for size := 1; size <= 40; size++ {
			group := prepared(t, org.ID, total, size)
			if err := a.Append(ctx, group); err != nil {
				t.Fatalf("group of %d: %v", size, err)
			}
			for i, ev := range group {
				if ev.Seq != int64(total+i+1) {
					t.Fatalf("group of %d: event %d has seq %d, want %d", size, i, ev.Seq, total+i+1)
				}
			}
			total += size
		}
		got := readChain(t, s, org.ID)
		if len(got) != total {
			t.Fatalf("%d events, want %d", len(got), total)
		}
		if r := verifyChain(t, s, org.ID); !r.OK {
			t.Fatalf("chain: %+v", r.Broken)
		}
		if s.Driver() == store.DriverSQLite {
			if rows := store.CachedAuditInserts(s); !slices.Equal(rows, []int{1, 2, 4, 8, 16, 32}) {
				t.Fatalf("INSERT statements prepared for %v rows, want 1, 2, 4, 8, 16 and 32", rows)
			}
		}
	})
}

func TestAuditAppendBatchAllOrNone(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		good := prepared(t, "", 0, 3)
		bad := prepared(t, "no-such-org", 3, 1)
		batch := append(append([]*store.AuditEvent{}, good...), bad...)
		if err := s.AppendAuditEvents(ctx, batch); !errors.Is(err, store.ErrReference) {
			t.Fatalf("batch with an unknown organization: %v", err)
		}
		for i, ev := range batch {
			if ev.Seq != 0 || ev.Hash != "" || ev.PrevHash != "" {
				t.Fatalf("event %d of a failed batch kept seq %d hash %q", i, ev.Seq, ev.Hash)
			}
		}
		if got := readChain(t, s, ""); len(got) != 0 {
			t.Fatalf("a failed batch wrote %d events", len(got))
		}
		// An event that was not prepared is refused before anything is
		// written.
		if err := s.AppendAuditEvents(ctx, []*store.AuditEvent{auditEvent("", 9)}); err == nil {
			t.Fatal("an unprepared event was appended")
		}
		if err := store.PrepareAuditEvent(&store.AuditEvent{Decision: "maybe"}); !errors.Is(err, auditchain.ErrInvalidEvent) {
			t.Fatalf("prepare decision maybe: %v", err)
		}
		// The good events still append, as event 1 on.
		if err := s.AppendAuditEvents(ctx, good); err != nil || good[0].Seq != 1 || good[2].Seq != 3 {
			t.Fatalf("append after a failed batch: seq %d, %v", good[0].Seq, err)
		}
	})
}

// Two handles on one database (two processes) append batches that span two
// chains, listed in opposite orders: no deadlock, no fork.
func TestAuditConcurrentBatches(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		s1, s2 := twoHandles(t, dbURL)
		org := mustOrg(t, s1, "acme")

		const writers, rounds, size = 6, 10, 8
		concurrently(t, writers, func(w int) error {
			s := s1
			if w%2 == 1 {
				s = s2
			}
			for range rounds {
				a, err := prepare(org.ID, 0, size)
				if err != nil {
					return err
				}
				o, err := prepare("", 0, size)
				if err != nil {
					return err
				}
				batch := append(a, o...)
				if w%2 == 1 {
					batch = append(o, a...)
				}
				if err := s.AppendAuditEvents(t.Context(), batch); err != nil {
					return err
				}
			}
			return nil
		})
		for _, chain := range []string{org.ID, ""} {
			events := readChain(t, s2, chain)
			if len(events) != writers*rounds*size {
				t.Fatalf("chain %q: %d events, want %d", chain, len(events), writers*rounds*size)
			}
			if r := verifyChain(t, s1, chain); !r.OK || r.HeadSeq != writers*rounds*size {
				t.Fatalf("chain %q after concurrent batches: %+v %+v", chain, r, r.Broken)
			}
		}
	})
}
