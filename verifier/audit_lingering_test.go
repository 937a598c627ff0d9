package verifier_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/verifier"
)

// With a long linger, expected events that trickle in from many goroutines
// are grouped, each Record still returns its own committed event (or its own
// error), and the chain verifies.
func TestAuditLogLingerGroups(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		log, err := verifier.NewAuditLog(st, verifier.WithAuditLinger(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		const goroutines, each = 24, 8
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			seqs = map[int64]string{}
			errs []error
		)
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					expected := log.Expect()
					time.Sleep(time.Duration(g%5) * 100 * time.Microsecond)
					reqID := fmt.Sprintf("g%d-%d", g, i)
					ev := verifier.Event{Agent: "did:key:zAgent", Decision: verifier.DecisionVerified, RequestID: reqID}
					bad := i == 3 && g%4 == 0
					if bad {
						ev.OrganizationID = "no-such-org"
					}
					rec, err := expected.Record(ctx, ev)
					mu.Lock()
					switch {
					case bad && !errors.Is(err, store.ErrReference):
						errs = append(errs, fmt.Errorf("%s: error %v, want ErrReference", reqID, err))
					case bad:
					case err != nil:
						errs = append(errs, fmt.Errorf("%s: %w", reqID, err))
					case seqs[rec.Seq] != "":
						errs = append(errs, fmt.Errorf("%s and %s both got seq %d", reqID, seqs[rec.Seq], rec.Seq))
					default:
						seqs[rec.Seq] = reqID
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			t.Error(err)
		}
		r, err := log.VerifyChain(ctx, "")
		if err != nil || !r.OK || r.Events != int64(len(seqs)) || len(seqs) != goroutines*each-goroutines/4 {
			t.Fatalf("chain: %+v (%d recorded), %v", r, len(seqs), err)
		}
	})
}

// A caller that records one event after another is not held up by the
// linger: with nothing else on its way, no group waits, so the Records
// take nowhere near one linger in all.
func TestAuditLogLingerSequential(t *testing.T) {
	st := storetest.SQLite(t)
	const linger = 20 * time.Second
	log, err := verifier.NewAuditLog(st, verifier.WithAuditLinger(linger))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 40 {
		ev := verifier.Event{Agent: "did:key:zA", Decision: verifier.DecisionVerified}
		var err error
		if i%2 == 0 {
			_, err = log.Expect().Record(t.Context(), ev)
		} else {
			_, err = log.Record(t.Context(), ev)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > linger/2 {
		t.Fatalf("40 Records took %v", d)
	}
}

// recordAsync records ev through e in a goroutine; the channel gets the
// outcome.
func recordAsync(t *testing.T, e *verifier.Expectation) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := e.Record(t.Context(), verifier.Event{Agent: "did:key:zA", Decision: verifier.DecisionVerified})
		done <- err
	}()
	return done
}

// waiting fails the test if done has an outcome within d: the Record is
// still waiting for its group.
func waiting(t *testing.T, done <-chan error, d time.Duration, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s: Record returned (%v) while its group should wait", what, err)
	case <-time.After(d):
	}
}

// finished fails the test unless done has a nil outcome within d.
func finished(t *testing.T, done <-chan error, d time.Duration, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		t.Fatalf("%s: Record still waiting after %v", what, d)
	}
}

// A group waits for the events announced with Expect and no longer: until
// the last one arrives, is cancelled, the group is full, or the linger has
// passed.
func TestAuditLogLingerWaitsForExpected(t *testing.T) {
	st := storetest.SQLite(t)
	newLog := func(linger time.Duration) *verifier.AuditLog {
		log, err := verifier.NewAuditLog(st, verifier.WithAuditLinger(linger))
		if err != nil {
			t.Fatal(err)
		}
		return log
	}
	const long = time.Minute

	t.Run("until the expected event arrives", func(t *testing.T) {
		log := newLog(long)
		first, second := log.Expect(), log.Expect()
		done := recordAsync(t, first)
		waiting(t, done, 100*time.Millisecond, "second event expected")
		finished(t, recordAsync(t, second), 10*time.Second, "second")
		finished(t, done, 10*time.Second, "first, once the second came")
	})
	t.Run("until the expected event is cancelled", func(t *testing.T) {
		log := newLog(long)
		first, second := log.Expect(), log.Expect()
		done := recordAsync(t, first)
		waiting(t, done, 100*time.Millisecond, "second event expected")
		second.Cancel()
		second.Cancel() // a second Cancel does not count twice
		finished(t, done, 10*time.Second, "first, once the second was cancelled")
		// Nothing is expected any more: a new event does not wait.
		finished(t, recordAsync(t, log.Expect()), 10*time.Second, "third")
	})
	t.Run("until the group is full", func(t *testing.T) {
		log := newLog(long)
		straggler := log.Expect()
		defer straggler.Cancel()
		var group []<-chan error
		for range 16 {
			group = append(group, recordAsync(t, log.Expect()))
		}
		for i, done := range group {
			finished(t, done, 10*time.Second, fmt.Sprintf("event %d of a full group", i))
		}
	})
	t.Run("until the linger has passed", func(t *testing.T) {
		const linger = 300 * time.Millisecond
		log := newLog(linger)
		never := log.Expect()
		defer never.Cancel()
		start := time.Now()
		finished(t, recordAsync(t, log.Expect()), 10*time.Second, "event whose company never comes")
		if d := time.Since(start); d < linger {
			t.Fatalf("returned after %v, before the linger of %v", d, linger)
		}
	})
	t.Run("not without a linger", func(t *testing.T) {
		log := newLog(0)
		pending := log.Expect()
		defer pending.Cancel()
		finished(t, recordAsync(t, log.Expect()), 10*time.Second, "event with lingering off")
	})
}
