package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
)

// issuance is a credential of org with entries at the given indexes of
// list.
func issuance(org *store.Organization, credID, list string, idx ...int) store.Issuance {
	it := store.Issuance{Credential: &store.IssuedCredential{
		OrganizationID: org.ID, CredentialID: credID, IssuerDID: "did:key:z6Mkissuer",
		SubjectID: "did:key:z6Mksubject", Types: " VerifiableCredential ", Format: "ldp_vc",
		Document: `{"id":"` + credID + `"}`, CreatedAt: time.Now(),
	}}
	for _, i := range idx {
		it.Entries = append(it.Entries, store.StatusEntry{ListID: list, Index: i, Purpose: "revocation"})
	}
	return it
}

func openList(t *testing.T, s *store.Store, org *store.Organization) *store.StatusList {
	t.Helper()
	l, err := s.OpenStatusList(t.Context(), store.StatusListSpec{OrganizationID: org.ID, IssuerDID: "did:key:z6Mkissuer",
		Kind: store.StatusListBitstring, Purpose: "revocation", Size: 1024, Bits: 1, FullPercent: 90})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// One batch with issuances that cannot be stored, for every reason: each
// gets its own error, and every other issuance of the batch is stored with
// its entries, whichever path (bulk inserts, or one at a time after a
// statement failed) stored the batch.
func TestCreateIssuancesIsolatesFailures(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		list := openList(t, s, org).ID
		// Committed before the batch: credential "urn:x:old" at index 1.
		if errs, err := s.CreateIssuances(ctx, []store.Issuance{issuance(org, "urn:x:old", list, 1)}); err != nil || errs[0] != nil {
			t.Fatalf("seed: %v %v", err, errs)
		}
		for _, bad := range []bool{false, true} {
			t.Run(fmt.Sprintf("statementFailure=%v", bad), func(t *testing.T) {
				p := fmt.Sprintf("urn:x:%v:", bad)
				base := 100
				if bad {
					base = 200
				}
				items := []store.Issuance{
					issuance(org, p+"a", list, base, base+1),                                             // stored
					issuance(org, "urn:x:old", list, base+2),                                             // id taken by a committed credential
					issuance(org, p+"c", list, base+3, 1),                                                // index 1 taken by a committed entry
					issuance(org, p+"d", list, base+4, base+1),                                           // index taken by "a" earlier in the batch
					issuance(org, p+"a", list, base+5),                                                   // id taken by "a" earlier in the batch
					{Credential: &store.IssuedCredential{OrganizationID: org.ID, CredentialID: p + "f"}}, // incomplete
					issuance(org, p+"g", list, base+6),                                                   // stored
				}
				if bad {
					// A status the schema's CHECK refuses: the multi-row
					// insert fails, and the batch is stored one at a time.
					items = append(items, issuance(org, p+"h", list, base+7))
					items[7].Credential.Status = "lost"
				}
				errs, err := s.CreateIssuances(ctx, items)
				if err != nil {
					t.Fatal(err)
				}
				want := []error{nil, store.ErrConflict, store.ErrIndexTaken, store.ErrIndexTaken, store.ErrConflict, errors.New("any"), nil}
				if bad {
					want = append(want, errors.New("any"))
				}
				for i, w := range want {
					switch {
					case w == nil && errs[i] != nil:
						t.Errorf("issuance %d: %v, want stored", i, errs[i])
					case w != nil && errs[i] == nil:
						t.Errorf("issuance %d stored, want an error (%v)", i, w)
					case w == store.ErrIndexTaken && !errors.Is(errs[i], store.ErrIndexTaken),
						w == store.ErrConflict && (!errors.Is(errs[i], store.ErrConflict) || errors.Is(errs[i], store.ErrIndexTaken)):
						t.Errorf("issuance %d: %v, want %v", i, errs[i], w)
					}
				}
				for i, it := range items {
					entries, err := s.StatusEntriesOf(ctx, it.Credential.ID)
					if err != nil {
						t.Fatal(err)
					}
					stored := errs[i] == nil
					if (len(entries) > 0) != stored || (stored && len(entries) != len(it.Entries)) {
						t.Errorf("issuance %d (error %v): %d entries stored", i, errs[i], len(entries))
					}
					_, err = s.IssuedCredentialByID(ctx, org.ID, it.Credential.CredentialID, false)
					if stored && err != nil {
						t.Errorf("issuance %d: stored credential not found: %v", i, err)
					}
				}
			})
		}
		// Index 1 still belongs to the first credential; a/g's indexes to
		// them: 2 + 3 + 3 entries (both runs store a and g).
		n, err := s.CountStatusListEntries(ctx, list)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1+2*3 {
			t.Errorf("%d entries on the list, want 7", n)
		}
		if c, _ := s.CountIssuedCredentials(ctx, org.ID); c != 5 {
			t.Errorf("%d credentials, want 5", c)
		}
	})
}

// A batch larger than one multi-row statement is stored whole.
func TestCreateIssuancesLargeBatch(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		list := openList(t, s, org).ID
		var items []store.Issuance
		for i := range 203 {
			items = append(items, issuance(org, fmt.Sprintf("urn:x:%d", i), list, 2*i, 2*i+1))
		}
		errs, err := s.CreateIssuances(ctx, items)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range errs {
			if e != nil {
				t.Fatalf("issuance %d: %v", i, e)
			}
		}
		if n, _ := s.CountStatusListEntries(ctx, list); n != 406 {
			t.Fatalf("%d entries, want 406", n)
		}
		got, err := s.IssuedCredentialByID(ctx, org.ID, "urn:x:202", false)
		if err != nil || got.Document != `{"id":"urn:x:202"}` || got.Status != store.CredentialActive ||
			!got.CreatedAt.Equal(items[202].Credential.CreatedAt) || got.ValidFrom != nil {
			t.Fatalf("stored credential: %+v, %v", got, err)
		}
		// Times are stored as CreateIssuedCredential stores them: a time
		// filter finds the batch.
		page, err := s.ListIssuedCredentials(ctx, store.CredentialFilter{OrganizationID: org.ID,
			From: items[0].Credential.CreatedAt, To: items[202].Credential.CreatedAt.Add(time.Microsecond), Limit: 1000})
		if err != nil || len(page) != 203 {
			t.Fatalf("listed %d credentials, want 203: %v", len(page), err)
		}
	})
}

// BenchmarkCreateIssuances measures the group commit's transaction alone:
// batches of n issuances of a 2.5 kB credential with two entries each.
func BenchmarkCreateIssuances(b *testing.B) {
	doc := `{"pad":"` + strings.Repeat("x", 2500) + `"}`
	for _, n := range []int{1, 8, 32, 128} {
		for _, driver := range []string{store.DriverSQLite, store.DriverPostgres} {
			b.Run(fmt.Sprintf("%s/batch=%d", driver, n), func(b *testing.B) {
				var s *store.Store
				if driver == store.DriverSQLite {
					s = storetest.SQLite(b)
				} else {
					s = storetest.Postgres(b)
				}
				ctx := b.Context()
				org := &store.Organization{Slug: "acme", Name: "Acme"}
				if err := s.CreateOrganization(ctx, org); err != nil {
					b.Fatal(err)
				}
				var lists [2]string
				for i, purpose := range []string{"revocation", "suspension"} {
					l, err := s.OpenStatusList(ctx, store.StatusListSpec{OrganizationID: org.ID, IssuerDID: "did:key:z6Mkissuer",
						Kind: store.StatusListBitstring, Purpose: purpose, Size: 1 << 24, Bits: 1, FullPercent: 90})
					if err != nil {
						b.Fatal(err)
					}
					lists[i] = l.ID
				}
				seq := 0
				b.ResetTimer()
				for done := 0; done < b.N; done += n {
					items := make([]store.Issuance, n)
					for i := range items {
						seq++
						items[i] = issuance(org, fmt.Sprintf("urn:x:%d", seq), lists[0], seq*7919%(1<<24))
						items[i].Credential.Document = doc
						items[i].Entries = append(items[i].Entries, store.StatusEntry{ListID: lists[1], Index: seq * 104729 % (1 << 24), Purpose: "suspension"})
					}
					errs, err := s.CreateIssuances(ctx, items)
					if err != nil {
						b.Fatal(err)
					}
					for _, e := range errs {
						if e != nil {
							b.Fatal(e)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/issuance")
			})
		}
	}
}
