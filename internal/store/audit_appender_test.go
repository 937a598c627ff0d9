package store_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
)

// appendWith appends n sample events of chain orgID through a and checks
// that they got the sequence numbers from on.
func appendWith(t *testing.T, a *store.AuditAppender, orgID string, from, n int) []*store.AuditEvent {
	t.Helper()
	events := prepared(t, orgID, from, n)
	if err := a.Append(t.Context(), events); err != nil {
		t.Fatalf("append events %d to %d: %v", from, from+n-1, err)
	}
	for i, ev := range events {
		if ev.Seq != int64(from+i) {
			t.Fatalf("event %d got seq %d", from+i, ev.Seq)
		}
	}
	return events
}

// Two appenders on two handles (two replicas) take turns on one chain: each
// time, the head an appender remembers is stale, and it must find the real
// head instead of forking the chain. On PostgreSQL this is the path where
// the one-statement append inserts nothing and the transaction takes over.
func TestAuditAppenderStaleHead(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		s1, s2 := twoHandles(t, dbURL)
		org := mustOrg(t, s1, "acme")
		a1, a2 := s1.NewAuditAppender(), s2.NewAuditAppender()

		next := 1
		for round := range 4 {
			for _, a := range []*store.AuditAppender{a1, a2} {
				n := 1 + round%3
				appendWith(t, a, org.ID, next, n)
				next += n
			}
		}
		// A batch over two chains whose remembered heads are both stale.
		appendWith(t, a2, "", 1, 2)
		appendWith(t, a1, "", 3, 1)
		appendWith(t, a1, org.ID, next, 1)
		next++
		batch := append(prepared(t, org.ID, next, 2), prepared(t, "", 4, 2)...)
		if err := a2.Append(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
		if batch[0].Seq != int64(next) || batch[3].Seq != 5 {
			t.Fatalf("two-chain batch on stale heads got seq %d and %d", batch[0].Seq, batch[3].Seq)
		}
		next += 2
		// The head moved behind every appender's back: the chain goes on
		// from the head row.
		if _, err := store.TamperSQL(t.Context(), s1, "UPDATE audit_heads SET seq = seq WHERE chain = ?", org.ID); err != nil {
			t.Fatal(err)
		}
		appendWith(t, a1, org.ID, next, 1)
		next++

		// After a wrong guess an appender reads the head for a while,
		// then trusts its memory again; the other one's guess is now
		// wrong.
		for range 20 {
			appendWith(t, a1, org.ID, next, 1)
			next++
		}
		appendWith(t, a2, org.ID, next, 2)
		next += 2
		appendWith(t, a1, org.ID, next, 1)
		next++

		if got := readChain(t, s2, org.ID); len(got) != next-1 {
			t.Fatalf("%d events, want %d", len(got), next-1)
		}
		for _, chain := range []string{org.ID, ""} {
			if r := verifyChain(t, s1, chain); !r.OK {
				t.Fatalf("chain %q: %+v", chain, r.Broken)
			}
		}
	})
}

// Many goroutines append through one appender and through a second handle's
// appender at once: no fork, no gap.
func TestAuditAppenderConcurrent(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		s1, s2 := twoHandles(t, dbURL)
		org := mustOrg(t, s1, "acme")
		appenders := []*store.AuditAppender{s1.NewAuditAppender(), s2.NewAuditAppender()}
		const writers, rounds, size = 6, 10, 3
		concurrently(t, writers, func(w int) error {
			for range rounds {
				batch, err := prepare(org.ID, 0, size)
				if err != nil {
					return err
				}
				if err := appenders[w%2].Append(t.Context(), batch); err != nil {
					return err
				}
			}
			return nil
		})
		if r := verifyChain(t, s1, org.ID); !r.OK || r.HeadSeq != writers*rounds*size {
			t.Fatalf("chain after concurrent appends: %+v %+v", r, r.Broken)
		}
	})
}

// A failed append leaves nothing behind, in the database or in what the
// appender remembers: the next append carries on from the last committed
// event.
func TestAuditAppenderFailure(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		org := mustOrg(t, s, "acme")
		a := s.NewAuditAppender()
		appendWith(t, a, org.ID, 1, 2)

		// A duplicate id fails the insert after the head has moved in the
		// same transaction (on PostgreSQL, in the same statement).
		dup := prepared(t, org.ID, 3, 2)
		dup[1].ID = dup[0].ID
		if err := a.Append(t.Context(), dup); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("append with a duplicate id: %v", err)
		}
		for _, ev := range dup {
			if ev.Seq != 0 || ev.Hash != "" {
				t.Fatalf("a failed append kept seq %d", ev.Seq)
			}
		}
		bad := prepared(t, "no-such-org", 1, 1)
		if err := a.Append(t.Context(), bad); !errors.Is(err, store.ErrReference) {
			t.Fatalf("append to an unknown organization: %v", err)
		}
		appendWith(t, a, org.ID, 3, 2)
		if r := verifyChain(t, s, org.ID); !r.OK || r.HeadSeq != 4 {
			t.Fatalf("chain after failures: %+v %+v", r, r.Broken)
		}
	})
}

// An appender on a Store handed out by Transaction appends in that
// transaction: a rollback takes its events away, and an appender on the
// root Store is not misled by it.
func TestAuditAppenderInTransaction(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		root := s.NewAuditAppender()
		appendWith(t, root, "", 1, 2)

		errRollback := errors.New("roll back")
		err := s.Transaction(ctx, func(tx *store.Store) error {
			appendWith(t, tx.NewAuditAppender(), "", 3, 3)
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if got := readChain(t, s, ""); len(got) != 2 {
			t.Fatalf("%d events after a rollback, want 2", len(got))
		}
		err = s.Transaction(ctx, func(tx *store.Store) error {
			appendWith(t, tx.NewAuditAppender(), "", 3, 1)
			return tx.AppendAuditEvents(ctx, prepared(t, "", 4, 1))
		})
		if err != nil {
			t.Fatal(err)
		}
		// root remembers event 2 as the head; the head is at 4.
		appendWith(t, root, "", 5, 2)
		if r := verifyChain(t, s, ""); !r.OK || r.HeadSeq != 6 {
			t.Fatalf("chain: %+v %+v", r, r.Broken)
		}
	})
}

// Event ids are version 7 UUIDs, in time order from one millisecond to the
// next, and unique.
func TestAuditEventIDs(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	var last string
	for i := range 200 {
		ev := auditEvent("", i)
		if err := store.PrepareAuditEvent(ev); err != nil {
			t.Fatal(err)
		}
		if !form.MatchString(ev.ID) {
			t.Fatalf("event id %q is not a version 7 UUID", ev.ID)
		}
		if seen[ev.ID] {
			t.Fatalf("event id %q twice", ev.ID)
		}
		seen[ev.ID] = true
		if i%50 == 0 {
			if last != "" && ev.ID[:13] < last[:13] {
				t.Fatalf("event id %q sorts before the earlier %q", ev.ID, last)
			}
			last = ev.ID
			time.Sleep(2 * time.Millisecond)
		}
	}
	// An id the caller chose is kept.
	ev := auditEvent("", 1)
	ev.ID = "caller-chosen"
	if err := store.PrepareAuditEvent(ev); err != nil || ev.ID != "caller-chosen" {
		t.Fatalf("prepare kept id %q, %v", ev.ID, err)
	}
}

// An append whose context has ended appends nothing and says why.
func TestAuditAppenderCanceled(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		a := s.NewAuditAppender()
		appendWith(t, a, "", 1, 1)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, appendFn := range []func(context.Context, []*store.AuditEvent) error{a.Append, s.AppendAuditEvents} {
			events := prepared(t, "", 2, 2)
			if err := appendFn(ctx, events); !errors.Is(err, context.Canceled) {
				t.Fatalf("append with a canceled context: %v", err)
			}
			if events[0].Seq != 0 {
				t.Fatalf("a canceled append numbered its events")
			}
		}
		appendWith(t, a, "", 2, 1)
		if r := verifyChain(t, s, ""); !r.OK || r.HeadSeq != 2 {
			t.Fatalf("chain: %+v %+v", r, r.Broken)
		}
	})
}
