package store_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
)

func TestChallenges(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		now := time.Now().UTC()
		id := store.ChallengeID("c-1")
		if err := s.CreateChallenge(ctx, &store.Challenge{ID: id, Domain: "https://rp.example", ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, s.CreateChallenge(ctx, &store.Challenge{ID: id, ExpiresAt: now.Add(time.Minute)}), store.ErrConflict)
		wantErr(t, s.CreateChallenge(ctx, &store.Challenge{ID: "x"}), store.ErrChallengeInvalid)
		wantErr(t, s.CreateChallenge(ctx, &store.Challenge{ID: "y", CreatedAt: now, ExpiresAt: now.Add(-time.Second)}), store.ErrChallengeInvalid)

		c, err := s.ChallengeByID(ctx, id)
		if err != nil || c.ID != id || c.Domain != "https://rp.example" || c.UsedAt != nil ||
			c.ExpiresAt.Sub(now.Add(time.Minute)).Abs() > time.Millisecond || c.CreatedAt.IsZero() {
			t.Fatalf("ChallengeByID: %+v %v", c, err)
		}
		_, err = s.ChallengeByID(ctx, store.ChallengeID("never issued"))
		wantErr(t, err, store.ErrNotFound)

		// Past its expiry it cannot be consumed.
		if ok, err := s.ConsumeChallenge(ctx, id, now.Add(2*time.Minute)); err != nil || ok {
			t.Fatalf("consume after expiry: %v %v", ok, err)
		}
		if ok, err := s.ConsumeChallenge(ctx, id, now); err != nil || !ok {
			t.Fatalf("first consume: %v %v", ok, err)
		}
		if ok, err := s.ConsumeChallenge(ctx, id, now); err != nil || ok {
			t.Fatalf("second consume: %v %v", ok, err)
		}
		if c, err := s.ChallengeByID(ctx, id); err != nil || c.UsedAt == nil {
			t.Fatalf("after consume: %+v %v", c, err)
		}
		if ok, err := s.ConsumeChallenge(ctx, store.ChallengeID("never issued"), now); err != nil || ok {
			t.Fatalf("consume unknown: %v %v", ok, err)
		}

		n, err := s.DeleteChallengesExpiredBefore(ctx, now.Add(2*time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
	})
}

// TestChallengeConsumedOnce races consumers on separate connection pools of
// one database: exactly one wins.
func TestChallengeConsumedOnce(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		ctx := t.Context()
		var pools []*store.Store
		for range 3 {
			s, err := openQuiet(t, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			pools = append(pools, s)
		}
		for round := range 5 {
			id := store.ChallengeID("race-" + string(rune('a'+round)))
			if err := pools[0].CreateChallenge(ctx, &store.Challenge{ID: id, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := range 12 {
				wg.Go(func() {
					ok, err := pools[i%len(pools)].ConsumeChallenge(ctx, id, time.Now())
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("round %d: %d consumers won, want 1", round, wins.Load())
			}
		}
	})
}

// TestSQLiteTimeText checks the text SQLite keeps a time in: databases
// written by earlier releases hold "2006-01-02 15:04:05.999999999-07:00"
// in UTC, and SQL compares those texts (expires_at > ?, time filters), so
// every write must use that layout too, not the driver's default.
func TestSQLiteTimeText(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := t.Context()
	created := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	id := store.ChallengeID("time text")
	if err := s.CreateChallenge(ctx, &store.Challenge{ID: id, CreatedAt: created, ExpiresAt: created.Add(90 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	for column, want := range map[string]string{
		"created_at": "[2026-01-02 03:04:05.123456+00:00]",
		"expires_at": "[2026-01-02 03:05:35.123456+00:00]",
	} {
		// In brackets: the driver reads a bare date-shaped text back as a
		// time, whatever layout it was in.
		got, err := store.QueryString(ctx, s, "SELECT printf('[%s]', "+column+") FROM challenges WHERE id = ?", id)
		if err != nil || got != want {
			t.Errorf("%s stored as %q (%v), want %q", column, got, err, want)
		}
	}
	// A time written in that layout by an earlier release reads back.
	old := store.ChallengeID("written before")
	if _, err := store.QueryString(ctx, s, "INSERT INTO challenges (id, domain, created_at, expires_at) VALUES (?, '', "+
		"'2026-01-02 03:04:05.5+00:00', '2999-01-02 03:04:05+00:00') RETURNING id", old); err != nil {
		t.Fatal(err)
	}
	c, err := s.ChallengeByID(ctx, old)
	if err != nil || !c.CreatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC)) {
		t.Fatalf("challenge written before: %+v %v", c, err)
	}
	if ok, err := s.ConsumeChallenge(ctx, old, time.Now()); err != nil || !ok {
		t.Fatalf("consume a challenge written before: %v %v", ok, err)
	}
}
