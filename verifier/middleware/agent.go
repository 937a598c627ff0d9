package middleware

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentid/agentid/internal/jsonvalue"
	"github.com/agentid/agentid/verifier"
)

// Credential types agentid's policy reads, in both formats.
const (
	TypeIdentity   = "AgentIdentityCredential"
	TypeDelegation = "AgentDelegationCredential"
	VCTIdentity    = "https://agentid.dev/vct/agent-identity/v1"
	VCTDelegation  = "https://agentid.dev/vct/agent-delegation/v1"
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
	// Scopes are every delegation scope presented, granted or not.
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

// isType reports whether c has the type (or SD-JWT vct) of name.
func (c *Credential) isType(typ, vct string) bool {
	return slices.Contains(c.Types, typ) || slices.Contains(c.Types, vct)
}

// agentOf collects what a verified presentation says. The verifier's facts
// give each credential's types, issuer and expiry, and for SD-JWT the
// disclosed claims; an embedded credential's subject is read from the
// presentation, whose proofs the verification just checked.
func agentOf(p *presentation, res *verifier.Result) *Agent {
	a := &Agent{}
	if res.Presentation != nil {
		a.Format, a.DID = res.Presentation.Format, res.Presentation.Holder
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
		if a.DID == "" {
			a.DID = f.Subject
			if a.DID == "" {
				a.DID = f.Holder
			}
		}
		if a.Issuer == "" {
			a.Issuer = f.Issuer
		}
		a.Credentials = append(a.Credentials, c)
	}
	for _, c := range a.Credentials {
		if hb, ok := c.Subject["hardwareBinding"].(map[string]any); ok {
			if lvl, _ := hb["assurance"].(string); slices.Index(assuranceLevels, lvl) > slices.Index(assuranceLevels, a.Assurance) {
				a.Assurance = lvl
			}
		}
		if c.isType(TypeIdentity, VCTIdentity) && a.Principal == "" {
			a.Principal, _ = c.Subject["principal"].(string)
		}
		if c.isType(TypeDelegation, VCTDelegation) {
			a.Scopes = append(a.Scopes, scopesOf(c)...)
		}
	}
	for _, c := range a.Credentials {
		if a.Principal == "" && c.isType(TypeDelegation, VCTDelegation) {
			a.Principal, _ = c.Subject["delegator"].(string)
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

// scopesOf reads a delegation's scopes; entries without an action or a
// resource are skipped.
func scopesOf(c Credential) []Scope {
	list, _ := c.Subject["scopes"].([]any)
	delegator, _ := c.Subject["delegator"].(string)
	audience := jsonvalue.Strings(c.Subject["audience"])
	var out []Scope
	for _, e := range list {
		m, _ := e.(map[string]any)
		action, _ := m["action"].(string)
		resource, _ := m["resource"].(string)
		if action == "" || resource == "" {
			continue
		}
		cons, _ := m["constraints"].(map[string]any)
		out = append(out, Scope{Action: action, Resource: resource, Constraints: cons,
			Audience: audience, Delegator: delegator, ValidUntil: c.ValidUntil, Credential: c.ID})
	}
	return out
}

// ResourceCovers reports whether a granted resource covers the required
// one: equal, or a prefix of it ending at a "/" boundary.
func ResourceCovers(granted, required string) bool {
	if granted == "" || required == "" {
		return false
	}
	if granted == required {
		return true
	}
	return strings.HasPrefix(required, strings.TrimSuffix(granted, "/")+"/")
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
		if s.Action != req.action || !ResourceCovers(s.Resource, req.resource) {
			continue
		}
		switch {
		case !slices.ContainsFunc(s.Audience, func(aud string) bool { return sameDomain(aud, domain) }):
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

// sameDomain compares an audience entry with the service's domain,
// ignoring one trailing slash.
func sameDomain(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}
