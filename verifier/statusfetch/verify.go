package statusfetch

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/credential/statuslist"
)

// verifyBitstring checks a fetched BitstringStatusListCredential, cheapest
// checks first so that a list that is not the issuer's costs no DID
// resolution and no canonicalization: it is a credential whose type
// includes BitstringStatusListCredential, whose id is url and whose issuer
// is issuer; every Data Integrity proof verifies for assertionMethod and
// its verification method is controlled by issuer; the list decodes.
func (c *Checker) verifyBitstring(ctx context.Context, url, issuer string, body []byte) (*cachedList, error) {
	doc, err := credential.DecodeObject(body)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w: %w", url, ErrMalformedList, err)
	}
	vc := credential.NewCredential(doc)
	if err := vc.Validate(); err != nil {
		return nil, fmt.Errorf("status %s: %w: %w", url, ErrMalformedList, err)
	}
	subject, err := statuslist.SubjectOf(doc)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w: %w", url, ErrMalformedList, err)
	}
	if id := vc.ID(); id != url {
		return nil, fmt.Errorf("status %s: %w: the list credential's id is %q", url, ErrListMismatch, id)
	}
	listIssuer, _ := vc.Issuer()
	if listIssuer != issuer {
		return nil, fmt.Errorf("status %s: %w: the list's issuer is %q, the credential's %q", url, ErrWrongIssuer, listIssuer, issuer)
	}
	res, err := dataintegrity.Verify(ctx, doc, dataintegrity.VerifyOptions{
		Resolver:     c.resolver,
		ProofPurpose: dataintegrity.PurposeAssertionMethod,
		Now:          c.now,
		Skew:         c.skew,
	})
	if err != nil {
		return nil, fmt.Errorf("status %s: %w: %w", url, proofError(err), err)
	}
	for _, p := range res.Proofs {
		if p.Controller != listIssuer {
			return nil, fmt.Errorf("status %s: %w: proof %d is by %s, controlled by %q, not the issuer %q",
				url, ErrWrongIssuer, p.Index, p.VerificationMethod, p.Controller, listIssuer)
		}
	}
	l := &cachedList{issuer: listIssuer, subject: subject, ttl: time.Duration(subject.TTL) * time.Millisecond}
	l.notBefore, _ = vc.NotBefore()
	l.notAfter, _ = vc.NotAfter()
	size := max(subject.StatusSize, 1)
	if l.bits, err = statuslist.Decode(subject.EncodedList, size, statuslist.WithMaxDecodedSize(c.maxDecoded)); err != nil {
		return nil, fmt.Errorf("status %s: %w: %w", url, ErrMalformedList, err)
	}
	l.cost = int64(len(body)) + int64(l.bits.Len()*size/8)
	return l, nil
}

// proofError names a Data Integrity failure.
func proofError(err error) error {
	switch {
	case errors.Is(err, dataintegrity.ErrNoProof):
		return ErrUnsigned
	case errors.Is(err, dataintegrity.ErrControllerMismatch):
		return ErrWrongIssuer
	case errors.Is(err, dataintegrity.ErrVerificationMethodNotFound),
		errors.Is(err, dataintegrity.ErrMissingVerificationMethod),
		errors.Is(err, dataintegrity.ErrNotAuthorized),
		errors.Is(err, dataintegrity.ErrProofPurposeMismatch),
		errors.Is(err, dataintegrity.ErrKeyTypeMismatch):
		return ErrSignerKey
	default:
		return ErrBadSignature
	}
}

// verifyToken checks a fetched status list token: signed (not alg none),
// with a kid that is a DID URL of issuer (a relative "#…" kid is taken as
// issuer's), whose key issuer's DID document authorizes for
// assertionMethod; the JWS verifies; typ is statuslist+jwt; sub is url; iss,
// if present, is issuer; exp and nbf hold; the list decodes.
func (c *Checker) verifyToken(ctx context.Context, url, issuer string, body []byte) (*cachedList, error) {
	token := strings.TrimSpace(string(body))
	hdr, claims, err := peekJWT(token)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w: %w", url, ErrMalformedList, err)
	}
	if hdr.Alg == "" || strings.EqualFold(hdr.Alg, "none") {
		return nil, fmt.Errorf("status %s: %w: alg %q", url, ErrUnsigned, hdr.Alg)
	}
	if hdr.Kid == "" {
		return nil, fmt.Errorf("status %s: %w: no kid naming the issuer's verification method", url, ErrSignerKey)
	}
	if !strings.HasPrefix(hdr.Kid, "#") && didOf(hdr.Kid) != issuer {
		return nil, fmt.Errorf("status %s: %w: kid %q is not a key of %s", url, ErrWrongIssuer, hdr.Kid, issuer)
	}
	if claims.Iss != "" && claims.Iss != issuer {
		return nil, fmt.Errorf("status %s: %w: iss %q, the credential's issuer %q", url, ErrWrongIssuer, claims.Iss, issuer)
	}
	issuerKey := sdjwt.DIDIssuerKeys(c.resolver)
	var keyErr error
	vt, err := statuslist.VerifyToken(token, statuslist.VerifyOptions{
		Key: func(h statuslist.TokenHeader) (crypto.PublicKey, error) {
			pub, err := issuerKey(ctx, issuer, h.Kid)
			keyErr = err
			return pub, err
		},
		URI:            url,
		Now:            c.now(),
		Leeway:         c.skew,
		MaxDecodedSize: c.maxDecoded,
	})
	switch {
	case err == nil:
	case keyErr != nil:
		named := ErrSignerKey
		if errors.Is(keyErr, sdjwt.ErrKeyIDMismatch) {
			named = ErrWrongIssuer
		}
		return nil, fmt.Errorf("status %s: %w: %w", url, named, err)
	case errors.Is(err, statuslist.ErrExpired):
		return nil, fmt.Errorf("status %s: %w: %w", url, ErrListNotValid, err)
	case errors.Is(err, statuslist.ErrMalformed), errors.Is(err, statuslist.ErrListLength), errors.Is(err, statuslist.ErrTooLarge):
		return nil, fmt.Errorf("status %s: %w: %w", url, ErrMalformedList, err)
	case claims.Sub != url:
		return nil, fmt.Errorf("status %s: %w: %w", url, ErrListMismatch, err)
	default:
		return nil, fmt.Errorf("status %s: %w: %w", url, ErrBadSignature, err)
	}
	l := &cachedList{issuer: issuer, token: vt, ttl: vt.Claims.TTL, notAfter: vt.Claims.ExpiresAt}
	l.cost = int64(len(body)) + int64(vt.List.Len()*vt.List.Bits()/8)
	return l, nil
}

// jwtPeek is what verifyToken reads from a token before verifying it, to
// refuse early and to name failures; nothing read here is trusted.
type jwtPeek struct {
	Sub string `json:"sub"`
	Iss string `json:"iss"`
}

// peekJWT decodes, without verifying, a compact JWS's header and claims.
func peekJWT(token string) (statuslist.TokenHeader, jwtPeek, error) {
	var h statuslist.TokenHeader
	var p jwtPeek
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return h, p, fmt.Errorf("a JWS has 3 parts, this has %d", len(parts))
	}
	for i, dst := range []any{&h, &p} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return h, p, fmt.Errorf("JWS part %d: %w", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return h, p, fmt.Errorf("JWS part %d: %w", i, err)
		}
	}
	return h, p, nil
}

// didOf is the DID of a DID URL: what precedes its path, query or fragment.
func didOf(didURL string) string {
	if i := strings.IndexAny(didURL, "/?#"); i >= 0 {
		return didURL[:i]
	}
	return didURL
}
