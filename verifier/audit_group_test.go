package verifier_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/verifier"
)

// Many goroutines record through two audit logs on two handles of one
// database (two replicas): every Record that returned a record is in the
// database with that seq and hash, events of an unknown organization fail
// alone without taking their group down, and each chain verifies without a
// fork.
func TestAuditLogGroupCommit(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		ctx := t.Context()
		open := func() *store.Store {
			st, err := store.Open(ctx, dbURL, store.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		}
		st1, st2 := open(), open()
		org := &store.Organization{Slug: "acme", Name: "Acme"}
		if err := st1.CreateOrganization(ctx, org); err != nil {
			t.Fatal(err)
		}
		logs := make([]*verifier.AuditLog, 2)
		for i, st := range []*store.Store{st1, st2} {
			l, err := verifier.NewAuditLog(st)
			if err != nil {
				t.Fatal(err)
			}
			logs[i] = l
		}

		const goroutines, each = 16, 25
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			records = map[string]*verifier.AuditRecord{} // by request id
			failed  int
			errs    []error
		)
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					reqID := fmt.Sprintf("g%d-%d", g, i)
					ev := verifier.Event{Agent: "did:key:zAgent", Decision: verifier.DecisionVerified, RequestID: reqID}
					bad := i%10 == 9
					switch {
					case bad:
						ev.OrganizationID = "no-such-org"
					case i%2 == 0:
						ev.OrganizationID = org.ID
					}
					rec, err := logs[g%2].Record(ctx, ev)
					mu.Lock()
					switch {
					case bad && err == nil:
						errs = append(errs, fmt.Errorf("%s: an event of an unknown organization was recorded", reqID))
					case bad && !errors.Is(err, store.ErrReference):
						errs = append(errs, fmt.Errorf("%s: error %v, want ErrReference", reqID, err))
					case bad:
						failed++
					case err != nil:
						errs = append(errs, fmt.Errorf("%s: %w", reqID, err))
					default:
						records[reqID] = rec
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
		if want := goroutines * (each / 10); failed != want {
			t.Fatalf("%d events failed, want %d", failed, want)
		}
		seen := 0
		for _, chain := range []string{org.ID, ""} {
			r, err := logs[0].VerifyChain(ctx, chain)
			if err != nil || !r.OK {
				t.Fatalf("chain %q: %+v %v", chain, r, err)
			}
			err = logs[1].Each(ctx, verifier.AuditFilter{OrganizationID: chain}, func(got *verifier.AuditRecord) error {
				seen++
				want := records[got.RequestID]
				if want == nil || want.Seq != got.Seq || want.Hash != got.Hash || want.OrganizationID != chain {
					return fmt.Errorf("stored event %s (seq %d) does not match what Record returned: %+v", got.RequestID, got.Seq, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if seen != len(records) {
			t.Fatalf("%d events stored, %d recorded", seen, len(records))
		}
		// The events of unknown organizations were not committed, and
		// are not counted.
		s0, s1 := logs[0].Stats(), logs[1].Stats()
		if s0.Events+s1.Events != int64(len(records)) || s0.Commits > s0.Events || s1.Commits > s1.Events || s0.Commits == 0 || s1.Commits == 0 {
			t.Fatalf("stats %+v and %+v, want %d events in all", s0, s1, len(records))
		}
	})
}

// Records whose goroutines are ready to run when a burst begins share its
// commit: the drain that the first of them starts lets them run before it
// takes its group (see AuditLog.drain). With one processor, eight
// goroutines released at once are committed in a transaction or two; a
// drain that took its group at once would commit the first event alone,
// and the one each next goroutine starts likewise: eight transactions.
func TestAuditLogGroupsReadyRecords(t *testing.T) {
	st := storetest.SQLite(t)
	log, err := verifier.NewAuditLog(st)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n, trials = 8, 5
	var commits []int64
	for trial := range trials {
		before := log.Stats()
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, n)
		for i := range n {
			ready.Add(1)
			done.Go(func() {
				ready.Done()
				<-start
				ev := verifier.Event{Agent: "did:key:zAgent", Decision: verifier.DecisionVerified, RequestID: fmt.Sprintf("t%d-%d", trial, i)}
				if _, err := log.Record(t.Context(), ev); err != nil {
					errs <- err
				}
			})
		}
		ready.Wait()
		close(start)
		done.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		after := log.Stats()
		if after.Events-before.Events != n {
			t.Fatalf("trial %d: %d events committed, want %d", trial, after.Events-before.Events, n)
		}
		commits = append(commits, after.Commits-before.Commits)
	}
	slices.Sort(commits)
	if median := commits[trials/2]; median > 2 {
		t.Fatalf("%d events released at once took %v commits in %d trials (sorted), want a median of at most 2", n, commits, trials)
	}
	if r, err := log.VerifyChain(t.Context(), ""); err != nil || !r.OK || r.Events != n*trials {
		t.Fatalf("chain: %+v, %v", r, err)
	}
}

// A Record whose context is already done records nothing and says so.
func TestAuditLogRecordCanceled(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		log, err := verifier.NewAuditLog(st)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := log.Record(ctx, verifier.Event{Agent: "did:key:zA", Decision: verifier.DecisionVerified}); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		if r, err := log.VerifyChain(t.Context(), ""); err != nil || r.Events != 0 {
			t.Fatalf("chain after a canceled Record: %+v, %v", r, err)
		}
	})
}
