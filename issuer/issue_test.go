package issuer

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/keys"
)

// identityDoc is the schemas package's AgentIdentityCredential example
// without issuer, id and status.
func identityDoc(t testing.TB) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../schemas/testdata/agent-identity.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := credential.DecodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"issuer", "id", "credentialStatus"} {
		delete(m, k)
	}
	return m
}

// newService bootstraps the default organization on st and returns a
// Service over it.
func newService(t testing.TB, st *store.Store, km *keys.Manager, opts ...Option) (*Service, string) {
	t.Helper()
	boot, err := Bootstrap(context.Background(), st, km, BootstrapOptions{AdminToken: "tok_issue_test_0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(append([]Option{WithStore(st), WithKeyManager(km), WithPublicURL("https://issuer.example.com")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, boot.Organization.ID
}

// Two Services on two connection pools to one PostgreSQL database (two
// processes, in effect) issue at once onto small lists, so that random
// draws collide and lists fill and roll over: no index is handed out twice,
// and every list holds at most its size.
func TestIssueTwoProcessesNoDuplicateIndex(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	ctx := context.Background()
	kek, err := keys.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	const size, perProcess = 1024, 600
	var services [2]*Service
	var orgID string
	for i := range services {
		st, err := store.Open(ctx, dbURL, store.WithMaxOpenConns(8))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		services[i], orgID = newService(t, st, testkeys.ManagerKEK(t, st, kek), withStatusListSize(size, 90))
	}
	type ref struct {
		list string
		idx  int
	}
	var (
		mu   sync.Mutex
		seen = map[ref]bool{}
		wg   sync.WaitGroup
		errs = make(chan error, 2*perProcess)
	)
	for p := range services {
		for i := range perProcess {
			wg.Add(1)
			go func() {
				defer wg.Done()
				doc := identityDoc(t)
				doc["id"] = fmt.Sprintf("urn:example:%d-%d", p, i)
				out, err := services[p].Issue(ctx, orgID, doc, IssueOptions{})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, r := range out.Status {
					k := ref{r.ListID, r.Index}
					if seen[k] {
						errs <- fmt.Errorf("index %v handed out twice", k)
					}
					seen[k] = true
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != 2*2*perProcess {
		t.Fatalf("%d indexes, want %d", len(seen), 4*perProcess)
	}
	perList := map[string]int{}
	for k := range seen {
		perList[k.list]++
	}
	if len(perList) < 4 {
		t.Fatalf("%d lists: the lists did not roll over", len(perList))
	}
	for id, n := range perList {
		l, err := services[0].store.StatusListByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// used is a lower bound recorded now and then, or the size when
		// random draws found the list full.
		if (l.Used > n && l.Used != size) || n > size {
			t.Fatalf("list %s: used %d, %d entries, size %d", id, l.Used, n, size)
		}
	}
}

func benchmarkIssue(b *testing.B, st *store.Store, opts IssueOptions) {
	ctx := context.Background()
	s, orgID := newService(b, st, testkeys.Manager(b, st))
	doc := identityDoc(b)
	doc["validUntil"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Issue(ctx, orgID, doc, opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "issued/s")
}

// BenchmarkIssue measures in-process issuance (validation, allocation,
// signing, storing) through the Go API.
func BenchmarkIssue(b *testing.B) {
	for _, c := range []struct {
		name string
		opts IssueOptions
	}{
		{"eddsa", IssueOptions{}},
		{"ecdsa", IssueOptions{Cryptosuite: dataintegrity.ECDSARDFC2019}},
		{"sdjwt", IssueOptions{Format: FormatSDJWT}},
	} {
		b.Run("sqlite/"+c.name, func(b *testing.B) { benchmarkIssue(b, storetest.SQLite(b), c.opts) })
		b.Run("postgres/"+c.name, func(b *testing.B) { benchmarkIssue(b, storetest.Postgres(b), c.opts) })
	}
}
