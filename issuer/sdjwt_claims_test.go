package issuer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testkeys"
)

// An SD-JWT VC's jti (the credential id) is always a plain claim, so that a
// verifier can name the presented credential whatever the holder withholds;
// every claim of the subject is selectively disclosable.
func TestSDJWTCredentialIDIsPlain(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	s, orgID := newService(t, st, testkeys.Manager(t, st))
	doc := identityDoc(t)
	doc["id"] = "urn:example:sdjwt-claims:1"
	out, err := s.Issue(ctx, orgID, doc, IssueOptions{Format: FormatSDJWT})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sdjwt.ParseCompact(out.Credential.(string), sdjwt.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(c.IssuerJWT, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["jti"] != "urn:example:sdjwt-claims:1" {
		t.Fatalf("jti is not a plain claim of the issuer JWT: %v", claims)
	}
	var names []string
	for _, enc := range c.Disclosures {
		d, err := sdjwt.DecodeDisclosure(enc)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, d.Name)
	}
	slices.Sort(names)
	for _, want := range []string{"hardwareBinding", "name", "principal", "sub"} {
		if !slices.Contains(names, want) {
			t.Fatalf("%s is not selectively disclosable; disclosures: %v", want, names)
		}
	}
	if slices.Contains(names, "jti") {
		t.Fatalf("jti is selectively disclosable: %v", names)
	}
}
