package dataintegrity

import (
	"context"
	"fmt"
	"time"

	"github.com/agentid/agentid/credential/jsonld"
	"github.com/agentid/agentid/keys"
	"github.com/multiformats/go-multibase"
)

// ProofOptions are the options of a new proof.
type ProofOptions struct {
	// Cryptosuite is EdDSARDFC2022 or ECDSARDFC2019; empty picks the one
	// for the signer's key type.
	Cryptosuite string
	// VerificationMethod is the DID URL of the signer's key (required).
	VerificationMethod string
	// ProofPurpose is PurposeAssertionMethod (the default) or
	// PurposeAuthentication (or another DID verification relationship).
	ProofPurpose string
	// Created is the proof's creation time; zero means now. It is written
	// in UTC with whole seconds.
	Created time.Time
	// Expires, when not zero, is when the proof stops being valid.
	Expires time.Time
	// Challenge and Domain bind a presentation's proof to one exchange and
	// audience; a domain of several values is written as an array.
	Challenge string
	Domain    []string
	// Nonce is an optional random value.
	Nonce string
	// ID is the proof's id (a URL, e.g. "urn:uuid:…"); needed for a proof
	// that later proofs chain to.
	ID string
	// PreviousProof lists the ids of existing proofs of the document that
	// this proof chains to; they are signed with the document.
	PreviousProof []string
	// Processor canonicalizes; nil means jsonld.Default().
	Processor *jsonld.Processor
}

// defaultCryptosuite picks the cryptosuite for a key type.
func defaultCryptosuite(typ keys.KeyType) string {
	if typ == keys.Ed25519 {
		return EdDSARDFC2022
	}
	return ECDSARDFC2019
}

// Sign returns a copy of doc with a new DataIntegrityProof made by signer.
// An existing proof (or proof set) is kept and the new proof added to it,
// making "proof" an array. doc is not modified.
func Sign(ctx context.Context, doc map[string]any, signer keys.Signer, opts ProofOptions) (map[string]any, error) {
	if doc == nil {
		return nil, fmt.Errorf("data integrity sign: %w: nil document", ErrInvalidDocument)
	}
	if signer == nil {
		return nil, fmt.Errorf("data integrity sign: %w: nil signer", ErrInvalidOptions)
	}
	if opts.VerificationMethod == "" {
		return nil, fmt.Errorf("data integrity sign: %w: no verification method", ErrInvalidOptions)
	}
	if opts.Cryptosuite == "" {
		opts.Cryptosuite = defaultCryptosuite(signer.KeyType())
	}
	s, err := suiteFor(opts.Cryptosuite, signer.KeyType())
	if err != nil {
		return nil, fmt.Errorf("data integrity sign: %w", err)
	}
	if signer.Algorithm() != s.alg {
		return nil, fmt.Errorf("data integrity sign: %w: signer signs %s, %s needs %s", ErrKeyTypeMismatch, signer.Algorithm(), opts.Cryptosuite, s.alg)
	}
	if opts.ProofPurpose == "" {
		opts.ProofPurpose = PurposeAssertionMethod
	}
	proc := opts.Processor
	if proc == nil {
		if proc, err = jsonld.Default(); err != nil {
			return nil, fmt.Errorf("data integrity sign: %w", err)
		}
	}
	doc = withDataIntegrityContext(doc)

	var existing []map[string]any
	if p, ok := doc["proof"]; ok {
		if existing, err = proofList(p); err != nil {
			return nil, fmt.Errorf("data integrity sign: %w", err)
		}
	}

	proof := proofConfig(opts)
	config := make(map[string]any, len(proof)+1)
	for k, v := range proof {
		config[k] = v
	}
	if c, ok := doc["@context"]; ok {
		config["@context"] = c
	}
	unsecured := withoutProof(doc)
	if len(opts.PreviousProof) > 0 {
		prev, err := previousProofs(existing, opts.PreviousProof)
		if err != nil {
			return nil, fmt.Errorf("data integrity sign: %w", err)
		}
		unsecured["proof"] = prev
	}

	hashData, err := hashData(ctx, proc, s, config, unsecured)
	if err != nil {
		return nil, fmt.Errorf("data integrity sign: %w", err)
	}
	sig, err := signer.Sign(ctx, hashData)
	if err != nil {
		return nil, fmt.Errorf("data integrity sign: %w", err)
	}
	value, err := multibase.Encode(multibase.Base58BTC, sig)
	if err != nil {
		return nil, fmt.Errorf("data integrity sign: encode proofValue: %w", err)
	}
	proof["proofValue"] = value

	out := withoutProof(doc)
	if len(existing) == 0 {
		out["proof"] = proof
	} else {
		set := make([]any, 0, len(existing)+1)
		for _, p := range existing {
			set = append(set, p)
		}
		out["proof"] = append(set, proof)
	}
	return out, nil
}

// proofConfig builds the proof's members (without proofValue and
// @context) from opts.
func proofConfig(opts ProofOptions) map[string]any {
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	p := map[string]any{
		"type":               ProofType,
		"cryptosuite":        opts.Cryptosuite,
		"created":            created.UTC().Format(dateTimeLayout),
		"verificationMethod": opts.VerificationMethod,
		"proofPurpose":       opts.ProofPurpose,
	}
	if opts.ID != "" {
		p["id"] = opts.ID
	}
	if !opts.Expires.IsZero() {
		p["expires"] = opts.Expires.UTC().Format(dateTimeLayout)
	}
	if opts.Challenge != "" {
		p["challenge"] = opts.Challenge
	}
	switch len(opts.Domain) {
	case 0:
	case 1:
		p["domain"] = opts.Domain[0]
	default:
		p["domain"] = stringsToAny(opts.Domain)
	}
	if opts.Nonce != "" {
		p["nonce"] = opts.Nonce
	}
	switch len(opts.PreviousProof) {
	case 0:
	case 1:
		p["previousProof"] = opts.PreviousProof[0]
	default:
		p["previousProof"] = stringsToAny(opts.PreviousProof)
	}
	return p
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// hashData canonicalizes the proof configuration and the document and
// returns hash(canonical config) ‖ hash(canonical document).
func hashData(ctx context.Context, proc *jsonld.Processor, s suite, config, document map[string]any) ([]byte, error) {
	configDigest, err := s.digest(ctx, proc, config)
	if err != nil {
		return nil, fmt.Errorf("canonicalize proof configuration: %w", err)
	}
	docDigest, err := s.digest(ctx, proc, document)
	if err != nil {
		return nil, fmt.Errorf("canonicalize document: %w", err)
	}
	return append(configDigest, docDigest...), nil
}

// Contexts that define DataIntegrityProof and its members.
const (
	contextCredentialsV1   = "https://www.w3.org/2018/credentials/v1"
	contextCredentialsV2   = "https://www.w3.org/ns/credentials/v2"
	contextDataIntegrityV1 = "https://w3id.org/security/data-integrity/v1"
	contextDataIntegrityV2 = "https://w3id.org/security/data-integrity/v2"
)

// withDataIntegrityContext returns doc with the Data Integrity context
// appended to its @context when doc is a VC 1.1 document whose contexts do
// not define DataIntegrityProof (the credentials v2 context does; v1 does
// not), as the Data Integrity specification requires of a secured 1.1
// document. Other documents are returned unchanged. doc is never modified.
func withDataIntegrityContext(doc map[string]any) map[string]any {
	var ctxs []any
	switch c := doc["@context"].(type) {
	case string:
		ctxs = []any{c}
	case []any:
		ctxs = c
	default:
		return doc
	}
	v1 := false
	for _, c := range ctxs {
		switch c {
		case contextCredentialsV2, contextDataIntegrityV1, contextDataIntegrityV2:
			return doc
		case contextCredentialsV1:
			v1 = true
		}
	}
	if !v1 {
		return doc
	}
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		out[k] = v
	}
	out["@context"] = append(append(make([]any, 0, len(ctxs)+1), ctxs...), contextDataIntegrityV2)
	return out
}
