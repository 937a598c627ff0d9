package sdjwt

import (
	"context"
	"crypto"
	"fmt"
	"strings"

	"github.com/agentid/agentid/didmethods"
)

// IssuerKeyFunc returns the public key that must have signed an
// issuer-signed JWT whose iss claim is iss and whose kid header is kid
// (either may be empty). It returns an error wrapping ErrIssuerKey,
// ErrKeyIDMismatch or ErrKeyNotAuthorized when there is no such key.
type IssuerKeyFunc func(ctx context.Context, iss, kid string) (crypto.PublicKey, error)

// DIDIssuerKeys returns an IssuerKeyFunc that finds issuer keys through DID
// resolution: iss must be a DID; kid must be a DID URL of that DID (an
// absolute "did:...#frag" or a relative "#frag"); the DID document resolved
// through r must hold that verification method, authorize it for
// assertionMethod, and name iss as its controller.
func DIDIssuerKeys(r didmethods.Resolver) IssuerKeyFunc {
	return func(ctx context.Context, iss, kid string) (crypto.PublicKey, error) {
		if r == nil {
			return nil, fmt.Errorf("%w: no DID resolver", ErrIssuerKey)
		}
		if !strings.HasPrefix(iss, "did:") {
			return nil, fmt.Errorf("%w: iss %q is not a DID", ErrIssuerKey, iss)
		}
		if kid == "" {
			return nil, fmt.Errorf("%w: no kid header naming the verification method of %s", ErrIssuerKey, iss)
		}
		vmID := kid
		if strings.HasPrefix(kid, "#") {
			vmID = iss + kid
		}
		if didOf(vmID) != iss {
			return nil, fmt.Errorf("%w: kid %q, iss %q", ErrKeyIDMismatch, kid, iss)
		}
		res, err := r.Resolve(ctx, iss, didmethods.ResolveOptions{})
		if err != nil {
			return nil, fmt.Errorf("%w: resolve %s: %w", ErrIssuerKey, iss, err)
		}
		if res == nil || res.Document == nil {
			return nil, fmt.Errorf("%w: resolve %s: no DID document", ErrIssuerKey, iss)
		}
		doc := res.Document
		if doc.ID != iss {
			return nil, fmt.Errorf("%w: DID document of %s has id %q", ErrIssuerKey, iss, doc.ID)
		}
		vm, ok := doc.VerificationMethodByID(vmID)
		if !ok {
			return nil, fmt.Errorf("%w: %s has no verification method %s", ErrIssuerKey, iss, vmID)
		}
		if !doc.Authorizes(didmethods.AssertionMethod, vmID) {
			return nil, fmt.Errorf("%w: %s", ErrKeyNotAuthorized, vmID)
		}
		if vm.Controller != iss {
			return nil, fmt.Errorf("%w: %s is controlled by %q, not the issuer", ErrKeyNotAuthorized, vmID, vm.Controller)
		}
		pub, err := vm.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrIssuerKey, vmID, err)
		}
		return pub, nil
	}
}

// didOf returns the DID part of a DID URL: everything before the first
// '/', '?' or '#' after the method name.
func didOf(didURL string) string {
	if i := strings.IndexAny(didURL, "/?#"); i >= 0 {
		return didURL[:i]
	}
	return didURL
}

// StaticIssuerKey returns an IssuerKeyFunc that always returns pub, for
// issuers known out of band (and for tests).
func StaticIssuerKey(pub crypto.PublicKey) IssuerKeyFunc {
	return func(context.Context, string, string) (crypto.PublicKey, error) {
		if pub == nil {
			return nil, fmt.Errorf("%w: no key", ErrIssuerKey)
		}
		return pub, nil
	}
}
