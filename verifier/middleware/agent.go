package middleware

import (
	"context"
	"fmt"
	"time"

	"github.com/agentid/agentid/delegation"
	"github.com/agentid/agentid/verifier"
)

// Credential types agentid's policy reads, in both formats.
const (
	TypeIdentity   = verifier.TypeIdentity
	TypeDelegation = verifier.TypeDelegation
	VCTIdentity    = verifier.VCTIdentity
	VCTDelegation  = verifier.VCTDelegation
)

// Agent is the verified agent of a request, as the presentation showed it.
// Only what was presented (for SD-JWT: disclosed) is here.
type Agent struct {
	// DID is the agent: the presentation's holder (the controller of its
	// proof key), or the SD-JWT VC's sub, else its cnf key's did:key.
	DID string
	// Issuer is the issuer of the first credential.
	Issuer string
	// Principal is the human the agent acts for: an identity credential's
	// principal, else a delegation's delegator.
	Principal string
	// Assurance is the highest hardwareBinding.assurance presented
	// ("hardware", "software"), or "".
	Assurance string
	// Format is the presentation's format: "ldp_vp" or "dc+sd-jwt".
	Format string
	// Credentials are the presented credentials.
	Credentials []Credential
	// Scopes are the scopes of the agent's delegation (the one the verifier
	// found granting, else the first of the agent's), granted or not. A
	// parent delegation's scopes are not the agent's and are not here.
	Scopes []Scope
	// Grants are the scopes that met the route's RequireScope options, in
	// their order: the handler enforces their constraints.
	Grants []Scope
}

// Credential is one verified credential of a presentation.
type Credential struct {
	ID     string
	Types  []string
	Issuer string
	// ValidUntil is the credential's expiry, if it has one.
	ValidUntil *time.Time
	// Subject is the credential subject's claims (for SD-JWT: the disclosed
	// claims).
	Subject map[string]any
}

// Scope is one entry of a delegation's credentialSubject.scopes, with the
// delegation it comes from.
type Scope struct {
	Action      string
	Resource    string
	Constraints map[string]any
	// Audience, Delegator and ValidUntil are the delegation's.
	Audience   []string
	Delegator  string
	ValidUntil *time.Time
	// Credential is the delegation's id.
	Credential string
}

type ctxKey struct{}

// NewContext returns ctx carrying a.
func NewContext(ctx context.Context, a *Agent) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// AgentFrom returns the agent the middleware verified for this request.
func AgentFrom(ctx context.Context) (*Agent, bool) {
	a, ok := ctx.Value(ctxKey{}).(*Agent)
	return a, ok && a != nil
}

// agentOf collects what a verified presentation says. The verifier's
// Result.Agent gives the agent, its principal, assurance and delegation (its
// chain checked); the facts give each credential's types, issuer and
// expiry, and for SD-JWT the disclosed claims; an embedded credential's
// subject is read from the presentation, whose proofs the verification just
// checked.
func agentOf(p *presentation, res *verifier.Result) *Agent {
	a := &Agent{}
	if res.Presentation != nil {
		a.Format = res.Presentation.Format
	}
	var entries []any
	if p.doc != nil {
		switch vc := p.doc["verifiableCredential"].(type) {
		case []any:
			entries = vc
		case map[string]any:
			entries = []any{vc}
		}
	}
	for i, f := range res.Credentials {
		c := Credential{ID: f.ID, Types: f.Types, Issuer: f.Issuer, ValidUntil: f.ValidUntil, Subject: f.Claims}
		if c.Subject == nil && i < len(entries) && len(entries) == len(res.Credentials) {
			if m, ok := entries[i].(map[string]any); ok {
				c.Subject = firstSubject(m["credentialSubject"])
			}
		}
		if c.Subject == nil {
			c.Subject = map[string]any{}
		}
		a.Credentials = append(a.Credentials, c)
	}
	if va := res.Agent; va != nil {
		a.DID, a.Issuer, a.Principal, a.Assurance = va.ID, va.Issuer, va.Principal, va.Assurance
		if d := va.Delegation; d != nil {
			for _, s := range d.Scopes {
				a.Scopes = append(a.Scopes, Scope{Action: s.Action, Resource: s.Resource, Constraints: s.Constraints,
					Audience: d.Audience, Delegator: d.Delegator, ValidUntil: d.ValidUntil, Credential: d.Credential})
			}
		}
	}
	return a
}

func firstSubject(v any) map[string]any {
	switch s := v.(type) {
	case map[string]any:
		return s
	case []any:
		if len(s) > 0 {
			m, _ := s[0].(map[string]any)
			return m
		}
	}
	return nil
}

// ResourceCovers reports whether a granted resource covers the required
// one: equal, or a prefix of it ending at a "/" boundary (the rule of
// package delegation, which the verifier applies too).
func ResourceCovers(granted, required string) bool {
	return delegation.ResourceCovers(granted, required)
}

// grant finds a scope meeting req for domain at now, or says why none does
// (naming the closest miss: a matching scope for another audience or
// expired rather than no matching scope at all).
func (a *Agent) grant(req scopeRequirement, domain string, now time.Time) (*Scope, verifier.Problem) {
	miss := verifier.Problem{Check: CheckDelegation, Code: CodeScopeNotGranted,
		Message: fmt.Sprintf("no presented delegation grants %s on %s", req.action, req.resource)}
	if len(a.Scopes) == 0 {
		miss.Code = CodeNoDelegation
		miss.Message = fmt.Sprintf("%s on %s requires an AgentDelegationCredential, and none with scopes was presented", req.action, req.resource)
		return nil, miss
	}
	for _, s := range a.Scopes {
		if !(delegation.Scope{Action: s.Action, Resource: s.Resource}).Grants(delegation.Request{Action: req.action, Resource: req.resource}) {
			continue
		}
		switch {
		case !delegation.AudienceContains(s.Audience, domain):
			miss.Code = CodeAudienceMismatch
			miss.Message = fmt.Sprintf("delegation %s grants %s on %s to audience %v, not to %s", orUnnamed(s.Credential), s.Action, s.Resource, s.Audience, domain)
		case s.ValidUntil == nil:
			miss.Code = CodeDelegationExpired
			miss.Message = fmt.Sprintf("delegation %s has no expiry; a delegation must be short-lived", orUnnamed(s.Credential))
		case !now.Before(*s.ValidUntil):
			miss.Code = CodeDelegationExpired
			miss.Message = fmt.Sprintf("delegation %s expired at %s", orUnnamed(s.Credential), s.ValidUntil.UTC().Format(time.RFC3339))
		default:
			g := s
			return &g, verifier.Problem{}
		}
	}
	return nil, miss
}
