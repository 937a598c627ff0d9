package legacy

import (
	"context"
	"fmt"
	"time"

	"github.com/agentid/agentid/didmethods"
)

// Verifier bundles the options of VerifyProofs and VerifyJWT behind the
// two-method shape the verifier package consumes (its LegacyVerifier
// interface). The controller check stays on: a method's controller must be
// the issuer (or holder), which the verifier's own policy also requires.
type Verifier struct {
	// Resolver resolves verification methods. Required.
	Resolver didmethods.Resolver
	// Skew is the allowed clock skew (zero: DefaultSkew).
	Skew time.Duration
	// Now returns the time of verification (nil: time.Now).
	Now func() time.Time
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Time{}
	}
	return v.Now()
}

// VerifyProofs verifies every legacy proof of doc for purpose (empty: the
// default for the document kind) and returns each proof's controller.
func (v *Verifier) VerifyProofs(ctx context.Context, doc map[string]any, purpose string) ([]string, error) {
	res, err := VerifyProofs(ctx, doc, Options{Resolver: v.Resolver, ProofPurpose: purpose, Now: v.now(), Skew: v.Skew})
	if err != nil {
		return nil, err
	}
	controllers := make([]string, len(res.Proofs))
	for i, p := range res.Proofs {
		controllers[i] = p.Controller
	}
	return controllers, nil
}

// VerifyJWT verifies a VC-JWT (or VC-JOSE vc+jwt) credential and returns the
// credential it secures and the controller of the signing key (its issuer).
// A presentation token is refused.
func (v *Verifier) VerifyJWT(ctx context.Context, token string) (map[string]any, string, error) {
	res, err := VerifyJWT(ctx, token, JWTOptions{Resolver: v.Resolver, Now: v.now(), Skew: v.Skew})
	if err != nil {
		return nil, "", err
	}
	if res.Credential == nil {
		return nil, "", fmt.Errorf("%w: token secures a presentation, not a credential", ErrInvalidDocument)
	}
	return res.Credential, res.Issuer, nil
}
