package server

import (
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/verifier"
)

// TestOwnStatusListsSeenAtOnce runs the server with the default status
// staleness (60 s) and shows that a status change made through its issuer
// is seen by the very next verification on the same database, for a
// Bitstring Status List (ldp_vc) and a Token Status List (SD-JWT VC), in
// both directions (suspend, reinstate) and for revocation.
func TestOwnStatusListsSeenAtOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newIssuanceFixture(t, st) // default staleness
		verify := func(vc any) response {
			return f.call(t, "POST", "/credentials/verify", "", map[string]any{"verifiableCredential": vc})
		}
		for _, c := range []struct {
			name    string
			options map[string]any
		}{
			{"bitstring", nil},
			{"token status list", map[string]any{"format": "dc+sd-jwt"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				doc := identityDoc(t)
				id := "urn:example:own-status:" + rand.Text()
				doc["id"] = id
				vc := f.issue(t, f.tokA, doc, c.options)
				// A first verification fills the status cache.
				wantVerified(t, verify(vc))
				wantVerified(t, verify(vc))

				if r := f.setStatus(t, f.tokA, id, "suspended"); r.status != http.StatusOK {
					t.Fatalf("suspend: %d %s", r.status, r.body)
				}
				wantRejected(t, verify(vc), "status", verifier.CodeSuspended)

				if r := f.setStatus(t, f.tokA, id, "active"); r.status != http.StatusOK {
					t.Fatalf("reinstate: %d %s", r.status, r.body)
				}
				wantVerified(t, verify(vc))

				if r := f.setStatus(t, f.tokA, id, "revoked"); r.status != http.StatusOK {
					t.Fatalf("revoke: %d %s", r.status, r.body)
				}
				wantRejected(t, verify(vc), "status", verifier.CodeRevoked)
			})
		}
	})
}
