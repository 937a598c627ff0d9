package verifier

import (
	"context"
	"slices"
	"strings"
)

// AnyType is the key of TrustPolicy.Issuers whose issuers are trusted for
// credentials of any type.
const AnyType = "*"

// TrustPolicy says which issuers one verification trusts, per credential
// type. Options.Trust sets it for a call; without it the verifier's own
// trust list applies (WithTrustedIssuers, WithTrustedIssuersFor), enforced.
type TrustPolicy struct {
	// Issuers maps a credential type ("AgentIdentityCredential",
	// "AgentDelegationCredential", any type a credential lists, or an
	// SD-JWT vct) or AnyType to the DIDs of the issuers trusted for it. A
	// credential is trusted when its issuer is listed under one of its
	// types or under AnyType. agentid's own SD-JWT vcts count as the
	// matching type names.
	Issuers map[string][]string
	// Trusted, when set, is asked about an issuer the lists do not name;
	// the server answers whether it is one of its own organizations'. An
	// error fails the check (fail closed), even when Advisory.
	Trusted func(ctx context.Context, issuer string) (bool, error)
	// Advisory makes an untrusted issuer a warning rather than an error:
	// a bare VC-API call, with no relying party's policy to apply,
	// verifies credentials from any issuer and says which it does not
	// trust.
	Advisory bool
}

// empty reports whether p can judge no issuer at all.
func (p *TrustPolicy) empty() bool {
	if p.Trusted != nil {
		return false
	}
	for _, l := range p.Issuers {
		if len(l) > 0 {
			return false
		}
	}
	return true
}

// trusts reports whether p trusts issuer for a credential of types.
func (p *TrustPolicy) trusts(ctx context.Context, issuer string, types []string) (bool, error) {
	if issuer == "" {
		return false, nil
	}
	if slices.Contains(p.Issuers[AnyType], issuer) {
		return true, nil
	}
	for _, t := range typeNames(types) {
		if slices.Contains(p.Issuers[t], issuer) {
			return true, nil
		}
	}
	if p.Trusted != nil {
		return p.Trusted(ctx, issuer)
	}
	return false, nil
}

// WithTrustedIssuersFor trusts the issuers dids for credentials of type typ
// only (a type name such as "AgentDelegationCredential", or AnyType). Calls
// accumulate; WithTrustedIssuers(d) is WithTrustedIssuersFor(AnyType, d).
func WithTrustedIssuersFor(typ string, dids ...string) Option {
	return func(v *Verifier) {
		typ = strings.TrimSpace(typ)
		if typ == "" {
			return
		}
		for _, d := range dids {
			if d = strings.TrimSpace(d); d != "" {
				if v.trustByType == nil {
					v.trustByType = map[string][]string{}
				}
				if !slices.Contains(v.trustByType[typ], d) {
					v.trustByType[typ] = append(v.trustByType[typ], d)
				}
			}
		}
	}
}

// ownTrust is the verifier's own trust policy: WithTrustedIssuers under
// AnyType and WithTrustedIssuersFor, enforced.
func (v *Verifier) ownTrust() *TrustPolicy {
	p := &TrustPolicy{Issuers: map[string][]string{}}
	for d := range v.trusted {
		p.Issuers[AnyType] = append(p.Issuers[AnyType], d)
	}
	for t, l := range v.trustByType {
		p.Issuers[t] = append(p.Issuers[t], l...)
	}
	return p
}

// trust is the trustedIssuer check of a credential of types by issuer,
// under the call's trust policy or the verifier's own.
func (v *Verifier) trust(ctx context.Context, r *recorder, issuer string, types []string) {
	if !r.on(CheckTrustedIssuer) {
		return
	}
	p := r.trust
	if p == nil {
		if len(v.trusted) == 0 && len(v.trustByType) == 0 {
			r.warn(CheckTrustedIssuer, CodeNoTrustList, "no trusted issuer list is configured: issuer "+issuer+" was not judged")
			return
		}
		p = v.ownTrust()
	}
	if p.empty() {
		r.warn(CheckTrustedIssuer, CodeNoTrustList, "no trusted issuer list applies: issuer "+issuer+" was not judged")
		return
	}
	ok, err := p.trusts(ctx, issuer, types)
	switch {
	case err != nil:
		r.fail(CheckTrustedIssuer, CodeUntrustedIssuer, "whether issuer "+issuer+" is trusted could not be determined: "+err.Error())
	case ok:
		r.pass(CheckTrustedIssuer)
	case p.Advisory:
		r.warn(CheckTrustedIssuer, CodeUntrustedIssuer, "issuer "+issuer+" is not a trusted issuer of this server; no relying party's policy applies, so the credential was verified anyway")
	default:
		r.fail(CheckTrustedIssuer, CodeUntrustedIssuer, "issuer "+issuer+" is not trusted for "+typeLabel(types))
	}
}

// typeNames are types with agentid's SD-JWT vcts also under their type
// names.
func typeNames(types []string) []string {
	out := types
	for _, t := range types {
		switch t {
		case VCTIdentity:
			out = append(slices.Clip(out), TypeIdentity)
		case VCTDelegation:
			out = append(slices.Clip(out), TypeDelegation)
		}
	}
	return out
}

// typeLabel names a credential's types in a message.
func typeLabel(types []string) string {
	var named []string
	for _, t := range types {
		if t != "VerifiableCredential" {
			named = append(named, t)
		}
	}
	if len(named) == 0 {
		return "this credential"
	}
	return strings.Join(named, ", ") + " credentials"
}
