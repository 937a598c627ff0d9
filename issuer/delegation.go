package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/schemas"
)

// Delegation policy defaults.
const (
	// DefaultDelegationMaxLifetime is the longest a delegation may run
	// from its issuance unless WithDelegationMaxLifetime says otherwise.
	DefaultDelegationMaxLifetime = 24 * time.Hour
	// SignedRequestMaxAge is how old a consent or signed status request
	// (its iat) may be when it arrives.
	SignedRequestMaxAge = 5 * time.Minute
	// SignedRequestSkew is how far in the future an iat may be, for clock
	// skew between the signer and the issuer.
	SignedRequestSkew = time.Minute
	// maxSignedRequestSize bounds a consent or proof JWS.
	maxSignedRequestSize = 16 << 10
)

// Errors of delegation and signed status requests; see Error.
var (
	// ErrInvalidConsent is a consent that is malformed, does not verify,
	// is too old or too long-lived, or does not narrow its parent (400).
	ErrInvalidConsent = errors.New("invalid delegation consent")
	// ErrUnauthenticated is a signed request whose signature does not
	// verify (401).
	ErrUnauthenticated = errors.New("signature not accepted")
	// ErrReplay is a signed request whose nonce was used already (400).
	ErrReplay = errors.New("signed request replayed")
)

// WithDelegationMaxLifetime sets the longest a delegation may run from its
// issuance (default DefaultDelegationMaxLifetime).
func WithDelegationMaxLifetime(d time.Duration) Option {
	return func(s *Service) { s.delegationMax = d }
}

func (s *Service) delegationMaxLifetime() time.Duration {
	if s.delegationMax > 0 {
		return s.delegationMax
	}
	return DefaultDelegationMaxLifetime
}

// Scope is one thing a delegation allows: an action on a resource, with
// optional constraints (DESIGN.md §5).
type Scope struct {
	Action      string         `json:"action"`
	Resource    string         `json:"resource"`
	Constraints map[string]any `json:"constraints,omitempty"`
}

// Consent is the payload of a delegation consent: a compact JWS signed by
// the delegator's did:key (header kid: the did:key URL).
type Consent struct {
	// Agent is the DID of the agent the delegation is for.
	Agent    string   `json:"agent"`
	Scopes   []Scope  `json:"scopes"`
	Audience []string `json:"audience"`
	Purpose  string   `json:"purpose"`
	// Exp and Iat are Unix times: the end of the delegation and the
	// signing time.
	Exp   int64  `json:"exp"`
	Iat   int64  `json:"iat"`
	Nonce string `json:"nonce,omitempty"`
	// Parent is the credential id of the delegation this one narrows.
	Parent string `json:"parent,omitempty"`
}

// DelegationRequest asks for a delegation credential.
type DelegationRequest struct {
	// Org is the organization's slug; empty is the default organization.
	Org string `json:"org,omitempty"`
	// Consent is the delegator's signed consent (compact JWS).
	Consent string `json:"consent"`
}

// Delegated is an issued delegation.
type Delegated struct {
	Delegation *store.Delegation
	Issued     *Issued
}

// Delegate verifies the consent and issues an AgentDelegationCredential
// (ldp_vc) embedding it as HumanApproval evidence.
//
// A consent without parent must be signed by the recorded principal of an
// approved agent of the organization, the agent it names. A consent with a
// parent (a sub-delegation) must be signed by the parent delegation's agent,
// the parent must be active and unexpired, the new agent an approved agent
// of the organization acting for the same human, and the consent must
// narrow the parent: every scope within a parent scope (same action or a
// parent wildcard "x:*", resource equal or below the parent's, the parent's
// constraints kept), audience a subset, exp not after the parent's.
//
// A malformed, unverifiable, stale or widening consent is ErrInvalidConsent
// (naming the field, e.g. /consent/exp); a signer without the right is
// ErrForbidden; a consent used already is ErrInvalidConsent too. Nothing is
// stored on any of them.
func (s *Service) Delegate(ctx context.Context, req DelegationRequest) (*Delegated, error) {
	org, err := s.orgFor(ctx, req.Org, ErrInvalidConsent)
	if err != nil {
		return nil, err
	}
	signer, raw, err := verifyDIDKeyJWS(req.Consent)
	if err != nil {
		return nil, invalid(ErrInvalidConsent, "the consent is not usable: "+err.Error(), field("/consent", err.Error()))
	}
	var c Consent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, invalid(ErrInvalidConsent, "the consent payload is not usable", field("/consent", "the payload is not a consent object: "+err.Error()))
	}
	now := s.now().UTC()
	if fields := s.checkConsent(&c, now); len(fields) > 0 {
		return nil, invalid(ErrInvalidConsent, "the consent is not usable", fields...)
	}
	consentHash := sha256Hex(req.Consent)
	if used, err := s.store.DelegationConsentUsed(ctx, consentHash); err != nil {
		return nil, fmt.Errorf("delegate: %w", err)
	} else if used {
		return nil, invalid(ErrInvalidConsent, "this consent was used already", field("/consent", "used already: sign a new consent"))
	}

	forbidden := func(detail string) error {
		return &Error{Kind: ErrForbidden, Problem: problem.Forbidden(detail)}
	}
	approvedAgent := func(did string) (*store.Agent, error) {
		a, err := s.store.AgentByDID(ctx, org.ID, did)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("delegate: %w", err)
		}
		if a.State != store.AgentApproved {
			return nil, nil
		}
		return a, nil
	}

	rec := &store.Delegation{OrganizationID: org.ID, AgentDID: c.Agent, DelegatorDID: signer, ConsentHash: consentHash,
		ExpiresAt: time.Unix(c.Exp, 0).UTC()}
	if c.Parent == "" {
		a, err := approvedAgent(c.Agent)
		if err != nil {
			return nil, err
		}
		if a == nil || a.PrincipalDID != signer {
			return nil, forbidden("the consent's signer is not the recorded principal of an approved agent " + c.Agent + " of the organization")
		}
		rec.PrincipalDID = signer
	} else {
		parent, err := s.store.DelegationByCredentialID(ctx, org.ID, c.Parent)
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalid(ErrInvalidConsent, "no such parent delegation", field("/consent/parent", "not a delegation of the organization"))
		}
		if err != nil {
			return nil, fmt.Errorf("delegate: %w", err)
		}
		if parent.AgentDID != signer {
			return nil, forbidden("the consent's signer is not the agent of the parent delegation")
		}
		pc, err := s.store.IssuedCredentialByID(ctx, org.ID, parent.CredentialID, false)
		if err != nil {
			return nil, fmt.Errorf("delegate: parent: %w", err)
		}
		if pc.Status != store.CredentialActive || !parent.ExpiresAt.After(now) {
			return nil, invalid(ErrInvalidConsent, "the parent delegation is not in force", field("/consent/parent", "the parent delegation is "+pc.Status+" or expired"))
		}
		if fields := narrows(&c, parent); len(fields) > 0 {
			return nil, invalid(ErrInvalidConsent, "a sub-delegation may only narrow its parent", fields...)
		}
		a, err := approvedAgent(c.Agent)
		if err != nil {
			return nil, err
		}
		if a == nil || a.PrincipalDID != parent.PrincipalDID {
			return nil, forbidden("the sub-agent " + c.Agent + " is not an approved agent of the organization acting for the parent delegation's principal")
		}
		rec.ParentID = &parent.ID
		rec.PrincipalDID = parent.PrincipalDID
	}

	scopes, _ := json.Marshal(c.Scopes)
	audience, _ := json.Marshal(c.Audience)
	rec.Scopes, rec.Audience = string(scopes), string(audience)
	doc := s.delegationDoc(&c, signer, req.Consent)
	issued, err := s.Issue(ctx, org.ID, doc, IssueOptions{Format: FormatLDPVC})
	if err != nil {
		return nil, err
	}
	rec.CredentialRowID, rec.CredentialID = issued.Record.ID, issued.Record.CredentialID
	err = s.store.Transaction(ctx, func(tx *store.Store) error {
		if c.Parent != "" {
			// The parent's row is locked as a revocation locks it, so that
			// a revocation of the parent either sees this child or commits
			// before this check and refuses it.
			pc, err := tx.IssuedCredentialByID(ctx, org.ID, c.Parent, true)
			if err != nil {
				return err
			}
			if pc.Status != store.CredentialActive {
				return invalid(ErrInvalidConsent, "the parent delegation is not in force", field("/consent/parent", "the parent delegation was "+pc.Status+" meanwhile"))
			}
		}
		return tx.CreateDelegation(ctx, rec)
	})
	if err != nil {
		// The credential exists but is not tracked (a concurrent use of
		// the same consent, or a database failure): revoke it, so that no
		// delegation escapes cascading revocation.
		actor := Actor{Kind: ActorAdmin, OrganizationID: org.ID, ID: "delegation-rollback"}
		if _, rerr := s.ChangeStatus(ctx, actor, rec.CredentialID, StatusRevoked); rerr != nil {
			s.log.ErrorContext(ctx, "could not revoke an untracked delegation credential", "credential", rec.CredentialID, "error", rerr)
		}
		var ie *Error
		switch {
		case errors.As(err, &ie):
			return nil, err
		case errors.Is(err, store.ErrConflict):
			return nil, invalid(ErrInvalidConsent, "this consent was used already", field("/consent", "used already: sign a new consent"))
		}
		return nil, fmt.Errorf("delegate: %w", err)
	}
	s.log.InfoContext(ctx, "delegation issued", "credential", rec.CredentialID, "agent", rec.AgentDID,
		"delegator", rec.DelegatorDID, "organization", org.ID, "parent", c.Parent)
	return &Delegated{Delegation: rec, Issued: issued}, nil
}

// delegationDoc is the unsigned AgentDelegationCredential of a consent
// (DESIGN.md §5); the issuer is left for Issue to pick.
func (s *Service) delegationDoc(c *Consent, signer, consent string) map[string]any {
	scopes := make([]any, 0, len(c.Scopes))
	for _, sc := range c.Scopes {
		m := map[string]any{"action": sc.Action, "resource": sc.Resource}
		if sc.Constraints != nil {
			m["constraints"] = sc.Constraints
		}
		scopes = append(scopes, m)
	}
	audience := make([]any, 0, len(c.Audience))
	for _, a := range c.Audience {
		audience = append(audience, a)
	}
	return map[string]any{
		"@context":   []any{credential.ContextV2, schemas.ContextURL},
		"id":         "urn:uuid:" + newRowID(),
		"type":       []any{"VerifiableCredential", "AgentDelegationCredential"},
		"validFrom":  s.clock().Format(time.RFC3339),
		"validUntil": time.Unix(c.Exp, 0).UTC().Format(time.RFC3339),
		"credentialSubject": map[string]any{
			"id":        c.Agent,
			"type":      "Agent",
			"delegator": signer,
			"purpose":   c.Purpose,
			"scopes":    scopes,
			"audience":  audience,
		},
		"evidence": []any{map[string]any{
			"type":       "HumanApproval",
			"approver":   signer,
			"approvedAt": time.Unix(c.Iat, 0).UTC().Format(time.RFC3339),
			"consent":    consent,
		}},
		"credentialSchema": map[string]any{"id": schemas.AgentDelegationV1, "type": "JsonSchema"},
	}
}

// actionPattern is the schema's pattern of a scope action.
var actionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._*-]*(?::[A-Za-z0-9._*-]+)*$`)

// checkConsent checks the consent's fields on their own, and its times
// against now and the delegation policy.
func (s *Service) checkConsent(c *Consent, now time.Time) []problem.FieldError {
	var fields []problem.FieldError
	bad := func(ptr, reason string) { fields = append(fields, field("/consent/"+ptr, reason)) }
	if m, _, err := didmethods.SplitDID(c.Agent); err != nil || m == "" || strings.ContainsAny(c.Agent, "/?#") {
		bad("agent", "required: the agent's DID")
	}
	if n := len([]rune(c.Purpose)); n < 1 || n > 1024 {
		bad("purpose", "required: 1 to 1024 characters")
	}
	if len(c.Scopes) < 1 || len(c.Scopes) > 64 {
		bad("scopes", "required: 1 to 64 scopes")
	}
	for i, sc := range c.Scopes {
		at := "scopes/" + strconv.Itoa(i)
		if len(sc.Action) > 128 || !actionPattern.MatchString(sc.Action) {
			bad(at+"/action", "required: an action such as invoices:pay")
		}
		if !absoluteURL(sc.Resource) {
			bad(at+"/resource", "required: an absolute http(s) URL")
		}
	}
	if len(c.Audience) < 1 || len(c.Audience) > 64 {
		bad("audience", "required: 1 to 64 URLs")
	}
	for i, a := range c.Audience {
		if !absoluteURL(a) {
			bad("audience/"+strconv.Itoa(i), "must be an absolute http(s) URL")
		} else if slices.Index(c.Audience, a) != i {
			bad("audience/"+strconv.Itoa(i), "listed twice")
		}
	}
	if len(c.Nonce) > 256 {
		bad("nonce", "at most 256 characters")
	}
	iat := time.Unix(c.Iat, 0)
	switch {
	case c.Iat == 0:
		bad("iat", "required: the signing time (Unix seconds)")
	case iat.After(now.Add(SignedRequestSkew)):
		bad("iat", "in the future")
	case now.Sub(iat) > SignedRequestMaxAge:
		bad("iat", fmt.Sprintf("older than %s: sign a new consent", SignedRequestMaxAge))
	}
	exp := time.Unix(c.Exp, 0)
	switch max := s.delegationMaxLifetime(); {
	case c.Exp == 0:
		bad("exp", "required: the end of the delegation (Unix seconds)")
	case !exp.After(now):
		bad("exp", "in the past")
	case exp.Sub(now) > max:
		bad("exp", fmt.Sprintf("more than %s ahead: the organization's policy allows at most %s", max, max))
	}
	return fields
}

// absoluteURL accepts an absolute http or https URL with a host.
func absoluteURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && len(v) <= 2048 &&
		!strings.ContainsAny(v, " \t\r\n<>\"{}|\\^`")
}

// narrows checks that the consent c grants no more than parent.
func narrows(c *Consent, parent *store.Delegation) []problem.FieldError {
	var fields []problem.FieldError
	var pScopes []Scope
	var pAudience []string
	if json.Unmarshal([]byte(parent.Scopes), &pScopes) != nil || json.Unmarshal([]byte(parent.Audience), &pAudience) != nil {
		return []problem.FieldError{field("/consent/parent", "the parent delegation's grants cannot be read")}
	}
	for i, sc := range c.Scopes {
		if !slices.ContainsFunc(pScopes, func(p Scope) bool { return scopeWithin(sc, p) }) {
			fields = append(fields, field("/consent/scopes/"+strconv.Itoa(i), "not within a scope of the parent delegation (action, resource prefix and constraints)"))
		}
	}
	for i, a := range c.Audience {
		if !slices.Contains(pAudience, a) {
			fields = append(fields, field("/consent/audience/"+strconv.Itoa(i), "not in the parent delegation's audience"))
		}
	}
	if time.Unix(c.Exp, 0).After(parent.ExpiresAt) {
		fields = append(fields, field("/consent/exp", "after the parent delegation's end "+parent.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	return fields
}

// scopeWithin reports whether scope c is within scope p: the same action
// (or p's action is a wildcard "prefix:*" or "*" covering it), a resource
// equal to p's or below it as a path, and every constraint of p kept as is
// (c may add constraints).
func scopeWithin(c, p Scope) bool {
	actionOK := c.Action == p.Action || p.Action == "*" ||
		(strings.HasSuffix(p.Action, ":*") && strings.HasPrefix(c.Action, strings.TrimSuffix(p.Action, "*")))
	if !actionOK {
		return false
	}
	base := strings.TrimSuffix(p.Resource, "/")
	if c.Resource != p.Resource && c.Resource != base && !strings.HasPrefix(c.Resource, base+"/") {
		return false
	}
	for k, v := range p.Constraints {
		cv, ok := c.Constraints[k]
		if !ok || !reflect.DeepEqual(cv, v) {
			return false
		}
	}
	return true
}

// orgFor is the organization of slug, the default one for "".
func (s *Service) orgFor(ctx context.Context, slug string, kind error) (*store.Organization, error) {
	var org *store.Organization
	var err error
	if slug == "" {
		org, err = s.store.DefaultOrganization(ctx)
	} else {
		org, err = s.store.OrganizationBySlug(ctx, slug)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid(kind, "unknown organization", field("/org", "no such organization"))
	}
	if err != nil {
		return nil, fmt.Errorf("organization %q: %w", slug, err)
	}
	return org, nil
}

// jwsAlgorithms are the JWS algorithms a did:key signer may use.
var jwsAlgorithms = []keys.Algorithm{keys.EdDSA, keys.ES256, keys.ES384}

// verifyDIDKeyJWS verifies a compact JWS whose header kid is a did:key URL
// (did:key:z…#z…) and returns the signer's DID and the payload. The alg
// must be EdDSA, ES256 or ES384 and fit the key; crit is refused.
func verifyDIDKeyJWS(compact string) (string, []byte, error) {
	parts := strings.Split(compact, ".")
	if len(parts) != 3 || len(compact) > maxSignedRequestSize {
		return "", nil, errors.New("not a compact JWS")
	}
	hdrRaw, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	payload, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", nil, errors.New("a JWS part is not base64url")
	}
	var hdr struct {
		Alg  keys.Algorithm  `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(hdrRaw, &hdr); err != nil {
		return "", nil, errors.New("the JWS header is not a JSON object")
	}
	if !slices.Contains(jwsAlgorithms, hdr.Alg) {
		return "", nil, fmt.Errorf("the JWS alg %q is not one of EdDSA, ES256, ES384", hdr.Alg)
	}
	if hdr.Crit != nil {
		return "", nil, errors.New("the JWS has critical header parameters this issuer does not understand")
	}
	did, frag, ok := strings.Cut(hdr.Kid, "#")
	if !ok || !strings.HasPrefix(did, "did:key:") || frag != strings.TrimPrefix(did, "did:key:") {
		return "", nil, errors.New("the JWS kid must be the signer's did:key URL (did:key:z…#z…)")
	}
	kt, pub, err := didmethods.ParseDIDKey(did)
	if err != nil {
		return "", nil, errors.New("the JWS kid is not a usable did:key")
	}
	if alg, err := keys.AlgorithmFor(kt); err != nil || alg != hdr.Alg {
		return "", nil, fmt.Errorf("the JWS alg %s does not fit the did:key's %s key", hdr.Alg, kt)
	}
	if err := keys.Verify(pub, hdr.Alg, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return "", nil, errors.New("the signature does not verify with the kid's did:key")
	}
	return did, payload, nil
}

func sha256Hex(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// SignedStatusRequest is a status change asked for by an agent's principal,
// authenticated by Proof: a compact JWS by the principal's did:key over
// {credentialId, status, nonce, iat, aud} (aud: this issuer's public URL).
type SignedStatusRequest struct {
	// Org is the organization's slug; empty is the default organization.
	Org          string
	CredentialID string
	// Status is StatusRevoked, StatusSuspended or StatusActive.
	Status string
	Proof  string
}

// statusProof is the payload of a signed status request.
type statusProof struct {
	CredentialID string `json:"credentialId"`
	Status       string `json:"status"`
	Nonce        string `json:"nonce"`
	Iat          int64  `json:"iat"`
	Aud          any    `json:"aud"`
}

// ChangeStatusSigned authenticates a principal's signed status request and
// changes the status through ChangeStatus as an ActorPrincipal. A proof
// that does not verify is ErrUnauthenticated (401); one that does not
// match the request (credential id, status, aud) or is stale is
// ErrInvalidStatusRequest (400); a used nonce is ErrReplay (400); a signer
// who is not the credential's recorded principal is ErrForbidden (403,
// also for an unknown credential, so that the answer does not reveal
// which credentials exist). The nonce is spent once the proof verified.
func (s *Service) ChangeStatusSigned(ctx context.Context, req SignedStatusRequest) (*store.IssuedCredential, error) {
	org, err := s.orgFor(ctx, req.Org, ErrInvalidStatusRequest)
	if err != nil {
		return nil, err
	}
	signer, raw, err := verifyDIDKeyJWS(req.Proof)
	if err != nil {
		return nil, &Error{Kind: ErrUnauthenticated, Problem: problem.New(http.StatusUnauthorized, "unauthorized", "Unauthorized",
			"the signed request's proof is not accepted: "+err.Error(), field("/proof", err.Error()))}
	}
	var p statusProof
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, invalid(ErrInvalidStatusRequest, "the proof payload is not usable", field("/proof", "the payload is not a JSON object of the expected shape"))
	}
	var fields []problem.FieldError
	if p.CredentialID != req.CredentialID {
		fields = append(fields, field("/proof", "the proof's credentialId differs from the request's"))
	}
	if st, ok := ParseStatusAction(p.Status); !ok || st != req.Status {
		fields = append(fields, field("/proof", "the proof's status differs from the request's"))
	}
	if !audienceIs(p.Aud, s.publicURL) {
		fields = append(fields, field("/proof", "the proof's aud is not this issuer ("+s.publicURL+")"))
	}
	if n := len(p.Nonce); n < 16 || n > 256 {
		fields = append(fields, field("/proof", "the proof needs a nonce of 16 to 256 characters"))
	}
	now := s.now().UTC()
	iat := time.Unix(p.Iat, 0)
	if p.Iat == 0 || iat.After(now.Add(SignedRequestSkew)) || now.Sub(iat) > SignedRequestMaxAge {
		fields = append(fields, field("/proof", fmt.Sprintf("the proof's iat must be within the last %s", SignedRequestMaxAge)))
	}
	if len(fields) > 0 {
		return nil, invalid(ErrInvalidStatusRequest, "the signed status request is not usable", fields...)
	}
	nonceKey := sha256Hex("status-request\x00" + signer + "\x00" + p.Nonce)
	if err := s.store.UseNonce(ctx, nonceKey, iat.Add(SignedRequestMaxAge+SignedRequestSkew)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, &Error{Kind: ErrReplay, Problem: problem.New(http.StatusBadRequest, "replayed-request", "Request replayed",
				"the proof's nonce was used already: sign a new request", field("/proof", "nonce used already"))}
		}
		return nil, fmt.Errorf("signed status request: %w", err)
	}
	rec, err := s.ChangeStatus(ctx, Actor{Kind: ActorPrincipal, OrganizationID: org.ID, ID: signer}, req.CredentialID, req.Status)
	if errors.Is(err, ErrNotFound) {
		return nil, &Error{Kind: ErrForbidden, Problem: problem.Forbidden("the signer is not the recorded principal of a credential with this id")}
	}
	return rec, err
}

// audienceIs reports whether aud (a string or an array of strings) names
// want.
func audienceIs(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return slices.Contains(a, any(want))
	}
	return false
}
