package dataintegrity

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/jsonld"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

// testKey is a fresh software key with its did:key verification method.
type testKey struct {
	signer keys.Signer
	vm     string
	did    string
}

func newKey(t testing.TB, typ keys.KeyType) testKey {
	t.Helper()
	k, err := software.Generate(typ)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := keys.EncodeMultikey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	did := "did:key:" + mk
	return testKey{k, did + "#" + mk, did}
}

func credential() map[string]any {
	return map[string]any{
		"@context":          []any{"https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"},
		"id":                "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
		"type":              []any{"VerifiableCredential", "AlumniCredential"},
		"issuer":            "did:example:issuer",
		"validFrom":         "2023-01-01T00:00:00Z",
		"credentialSubject": map[string]any{"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
	}
}

func sign(t testing.TB, doc map[string]any, k testKey, opts ProofOptions) map[string]any {
	t.Helper()
	opts.VerificationMethod = k.vm
	out, err := Sign(context.Background(), doc, k.signer, opts)
	if err != nil {
		t.Fatal(err)
	}
	return clone(t, out)
}

func proofOf(doc map[string]any) map[string]any { return doc["proof"].(map[string]any) }

func TestSignVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, typ := range []keys.KeyType{keys.Ed25519, keys.P256, keys.P384} {
		k := newKey(t, typ)
		doc := credential()
		signed := sign(t, doc, k, ProofOptions{})
		if _, ok := doc["proof"]; ok {
			t.Fatal("Sign modified its input")
		}
		p := proofOf(signed)
		wantSuite := map[keys.KeyType]string{keys.Ed25519: EdDSARDFC2022, keys.P256: ECDSARDFC2019, keys.P384: ECDSARDFC2019}[typ]
		if p["cryptosuite"] != wantSuite || p["proofPurpose"] != PurposeAssertionMethod || p["type"] != ProofType {
			t.Errorf("%s: proof %v", typ, p)
		}
		if _, err := parseDateTime(p["created"].(string)); err != nil || !strings.HasSuffix(p["created"].(string), "Z") {
			t.Errorf("%s: created %v", typ, p["created"])
		}
		res, err := Verify(ctx, signed, VerifyOptions{Resolver: registry(), Controller: k.did})
		if err != nil || !res.Verified {
			t.Fatalf("%s: %v", typ, err)
		}
		pr := res.Proofs[0]
		if pr.Controller != k.did || pr.VerificationMethod != k.vm || pr.Cryptosuite != wantSuite || pr.ProofPurpose != PurposeAssertionMethod {
			t.Errorf("%s: result %+v", typ, pr)
		}
	}
}

func TestPresentationProof(t *testing.T) {
	k := newKey(t, keys.P256)
	vp := map[string]any{
		"@context": []any{"https://www.w3.org/ns/credentials/v2"},
		"type":     "VerifiablePresentation",
		"holder":   k.did,
	}
	signed := sign(t, vp, k, ProofOptions{ProofPurpose: PurposeAuthentication, Challenge: "c-123", Domain: []string{"https://rp.example", "https://rp2.example"}, Nonce: "n"})
	opts := VerifyOptions{Resolver: registry(), ProofPurpose: PurposeAuthentication, Challenge: "c-123", Domain: "https://rp2.example"}
	if _, err := Verify(context.Background(), signed, opts); err != nil {
		t.Fatal(err)
	}
}

func mustFail(t *testing.T, name string, doc map[string]any, opts VerifyOptions, want error) {
	t.Helper()
	if opts.Resolver == nil {
		opts.Resolver = registry()
	}
	res, err := Verify(context.Background(), doc, opts)
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", name, err, want)
		return
	}
	if res != nil && (res.Verified || len(res.Proofs) == 0 || !errors.Is(res.Proofs[0].Err, want)) {
		t.Errorf("%s: result %+v does not carry the failure", name, res)
	}
}

// Each malformed or mismatched proof is refused with its own named error.
// Every case starts from a proof that verifies, so each would fail (with a
// different error or none) without the check it exercises.
func TestRejections(t *testing.T) {
	ed := newKey(t, keys.Ed25519)
	other := newKey(t, keys.Ed25519)
	p256 := newKey(t, keys.P256)
	good := sign(t, credential(), ed, ProofOptions{Challenge: "c1", Domain: []string{"https://rp.example"}})
	if _, err := Verify(context.Background(), good, VerifyOptions{Resolver: registry()}); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	mod := func(f func(doc, proof map[string]any)) map[string]any {
		d := clone(t, good)
		f(d, proofOf(d))
		return d
	}
	base := VerifyOptions{}

	mustFail(t, "no proof", mod(func(d, _ map[string]any) { delete(d, "proof") }), base, ErrNoProof)
	mustFail(t, "proof not an object", mod(func(d, _ map[string]any) { d["proof"] = "x" }), base, ErrInvalidDocument)
	mustFail(t, "missing proofValue", mod(func(_, p map[string]any) { delete(p, "proofValue") }), base, ErrMissingProofValue)
	mustFail(t, "proofValue base64url", mod(func(_, p map[string]any) { p["proofValue"] = "u" + strings.Repeat("A", 86) }), base, ErrInvalidProofValue)
	mustFail(t, "proofValue bad base58", mod(func(_, p map[string]any) { p["proofValue"] = "z0OIl" }), base, ErrInvalidProofValue)
	mustFail(t, "proofValue not a string", mod(func(_, p map[string]any) { p["proofValue"] = 42.0 }), base, ErrInvalidProofValue)
	mustFail(t, "unknown proof type", mod(func(_, p map[string]any) { p["type"] = "Ed25519Signature2020" }), base, ErrUnknownProofType)
	mustFail(t, "unknown cryptosuite", mod(func(_, p map[string]any) { p["cryptosuite"] = "bbs-2023" }), base, ErrUnknownCryptosuite)
	mustFail(t, "missing verificationMethod", mod(func(_, p map[string]any) { delete(p, "verificationMethod") }), base, ErrMissingVerificationMethod)
	mustFail(t, "wrong proofPurpose", good, VerifyOptions{ProofPurpose: PurposeAuthentication}, ErrProofPurposeMismatch)
	mustFail(t, "created not a dateTime", mod(func(_, p map[string]any) { p["created"] = "yesterday" }), base, ErrInvalidCreated)
	mustFail(t, "created without time zone", mod(func(_, p map[string]any) { p["created"] = "2023-02-24T23:36:38" }), base, ErrInvalidCreated)
	mustFail(t, "expires not a dateTime", mod(func(_, p map[string]any) { p["expires"] = "soon" }), base, ErrInvalidExpires)
	mustFail(t, "challenge mismatch", good, VerifyOptions{Challenge: "c2"}, ErrChallengeMismatch)
	mustFail(t, "challenge missing", sign(t, credential(), ed, ProofOptions{}), VerifyOptions{Challenge: "c1"}, ErrChallengeMismatch)
	mustFail(t, "domain mismatch", good, VerifyOptions{Domain: "https://evil.example"}, ErrDomainMismatch)
	mustFail(t, "tampered document", mod(func(d, _ map[string]any) {
		d["credentialSubject"].(map[string]any)["alumniOf"] = "The School of Forgery"
	}), base, ErrInvalidSignature)
	mustFail(t, "tampered issuer", mod(func(d, _ map[string]any) { d["issuer"] = "did:example:evil" }), base, ErrInvalidSignature)
	mustFail(t, "tampered proof options", mod(func(_, p map[string]any) { p["created"] = "2020-01-01T00:00:00Z" }), base, ErrInvalidSignature)
	mustFail(t, "tampered challenge", mod(func(_, p map[string]any) { p["challenge"] = "c2" }), VerifyOptions{Challenge: "c2"}, ErrInvalidSignature)
	mustFail(t, "wrong key", mod(func(_, p map[string]any) { p["verificationMethod"] = other.vm }), base, ErrInvalidSignature)
	mustFail(t, "key type mismatch", mod(func(_, p map[string]any) { p["verificationMethod"] = p256.vm }), base, ErrKeyTypeMismatch)
	mustFail(t, "unresolvable method", mod(func(_, p map[string]any) { p["verificationMethod"] = "did:key:zNope#zNope" }), base, ErrVerificationMethodNotFound)
	mustFail(t, "method not in document", mod(func(_, p map[string]any) { p["verificationMethod"] = ed.did + "#other" }), base, ErrVerificationMethodNotFound)
	mustFail(t, "expected controller", good, VerifyOptions{Controller: other.did}, ErrControllerMismatch)
	mustFail(t, "previous proof missing", mod(func(_, p map[string]any) { p["previousProof"] = "urn:uuid:missing" }), base, ErrPreviousProofNotFound)
	mustFail(t, "proof @context not a prefix", mod(func(_, p map[string]any) {
		p["@context"] = []any{"https://www.w3.org/ns/credentials/examples/v2"}
	}), base, ErrContextMismatch)

	// Times against a clock.
	future := sign(t, credential(), ed, ProofOptions{Created: time.Now().Add(time.Hour)})
	mustFail(t, "created in the future", future, base, ErrCreatedInFuture)
	if _, err := Verify(context.Background(), future, VerifyOptions{Resolver: registry(), Skew: 2 * time.Hour}); err != nil {
		t.Errorf("created within skew: %v", err)
	}
	expired := sign(t, credential(), ed, ProofOptions{Created: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour)})
	mustFail(t, "expired", expired, base, ErrProofExpired)
	if _, err := Verify(context.Background(), expired, VerifyOptions{Resolver: registry(), Now: func() time.Time { return time.Now().Add(-90 * time.Minute) }}); err != nil {
		t.Errorf("before expiry: %v", err)
	}

	// A DID document that lists the key only for authentication does not
	// authorize it for assertionMethod.
	authOnly := didmethods.ResolverFunc(func(ctx context.Context, did string, o didmethods.ResolveOptions) (*didmethods.Resolution, error) {
		res, err := registry().Resolve(ctx, did, o)
		if err != nil {
			return nil, err
		}
		res.Document.AssertionMethod = nil
		return res, nil
	})
	mustFail(t, "not authorized for purpose", good, VerifyOptions{Resolver: authOnly}, ErrNotAuthorized)
	// A method whose controller is not the DID.
	foreign := didmethods.ResolverFunc(func(ctx context.Context, did string, o didmethods.ResolveOptions) (*didmethods.Resolution, error) {
		res, err := registry().Resolve(ctx, did, o)
		if err != nil {
			return nil, err
		}
		res.Document.VerificationMethod[0].Controller = "did:example:someone-else"
		return res, nil
	})
	mustFail(t, "controller is not the DID", good, VerifyOptions{Resolver: foreign}, ErrControllerMismatch)

	// Safe mode: a claim no context defines, added after signing.
	strict := credential()
	strict["@context"] = []any{"https://www.w3.org/ns/credentials/v2"}
	strict["type"] = "VerifiableCredential"
	delete(strict["credentialSubject"].(map[string]any), "alumniOf")
	signedStrict := sign(t, strict, ed, ProofOptions{})
	added := clone(t, signedStrict)
	added["credentialSubject"].(map[string]any)["role"] = "admin"
	mustFail(t, "undefined term added", added, base, jsonld.ErrUndefinedTerm)

	// A poison document is refused quickly.
	poison := clone(t, good)
	var graph []any
	for i := range 10 {
		var links []any
		for j := range 10 {
			if j != i {
				links = append(links, map[string]any{"id": fmt.Sprintf("_:b%d", j)})
			}
		}
		graph = append(graph, map[string]any{"id": fmt.Sprintf("_:b%d", i), "knows": links})
	}
	poison["credentialSubject"].(map[string]any)["knows"] = graph
	start := time.Now()
	mustFail(t, "poison document", poison, base, jsonld.ErrAmbiguousBlankNodes)
	if d := time.Since(start); d > 200*time.Millisecond && !raceEnabled {
		t.Errorf("poison document refused after %v", d)
	}
}

func TestSignRejections(t *testing.T) {
	ctx := context.Background()
	ed := newKey(t, keys.Ed25519)
	p256 := newKey(t, keys.P256)
	if _, err := Sign(ctx, credential(), p256.signer, ProofOptions{VerificationMethod: p256.vm, Cryptosuite: EdDSARDFC2022}); !errors.Is(err, ErrKeyTypeMismatch) {
		t.Errorf("P-256 key with eddsa-rdfc-2022: %v", err)
	}
	if _, err := Sign(ctx, credential(), ed.signer, ProofOptions{VerificationMethod: ed.vm, Cryptosuite: ECDSARDFC2019}); !errors.Is(err, ErrKeyTypeMismatch) {
		t.Errorf("Ed25519 key with ecdsa-rdfc-2019: %v", err)
	}
	if _, err := Sign(ctx, credential(), ed.signer, ProofOptions{VerificationMethod: ed.vm, Cryptosuite: "eddsa-2099"}); !errors.Is(err, ErrUnknownCryptosuite) {
		t.Errorf("unknown cryptosuite: %v", err)
	}
	if _, err := Sign(ctx, credential(), ed.signer, ProofOptions{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("no verification method: %v", err)
	}
	if _, err := Sign(ctx, nil, ed.signer, ProofOptions{VerificationMethod: ed.vm}); !errors.Is(err, ErrInvalidDocument) {
		t.Errorf("nil document: %v", err)
	}
	if _, err := Sign(ctx, credential(), ed.signer, ProofOptions{VerificationMethod: ed.vm, PreviousProof: []string{"urn:x"}}); !errors.Is(err, ErrPreviousProofNotFound) {
		t.Errorf("missing previous proof: %v", err)
	}
	undefined := credential()
	undefined["@context"] = []any{"https://www.w3.org/ns/credentials/v2"}
	if _, err := Sign(ctx, undefined, ed.signer, ProofOptions{VerificationMethod: ed.vm}); !errors.Is(err, jsonld.ErrUndefinedTerm) {
		t.Errorf("undefined terms: %v", err)
	}
	unknownCtx := credential()
	unknownCtx["@context"] = []any{"https://www.w3.org/ns/credentials/v2", "https://example.com/ctx"}
	if _, err := Sign(ctx, unknownCtx, ed.signer, ProofOptions{VerificationMethod: ed.vm}); !errors.Is(err, jsonld.ErrContextNotAllowed) {
		t.Errorf("unknown context: %v", err)
	}
	if _, err := Verify(ctx, credential(), VerifyOptions{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("no resolver: %v", err)
	}
}

// Proof sets: each proof verifies on its own, a failing one is reported
// with its index and the others still verify.
func TestProofSetAndChain(t *testing.T) {
	ctx := context.Background()
	a, b, c := newKey(t, keys.Ed25519), newKey(t, keys.P256), newKey(t, keys.P384)
	doc := sign(t, credential(), a, ProofOptions{ID: "urn:proof:a"})
	doc = sign(t, doc, b, ProofOptions{ID: "urn:proof:b"})
	doc = sign(t, doc, c, ProofOptions{PreviousProof: []string{"urn:proof:a", "urn:proof:b"}})
	res, err := Verify(ctx, doc, VerifyOptions{Resolver: registry()})
	if err != nil || len(res.Proofs) != 3 {
		t.Fatalf("%v %+v", err, res)
	}
	if got := res.Proofs[2].PreviousProof; len(got) != 2 {
		t.Errorf("previousProof %v", got)
	}
	// Removing a chained-to proof breaks the chain.
	set := doc["proof"].([]any)
	broken := clone(t, doc)
	broken["proof"] = []any{set[1], set[2]}
	res, err = Verify(ctx, broken, VerifyOptions{Resolver: registry()})
	if !errors.Is(err, ErrPreviousProofNotFound) || res.Proofs[0].Err != nil || res.Proofs[1].Err == nil {
		t.Errorf("chain without its first proof: %v %+v", err, res)
	}
	// Changing a chained-to proof breaks the chained proof's signature,
	// and the changed proof's own.
	tampered := clone(t, doc)
	tampered["proof"].([]any)[1].(map[string]any)["created"] = "2020-01-01T00:00:00Z"
	res, err = Verify(ctx, tampered, VerifyOptions{Resolver: registry()})
	if !errors.Is(err, ErrInvalidSignature) || res.Proofs[0].Err != nil || res.Proofs[1].Err == nil || res.Proofs[2].Err == nil {
		t.Errorf("tampered chained-to proof: %v", err)
	}
}

func vectorSigned(b *testing.B, suffix, dir string) map[string]any {
	return readJSON(b, vectorPath(b, dir, "signed"+suffix+".json"))
}

func benchVerify(b *testing.B, doc map[string]any) {
	ctx := context.Background()
	opts := VerifyOptions{Resolver: registry(), Now: func() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }}
	if _, err := Verify(ctx, doc, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(ctx, doc, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSign(b *testing.B, keyFile string) {
	ctx := context.Background()
	signer, vm := signerFor(b, readKeyPair(b, vectorPath(b, keyFile)))
	doc := readJSON(b, vectorPath(b, "eddsa", "TestVectors", "unsigned.json"))
	opts := ProofOptions{VerificationMethod: vm, Created: time.Date(2023, 2, 24, 23, 36, 38, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(ctx, doc, signer, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignEdDSARDFC2022(b *testing.B) { benchSign(b, "eddsa/TestVectors/keyPair.json") }

func BenchmarkVerifyEdDSARDFC2022(b *testing.B) {
	doc := vectorSigned(b, "DataInt", "eddsa/TestVectors/eddsa-rdfc-2022")
	benchVerify(b, doc)
}

func BenchmarkSignECDSARDFC2019P256(b *testing.B) { benchSign(b, "ecdsa/TestVectors/p256KeyPair.json") }

func BenchmarkVerifyECDSARDFC2019P256(b *testing.B) {
	doc := vectorSigned(b, "ECDSAP256", "ecdsa/TestVectors/ecdsa-rdfc-2019-p256")
	benchVerify(b, doc)
}

// BenchmarkCanonicalizeVC is the canonicalization of the eddsa vector
// credential (one of the two canonicalizations each proof needs).
func BenchmarkCanonicalizeVC(b *testing.B) {
	p, err := jsonld.Default()
	if err != nil {
		b.Fatal(err)
	}
	doc := readJSON(b, vectorPath(b, "eddsa", "TestVectors", "unsigned.json"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Canonicalize(ctx, doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519VerifyBare is the floor: one Ed25519 verification of a
// 64-byte message, without canonicalization or key resolution.
func BenchmarkEd25519VerifyBare(b *testing.B) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 64)
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}

// The floors the cryptosuite benchmarks are compared with: the bare
// signatures over the 64 bytes of hash data a proof signs.

func BenchmarkEd25519SignBare(b *testing.B) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 64)
	for b.Loop() {
		_ = ed25519.Sign(priv, msg)
	}
}

func BenchmarkP256SignBare(b *testing.B) {
	k := newKey(b, keys.P256)
	msg := make([]byte, 64)
	ctx := context.Background()
	for b.Loop() {
		if _, err := k.signer.Sign(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkP256VerifyBare(b *testing.B) {
	k := newKey(b, keys.P256)
	msg := make([]byte, 64)
	sig, err := k.signer.Sign(context.Background(), msg)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := keys.Verify(k.signer.Public(), keys.ES256, msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSignVC11AddsDataIntegrityContext signs a VC 1.1 credential whose only
// context is credentials v1, which does not define DataIntegrityProof: the
// signed document gains the Data Integrity v2 context and verifies; a VC 2.0
// document keeps its contexts as they are.
func TestSignVC11AddsDataIntegrityContext(t *testing.T) {
	ctx := context.Background()
	k := newKey(t, keys.Ed25519)
	doc := map[string]any{
		"@context":          []any{contextCredentialsV1},
		"type":              []any{"VerifiableCredential"},
		"issuer":            k.did,
		"issuanceDate":      "2026-01-01T00:00:00Z",
		"credentialSubject": map[string]any{"id": "did:example:abcdefgh"},
	}
	signed := sign(t, doc, k, ProofOptions{})
	got := signed["@context"].([]any)
	if len(got) != 2 || got[0] != contextCredentialsV1 || got[1] != contextDataIntegrityV2 {
		t.Fatalf("@context %v", got)
	}
	if len(doc["@context"].([]any)) != 1 {
		t.Fatal("Sign modified its input's @context")
	}
	if res, err := Verify(ctx, signed, VerifyOptions{Resolver: registry(), Controller: k.did}); err != nil || !res.Verified {
		t.Fatalf("verify: %v", err)
	}
	// Removing the added context breaks the proof: it was signed with it.
	signed["@context"] = []any{contextCredentialsV1}
	if res, err := Verify(ctx, signed, VerifyOptions{Resolver: registry()}); err == nil && res.Verified {
		t.Fatal("verified without the context it was signed with")
	}

	v2 := sign(t, credential(), k, ProofOptions{})
	if c := v2["@context"].([]any); len(c) != 2 || c[1] != "https://www.w3.org/ns/credentials/examples/v2" {
		t.Fatalf("VC 2.0 @context changed: %v", c)
	}
}
