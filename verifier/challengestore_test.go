package verifier

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemoryChallenges: issued challenges are found, consumed once (also
// under concurrency), refused after expiry, and unknown values are not
// issued.
func TestMemoryChallenges(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	c := NewMemoryChallenges(WithChallengeClock(clock), WithChallengeTTL(time.Minute))
	ch, err := c.Issue(ctx, "https://a.example")
	if err != nil {
		t.Fatal(err)
	}
	use, err := c.Lookup(ctx, ch.Value)
	if err != nil || !use.Issued() || use.Domain() != "https://a.example" {
		t.Fatalf("lookup: %v %+v", err, use)
	}
	if u, _ := c.Lookup(ctx, "not-issued"); u.Issued() {
		t.Fatal("an unknown challenge is issued")
	}

	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			res := &Result{Checks: []Check{CheckProof, CheckChallenge}, Verified: true}
			u, _ := c.Lookup(ctx, ch.Value)
			if err := c.Settle(ctx, u, res); err != nil {
				t.Error(err)
			}
			if res.Verified {
				wins.Add(1)
			} else if !res.Failed(CheckChallenge) {
				t.Error("a lost race does not fail the challenge check")
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d verifications consumed one challenge", wins.Load())
	}

	late, _ := c.Issue(ctx, "")
	now = now.Add(2 * time.Minute)
	u, _ := c.Lookup(ctx, late.Value)
	res := &Result{Checks: []Check{CheckProof, CheckChallenge}, Verified: true}
	if err := c.Settle(ctx, u, res); err != nil || res.Verified || res.Errors[0].Code != CodeChallengeExpired {
		t.Fatalf("expired: %v %+v", err, res)
	}
}

// TestMemoryChallengeStoreBound: a full store refuses new challenges until
// old ones expire, and never drops open ones.
func TestMemoryChallengeStoreBound(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryChallengeStore(2)
	t0 := time.Now()
	for i, k := range []string{"a", "b"} {
		if err := s.CreateChallenge(ctx, &ChallengeRecord{Key: k, CreatedAt: t0, ExpiresAt: t0.Add(time.Duration(i+1) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateChallenge(ctx, &ChallengeRecord{Key: "a", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); !errors.Is(err, ErrChallengeExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := s.CreateChallenge(ctx, &ChallengeRecord{Key: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); !errors.Is(err, ErrChallengeStoreFull) {
		t.Fatalf("full: %v", err)
	}
	later := t0.Add(90 * time.Second) // "a" expired, "b" open
	if err := s.CreateChallenge(ctx, &ChallengeRecord{Key: "c", CreatedAt: later, ExpiresAt: later.Add(time.Minute)}); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if _, err := s.ChallengeByKey(ctx, "b"); err != nil {
		t.Fatalf("open challenge dropped: %v", err)
	}
	if _, err := s.ChallengeByKey(ctx, "a"); !errors.Is(err, ErrChallengeNotFound) {
		t.Fatalf("expired challenge kept: %v", err)
	}
}
