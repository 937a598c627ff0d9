package issuer

import (
	"context"
	"errors"
	"testing"

	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testkeys"
)

// An issuer object whose id is present but not a URL string is refused
// (VC 2.0 §4.7, the W3C VC 2.0 suite's credential-issuer-object-id-null
// fixture); only an object without id gets the default issuer, and nothing
// is stored for a refused credential.
func TestIssueIssuerObjectID(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s, orgID := newService(t, st, testkeys.Manager(t, st))
		doc := func(issuer any) map[string]any {
			return map[string]any{
				"@context":          []any{"https://www.w3.org/ns/credentials/v2"},
				"type":              []any{"VerifiableCredential"},
				"issuer":            issuer,
				"credentialSubject": map[string]any{"id": "did:example:subject"},
			}
		}
		for _, c := range []struct {
			name   string
			issuer any
		}{
			{"null id", map[string]any{"id": nil}},
			{"empty id", map[string]any{"id": ""}},
			{"number id", map[string]any{"id": 7}},
			{"object id", map[string]any{"id": map[string]any{"id": "did:example:x"}}},
			{"null id with a name", map[string]any{"id": nil, "name": "Example"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := s.Issue(ctx, orgID, doc(c.issuer), IssueOptions{})
				if !errors.Is(err, ErrInvalidCredential) {
					t.Fatalf("err = %v, want ErrInvalidCredential", err)
				}
				var p *problem.Problem
				if !errors.As(err, &p) || len(p.Errors) == 0 || p.Errors[0].Field != "/credential/issuer/id" {
					t.Fatalf("problem = %+v, want a field error at /credential/issuer/id", p)
				}
			})
		}
		if n, err := st.CountIssuedCredentials(ctx, orgID); err != nil || n != 0 {
			t.Fatalf("%d credentials stored after refused input (%v)", n, err)
		}

		// An object without id still gets the default issuer, and keeps
		// its other members.
		out, err := s.Issue(ctx, orgID, doc(map[string]any{"name": "Example"}), IssueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		vc, ok := out.Credential.(map[string]any)
		if !ok {
			t.Fatalf("credential = %T, want a map", out.Credential)
		}
		iss, ok := vc["issuer"].(map[string]any)
		if !ok {
			t.Fatalf("issuer = %#v, want an object", vc["issuer"])
		}
		if id, _ := iss["id"].(string); id == "" || iss["name"] != "Example" {
			t.Fatalf("issuer = %v, want the default issuer's id and the name kept", iss)
		}
	})
}
