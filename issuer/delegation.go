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
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/delegation"
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
	// Parent is the delegation this one narrows: its id or the id of one
	// of its credentials.
	Parent string `json:"parent,omitempty"`
	// Renews is the delegation this consent renews (and supersedes): its
	// id or the id of one of its credentials.
	Renews string `json:"renews,omitempty"`
}

// DelegationRequest asks for a delegation credential.
type DelegationRequest struct {
	// Org is the organization's slug; empty is the default organization.
	Org string `json:"org,omitempty"`
	// Consent is the delegator's signed consent (compact JWS).
	Consent string `json:"consent"`
	// Formats are the formats to issue the delegation in: FormatLDPVC
	// and FormatSDJWT (both when empty).
	Formats []string `json:"formats,omitempty"`
}

// Delegated is an issued delegation.
type Delegated struct {
	Delegation *store.Delegation
	// Issued is the delegation's first credential: the ldp_vc one when it
	// was issued in that format.
	Issued *Issued
	// Credentials are every credential issued, one per format.
	Credentials []*Issued
	// Superseded is the delegation a renewal replaced, nil for none.
	Superseded *store.Delegation
	// Reparented and Revoked count the children of a superseded delegation
	// moved below the new one, and those revoked because they do not
	// narrow it.
	Reparented, Revoked int
}

// Roles of a delegator (store.Delegation.DelegatorRole).
const (
	DelegatorPrincipal = "principal"
	DelegatorApprover  = "approver"
	DelegatorAgent     = "agent"
)

// checkFormats reads the formats of a delegation request: both when
// empty, else each of FormatLDPVC or FormatSDJWT once.
func checkFormats(in []string) ([]string, error) {
	if len(in) == 0 {
		return []string{FormatLDPVC, FormatSDJWT}, nil
	}
	var fields []problem.FieldError
	for i, f := range in {
		switch {
		case f != FormatLDPVC && f != FormatSDJWT:
			fields = append(fields, field("/formats/"+strconv.Itoa(i), fmt.Sprintf("unknown format %q: want %s or %s", f, FormatLDPVC, FormatSDJWT)))
		case slices.Index(in, f) != i:
			fields = append(fields, field("/formats/"+strconv.Itoa(i), "listed twice"))
		}
	}
	if len(fields) > 0 {
		return nil, invalid(ErrInvalidConsent, "the formats are not usable", fields...)
	}
	return in, nil
}

// Delegate verifies the consent and issues an AgentDelegationCredential
// embedding it as HumanApproval evidence, in each requested format (ldp_vc
// and dc+sd-jwt by default). The credentials belong to one delegation: a
// status change of one applies to all, and revoking one revokes every
// delegation below it (ChangeStatus).
//
// A consent without parent must be signed by the recorded principal of an
// approved agent of the organization, the agent it names, or by one of the
// organization's approvers (AddApprover). A consent with a parent (a
// sub-delegation) must be signed by the parent delegation's agent, the
// parent must be active and unexpired, the new agent an approved agent of
// the organization acting for the same human, and the consent must narrow
// the parent: every scope within a parent scope (same action or a parent
// wildcard "x:*", resource equal or below the parent's, the parent's
// constraints kept), audience a subset, exp not after the parent's.
//
// A consent with renews (a delegation id or one of its credential ids)
// renews that delegation: it must be for the same agent and parent, be
// signed by someone allowed to sign it afresh, and the renewed delegation
// must be active. The new delegation supersedes the renewed one, whose
// credentials are revoked; the renewed delegation's children that narrow
// the new one are moved below it, the others are revoked with everything
// below them.
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
	formats, err := checkFormats(req.Formats)
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

	iat := time.Unix(c.Iat, 0).UTC()
	rec := &store.Delegation{OrganizationID: org.ID, AgentDID: c.Agent, DelegatorDID: signer, ConsentHash: consentHash,
		ExpiresAt: time.Unix(c.Exp, 0).UTC(), Purpose: c.Purpose, Consent: req.Consent,
		Formats: strings.Join(formats, " "), ConsentedAt: &iat}
	var parent *store.Delegation
	if c.Parent == "" {
		a, err := approvedAgent(c.Agent)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, forbidden("the consent's signer is not the recorded principal of an approved agent " + c.Agent + " of the organization")
		}
		switch approver, err := s.store.IsDelegationApprover(ctx, org.ID, signer); {
		case err != nil:
			return nil, fmt.Errorf("delegate: %w", err)
		case a.PrincipalDID == signer:
			rec.DelegatorRole = DelegatorPrincipal
		case approver:
			rec.DelegatorRole = DelegatorApprover
		default:
			return nil, forbidden("the consent's signer is neither the recorded principal of the agent " + c.Agent + " nor an approver of the organization")
		}
		rec.PrincipalDID = a.PrincipalDID
	} else {
		parent, err = s.store.DelegationByRef(ctx, org.ID, c.Parent)
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
		rec.DelegatorRole = DelegatorAgent
	}
	var renewed *store.Delegation
	if c.Renews != "" {
		if renewed, err = s.renewedByConsent(ctx, org.ID, &c, parent); err != nil {
			return nil, err
		}
		rec.RenewalOf = &renewed.ID
	}

	scopes, _ := json.Marshal(c.Scopes)
	audience, _ := json.Marshal(c.Audience)
	rec.Scopes, rec.Audience = string(scopes), string(audience)
	issued, err := s.issueDelegation(ctx, org.ID, formats, &c, signer, req.Consent)
	if err != nil {
		return nil, err
	}
	rec.CredentialRowID, rec.CredentialID = issued[0].Record.ID, issued[0].Record.CredentialID
	out := &Delegated{Delegation: rec, Issued: issued[0], Credentials: issued, Superseded: renewed}
	err = s.store.Transaction(ctx, func(tx *store.Store) error {
		if parent != nil {
			// The parent's credential is locked as a revocation locks it
			// (a revocation of any of the parent's credentials locks all of
			// them), so that a revocation of the parent either sees this
			// child or commits before this check and refuses it.
			pc, err := tx.IssuedCredentialByID(ctx, org.ID, parent.CredentialID, true)
			if err != nil {
				return err
			}
			if pc.Status != store.CredentialActive {
				return invalid(ErrInvalidConsent, "the parent delegation is not in force", field("/consent/parent", "the parent delegation was "+pc.Status+" meanwhile"))
			}
		}
		if renewed != nil {
			rc, err := tx.IssuedCredentialByID(ctx, org.ID, renewed.CredentialID, true)
			if err != nil {
				return err
			}
			if rc.Status != store.CredentialActive {
				return invalid(ErrInvalidConsent, "the renewed delegation is not in force", field("/consent/renews", "the delegation was "+rc.Status+" meanwhile"))
			}
		}
		if err := tx.CreateDelegation(ctx, rec, delegationCredentials(issued)...); err != nil {
			return err
		}
		if renewed != nil {
			n, m, err := supersede(ctx, tx, renewed, rec)
			if err != nil {
				return err
			}
			out.Reparented, out.Revoked = n, m
		}
		return nil
	})
	if err != nil {
		// The credentials exist but are not tracked (a concurrent use of
		// the same consent, or a database failure): revoke them, so that
		// no delegation escapes cascading revocation.
		s.revokeUntracked(ctx, org.ID, issued)
		var ie *Error
		switch {
		case errors.As(err, &ie):
			return nil, err
		case errors.Is(err, store.ErrConflict):
			return nil, invalid(ErrInvalidConsent, "this consent was used already", field("/consent", "used already: sign a new consent"))
		}
		return nil, fmt.Errorf("delegate: %w", err)
	}
	s.log.InfoContext(ctx, "delegation issued", "delegation", rec.ID, "credential", rec.CredentialID, "formats", rec.Formats,
		"agent", rec.AgentDID, "delegator", rec.DelegatorDID, "role", rec.DelegatorRole, "organization", org.ID, "parent", c.Parent)
	if renewed != nil {
		s.log.InfoContext(ctx, "delegation superseded", "delegation", renewed.ID, "by", rec.ID, "reason", "superseded",
			"reparented", out.Reparented, "revoked", out.Revoked)
	}
	return out, nil
}

func forbidden(detail string) error {
	return &Error{Kind: ErrForbidden, Problem: problem.Forbidden(detail)}
}

// renewedByConsent finds and checks the delegation a consent renews: of
// the organization, for the same agent, below the same parent, active.
func (s *Service) renewedByConsent(ctx context.Context, orgID string, c *Consent, parent *store.Delegation) (*store.Delegation, error) {
	old, err := s.store.DelegationByRef(ctx, orgID, c.Renews)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid(ErrInvalidConsent, "no such delegation to renew", field("/consent/renews", "not a delegation of the organization"))
	}
	if err != nil {
		return nil, fmt.Errorf("delegate: renewed delegation: %w", err)
	}
	if old.AgentDID != c.Agent {
		return nil, invalid(ErrInvalidConsent, "a renewal is for the renewed delegation's agent", field("/consent/agent", "not the agent of the renewed delegation"))
	}
	switch {
	case old.ParentID == nil && parent != nil:
		return nil, invalid(ErrInvalidConsent, "a renewal keeps the renewed delegation's parent", field("/consent/parent", "the renewed delegation has no parent"))
	case old.ParentID != nil && (parent == nil || parent.ID != *old.ParentID):
		return nil, invalid(ErrInvalidConsent, "a renewal keeps the renewed delegation's parent", field("/consent/parent", "must name the renewed delegation's parent"))
	}
	oc, err := s.store.IssuedCredentialByID(ctx, orgID, old.CredentialID, false)
	if err != nil {
		return nil, fmt.Errorf("delegate: renewed delegation: %w", err)
	}
	if oc.Status != store.CredentialActive {
		return nil, invalid(ErrInvalidConsent, "the renewed delegation is not in force", field("/consent/renews", "the delegation is "+oc.Status))
	}
	return old, nil
}

// supersede, inside tx, moves the children of old that narrow next below
// next, revokes the other children with everything below them, and
// revokes old's credentials. It returns how many children it moved and
// how many credentials of children it revoked.
func supersede(ctx context.Context, tx *store.Store, old, next *store.Delegation) (moved, revoked int, err error) {
	children, err := tx.DelegationChildren(ctx, old.ID)
	if err != nil {
		return 0, 0, err
	}
	for i := range children {
		child := &children[i]
		cc, err := consentOf(child)
		if err != nil {
			return moved, revoked, err
		}
		if len(narrows(cc, next)) == 0 {
			if err := tx.SetDelegationParent(ctx, child.ID, next.ID); err != nil {
				return moved, revoked, err
			}
			moved++
			continue
		}
		n, err := revokeDelegationTree(ctx, tx, child)
		if err != nil {
			return moved, revoked, err
		}
		revoked += n
	}
	if _, err := applyToDelegation(ctx, tx, old, StatusRevoked, ""); err != nil {
		return moved, revoked, err
	}
	return moved, revoked, nil
}

// consentOf is what a stored delegation grants, as a consent for narrows.
func consentOf(d *store.Delegation) (*Consent, error) {
	c := &Consent{Agent: d.AgentDID, Purpose: d.Purpose, Exp: d.ExpiresAt.Unix()}
	if err := json.Unmarshal([]byte(d.Scopes), &c.Scopes); err != nil {
		return nil, fmt.Errorf("scopes of delegation %s: %w", d.ID, err)
	}
	if err := json.Unmarshal([]byte(d.Audience), &c.Audience); err != nil {
		return nil, fmt.Errorf("audience of delegation %s: %w", d.ID, err)
	}
	if d.ConsentedAt != nil {
		c.Iat = d.ConsentedAt.Unix()
	}
	return c, nil
}

// issueDelegation issues the delegation credential of c in each format;
// when one fails, those issued are revoked.
func (s *Service) issueDelegation(ctx context.Context, orgID string, formats []string, c *Consent, signer, consent string) ([]*Issued, error) {
	var issued []*Issued
	for _, format := range formats {
		out, err := s.Issue(ctx, orgID, s.delegationDoc(c, signer, consent), IssueOptions{Format: format, SDJWTEvidence: format == FormatSDJWT})
		if err != nil {
			s.revokeUntracked(ctx, orgID, issued)
			return nil, err
		}
		issued = append(issued, out)
	}
	return issued, nil
}

// revokeUntracked revokes credentials issued for a delegation that was
// not stored.
func (s *Service) revokeUntracked(ctx context.Context, orgID string, issued []*Issued) {
	actor := Actor{Kind: ActorAdmin, OrganizationID: orgID, ID: "delegation-rollback"}
	for _, out := range issued {
		if _, err := s.ChangeStatus(ctx, actor, out.Record.CredentialID, StatusRevoked); err != nil {
			s.log.ErrorContext(ctx, "could not revoke an untracked delegation credential", "credential", out.Record.CredentialID, "error", err)
		}
	}
}

func delegationCredentials(issued []*Issued) []store.DelegationCredential {
	out := make([]store.DelegationCredential, 0, len(issued))
	for _, i := range issued {
		out = append(out, store.DelegationCredential{CredentialRowID: i.Record.ID, CredentialID: i.Record.CredentialID, Format: i.Record.Format})
	}
	return out
}

// followDelegation, inside tx, carries a status change of the credential
// rec over to its delegation: every other credential of the delegation
// that is not revoked gets the same status, and a revocation revokes
// every credential of every delegation below it. It returns how many
// credentials it changed. A credential of no delegation changes nothing.
func (s *Service) followDelegation(ctx context.Context, tx *store.Store, rec *store.IssuedCredential, status string) (int, error) {
	d, err := tx.DelegationByCredentialID(ctx, rec.OrganizationID, rec.CredentialID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := applyToDelegation(ctx, tx, d, status, rec.ID)
	if err != nil || status != StatusRevoked {
		return n, err
	}
	return revokeBelow(ctx, tx, d, n)
}

// revokeDelegationTree revokes, inside tx, the credentials of d and of
// every delegation below it.
func revokeDelegationTree(ctx context.Context, tx *store.Store, d *store.Delegation) (int, error) {
	n, err := applyToDelegation(ctx, tx, d, StatusRevoked, "")
	if err != nil {
		return n, err
	}
	return revokeBelow(ctx, tx, d, n)
}

// revokeBelow revokes, inside tx, the credentials of every delegation below
// d, and returns n plus how many it changed.
func revokeBelow(ctx context.Context, tx *store.Store, d *store.Delegation, n int) (int, error) {
	below, err := tx.DelegationDescendants(ctx, d.ID)
	if err != nil {
		return n, err
	}
	for i := range below {
		m, err := applyToDelegation(ctx, tx, &below[i], StatusRevoked, "")
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// applyToDelegation moves, inside tx, every credential of d except the
// row skip to status; revoked credentials stay revoked. It returns how
// many it changed.
func applyToDelegation(ctx context.Context, tx *store.Store, d *store.Delegation, status, skip string) (int, error) {
	creds, err := tx.DelegationCredentials(ctx, d.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range creds {
		if c.CredentialRowID == skip {
			continue
		}
		cr, err := tx.IssuedCredentialByID(ctx, d.OrganizationID, c.CredentialID, true)
		if err != nil {
			return n, fmt.Errorf("delegation %s credential %s: %w", d.ID, c.CredentialID, err)
		}
		if cr.Status == store.CredentialRevoked || cr.Status == status {
			continue
		}
		if err := applyStatus(ctx, tx, cr, status); err != nil {
			return n, fmt.Errorf("delegation %s credential %s: %w", d.ID, c.CredentialID, err)
		}
		n++
	}
	return n, nil
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
	if len(c.Parent) > 2048 {
		bad("parent", "at most 2048 characters")
	}
	if len(c.Renews) > 2048 {
		bad("renews", "at most 2048 characters")
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

// scopeWithin reports whether scope c is within scope p, by the rules of
// package delegation: the same action (or p's action is a wildcard
// "prefix:*" or "*" covering it), a resource equal to p's or below it as a
// path, and every constraint of p kept as is (c may add constraints).
func scopeWithin(c, p Scope) bool {
	return delegation.Within(delegation.Scope(c), delegation.Scope(p))
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
	proofClaims
}

// proofClaims are the claims every signed request's proof carries besides
// what it asks for.
type proofClaims struct {
	Nonce string `json:"nonce"`
	Iat   int64  `json:"iat"`
	Aud   any    `json:"aud"`
}

func (c *proofClaims) claims() *proofClaims { return c }

// signedPayload is the payload of a signed request: a struct embedding
// proofClaims.
type signedPayload interface{ claims() *proofClaims }

// verifySignedRequest verifies proof, a compact JWS by a did:key (else
// ErrUnauthenticated, its detail naming the request as what), decodes its
// payload into p and checks it: the field errors match returns (how the
// payload differs from the request), then an aud of this issuer, a nonce
// of 16 to 256 characters and an iat recent at now; any of them is kind,
// titled unusable. It returns the signer's DID and the proof's iat.
func (s *Service) verifySignedRequest(now time.Time, proof, what string, p signedPayload, kind error, unusable string, match func() []problem.FieldError) (string, time.Time, error) {
	signer, raw, err := verifyDIDKeyJWS(proof)
	if err != nil {
		return "", time.Time{}, &Error{Kind: ErrUnauthenticated, Problem: problem.New(http.StatusUnauthorized, "unauthorized", "Unauthorized",
			"the "+what+"'s proof is not accepted: "+err.Error(), field("/proof", err.Error()))}
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return "", time.Time{}, invalid(kind, "the proof payload is not usable", field("/proof", "the payload is not a JSON object of the expected shape"))
	}
	c := p.claims()
	fields := match()
	if !audienceIs(c.Aud, s.publicURL) {
		fields = append(fields, field("/proof", "the proof's aud is not this issuer ("+s.publicURL+")"))
	}
	if n := len(c.Nonce); n < 16 || n > 256 {
		fields = append(fields, field("/proof", "the proof needs a nonce of 16 to 256 characters"))
	}
	iat := time.Unix(c.Iat, 0)
	if c.Iat == 0 || iat.After(now.Add(SignedRequestSkew)) || now.Sub(iat) > SignedRequestMaxAge {
		fields = append(fields, field("/proof", fmt.Sprintf("the proof's iat must be within the last %s", SignedRequestMaxAge)))
	}
	if len(fields) > 0 {
		return "", time.Time{}, invalid(kind, unusable, fields...)
	}
	return signer, iat, nil
}

// replayed is the error of a signed request whose nonce was used already.
func replayed() error {
	return &Error{Kind: ErrReplay, Problem: problem.New(http.StatusBadRequest, "replayed-request", "Request replayed",
		"the proof's nonce was used already: sign a new request", field("/proof", "nonce used already"))}
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
	var p statusProof
	signer, iat, err := s.verifySignedRequest(s.now().UTC(), req.Proof, "signed request", &p, ErrInvalidStatusRequest, "the signed status request is not usable", func() []problem.FieldError {
		var fields []problem.FieldError
		if p.CredentialID != req.CredentialID {
			fields = append(fields, field("/proof", "the proof's credentialId differs from the request's"))
		}
		if st, ok := ParseStatusAction(p.Status); !ok || st != req.Status {
			fields = append(fields, field("/proof", "the proof's status differs from the request's"))
		}
		return fields
	})
	if err != nil {
		return nil, err
	}
	nonceKey := sha256Hex("status-request\x00" + signer + "\x00" + p.Nonce)
	if err := s.store.UseNonce(ctx, nonceKey, iat.Add(SignedRequestMaxAge+SignedRequestSkew)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, replayed()
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

// Errors of delegation renewal by policy; see Error.
var (
	// ErrRenewalRefused is a policy renewal the organization's policy or
	// the delegation's state does not allow (403, with a problem type
	// saying which: delegation-renewal-not-allowed,
	// delegation-renewals-exhausted, delegation-not-in-force,
	// delegation-lifetime-reached).
	ErrRenewalRefused = errors.New("delegation renewal refused")
	// ErrInvalidRenewal is a malformed renewal request (400).
	ErrInvalidRenewal = errors.New("invalid delegation renewal request")
)

// Problem types of a refused policy renewal.
const (
	ProblemRenewalNotAllowed = "delegation-renewal-not-allowed"
	ProblemRenewalsExhausted = "delegation-renewals-exhausted"
	ProblemNotInForce        = "delegation-not-in-force"
	ProblemLifetimeReached   = "delegation-lifetime-reached"
)

func renewalRefused(slug, detail string) error {
	return &Error{Kind: ErrRenewalRefused, Problem: problem.New(http.StatusForbidden, slug, "Delegation renewal refused", detail)}
}

// RenewalRequest is an agent's request to renew its delegation under the
// organization's delegation policy, authenticated by Proof: a compact JWS
// by the agent's did:key over {delegation, nonce, iat, aud} (delegation:
// the delegation id or credential id of the request; aud: this issuer's
// public URL).
type RenewalRequest struct {
	// Org is the organization's slug; empty is the default organization.
	Org string
	// Delegation is the delegation's id or one of its credential ids.
	Delegation string
	Proof      string
}

// renewalProof is the payload of a renewal request.
type renewalProof struct {
	Delegation string `json:"delegation"`
	proofClaims
}

// RenewDelegation renews a delegation under the organization's delegation
// policy, for its agent: the delegation gets a fresh credential in each of
// its formats, with the same scopes, audience, purpose and consent, valid
// for the default delegation lifetime from now but not past the consent's
// time plus the policy's maxLifetime, nor past the parent's end; its
// earlier credentials are revoked (superseded) and its children stay below
// it. It counts as one of the policy's maxRenewals.
//
// A proof that does not verify is ErrUnauthenticated (401); one that does
// not match the request or is stale ErrInvalidRenewal (400); a used nonce
// ErrReplay (400); a signer who is not the delegation's agent, or an
// unknown delegation, ErrForbidden (403); a policy that does not allow
// renewal, exhausted renewals, a delegation revoked or suspended, or a
// lifetime cap reached ErrRenewalRefused (403, its problem type saying
// which). Nothing is written on any of them.
func (s *Service) RenewDelegation(ctx context.Context, req RenewalRequest) (*Delegated, error) {
	org, err := s.orgFor(ctx, req.Org, ErrInvalidRenewal)
	if err != nil {
		return nil, err
	}
	var p renewalProof
	now := s.now().UTC()
	signer, iat, err := s.verifySignedRequest(now, req.Proof, "renewal request", &p, ErrInvalidRenewal, "the renewal request is not usable", func() []problem.FieldError {
		if p.Delegation != req.Delegation {
			return []problem.FieldError{field("/proof", "the proof's delegation differs from the request's")}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d, err := s.store.DelegationByRef(ctx, org.ID, req.Delegation)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.AgentDID != signer) {
		return nil, forbidden("the signer is not the agent of a delegation with this id")
	}
	if err != nil {
		return nil, fmt.Errorf("renew delegation: %w", err)
	}
	nonceKey := sha256Hex("delegation-renewal\x00" + signer + "\x00" + p.Nonce)
	if used, err := s.store.NonceUsed(ctx, nonceKey); err != nil {
		return nil, fmt.Errorf("renew delegation: %w", err)
	} else if used {
		return nil, replayed()
	}

	// Policy and state, before anything is written.
	pol, err := s.store.DelegationPolicyFor(ctx, org.ID)
	if err != nil {
		return nil, fmt.Errorf("renew delegation: %w", err)
	}
	if !pol.Renewable {
		return nil, renewalRefused(ProblemRenewalNotAllowed, "the organization's delegation policy does not allow renewal without a new consent")
	}
	if d.Renewals >= pol.MaxRenewals {
		return nil, renewalRefused(ProblemRenewalsExhausted, fmt.Sprintf("the delegation was renewed %d times, the policy's maximum: sign a new consent", d.Renewals))
	}
	cur, err := s.store.IssuedCredentialByID(ctx, org.ID, d.CredentialID, false)
	if err != nil {
		return nil, fmt.Errorf("renew delegation: %w", err)
	}
	if cur.Status != store.CredentialActive {
		return nil, renewalRefused(ProblemNotInForce, "the delegation is "+cur.Status)
	}
	var parent *store.Delegation
	if d.ParentID != nil {
		if parent, err = s.store.DelegationByRef(ctx, org.ID, *d.ParentID); err != nil {
			return nil, fmt.Errorf("renew delegation: parent: %w", err)
		}
		pc, err := s.store.IssuedCredentialByID(ctx, org.ID, parent.CredentialID, false)
		if err != nil {
			return nil, fmt.Errorf("renew delegation: parent: %w", err)
		}
		if pc.Status != store.CredentialActive {
			return nil, renewalRefused(ProblemNotInForce, "the parent delegation is "+pc.Status)
		}
	}
	if d.Consent == "" || d.ConsentedAt == nil {
		return nil, renewalRefused(ProblemRenewalNotAllowed, "the delegation was issued before renewal was recorded: sign a new consent")
	}
	exp := now.Add(s.delegationMaxLifetime()).Truncate(time.Second)
	limit := d.ConsentedAt.Add(time.Duration(pol.MaxLifetimeSeconds) * time.Second)
	why := "the policy's maxLifetime from the consent ends at " + limit.UTC().Format(time.RFC3339)
	if parent != nil && parent.ExpiresAt.Before(limit) {
		limit, why = parent.ExpiresAt, "the parent delegation ends at "+parent.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if exp.After(limit) {
		exp = limit.Truncate(time.Second)
	}
	if !exp.After(d.ExpiresAt) || !exp.After(now) {
		return nil, renewalRefused(ProblemLifetimeReached, "the delegation cannot run longer: "+why)
	}
	c, err := consentOf(d)
	if err != nil {
		return nil, fmt.Errorf("renew delegation: %w", err)
	}
	c.Exp = exp.Unix()
	formats := strings.Fields(d.Formats)

	if err := s.store.UseNonce(ctx, nonceKey, iat.Add(SignedRequestMaxAge+SignedRequestSkew)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, replayed()
		}
		return nil, fmt.Errorf("renew delegation: %w", err)
	}
	issued, err := s.issueDelegation(ctx, org.ID, formats, c, d.DelegatorDID, d.Consent)
	if err != nil {
		return nil, err
	}
	err = s.store.Transaction(ctx, func(tx *store.Store) error {
		cur, err := tx.IssuedCredentialByID(ctx, org.ID, d.CredentialID, true)
		if err != nil {
			return err
		}
		if cur.Status != store.CredentialActive {
			return renewalRefused(ProblemNotInForce, "the delegation was "+cur.Status+" meanwhile")
		}
		fresh, err := tx.DelegationByRef(ctx, org.ID, d.ID)
		if err != nil {
			return err
		}
		if fresh.Renewals != d.Renewals || fresh.CredentialID != d.CredentialID {
			return renewalRefused(ProblemRenewalsExhausted, "the delegation was renewed meanwhile")
		}
		// The earlier credentials are superseded: revoked, without the
		// cascade, since the delegation itself goes on.
		if _, err := applyToDelegation(ctx, tx, d, StatusRevoked, ""); err != nil {
			return err
		}
		return tx.RenewDelegationCredentials(ctx, org.ID, d.ID, exp, delegationCredentials(issued))
	})
	if err != nil {
		s.revokeUntracked(ctx, org.ID, issued)
		var ie *Error
		if errors.As(err, &ie) {
			return nil, err
		}
		return nil, fmt.Errorf("renew delegation %s: %w", d.ID, err)
	}
	d, err = s.store.DelegationByRef(ctx, org.ID, d.ID)
	if err != nil {
		return nil, fmt.Errorf("renew delegation: %w", err)
	}
	s.log.InfoContext(ctx, "delegation renewed by policy", "delegation", d.ID, "credential", d.CredentialID,
		"renewals", d.Renewals, "expires", d.ExpiresAt, "organization", org.ID)
	return &Delegated{Delegation: d, Issued: issued[0], Credentials: issued}, nil
}

// AddApprover registers did (a did:key: consents are signed with did:key)
// as an approver of the organization: a human who may sign root
// delegation consents for any of its approved agents. Errors:
// ErrInvalidApprover (400), ErrApproverExists (409).
func (s *Service) AddApprover(ctx context.Context, orgID, did string) (*store.DelegationApprover, error) {
	if _, _, err := didmethods.ParseDIDKey(did); err != nil || strings.ContainsAny(did, "/?#") {
		return nil, invalid(ErrInvalidApprover, "not an approver DID", field("/did", "required: the approver's did:key"))
	}
	a, err := s.store.AddDelegationApprover(ctx, orgID, did)
	if errors.Is(err, store.ErrConflict) {
		return nil, conflict(ErrApproverExists, did+" is an approver of the organization already")
	}
	if err != nil {
		return nil, fmt.Errorf("add approver: %w", err)
	}
	s.log.InfoContext(ctx, "delegation approver added", "did", did, "organization", orgID)
	return a, nil
}

// RemoveApprover removes the approver did; consents it signs are refused
// from then on (delegations it signed stay). ErrNotFound when the
// organization has no such approver.
func (s *Service) RemoveApprover(ctx context.Context, orgID, did string) error {
	err := s.store.RemoveDelegationApprover(ctx, orgID, did)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no approver " + did)
	}
	if err != nil {
		return fmt.Errorf("remove approver: %w", err)
	}
	s.log.InfoContext(ctx, "delegation approver removed", "did", did, "organization", orgID)
	return nil
}

// Approvers lists the organization's approvers.
func (s *Service) Approvers(ctx context.Context, orgID string) ([]store.DelegationApprover, error) {
	out, err := s.store.DelegationApprovers(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("approvers: %w", err)
	}
	return out, nil
}

// Errors of approvers and delegation policies; see Error.
var (
	// ErrInvalidApprover is an approver that is not a did:key (400).
	ErrInvalidApprover = errors.New("invalid approver")
	// ErrApproverExists is an approver registered already (409).
	ErrApproverExists = errors.New("approver exists")
	// ErrInvalidDelegationPolicy is a delegation policy out of bounds (400).
	ErrInvalidDelegationPolicy = errors.New("invalid delegation policy")
)

// Bounds of a delegation policy.
const (
	MaxPolicyRenewals    = 1000
	MaxPolicyMaxLifetime = 366 * 24 * time.Hour
)

// DelegationPolicy is an organization's policy for renewal without a new
// consent.
type DelegationPolicy struct {
	// Renewable lets an agent renew its delegations (RenewDelegation).
	Renewable bool
	// MaxRenewals bounds the renewals of one consent.
	MaxRenewals int
	// MaxLifetime bounds how long after its consent a delegation may run.
	MaxLifetime time.Duration
}

// DelegationPolicy returns the organization's delegation policy (not
// renewable unless set).
func (s *Service) DelegationPolicy(ctx context.Context, orgID string) (*DelegationPolicy, error) {
	p, err := s.store.DelegationPolicyFor(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("delegation policy: %w", err)
	}
	return &DelegationPolicy{Renewable: p.Renewable, MaxRenewals: p.MaxRenewals, MaxLifetime: time.Duration(p.MaxLifetimeSeconds) * time.Second}, nil
}

// SetDelegationPolicy replaces the organization's delegation policy. A
// renewable policy needs maxRenewals of 1 to MaxPolicyRenewals and a
// maxLifetime of a second to MaxPolicyMaxLifetime, in whole seconds.
func (s *Service) SetDelegationPolicy(ctx context.Context, orgID string, p DelegationPolicy) (*DelegationPolicy, error) {
	var fields []problem.FieldError
	if p.MaxRenewals < 0 || p.MaxRenewals > MaxPolicyRenewals || (p.Renewable && p.MaxRenewals < 1) {
		fields = append(fields, field("/maxRenewals", fmt.Sprintf("must be 1 to %d for a renewable policy (0 to %d otherwise)", MaxPolicyRenewals, MaxPolicyRenewals)))
	}
	if p.MaxLifetime < 0 || p.MaxLifetime > MaxPolicyMaxLifetime || (p.Renewable && p.MaxLifetime < time.Second) || p.MaxLifetime%time.Second != 0 {
		fields = append(fields, field("/maxLifetime", fmt.Sprintf("must be whole seconds, at least 1s for a renewable policy and at most %s", MaxPolicyMaxLifetime)))
	}
	if len(fields) > 0 {
		return nil, invalid(ErrInvalidDelegationPolicy, "the delegation policy is not usable", fields...)
	}
	rec := &store.DelegationPolicy{OrganizationID: orgID, Renewable: p.Renewable, MaxRenewals: p.MaxRenewals, MaxLifetimeSeconds: int64(p.MaxLifetime / time.Second)}
	if err := s.store.PutDelegationPolicy(ctx, rec); err != nil {
		return nil, fmt.Errorf("set delegation policy: %w", err)
	}
	s.log.InfoContext(ctx, "delegation policy set", "organization", orgID, "renewable", p.Renewable, "maxRenewals", p.MaxRenewals, "maxLifetime", p.MaxLifetime)
	return &p, nil
}
