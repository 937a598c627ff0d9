package verifier

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentid/agentid/delegation"
	"github.com/agentid/agentid/internal/jsonvalue"
)

// Credential types the agent and delegation checks read, in both formats:
// the type names of a Data Integrity credential and the vct of an SD-JWT VC.
const (
	TypeIdentity   = "AgentIdentityCredential"
	TypeDelegation = "AgentDelegationCredential"
	VCTIdentity    = "https://agentid.dev/vct/agent-identity/v1"
	VCTDelegation  = "https://agentid.dev/vct/agent-delegation/v1"
)

// Assurance levels of hardwareBinding.assurance, lowest first.
const (
	AssuranceSoftware = "software"
	AssuranceHardware = "hardware"
)

// AssuranceLevels lists the assurance levels, lowest first.
var AssuranceLevels = []string{AssuranceSoftware, AssuranceHardware}

// MaxChainLength bounds a delegation chain: the leaf and its parents.
const MaxChainLength = 8

// Agent is what a verification learned about the agent: who it is, who
// vouches for it, whom it acts for, and what it was delegated. Only what
// was presented (for SD-JWT: disclosed) is here.
type Agent struct {
	// ID is the agent's DID: the presentation's holder (the controller of
	// its proof key), else the credential subject's id (SD-JWT sub), else
	// the did:key of the SD-JWT VC's cnf key.
	ID string `json:"id,omitempty"`
	// Issuer is the issuer of the agent's identity credential, else of the
	// first credential.
	Issuer string `json:"issuer,omitempty"`
	// Principal is the human the agent acts for: its identity credential's
	// principal, else the delegator of the root of its delegation chain.
	Principal string `json:"principal,omitempty"`
	// Name is the agent's name, when presented.
	Name string `json:"name,omitempty"`
	// Assurance is the highest hardwareBinding.assurance of the
	// credentials about the agent ("software", "hardware"), or "".
	Assurance string `json:"assurance,omitempty"`
	// Delegation is the agent's delegation: the one that granted the
	// requested scopes, else the first one presented.
	Delegation *DelegationFacts `json:"delegation,omitempty"`
	// Credentials are the ids of the presented credentials.
	Credentials []string `json:"credentials,omitempty"`
	// Types are the presented credentials' types (SD-JWT vct), without
	// VerifiableCredential.
	Types []string `json:"types,omitempty"`
	// Claims are, for each presented credential in order, its (first)
	// credentialSubject, or for an SD-JWT VC its claims with only the
	// disclosed ones in place.
	Claims []map[string]any `json:"claims,omitempty"`
}

// DelegationFacts describe an AgentDelegationCredential of the agent.
type DelegationFacts struct {
	// Credential is the delegation's id.
	Credential string `json:"credential,omitempty"`
	// Issuer is the delegation's issuer.
	Issuer string `json:"issuer,omitempty"`
	// Delegator is who delegated: the principal, or for a sub-delegation
	// the agent of the parent delegation.
	Delegator string `json:"delegator,omitempty"`
	// Scopes are the delegation's scopes.
	Scopes []delegation.Scope `json:"scopes"`
	// Audience are the relying parties the delegation is for.
	Audience []string `json:"audience,omitempty"`
	// ValidUntil is the end of the delegation.
	ValidUntil *time.Time `json:"validUntil,omitempty"`
	// ChainLength is 1 for a delegation by the principal, 2 for a
	// sub-delegation of it, and so on.
	ChainLength int `json:"chainLength"`
	// Granted are the scopes that granted Options.Scopes, in their order.
	Granted []delegation.Scope `json:"granted,omitempty"`

	// root is the delegator of the chain's root.
	root string
}

// link is a presented delegation, as the delegation check reads it.
type link struct {
	facts      *CredentialFacts
	subject    string
	delegator  string
	parent     string
	scopes     []delegation.Scope
	audience   []string
	validUntil *time.Time
}

func isType(f *CredentialFacts, typ, vct string) bool {
	return slices.Contains(f.Types, typ) || slices.Contains(f.Types, vct)
}

func isDelegation(f *CredentialFacts) bool { return isType(f, TypeDelegation, VCTDelegation) }

// about reports whether the credential is about did: its subject, or the
// holder of its cnf key.
func about(f *CredentialFacts, did string) bool {
	return did != "" && (f.Subject == did || f.Holder == did)
}

func linkOf(f *CredentialFacts) *link {
	l := &link{facts: f, subject: f.Subject, parent: f.parent, validUntil: f.ValidUntil}
	if l.subject == "" {
		l.subject = f.Holder
	}
	l.delegator, _ = f.subject["delegator"].(string)
	l.scopes, _ = delegation.Parse(f.subject["scopes"])
	l.audience = jsonvalue.Strings(f.subject["audience"])
	return l
}

// parentOf reads the id of the delegation a sub-delegation narrows: the
// subject's parent (or parentDelegation) member, else the parent of the
// signed consent the issuer embedded as HumanApproval evidence (the
// issuer's signature covers the evidence, so the reference is the
// issuer's).
func parentOf(subject map[string]any, evidence any) string {
	for _, k := range []string{"parent", "parentDelegation"} {
		if p, ok := subject[k].(string); ok && p != "" {
			return p
		}
	}
	var list []any
	switch e := evidence.(type) {
	case []any:
		list = e
	case map[string]any:
		list = []any{e}
	}
	for _, e := range list {
		m, _ := e.(map[string]any)
		consent, _ := m["consent"].(string)
		parts := strings.Split(consent, ".")
		if len(parts) != 3 || len(consent) > 64<<10 {
			continue
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			continue
		}
		var payload struct {
			Parent string `json:"parent"`
		}
		if json.Unmarshal(raw, &payload) == nil && payload.Parent != "" {
			return payload.Parent
		}
	}
	return ""
}

// chainParents finds, among creds, the delegations that are parents in a
// chain leading to a delegation about agent, each delegated further by its
// subject (its child's delegator). They are keyed by their JSON pointer.
func chainParents(creds []CredentialFacts, agent string) map[string]bool {
	byID := delegationsByID(creds)
	out := map[string]bool{}
	for i := range creds {
		if !isDelegation(&creds[i]) || !about(&creds[i], agent) {
			continue
		}
		cur := linkOf(&creds[i])
		for n := 1; cur.parent != "" && n < MaxChainLength; n++ {
			p, ok := byID[cur.parent]
			if !ok || p.subject != cur.delegator || out[p.facts.at] {
				break
			}
			out[p.facts.at] = true
			cur = p
		}
	}
	return out
}

func delegationsByID(creds []CredentialFacts) map[string]*link {
	byID := map[string]*link{}
	for i := range creds {
		f := &creds[i]
		if isDelegation(f) && f.ID != "" {
			if _, dup := byID[f.ID]; !dup {
				byID[f.ID] = linkOf(f)
			}
		}
	}
	return byID
}

// agentChecks fills Result.Agent and runs the delegation and assurance
// checks, once every credential has been verified.
func (v *Verifier) agentChecks(r *recorder, opts Options) {
	var creds []CredentialFacts
	if r.res.Credential != nil {
		creds = []CredentialFacts{*r.res.Credential}
	} else {
		creds = r.res.Credentials
	}
	a := &Agent{}
	if r.res.Presentation != nil {
		a.ID = r.res.Presentation.Holder
	}
	for i := range creds {
		f := &creds[i]
		if a.ID == "" {
			a.ID = f.Subject
			if a.ID == "" {
				a.ID = f.Holder
			}
		}
		if f.ID != "" {
			a.Credentials = append(a.Credentials, f.ID)
		}
		for _, t := range f.Types {
			if t != "VerifiableCredential" && !slices.Contains(a.Types, t) {
				a.Types = append(a.Types, t)
			}
		}
		if f.subject != nil {
			a.Claims = append(a.Claims, f.subject)
		}
	}
	for i := range creds {
		f := &creds[i]
		if !about(f, a.ID) {
			continue
		}
		if hb, ok := f.subject["hardwareBinding"].(map[string]any); ok {
			if lvl, _ := hb["assurance"].(string); slices.Index(AssuranceLevels, lvl) > slices.Index(AssuranceLevels, a.Assurance) {
				a.Assurance = lvl
			}
		}
		if isType(f, TypeIdentity, VCTIdentity) {
			if a.Principal == "" {
				a.Principal, _ = f.subject["principal"].(string)
				a.Issuer = f.Issuer
			}
			if a.Name == "" {
				a.Name, _ = f.subject["name"].(string)
			}
		}
	}
	if a.Issuer == "" && len(creds) > 0 {
		a.Issuer = creds[0].Issuer
	}
	r.res.Agent = a
	v.delegationCheck(r, a, creds, opts)
	if a.Principal == "" && a.Delegation != nil {
		a.Principal = a.Delegation.root
	}
	v.assuranceCheck(r, a, opts)
}

// assuranceCheck is the assurance check against Options.MinAssurance.
func (v *Verifier) assuranceCheck(r *recorder, a *Agent, opts Options) {
	if opts.MinAssurance == "" || !r.on(CheckAssurance) {
		return
	}
	if slices.Index(AssuranceLevels, a.Assurance) < slices.Index(AssuranceLevels, opts.MinAssurance) {
		got := a.Assurance
		if got == "" {
			got = "none"
		}
		r.fail(CheckAssurance, CodeInsufficientAssurance, fmt.Sprintf("assurance %s is required; the credentials show %s", opts.MinAssurance, got))
		return
	}
	r.pass(CheckAssurance)
}

// chain is what the delegation check found about one delegation of the
// agent and its parents.
type chain struct {
	leaf   *link
	length int
	root   string // the root's delegator
	sound  bool
}

// delegationCheck is the delegation check (see CheckDelegation).
func (v *Verifier) delegationCheck(r *recorder, a *Agent, creds []CredentialFacts, opts Options) {
	if !r.on(CheckDelegation) {
		return
	}
	byID := delegationsByID(creds)
	cr := r
	if r.res.Credential != nil && len(opts.Scopes) == 0 && !opts.RequireDelegation {
		// A lone credential asked for nothing: it is reported, but its
		// parents cannot have been presented with it.
		cr = &recorder{checks: &checkStates{}, res: &Result{}}
	}
	var chains []*chain
	for i := range creds {
		if isDelegation(&creds[i]) && about(&creds[i], a.ID) {
			chains = append(chains, v.followChain(cr, linkOf(&creds[i]), byID, a))
		}
	}
	if len(chains) == 0 {
		if len(opts.Scopes) > 0 || opts.RequireDelegation {
			what := "this relying party requires a delegation"
			if len(opts.Scopes) > 0 {
				what = fmt.Sprintf("%s on %s requires a delegation", opts.Scopes[0].Action, opts.Scopes[0].Resource)
			}
			r.fail(CheckDelegation, CodeNoDelegation, what+", and no AgentDelegationCredential of the agent "+orNone(a.ID)+" was presented")
		}
		return
	}
	sound := true
	for _, c := range chains {
		sound = sound && c.sound
	}
	a.Delegation = chains[0].facts()
	if cr != r {
		return
	}
	if len(opts.Scopes) == 0 {
		if sound {
			r.pass(CheckDelegation)
		}
		return
	}
	audience := opts.Audience
	if len(audience) == 0 && opts.Domain != "" {
		audience = []string{opts.Domain}
	}
	if len(audience) == 0 {
		r.warn(CheckDelegation, CodeAudienceMismatch, "no domain was given: the delegation's audience was not checked")
	}
	if !slices.ContainsFunc(chains, func(c *chain) bool { return len(c.leaf.scopes) > 0 }) {
		r.fail(CheckDelegation, CodeNoDelegation, fmt.Sprintf("%s on %s requires a delegation, and no delegation of the agent with scopes was presented",
			opts.Scopes[0].Action, opts.Scopes[0].Resource))
		return
	}
	now := v.now()
	var grantedBy *chain
	var granted []delegation.Scope
	ok := sound
	for _, req := range opts.Scopes {
		g, c, miss := v.grant(chains, req, audience, now)
		if g == nil {
			ok = false
			mr := r
			if c != nil {
				mr = r.within(c.leaf.facts.at)
			}
			mr.fail(CheckDelegation, miss.Code, miss.Message)
			continue
		}
		if grantedBy == nil {
			grantedBy = c
		}
		granted = append(granted, *g)
	}
	if grantedBy != nil {
		a.Delegation = grantedBy.facts()
		a.Delegation.Granted = granted
	}
	if ok {
		r.pass(CheckDelegation)
	}
}

// grant finds a scope of a sound chain granting req to one of audience at
// now, or says why none does (naming the closest miss: a granting scope for
// another audience or out of force rather than none at all).
func (v *Verifier) grant(chains []*chain, req delegation.Request, audience []string, now time.Time) (*delegation.Scope, *chain, Problem) {
	miss := Problem{Code: CodeScopeNotGranted, Message: fmt.Sprintf("no presented delegation grants %s on %s", req.Action, req.Resource)}
	var missAt *chain
	for _, c := range chains {
		if !c.sound {
			continue
		}
		for _, s := range c.leaf.scopes {
			if !s.Grants(req) {
				continue
			}
			name := orUnnamed(c.leaf.facts.ID)
			vu := c.leaf.validUntil
			switch {
			case len(audience) > 0 && !slices.ContainsFunc(audience, func(d string) bool { return delegation.AudienceContains(c.leaf.audience, d) }):
				miss = Problem{Code: CodeAudienceMismatch, Message: fmt.Sprintf("delegation %s grants %s on %s to audience %v, not to %s", name, s.Action, s.Resource, c.leaf.audience, strings.Join(audience, ", "))}
			case vu == nil:
				miss = Problem{Code: CodeDelegationExpired, Message: fmt.Sprintf("delegation %s has no validUntil; a delegation must be short-lived", name)}
			case now.Add(-v.skew).After(*vu):
				miss = Problem{Code: CodeDelegationExpired, Message: fmt.Sprintf("delegation %s expired at %s", name, vu.UTC().Format(time.RFC3339))}
			case now.Add(v.skew).Before(validFromOf(c.leaf.facts)):
				miss = Problem{Code: CodeDelegationExpired, Message: fmt.Sprintf("delegation %s is not valid before %s", name, validFromOf(c.leaf.facts).UTC().Format(time.RFC3339))}
			default:
				g := s
				return &g, c, Problem{}
			}
			missAt = c
		}
	}
	return nil, missAt, miss
}

func validFromOf(f *CredentialFacts) time.Time {
	if f.ValidFrom == nil {
		return time.Time{}
	}
	return *f.ValidFrom
}

// followChain checks a delegation of the agent and its parents up to the
// root: each parent presented, its subject the child's delegator, the child
// within it (scopes, audience, validUntil), and the root delegated by the
// agent's principal when an identity credential names one.
func (v *Verifier) followChain(r *recorder, leaf *link, byID map[string]*link, a *Agent) *chain {
	c := &chain{leaf: leaf, length: 1, sound: true}
	fail := func(l *link, code, msg string) {
		c.sound = false
		r.within(l.facts.at).fail(CheckDelegation, code, msg)
	}
	seen := map[*link]bool{}
	cur := leaf
	for {
		seen[cur] = true
		name := orUnnamed(cur.facts.ID)
		if cur.parent == "" {
			break
		}
		if cur.delegator == "" {
			fail(cur, CodeDelegatorMismatch, "sub-delegation "+name+" names no delegator")
			return c
		}
		p, ok := byID[cur.parent]
		switch {
		case !ok:
			fail(cur, CodeChainBroken, fmt.Sprintf("delegation %s narrows the delegation %s, which was not presented: present the whole chain", name, cur.parent))
			return c
		case seen[p]:
			fail(cur, CodeChainBroken, "delegation "+name+" is its own ancestor")
			return c
		case c.length >= MaxChainLength:
			fail(cur, CodeChainBroken, fmt.Sprintf("the delegation chain is longer than %d", MaxChainLength))
			return c
		}
		pname := orUnnamed(p.facts.ID)
		if p.subject != cur.delegator {
			fail(cur, CodeDelegatorMismatch, fmt.Sprintf("delegation %s was delegated by %s, but its parent %s is about %s", name, cur.delegator, pname, orNone(p.subject)))
		}
		for i, s := range cur.scopes {
			if !delegation.WithinAny(s, p.scopes) {
				fail(cur, CodeChainWidens, fmt.Sprintf("scope %d of delegation %s (%s on %s) is not within a scope of its parent %s", i, name, s.Action, s.Resource, pname))
			}
		}
		if !delegation.AudienceWithin(cur.audience, p.audience) {
			fail(cur, CodeChainWidens, fmt.Sprintf("the audience %v of delegation %s is not within its parent %s's %v", cur.audience, name, pname, p.audience))
		}
		switch {
		case p.validUntil == nil:
		case cur.validUntil == nil || cur.validUntil.After(*p.validUntil):
			fail(cur, CodeChainWidens, fmt.Sprintf("delegation %s runs past its parent %s, which ends at %s", name, pname, p.validUntil.UTC().Format(time.RFC3339)))
		}
		c.length++
		cur = p
	}
	c.root = cur.delegator
	if a.Principal != "" && cur.delegator != a.Principal {
		fail(cur, CodeDelegatorMismatch, fmt.Sprintf("the delegation chain starts with a delegation by %s, not by the agent's principal %s", cur.delegator, a.Principal))
	}
	return c
}

// facts are the chain's leaf as DelegationFacts.
func (c *chain) facts() *DelegationFacts {
	l := c.leaf
	d := &DelegationFacts{Credential: l.facts.ID, Issuer: l.facts.Issuer, Delegator: l.delegator,
		Scopes: l.scopes, Audience: l.audience, ValidUntil: l.validUntil, ChainLength: c.length, root: c.root}
	if d.Scopes == nil {
		d.Scopes = []delegation.Scope{}
	}
	return d
}

func orUnnamed(id string) string {
	if id == "" {
		return "(without id)"
	}
	return id
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
