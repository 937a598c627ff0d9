package sdjwt_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

// An issuer with a did:key issues an SD-JWT VC bound to the agent's key; the
// agent discloses only its name to a service, with a KB-JWT over the
// service's nonce; the service verifies.
func Example() {
	ctx := context.Background()
	issuerKey, _ := software.Generate(keys.P256)
	agentKey, _ := software.Generate(keys.P256)
	did, _ := didmethods.CreateKey(issuerKey.Public())
	kid := did + "#" + strings.TrimPrefix(did, "did:key:")

	issued, err := sdjwt.IssueVC(ctx, issuerKey, sdjwt.VC{
		Issuer: did, KeyID: kid, Type: "https://agentid.dev/vct/agent-identity/v1",
		Claims:    map[string]any{"name": "invoice-bot", "operator": "did:web:acme.example"},
		HolderKey: agentKey.Public(),
	}, sdjwt.IssueOptions{Decoys: 2})
	if err != nil {
		panic(err)
	}

	presentation, err := sdjwt.Present(ctx, issued, sdjwt.PresentOptions{
		Disclose:   []string{"/name"},
		KeyBinding: &sdjwt.KeyBinding{Signer: agentKey, Audience: "https://erp.example.com", Nonce: "challenge-1"},
	})
	if err != nil {
		panic(err)
	}

	res, err := sdjwt.Verify(ctx, presentation, sdjwt.VerifyOptions{
		Resolver: didmethods.NewDefaultRegistry(), VC: true,
		RequireKeyBinding: true, Audience: "https://erp.example.com", Nonce: "challenge-1",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Claims["name"], res.Claims["operator"], res.Disclosed)
	// Output: invoice-bot <nil> [/name]
}
