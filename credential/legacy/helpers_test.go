package legacy

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	ariesjsonld "github.com/hyperledger/aries-framework-go/pkg/doc/signature/jsonld"
	ariesproof "github.com/hyperledger/aries-framework-go/pkg/doc/signature/proof"
	ariessigner "github.com/hyperledger/aries-framework-go/pkg/doc/signature/signer"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/suite"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/suite/ed25519signature2018"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/suite/ed25519signature2020"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/suite/jsonwebsignature2020"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/internal/testvectors"
	"github.com/agentid/agentid/keys"
)

// ariesSigner adapts a keys.Signer to the signer aries' suites take.
type ariesSigner struct{ s keys.Signer }

func (a ariesSigner) Sign(data []byte) ([]byte, error) { return a.s.Sign(context.Background(), data) }
func (a ariesSigner) Alg() string                      { return string(a.s.Algorithm()) }

// testKey is a software key with its did:key and verification method.
type testKey struct {
	signer keys.Signer
	did    string
	vm     string
}

func newKey(t testing.TB, typ keys.KeyType) testKey {
	t.Helper()
	k, did, vm := testkeys.New(t, typ)
	return testKey{signer: k, did: did, vm: vm}
}

type signOpts struct {
	vm        string // default: the key's
	purpose   string // default: assertionMethod
	created   time.Time
	challenge string
	domain    string
}

// signLD adds a legacy proof to doc with aries' signer and returns the
// signed document, decoded as the verifier would receive it.
func signLD(t testing.TB, doc map[string]any, proofType string, k testKey, o signOpts) map[string]any {
	t.Helper()
	e, err := env()
	if err != nil {
		t.Fatal(err)
	}
	s := suite.WithSigner(ariesSigner{k.signer})
	var su ariessigner.SignatureSuite
	rep := ariesproof.SignatureJWS
	switch proofType {
	case TypeEd25519Signature2020:
		su, rep = ed25519signature2020.New(s), ariesproof.SignatureProofValue
	case TypeEd25519Signature2018:
		su = ed25519signature2018.New(s)
	case TypeJsonWebSignature2020:
		su = jsonwebsignature2020.New(s)
	}
	if o.vm == "" {
		o.vm = k.vm
	}
	if o.purpose == "" {
		o.purpose = PurposeAssertionMethod
	}
	if o.created.IsZero() {
		o.created = time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := ariessigner.New(su).Sign(&ariessigner.Context{
		SignatureType:           proofType,
		SignatureRepresentation: rep,
		VerificationMethod:      o.vm,
		Purpose:                 o.purpose,
		Created:                 &o.created,
		Challenge:               o.challenge,
		Domain:                  o.domain,
	}, raw, ariesjsonld.WithDocumentLoader(e.loader))
	if err != nil {
		t.Fatalf("aries sign %s: %v", proofType, err)
	}
	m, err := credential.DecodeObject(signed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// vc11 is a VC 1.1 credential issued by issuer, with the context of the
// proof suite and an inline context for its claims.
func vc11(issuer, suiteContext string) map[string]any {
	ctxs := []any{credential.ContextV1}
	if suiteContext != "" {
		ctxs = append(ctxs, suiteContext)
	}
	ctxs = append(ctxs, map[string]any{
		"ex":                         "https://example.org/examples#",
		"UniversityDegreeCredential": "ex:UniversityDegreeCredential",
		"degree":                     "ex:degree",
	})
	return map[string]any{
		"@context":          ctxs,
		"id":                "urn:uuid:0b7f7a4e-4a53-4b2e-9d8f-2f1b5a6c7d8e",
		"type":              []any{"VerifiableCredential", "UniversityDegreeCredential"},
		"issuer":            issuer,
		"issuanceDate":      time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		"expirationDate":    time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
		"credentialSubject": map[string]any{"id": "did:example:subject", "degree": "Bachelor of Science"},
	}
}

// vc20 is a VC 2.0 credential with the examples context (@vocab).
func vc20(issuer, suiteContext string) map[string]any {
	return map[string]any{
		"@context": []any{
			credential.ContextV2,
			"https://www.w3.org/ns/credentials/examples/v2",
			suiteContext,
		},
		"id":                "urn:uuid:6a1e2c3d-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
		"type":              []any{"VerifiableCredential", "ExampleDegreeCredential"},
		"issuer":            issuer,
		"validFrom":         time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		"validUntil":        time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
		"credentialSubject": map[string]any{"id": "did:example:subject", "degree": "Bachelor of Science"},
	}
}

func readVector(t testing.TB, elem ...string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(t, elem...))
	if err != nil {
		t.Fatal(err)
	}
	m, err := credential.DecodeObject(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// clone deep-copies a decoded document.
func clone(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := credential.DecodeObject(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func registry() didmethods.Resolver { return didmethods.NewDefaultRegistry() }
