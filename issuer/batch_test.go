package issuer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testkeys"
)

// Issuances queued together share transactions, and each gets its own
// outcome: of several issuances of one credential id at once exactly one
// is stored, the others fail with ErrCredentialExists, and the issuances
// around them, in the same batches, are stored with distinct indexes.
func TestGroupCommitOutcomesPerIssuance(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s, orgID := newService(t, st, testkeys.Manager(t, st))
		const n, dup = 120, 6
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			stored  int
			exists  int
			indexes = map[string]bool{}
		)
		errs := make(chan error, n)
		sem := make(chan struct{}, 32) // the PostgreSQL server's connections are shared
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				doc := identityDoc(t)
				if i%(n/dup) == 0 {
					doc["id"] = "urn:example:same"
				}
				out, err := s.Issue(ctx, orgID, doc, IssueOptions{})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ErrCredentialExists):
					exists++
				case err != nil:
					errs <- err
				default:
					stored++
					for _, r := range out.Status {
						k := fmt.Sprint(r.ListID, r.Index)
						if indexes[k] {
							errs <- fmt.Errorf("index %s handed out twice", k)
						}
						indexes[k] = true
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if stored != n-dup+1 || exists != dup-1 {
			t.Fatalf("%d stored, %d refused as existing; want %d and %d", stored, exists, n-dup+1, dup-1)
		}
		if c, _ := st.CountIssuedCredentials(ctx, orgID); c != int64(stored) {
			t.Fatalf("%d credentials in the database, want %d", c, stored)
		}
		if c, _ := st.CountStatusEntries(ctx, orgID); c != int64(2*stored) {
			t.Fatalf("%d status entries in the database, want %d", c, 2*stored)
		}
	})
}

// An issuance whose caller has given up before its batch starts is not
// written, and the writer goes on with the others.
func TestGroupCommitCancelledCaller(t *testing.T) {
	st := storetest.SQLite(t)
	s, orgID := newService(t, st, testkeys.Manager(t, st))
	p, err := s.plan(context.Background(), orgID, identityDoc(t), IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lists, err := s.openLists(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.issueTx(ctx, p, lists); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled issuance: %v, want context.Canceled", err)
	}
	if c, _ := st.CountIssuedCredentials(context.Background(), orgID); c != 0 {
		t.Fatalf("%d credentials stored by a cancelled issuance", c)
	}
	if _, err := s.Issue(context.Background(), orgID, identityDoc(t), IssueOptions{}); err != nil {
		t.Fatalf("issuance after a cancelled one: %v", err)
	}
	if c, _ := st.CountIssuedCredentials(context.Background(), orgID); c != 1 {
		t.Fatalf("%d credentials, want 1", c)
	}
}

func TestNewOrderedID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	prev := ""
	seen := map[string]bool{}
	for range 1000 {
		id := newOrderedID()
		if !re.MatchString(id) {
			t.Fatalf("%q is not a UUID version 7", id)
		}
		if seen[id] {
			t.Fatalf("%q made twice", id)
		}
		seen[id] = true
		// Later milliseconds sort later.
		if prev != "" && id[:13] < prev[:13] {
			t.Fatalf("%q sorts before the earlier %q", id, prev)
		}
		prev = id
	}
}
