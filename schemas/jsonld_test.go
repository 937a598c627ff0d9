package schemas_test

import (
	"context"
	"os"
	"testing"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/jsonld"
)

// The examples are valid VC 2.0 credentials, and every term they use is
// defined by the credentials v2 context and the agentid context: safe-mode
// expansion (which refuses undefined terms and protected-term redefinition)
// accepts them.
func TestExamplesExpandWithTheAgentidContext(t *testing.T) {
	for _, f := range []string{"agent-identity.json", "agent-delegation.json"} {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := credential.ParseCredential(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := jsonld.Expand(context.Background(), c.Map()); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		// an undefined subject term is caught
		bad := c.Clone()
		bad.Subjects()[0]["favouriteColour"] = "blue"
		if _, err := jsonld.Expand(context.Background(), bad.Map()); err == nil {
			t.Errorf("%s: undefined term accepted", f)
		}
	}
}
