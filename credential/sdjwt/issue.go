package sdjwt

import (
	"context"
	"crypto"
	"crypto/rand"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/agentid/agentid/keys"
)

// Media types of the issuer-signed JWT and the KB-JWT.
const (
	// TypeVC is the typ of an SD-JWT VC (draft-ietf-oauth-sd-jwt-vc).
	TypeVC = "dc+sd-jwt"
	// TypeVCLegacy is the typ earlier drafts of SD-JWT VC used; accepted
	// on input, never issued.
	TypeVCLegacy = "vc+sd-jwt"
	// TypeKeyBinding is the typ of a Key Binding JWT.
	TypeKeyBinding = "kb+jwt"
)

// SaltSize is the number of random bytes in a salt (128 bits, as RFC 9901
// §9.3 recommends), encoded as 22 base64url characters.
const SaltSize = 16

// PlainVCClaims are the claims of an SD-JWT VC that must never be selectively
// disclosable (draft-ietf-oauth-sd-jwt-vc §3.2.2).
var PlainVCClaims = []string{"iss", "vct", "cnf", "status", "iat", "exp", "nbf"}

func isPlainVCClaim(name string) bool {
	for _, n := range PlainVCClaims {
		if n == name {
			return true
		}
	}
	return false
}

// IssueOptions say what to make selectively disclosable and how.
type IssueOptions struct {
	// Disclose lists the claims to make selectively disclosable, as JSON
	// Pointers (RFC 6901) into the claims: "/given_name" for a top-level
	// property, "/address/street_address" for a nested one (the nested
	// object gets its own "_sd"), "/nationalities/0" for an array element
	// (replaced by {"...": digest}). Naming both a claim and a claim
	// inside it gives a recursive disclosure: the inner disclosure's
	// digest is inside the outer disclosure's value. For IssueVC a nil
	// Disclose means every top-level claim of VC.Claims.
	Disclose []string
	// Decoys is the number of decoy digests added to every "_sd" array
	// the issuance creates.
	Decoys int
	// Rand is the source of salts and decoys; nil means crypto/rand.
	// Tests inject fixed bytes to reproduce known disclosures: salts are
	// read SaltSize bytes at a time, in the order the disclosures appear
	// in the issued SD-JWT, each object's decoys after its disclosures.
	Rand io.Reader
	// Header holds extra protected header parameters (typ, kid, ...);
	// alg is always the signer's. IssueVC sets typ and kid itself.
	Header map[string]any
	// Now is the clock for IssueVC's default iat; nil means time.Now.
	Now func() time.Time

	// encode serializes disclosures and JWT parts; nil means encodeJSON.
	// Tests set it to reproduce the Python reference implementation's
	// spacing.
	encode func(any) ([]byte, error)
}

// Issue issues an SD-JWT over claims, signed by signer, and returns its
// compact form <JWT>~<D1>~...~<Dn>~. claims is not modified. Claims named by
// opts.Disclose become disclosures; the payload gets "_sd_alg": "sha-256".
// Use IssueVC for an SD-JWT VC.
func Issue(ctx context.Context, signer keys.Signer, claims map[string]any, opts IssueOptions) (string, error) {
	return issue(ctx, signer, claims, opts, false)
}

func issue(ctx context.Context, signer keys.Signer, claims map[string]any, opts IssueOptions, vc bool) (string, error) {
	if opts.encode == nil {
		opts.encode = encodeJSON
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Decoys < 0 {
		return "", fmt.Errorf("%w: negative decoy count", ErrInvalidOptions)
	}
	// A JSON round trip copies the claims, checks that they are JSON, and
	// leaves only map[string]any, []any and scalars to walk.
	raw, err := encodeJSON(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	var doc map[string]any
	if err := decodeJSON(raw, DefaultMaxDepth, &doc); err != nil {
		return "", fmt.Errorf("claims: %w", err)
	}
	if doc == nil {
		return "", fmt.Errorf("%w: claims are null", ErrInvalidOptions)
	}
	if err := checkReserved(doc, ""); err != nil {
		return "", err
	}
	tree := &sdNode{}
	for _, p := range opts.Disclose {
		toks, err := parsePointer(p)
		if err != nil {
			return "", err
		}
		if vc && isPlainVCClaim(toks[0]) {
			return "", fmt.Errorf("%w: %s", ErrNonDisclosableClaim, p)
		}
		if err := tree.add(doc, toks, p); err != nil {
			return "", err
		}
	}
	b := &builder{opts: opts}
	out, err := b.build(doc, tree)
	if err != nil {
		return "", err
	}
	payload := out.(map[string]any)
	payload["_sd_alg"] = HashSHA256
	jws, err := signJWT(ctx, signer, opts.Header, payload, opts.encode)
	if err != nil {
		return "", err
	}
	c := Compact{IssuerJWT: jws}
	for _, d := range b.disclosures {
		c.Disclosures = append(c.Disclosures, d.Encoded)
	}
	return c.String(), nil
}

// checkReserved refuses claim names that SD-JWT reserves.
func checkReserved(v any, path string) error {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == "_sd" || k == "..." || (k == "_sd_alg" && path == "") {
				return fmt.Errorf("%w: %q at %q", ErrReservedClaim, k, path)
			}
			if err := checkReserved(e, childPath(path, k)); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := checkReserved(e, indexPath(path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sdNode marks which values of a claims tree are disclosable.
type sdNode struct {
	disclose bool
	props    map[string]*sdNode
	elems    map[int]*sdNode
}

// add marks the value at toks (relative to v) as disclosable, creating the
// nodes on the way.
func (n *sdNode) add(v any, toks []string, pointer string) error {
	for _, tok := range toks {
		switch c := v.(type) {
		case map[string]any:
			e, ok := c[tok]
			if !ok {
				return fmt.Errorf("%w: %s: no claim %q", ErrInvalidPointer, pointer, tok)
			}
			if n.props == nil {
				n.props = map[string]*sdNode{}
			}
			if n.props[tok] == nil {
				n.props[tok] = &sdNode{}
			}
			n, v = n.props[tok], e
		case []any:
			i, ok := arrayIndex(tok, len(c))
			if !ok {
				return fmt.Errorf("%w: %s: no array element %q", ErrInvalidPointer, pointer, tok)
			}
			if n.elems == nil {
				n.elems = map[int]*sdNode{}
			}
			if n.elems[i] == nil {
				n.elems[i] = &sdNode{}
			}
			n, v = n.elems[i], c[i]
		default:
			return fmt.Errorf("%w: %s: %q is inside a scalar", ErrInvalidPointer, pointer, tok)
		}
	}
	n.disclose = true
	return nil
}

// builder turns claims into an SD-JWT payload and its disclosures.
type builder struct {
	opts        IssueOptions
	disclosures []*Disclosure
}

func (b *builder) salt() (string, error) {
	var buf [SaltSize]byte
	if _, err := io.ReadFull(b.opts.Rand, buf[:]); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	return b64.EncodeToString(buf[:]), nil
}

// build returns v with the values that n marks replaced by digests,
// depth first: a disclosure's own nested disclosures are made before it.
func (b *builder) build(v any, n *sdNode) (any, error) {
	if n == nil {
		return v, nil
	}
	switch c := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(c))
		names := make([]string, 0, len(c))
		for k := range c {
			names = append(names, k)
		}
		sort.Strings(names)
		var digests []string
		for _, k := range names {
			child := n.props[k]
			val, err := b.build(c[k], child)
			if err != nil {
				return nil, err
			}
			if child == nil || !child.disclose {
				out[k] = val
				continue
			}
			d, err := b.disclose(&k, val)
			if err != nil {
				return nil, err
			}
			digests = append(digests, d.Digest())
		}
		if len(digests) > 0 {
			for range b.opts.Decoys {
				s, err := b.salt()
				if err != nil {
					return nil, err
				}
				digests = append(digests, Digest(s))
			}
			sort.Strings(digests)
			out["_sd"] = digests
		}
		return out, nil
	case []any:
		out := make([]any, len(c))
		for i, e := range c {
			child := n.elems[i]
			val, err := b.build(e, child)
			if err != nil {
				return nil, err
			}
			if child == nil || !child.disclose {
				out[i] = val
				continue
			}
			d, err := b.disclose(nil, val)
			if err != nil {
				return nil, err
			}
			out[i] = map[string]any{"...": d.Digest()}
		}
		return out, nil
	}
	return v, nil
}

func (b *builder) disclose(name *string, val any) (*Disclosure, error) {
	s, err := b.salt()
	if err != nil {
		return nil, err
	}
	d, err := newDisclosure(s, name, val, b.opts.encode)
	if err != nil {
		return nil, err
	}
	b.disclosures = append(b.disclosures, d)
	return d, nil
}

// VC describes an SD-JWT VC to issue.
type VC struct {
	// Issuer is the iss claim: the issuer's DID.
	Issuer string
	// KeyID is the kid header: the DID URL of the verification method of
	// Issuer whose key signs.
	KeyID string
	// Type is the vct claim, e.g. "https://agentid.dev/vct/agent-identity/v1".
	Type string
	// Claims are the other claims. They must not include iss, vct, cnf,
	// status, iat, exp or nbf, which come from the fields of VC.
	Claims map[string]any
	// HolderKey, if set, is bound as cnf.jwk; the holder then proves
	// possession with a KB-JWT.
	HolderKey crypto.PublicKey
	// Status, if set, is the status claim, e.g.
	// {"status_list": {"idx": 7, "uri": "https://..."}}.
	Status map[string]any
	// IssuedAt is iat; zero means now.
	IssuedAt time.Time
	// NotBefore is nbf; zero leaves it out.
	NotBefore time.Time
	// Expiry is exp; zero leaves it out.
	Expiry time.Time
}

// IssueVC issues an SD-JWT VC (header typ "dc+sd-jwt", kid vc.KeyID) signed
// by signer. iss, vct, iat, exp, nbf, cnf and status are always plain
// claims; the claims opts.Disclose names (by default every top-level claim
// of vc.Claims) are selectively disclosable.
func IssueVC(ctx context.Context, signer keys.Signer, vc VC, opts IssueOptions) (string, error) {
	if vc.Issuer == "" || vc.Type == "" || vc.KeyID == "" {
		return "", fmt.Errorf("%w: issuer, key id and vct are required", ErrInvalidOptions)
	}
	claims := make(map[string]any, len(vc.Claims)+7)
	for k, v := range vc.Claims {
		if isPlainVCClaim(k) {
			return "", fmt.Errorf("%w: %q is set from the VC fields", ErrReservedClaim, k)
		}
		claims[k] = v
	}
	if opts.Disclose == nil {
		for k := range vc.Claims {
			opts.Disclose = append(opts.Disclose, "/"+escapeToken(k))
		}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	iat := vc.IssuedAt
	if iat.IsZero() {
		iat = now()
	}
	claims["iss"] = vc.Issuer
	claims["vct"] = vc.Type
	claims["iat"] = iat.Unix()
	if !vc.NotBefore.IsZero() {
		claims["nbf"] = vc.NotBefore.Unix()
	}
	if !vc.Expiry.IsZero() {
		claims["exp"] = vc.Expiry.Unix()
	}
	if vc.HolderKey != nil {
		j, err := keys.PublicJWK(vc.HolderKey)
		if err != nil {
			return "", fmt.Errorf("holder key: %w", err)
		}
		claims["cnf"] = map[string]any{"jwk": j}
	}
	if vc.Status != nil {
		claims["status"] = vc.Status
	}
	header := make(map[string]any, len(opts.Header)+2)
	for k, v := range opts.Header {
		header[k] = v
	}
	header["typ"] = TypeVC
	header["kid"] = vc.KeyID
	opts.Header = header
	return issue(ctx, signer, claims, opts, true)
}
