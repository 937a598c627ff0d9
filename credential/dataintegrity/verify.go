package dataintegrity

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentid/agentid/credential/jsonld"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
	"github.com/multiformats/go-multibase"
)

// VerifyOptions say what a verifier expects of a document's proofs.
type VerifyOptions struct {
	// Resolver resolves the DIDs of verification methods (required), e.g.
	// didmethods.NewDefaultRegistry().
	Resolver didmethods.Resolver
	// ProofPurpose is the purpose every proof must have; empty means
	// PurposeAssertionMethod.
	ProofPurpose string
	// Controller, when set, is the DID that must control every proof's
	// verification method (for a credential, its issuer).
	Controller string
	// Challenge, when set, must equal every proof's challenge.
	Challenge string
	// Domain, when set, must be (one of) every proof's domain.
	Domain string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Skew is the clock skew allowed for created and expires.
	Skew time.Duration
	// Processor canonicalizes; nil means jsonld.Default().
	Processor *jsonld.Processor
}

// Result is the outcome of Verify: one entry per proof, in document order.
type Result struct {
	// Verified is true when the document has at least one proof and every
	// proof verified.
	Verified bool
	// Proofs describe each proof and why it failed, if it did.
	Proofs []ProofResult
}

// ProofResult describes one proof of a document.
type ProofResult struct {
	// Index is the proof's position in the document's proof set.
	Index int
	// ID is the proof's id, if it has one.
	ID string
	// Type, Cryptosuite, ProofPurpose and VerificationMethod are as the
	// proof states them.
	Type               string
	Cryptosuite        string
	ProofPurpose       string
	VerificationMethod string
	// Controller is the controller of the verification method, from its
	// DID document; a verifier checks that it is the credential's issuer
	// (or the presentation's holder).
	Controller string
	// Created and Expires are the proof's times (zero when absent).
	Created time.Time
	Expires time.Time
	// PreviousProof lists the ids the proof chains to.
	PreviousProof []string
	// Err is nil when the proof verified, else it wraps one of the named
	// errors of this package or of credential/jsonld.
	Err error
}

// Verify checks every Data Integrity proof of doc: its form (type,
// cryptosuite, proofValue, created, expires), that it matches what opts
// expect (purpose, challenge, domain, controller), that its verification
// method resolves, is authorized for the purpose and holds a key of the
// cryptosuite's type, that previousProof references exist, and finally
// the signature over the canonical document and proof configuration.
//
// It returns a Result describing each proof whenever doc has proofs to
// check, and a non-nil error, joining each failed proof's error, unless
// every proof verified. doc is not modified.
func Verify(ctx context.Context, doc map[string]any, opts VerifyOptions) (*Result, error) {
	if doc == nil {
		return nil, fmt.Errorf("data integrity verify: %w: nil document", ErrInvalidDocument)
	}
	if opts.Resolver == nil {
		return nil, fmt.Errorf("data integrity verify: %w: no DID resolver", ErrInvalidOptions)
	}
	raw, ok := doc["proof"]
	if !ok || raw == nil {
		return nil, fmt.Errorf("data integrity verify: %w", ErrNoProof)
	}
	proofs, err := proofList(raw)
	if err != nil {
		return nil, fmt.Errorf("data integrity verify: %w", err)
	}
	if len(proofs) == 0 {
		return nil, fmt.Errorf("data integrity verify: %w: empty proof set", ErrNoProof)
	}
	if opts.ProofPurpose == "" {
		opts.ProofPurpose = PurposeAssertionMethod
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Processor == nil {
		if opts.Processor, err = jsonld.Default(); err != nil {
			return nil, fmt.Errorf("data integrity verify: %w", err)
		}
	}
	v := verifier{opts: opts, doc: doc, proofs: proofs, unsecured: withoutProof(doc)}
	res := &Result{Verified: true, Proofs: make([]ProofResult, len(proofs))}
	var errs []error
	for i, p := range proofs {
		pr := &res.Proofs[i]
		pr.Index = i
		pr.Err = v.verifyProof(ctx, p, pr)
		if pr.Err != nil {
			res.Verified = false
			errs = append(errs, fmt.Errorf("proof %d: %w", i, pr.Err))
		}
	}
	if !res.Verified {
		return res, fmt.Errorf("data integrity verify: %w", errors.Join(errs...))
	}
	return res, nil
}

type verifier struct {
	opts      VerifyOptions
	doc       map[string]any
	proofs    []map[string]any
	unsecured map[string]any
	// docDigest caches the digest of the canonical unsecured document
	// (index 1 when RDFC-1.0 and the digest use SHA-384), shared by the
	// proofs of a set that neither chain nor carry their own @context.
	docDigest [2][]byte
}

func (v *verifier) verifyProof(ctx context.Context, p map[string]any, pr *ProofResult) error {
	pr.ID, _ = p["id"].(string)
	pr.Type, _ = p["type"].(string)
	pr.Cryptosuite, _ = p["cryptosuite"].(string)
	pr.ProofPurpose, _ = p["proofPurpose"].(string)
	pr.VerificationMethod, _ = p["verificationMethod"].(string)

	if pr.Type != ProofType {
		return fmt.Errorf("%w: %q", ErrUnknownProofType, truncate(fmt.Sprint(p["type"])))
	}
	if !knownCryptosuite(pr.Cryptosuite) {
		return fmt.Errorf("%w: %q", ErrUnknownCryptosuite, truncate(fmt.Sprint(p["cryptosuite"])))
	}
	pv, present := p["proofValue"]
	if !present {
		return ErrMissingProofValue
	}
	sig, err := decodeProofValue(pv)
	if err != nil {
		return err
	}
	if pr.VerificationMethod == "" {
		return ErrMissingVerificationMethod
	}
	if pr.ProofPurpose != v.opts.ProofPurpose {
		return fmt.Errorf("%w: proof says %q, expected %q", ErrProofPurposeMismatch, truncate(pr.ProofPurpose), v.opts.ProofPurpose)
	}
	now := v.opts.Now()
	if c, ok := p["created"]; ok {
		s, _ := c.(string)
		if pr.Created, err = parseDateTime(s); err != nil {
			return fmt.Errorf("%w: %q", ErrInvalidCreated, truncate(fmt.Sprint(c)))
		}
		if pr.Created.After(now.Add(v.opts.Skew)) {
			return fmt.Errorf("%w: %s", ErrCreatedInFuture, pr.Created.Format(time.RFC3339))
		}
	}
	if e, ok := p["expires"]; ok {
		s, _ := e.(string)
		if pr.Expires, err = parseDateTime(s); err != nil {
			return fmt.Errorf("%w: %q", ErrInvalidExpires, truncate(fmt.Sprint(e)))
		}
		if now.Add(-v.opts.Skew).After(pr.Expires) {
			return fmt.Errorf("%w: at %s", ErrProofExpired, pr.Expires.Format(time.RFC3339))
		}
	}
	if v.opts.Challenge != "" {
		if c, _ := p["challenge"].(string); c != v.opts.Challenge {
			return ErrChallengeMismatch
		}
	}
	if v.opts.Domain != "" {
		domains, ok := stringList(p["domain"])
		if !ok || !slices.Contains(domains, v.opts.Domain) {
			return ErrDomainMismatch
		}
	}
	prev, ok := stringList(p["previousProof"])
	if !ok {
		return fmt.Errorf("%w: previousProof is not a string or list of strings", ErrPreviousProofNotFound)
	}
	pr.PreviousProof = prev

	pub, err := v.resolveKey(ctx, pr)
	if err != nil {
		return err
	}
	typ, err := keys.PublicKeyType(pub)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeyTypeMismatch, err)
	}
	s, err := suiteFor(pr.Cryptosuite, typ)
	if err != nil {
		return err
	}

	// The proof configuration: the proof without proofValue, with the
	// document's @context (or the proof's own, which the document's must
	// start with).
	config := make(map[string]any, len(p)+1)
	for k, val := range p {
		if k != "proofValue" {
			config[k] = val
		}
	}
	document := v.unsecured
	ownContext := false
	if pc, ok := p["@context"]; ok {
		if !contextPrefix(v.doc["@context"], pc) {
			return ErrContextMismatch
		}
		ownContext = true
		document = withoutProof(v.doc)
		document["@context"] = pc
	} else if dc, ok := v.doc["@context"]; ok {
		config["@context"] = dc
	}
	if len(prev) > 0 {
		chained, err := previousProofs(v.proofs, prev)
		if err != nil {
			return err
		}
		if !ownContext {
			document = withoutProof(v.doc)
		}
		document["proof"] = chained
	}

	configDigest, err := s.digest(ctx, v.opts.Processor, config)
	if err != nil {
		return fmt.Errorf("canonicalize proof configuration: %w", err)
	}
	shared := !ownContext && len(prev) == 0
	slot := 0
	if s.sha384 {
		slot = 1
	}
	docDigest := v.docDigest[slot]
	if !shared || docDigest == nil {
		if docDigest, err = s.digest(ctx, v.opts.Processor, document); err != nil {
			return fmt.Errorf("canonicalize document: %w", err)
		}
		if shared {
			v.docDigest[slot] = docDigest
		}
	}
	data := append(configDigest, docDigest...)
	if err := keys.Verify(pub, s.alg, data, sig); err != nil {
		if errors.Is(err, keys.ErrInvalidSignature) {
			return fmt.Errorf("%w: %v", ErrInvalidSignature, err)
		}
		return fmt.Errorf("%w: %v", ErrKeyTypeMismatch, err)
	}
	return nil
}

// decodeProofValue decodes a base58btc multibase proofValue.
func decodeProofValue(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return nil, fmt.Errorf("%w: not a non-empty string", ErrInvalidProofValue)
	}
	if s[0] != 'z' {
		return nil, fmt.Errorf("%w: multibase prefix %q, want \"z\"", ErrInvalidProofValue, s[:1])
	}
	enc, sig, err := multibase.Decode(s)
	if err != nil || enc != multibase.Base58BTC {
		return nil, fmt.Errorf("%w: %v", ErrInvalidProofValue, err)
	}
	if len(sig) == 0 {
		return nil, fmt.Errorf("%w: empty signature", ErrInvalidProofValue)
	}
	return sig, nil
}

// resolveKey resolves the proof's verification method, checks that its DID
// document authorizes it for the proof purpose and that its controller is
// the DID (and the expected controller), and returns its public key.
func (v *verifier) resolveKey(ctx context.Context, pr *ProofResult) (crypto.PublicKey, error) {
	vmID := pr.VerificationMethod
	did, _, found := strings.Cut(vmID, "#")
	if !found || did == "" {
		return nil, fmt.Errorf("%w: %q is not a DID URL with a fragment", ErrVerificationMethodNotFound, truncate(vmID))
	}
	res, err := v.opts.Resolver.Resolve(ctx, did, didmethods.ResolveOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerificationMethodNotFound, err)
	}
	if res == nil || res.Document == nil {
		return nil, fmt.Errorf("%w: %s resolved to no document", ErrVerificationMethodNotFound, truncate(did))
	}
	vm, ok := res.Document.VerificationMethodByID(vmID)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrVerificationMethodNotFound, truncate(vmID))
	}
	if !res.Document.Authorizes(didmethods.Relationship(pr.ProofPurpose), vmID) {
		return nil, fmt.Errorf("%w: %s is not listed under %s", ErrNotAuthorized, truncate(vmID), pr.ProofPurpose)
	}
	pr.Controller = vm.Controller
	if vm.Controller != res.Document.ID {
		return nil, fmt.Errorf("%w: method controller %q, DID document %q", ErrControllerMismatch, truncate(vm.Controller), truncate(res.Document.ID))
	}
	if v.opts.Controller != "" && vm.Controller != v.opts.Controller {
		return nil, fmt.Errorf("%w: controller %q, expected %q", ErrControllerMismatch, truncate(vm.Controller), truncate(v.opts.Controller))
	}
	pub, err := vm.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyTypeMismatch, err)
	}
	return pub, nil
}

// contextPrefix reports whether the document's @context starts with the
// proof's @context, value for value.
func contextPrefix(docCtx, proofCtx any) bool {
	d, p := asList(docCtx), asList(proofCtx)
	if len(p) > len(d) {
		return false
	}
	for i := range p {
		ds, ok1 := d[i].(string)
		ps, ok2 := p[i].(string)
		if !ok1 || !ok2 || ds != ps {
			return false
		}
	}
	return true
}

func asList(v any) []any {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		return t
	case []string:
		return stringsToAny(t)
	}
	return []any{v}
}
