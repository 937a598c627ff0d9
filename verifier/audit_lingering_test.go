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

// With a long linger, events that trickle in from many goroutines are
// grouped, each Record still returns its own committed event (or its own
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
					time.Sleep(time.Duration(g%5) * 100 * time.Microsecond)
					reqID := fmt.Sprintf("g%d-%d", g, i)
					ev := verifier.Event{Agent: "did:key:zAgent", Decision: verifier.DecisionVerified, RequestID: reqID}
					bad := i == 3 && g%4 == 0
					if bad {
						ev.OrganizationID = "no-such-org"
					}
					rec, err := log.Record(ctx, ev)
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
// linger: a wait that gains nothing ends after about two gaps between
// events, and is not tried again for a while, so the Records take nowhere
// near one linger in all.
func TestAuditLogLingerSequential(t *testing.T) {
	st := storetest.SQLite(t)
	const linger = 20 * time.Second
	log, err := verifier.NewAuditLog(st, verifier.WithAuditLinger(linger))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 40 {
		if _, err := log.Record(t.Context(), verifier.Event{Agent: "did:key:zA", Decision: verifier.DecisionVerified}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > linger/2 {
		t.Fatalf("40 Records took %v", d)
	}
}
