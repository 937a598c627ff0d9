package legacy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	ariesjwk "github.com/hyperledger/aries-framework-go/pkg/doc/jose/jwk"
	ldcontexts "github.com/hyperledger/aries-framework-go/pkg/doc/ldcontext/embed"
	ariesjsonld "github.com/hyperledger/aries-framework-go/pkg/doc/signature/jsonld"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/suite"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/suite/ed25519signature2018"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/suite/ed25519signature2020"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/suite/jsonwebsignature2020"
	ariesverifier "github.com/hyperledger/aries-framework-go/pkg/doc/signature/verifier"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/jsonld"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
)

// The legacy Linked Data proof types.
const (
	TypeEd25519Signature2020 = "Ed25519Signature2020"
	TypeJsonWebSignature2020 = "JsonWebSignature2020"
	TypeEd25519Signature2018 = "Ed25519Signature2018"
)

// Proof purposes.
const (
	PurposeAssertionMethod = string(didmethods.AssertionMethod)
	PurposeAuthentication  = string(didmethods.Authentication)
)

// DefaultSkew is the clock skew allowed when Options.Skew (or JWTOptions.Skew)
// is zero.
const DefaultSkew = 5 * time.Minute

// legacyContexts are the contexts the legacy suites need that
// credential/jsonld does not embed. They are served from aries' embedded
// copies, and only when the base loader lacks them.
var legacyContexts = []string{
	"https://w3id.org/security/suites/jws-2020/v1",
	"https://w3id.org/security/jws/v1", // aries canonicalizes JWS proof options with it
	"https://w3id.org/security/v1",
	"https://w3id.org/security/v2", // likewise
	"https://w3id.org/security/suites/ed25519-2018/v1",
}

type ldEnv struct {
	proc   *jsonld.Processor
	loader *jsonld.Loader
}

var env = sync.OnceValues(func() (*ldEnv, error) {
	base, err := jsonld.NewLoader()
	if err != nil {
		return nil, err
	}
	var opts []jsonld.Option
	for _, u := range legacyContexts {
		if base.Has(u) {
			continue
		}
		found := false
		for _, d := range ldcontexts.Contexts {
			if d.URL == u {
				opts = append(opts, jsonld.WithContext(u, d.Content))
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: aries has no embedded context %s", ErrJSONLD, u)
		}
	}
	proc, err := jsonld.NewProcessor(opts...)
	if err != nil {
		return nil, err
	}
	return &ldEnv{proc: proc, loader: proc.Loader()}, nil
})

// IsLegacyProofType reports whether t is a proof type VerifyProofs verifies.
func IsLegacyProofType(t string) bool {
	switch t {
	case TypeEd25519Signature2020, TypeJsonWebSignature2020, TypeEd25519Signature2018:
		return true
	}
	return false
}

// Options configure VerifyProofs. The zero value (with a Resolver) is the
// strict policy: controller checked, current time, DefaultSkew.
type Options struct {
	// Resolver resolves the DIDs of verification methods. Required.
	Resolver didmethods.Resolver
	// ProofPurpose is the expected proofPurpose of every proof. Empty means
	// assertionMethod for a credential and authentication for a presentation.
	ProofPurpose string
	// SkipControllerCheck turns off the check that the verification method's
	// controller is the credential's issuer (or presentation's holder). Only
	// for documents whose issuer is not a DID, such as the W3C vectors.
	SkipControllerCheck bool
	// Challenge and Domain, when set, must equal the proof's.
	Challenge string
	Domain    string
	// Now is the time of verification; zero means time.Now().
	Now time.Time
	// Skew is the clock skew allowed for created and the validity period;
	// zero means DefaultSkew, a negative value none.
	Skew time.Duration
}

func (o *Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func skewOf(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultSkew
	case d < 0:
		return 0
	}
	return d
}

// Result describes a verified (or refused) document.
type Result struct {
	// Presentation is true for a verifiable presentation, false for a
	// credential.
	Presentation bool
	// Signer is the issuer of a credential or the holder of a presentation.
	Signer string
	// Proofs lists every proof in document order.
	Proofs []ProofResult
}

// ProofResult is the outcome of one proof.
type ProofResult struct {
	Type               string
	VerificationMethod string
	// Controller is the verification method's controller.
	Controller   string
	ProofPurpose string
	Created      time.Time
	// Err is nil when the proof verified.
	Err error
}

// VerifyProofs verifies every legacy Linked Data proof of doc, a VC 1.1 or
// 2.0 credential or presentation, and the policy described in the package
// documentation. It returns a Result whenever doc could be read, and a
// non-nil error (joining every failure) unless everything verified. doc is
// not modified.
func VerifyProofs(ctx context.Context, doc map[string]any, opts Options) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Resolver == nil {
		return nil, ErrNoResolver
	}
	e, err := env()
	if err != nil {
		return nil, err
	}
	// One plain copy (numbers as float64, which json-gold understands) that
	// aries, json-gold and the checks share; doc itself is never touched.
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDocument, err)
	}
	if len(raw) > credential.MaxDocumentBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidDocument, credential.MaxDocumentBytes)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidDocument)
	}

	res := &Result{}
	now, skew := opts.now(), skewOf(opts.Skew)
	var docErrs []error
	switch {
	case hasType(m, credential.TypeVerifiablePresentation):
		res.Presentation = true
		p := credential.NewPresentation(m)
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidDocument, err)
		}
		res.Signer, _ = p.Holder()
	case hasType(m, credential.TypeVerifiableCredential):
		c := credential.NewCredential(m)
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidDocument, err)
		}
		res.Signer, _ = c.Issuer()
		if err := checkValidity(c, now, skew); err != nil {
			docErrs = append(docErrs, err)
		}
	default:
		return nil, fmt.Errorf("%w: type names neither VerifiableCredential nor VerifiablePresentation", ErrInvalidDocument)
	}

	proofs, err := proofList(m["proof"])
	if err != nil {
		return nil, err
	}
	purpose := opts.ProofPurpose
	if purpose == "" {
		purpose = PurposeAssertionMethod
		if res.Presentation {
			purpose = PurposeAuthentication
		}
	}

	// The unsigned document, checked once in safe mode and within limits
	// before aries canonicalizes it (once per proof).
	unsigned := make(map[string]any, len(m))
	for k, v := range m {
		if k != "proof" {
			unsigned[k] = v
		}
	}
	if _, err := e.proc.ToRDF(ctx, unsigned); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJSONLD, err)
	}

	for _, p := range proofs {
		pr := verifyProof(ctx, e, unsigned, p, purpose, res.Signer, &opts, now, skew)
		res.Proofs = append(res.Proofs, pr)
		if pr.Err != nil {
			docErrs = append(docErrs, pr.Err)
		}
	}
	return res, errors.Join(docErrs...)
}

func hasType(m map[string]any, t string) bool {
	switch v := m["type"].(type) {
	case string:
		return v == t
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && s == t {
				return true
			}
		}
	}
	return false
}

func proofList(v any) ([]map[string]any, error) {
	var list []any
	switch p := v.(type) {
	case nil:
		return nil, ErrNoProof
	case map[string]any:
		list = []any{p}
	case []any:
		list = p
	default:
		return nil, fmt.Errorf("%w: proof is neither an object nor an array", ErrMalformedProof)
	}
	if len(list) == 0 {
		return nil, ErrNoProof
	}
	out := make([]map[string]any, 0, len(list))
	for i, x := range list {
		pm, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: proof %d is not an object", ErrMalformedProof, i)
		}
		out = append(out, pm)
	}
	return out, nil
}

// checkValidity checks the validity period of a credential, whatever its
// version. A date present but malformed is refused by Validate before this.
func checkValidity(c *credential.Credential, now time.Time, skew time.Duration) error {
	if nb, ok := c.NotBefore(); ok && now.Add(skew).Before(nb) {
		return fmt.Errorf("%w: valid from %s", ErrNotYetValid, nb.Format(time.RFC3339))
	}
	if na, ok := c.NotAfter(); ok && now.Add(-skew).After(na) {
		return fmt.Errorf("%w: valid until %s", ErrExpired, na.Format(time.RFC3339))
	}
	return nil
}

// signedMembers are the proof members aries puts in the proof options it
// canonicalizes (besides the signature value itself).
var signedMembers = map[string]bool{
	"type": true, "created": true, "verificationMethod": true, "proofPurpose": true,
	"challenge": true, "domain": true,
}

func verifyProof(ctx context.Context, e *ldEnv, unsigned, p map[string]any, purpose, signer string,
	opts *Options, now time.Time, skew time.Duration) ProofResult {
	pr := ProofResult{}
	pr.Type, _ = p["type"].(string)
	pr.VerificationMethod, _ = p["verificationMethod"].(string)
	pr.ProofPurpose, _ = p["proofPurpose"].(string)
	fail := func(err error) ProofResult {
		pr.Err = fmt.Errorf("proof %s by %q: %w", pr.Type, pr.VerificationMethod, err)
		return pr
	}
	if !IsLegacyProofType(pr.Type) {
		return fail(fmt.Errorf("%w: %q", ErrUnsupportedProofType, p["type"]))
	}

	// Members: only those aries signs, each a string.
	valueMember := "jws"
	if pr.Type == TypeEd25519Signature2020 {
		valueMember = "proofValue"
	}
	for k, v := range p {
		if k != valueMember && !signedMembers[k] {
			return fail(fmt.Errorf("%w: %q", ErrUnsignedProofMember, k))
		}
		if _, ok := v.(string); !ok {
			return fail(fmt.Errorf("%w: %q is not a string", ErrUnsignedProofMember, k))
		}
	}
	sigValue, _ := p[valueMember].(string)
	if sigValue == "" {
		return fail(fmt.Errorf("%w: no %s", ErrMalformedProof, valueMember))
	}
	if pr.VerificationMethod == "" {
		return fail(fmt.Errorf("%w: no verificationMethod", ErrMalformedProof))
	}
	createdStr, _ := p["created"].(string)
	created, err := credential.ParseDateTime(createdStr)
	if err != nil {
		return fail(fmt.Errorf("%w: created: %v", ErrMalformedProof, err))
	}
	pr.Created = created
	if created.After(now.Add(skew)) {
		return fail(fmt.Errorf("%w: %s", ErrCreatedInFuture, createdStr))
	}
	if pr.ProofPurpose != purpose {
		return fail(fmt.Errorf("%w: %q, want %q", ErrProofPurpose, pr.ProofPurpose, purpose))
	}
	if opts.Challenge != "" && p["challenge"] != opts.Challenge {
		return fail(ErrChallenge)
	}
	if opts.Domain != "" && p["domain"] != opts.Domain {
		return fail(ErrDomain)
	}

	vm, controller, err := resolveMethod(ctx, opts.Resolver, pr.VerificationMethod, didmethods.Relationship(purpose))
	pr.Controller = controller
	if err != nil {
		return fail(err)
	}
	if !opts.SkipControllerCheck && (signer == "" || controller != signer) {
		return fail(fmt.Errorf("%w: controller %q, signer %q", ErrControllerMismatch, controller, signer))
	}
	pub, err := vm.PublicKey()
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrVerificationMethod, err))
	}
	key, err := ariesKey(pr.Type, pub)
	if err != nil {
		return fail(err)
	}
	if valueMember == "jws" {
		if err := checkDetachedJWSHeader(sigValue, pub); err != nil {
			return fail(err)
		}
	}

	signed := make(map[string]any, len(unsigned)+1)
	for k, v := range unsigned {
		signed[k] = v
	}
	pcopy := make(map[string]any, len(p))
	for k, v := range p {
		pcopy[k] = v
	}
	signed["proof"] = pcopy
	if err := ariesVerify(e, signed, pr.Type, pr.VerificationMethod, key); err != nil {
		return fail(err)
	}
	return pr
}

// resolveMethod dereferences vmURL, finds its controller and checks that the
// controller's DID document authorizes it for rel.
func resolveMethod(ctx context.Context, r didmethods.Resolver, vmURL string, rel didmethods.Relationship) (*didmethods.VerificationMethod, string, error) {
	did, frag, ok := strings.Cut(vmURL, "#")
	if !ok || frag == "" || !strings.HasPrefix(did, "did:") {
		return nil, "", fmt.Errorf("%w: %q is not a DID URL with a fragment", ErrVerificationMethod, vmURL)
	}
	doc, err := resolveDoc(ctx, r, did)
	if err != nil {
		return nil, "", err
	}
	vm, ok := doc.VerificationMethodByID(vmURL)
	if !ok {
		return nil, "", fmt.Errorf("%w: %s not in the DID document", ErrVerificationMethod, vmURL)
	}
	controller := vm.Controller
	if controller == "" {
		controller = doc.ID
	}
	cdoc := doc
	if controller != doc.ID {
		if cdoc, err = resolveDoc(ctx, r, controller); err != nil {
			return nil, controller, err
		}
	}
	if !cdoc.Authorizes(rel, vmURL) {
		return nil, controller, fmt.Errorf("%w: %s is not under %s of %s", ErrNotAuthorized, vmURL, rel, controller)
	}
	return vm, controller, nil
}

func resolveDoc(ctx context.Context, r didmethods.Resolver, did string) (*didmethods.Document, error) {
	res, err := r.Resolve(ctx, did, didmethods.ResolveOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerificationMethod, err)
	}
	if res == nil || res.Document == nil {
		return nil, fmt.Errorf("%w: %s resolved to no document", ErrVerificationMethod, did)
	}
	if res.Document.ID != did {
		return nil, fmt.Errorf("%w: %s resolved to a document for %s", ErrVerificationMethod, did, res.Document.ID)
	}
	return res.Document, nil
}

// ariesKey converts pub to the form aries' suite for proofType expects:
// raw key bytes for the Ed25519 suites, a JWK (and type JsonWebKey2020,
// which its verifier requires) for JsonWebSignature2020.
func ariesKey(proofType string, pub crypto.PublicKey) (*ariesverifier.PublicKey, error) {
	switch proofType {
	case TypeEd25519Signature2020, TypeEd25519Signature2018:
		k, ok := pub.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: %s needs an Ed25519 key, got %T", ErrKeyTypeMismatch, proofType, pub)
		}
		typ := "Ed25519VerificationKey2020"
		if proofType == TypeEd25519Signature2018 {
			typ = "Ed25519VerificationKey2018"
		}
		return &ariesverifier.PublicKey{Type: typ, Value: []byte(k)}, nil
	case TypeJsonWebSignature2020:
		if _, err := jwsAlgorithm(pub); err != nil {
			return nil, err
		}
		pj, err := keys.PublicJWK(pub)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeyTypeMismatch, err)
		}
		b, err := json.Marshal(pj)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeyTypeMismatch, err)
		}
		var j ariesjwk.JWK
		if err := j.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeyTypeMismatch, err)
		}
		return &ariesverifier.PublicKey{Type: "JsonWebKey2020", JWK: &j}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedProofType, proofType)
}

// jwsAlgorithm is the one JWS alg this package accepts for a key.
func jwsAlgorithm(pub crypto.PublicKey) (keys.Algorithm, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return keys.EdDSA, nil
	case *ecdsa.PublicKey:
		switch k.Curve.Params().Name {
		case "P-256":
			return keys.ES256, nil
		case "P-384":
			return keys.ES384, nil
		}
	}
	return "", fmt.Errorf("%w: %T is not Ed25519, P-256 or P-384", ErrKeyTypeMismatch, pub)
}

// checkDetachedJWSHeader checks the header of a detached JWS proof value
// (RFC 7797): {"alg": <fits the key>, "b64": false, "crit": ["b64"]}.
func checkDetachedJWSHeader(jws string, pub crypto.PublicKey) error {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" || parts[2] == "" {
		return fmt.Errorf("%w: jws is not a detached compact JWS", ErrMalformedProof)
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return fmt.Errorf("%w: jws header: %v", ErrMalformedProof, err)
	}
	h, err := credential.DecodeObject(hb)
	if err != nil {
		return fmt.Errorf("%w: jws header: %v", ErrMalformedProof, err)
	}
	want, err := jwsAlgorithm(pub)
	if err != nil {
		return err
	}
	if alg, _ := h["alg"].(string); alg != string(want) {
		return fmt.Errorf("%w: jws alg %q, key needs %s", ErrAlgorithmNotAllowed, h["alg"], want)
	}
	crit, _ := h["crit"].([]any)
	if b64, ok := h["b64"].(bool); !ok || b64 || len(crit) != 1 || crit[0] != "b64" {
		return fmt.Errorf("%w: jws header must have b64 false and crit [\"b64\"]", ErrUnsupportedHeader)
	}
	for k := range h {
		switch k {
		case "alg", "b64", "crit", "kid", "typ":
		default:
			return fmt.Errorf("%w: jws header member %q", ErrUnsupportedHeader, k)
		}
	}
	return nil
}

// keyResolver hands aries the one key already resolved and checked.
type keyResolver struct {
	id  string
	key *ariesverifier.PublicKey
}

func (r keyResolver) Resolve(id string) (*ariesverifier.PublicKey, error) {
	if id != r.id {
		return nil, fmt.Errorf("%w: aries asked for %q", ErrVerificationMethod, id)
	}
	return r.key, nil
}

func newSuite(proofType string) ariesverifier.SignatureSuite {
	switch proofType {
	case TypeEd25519Signature2020:
		return ed25519signature2020.New(suite.WithVerifier(ed25519signature2020.NewPublicKeyVerifier()))
	case TypeEd25519Signature2018:
		return ed25519signature2018.New(suite.WithVerifier(ed25519signature2018.NewPublicKeyVerifier()))
	default:
		return jsonwebsignature2020.New(suite.WithVerifier(jsonwebsignature2020.NewPublicKeyVerifier()))
	}
}

// ariesVerify runs aries' document verifier on doc (which carries exactly
// one proof). aries is archived code: a panic on input it did not expect is
// turned into an error.
func ariesVerify(e *ldEnv, doc map[string]any, proofType, vmID string, key *ariesverifier.PublicKey) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: aries panicked: %v", ErrInvalidSignature, r)
		}
	}()
	v, err := ariesverifier.New(keyResolver{id: vmID, key: key}, newSuite(proofType))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	if err := v.VerifyObject(doc, ariesjsonld.WithDocumentLoader(e.loader)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	return nil
}
