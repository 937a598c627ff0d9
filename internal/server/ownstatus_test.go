package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
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

				// A change whose new version someone else fetched (and so
				// signed) first: the list's entity tag moved on from the
				// one cached, and the next verification sees it.
				signElsewhere := func() {
					for _, path := range statusListPaths(t, f.url, vc) {
						if r := f.call(t, "GET", path, "", nil); r.status != http.StatusOK {
							t.Fatalf("GET %s: %d %s", path, r.status, r.body)
						}
					}
				}
				if r := f.setStatus(t, f.tokA, id, "suspended"); r.status != http.StatusOK {
					t.Fatalf("suspend: %d %s", r.status, r.body)
				}
				signElsewhere()
				wantRejected(t, verify(vc), "status", verifier.CodeSuspended)
				if r := f.setStatus(t, f.tokA, id, "active"); r.status != http.StatusOK {
					t.Fatalf("reinstate: %d %s", r.status, r.body)
				}
				signElsewhere()
				wantVerified(t, verify(vc))

				if r := f.setStatus(t, f.tokA, id, "revoked"); r.status != http.StatusOK {
					t.Fatalf("revoke: %d %s", r.status, r.body)
				}
				wantRejected(t, verify(vc), "status", verifier.CodeRevoked)
			})
		}
	})
}

// statusListPaths returns the paths (on the server at base) of the status
// lists that vc's status entries point to: statusListCredential of a
// credential's entries, or status.status_list.uri of an SD-JWT VC.
func statusListPaths(t *testing.T, base string, vc any) []string {
	t.Helper()
	var urls []string
	switch v := vc.(type) {
	case map[string]any:
		entries, ok := v["credentialStatus"].([]any)
		if !ok {
			entries = []any{v["credentialStatus"]}
		}
		for _, e := range entries {
			if m, ok := e.(map[string]any); ok {
				u, _ := m["statusListCredential"].(string)
				urls = append(urls, u)
			}
		}
	case string:
		jwt, _, _ := strings.Cut(v, "~")
		parts := strings.Split(jwt, ".")
		if len(parts) != 3 {
			t.Fatalf("not an SD-JWT: %q", v)
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			Status struct {
				StatusList struct {
					URI string `json:"uri"`
				} `json:"status_list"`
			} `json:"status"`
		}
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		urls = append(urls, claims.Status.StatusList.URI)
	default:
		t.Fatalf("credential of type %T", vc)
	}
	var paths []string
	for _, u := range urls {
		path, ok := strings.CutPrefix(u, base)
		if !ok || path == "" {
			t.Fatalf("status list %q is not on %s", u, base)
		}
		paths = append(paths, path)
	}
	if len(paths) == 0 {
		t.Fatal("no status lists")
	}
	return paths
}
