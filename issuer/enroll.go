package issuer

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/attest"
	"github.com/agentid/agentid/schemas"
)

// Agent enrollment (DESIGN.md §6). An agent enrolls in three calls:
//
//  1. StartEnrollment: its P-256 did:key, name, software facts and
//     principal → an enrollment id and a 32-byte nonce, valid for
//     EnrollmentNonceTTL.
//  2. SubmitEvidence: TPM evidence over the nonce (attest.Evidence, made by
//     keys/tpm Attest) and a proof of possession of the did:key's key (see
//     ProofType) → the credential activation challenge, encrypted to the
//     EK. The nonce is consumed when the evidence verifies. A software key
//     sends no evidence, only the proof, and is recorded at once if the
//     organization's policy allows software keys.
//  3. ActivateEnrollment: the secret the agent's TPM recovered → the agent
//     is recorded with hardware assurance, and approved at once when the
//     organization's policy auto-approves.
//
// ApproveAgent (an admin) issues the AgentIdentityCredential in both
// formats. Every step is a conditional database update, so replicas on one
// database may serve any of the calls.

// EnrollmentNonceTTL is how long an enrollment nonce is accepted.
const EnrollmentNonceTTL = 5 * time.Minute

// EnrollmentNonceSize is the size of an enrollment nonce in bytes.
const EnrollmentNonceSize = 32

// AgentIdentityValidity is how long an AgentIdentityCredential is valid.
const AgentIdentityValidity = 90 * 24 * time.Hour

// ProofType is the JWS "typ" the proof of possession may carry. The proof
// is a compact JWS, alg ES256, signed by the agent's did:key key, whose
// payload is a JSON object with (at least) "nonce", the enrollment nonce
// exactly as StartEnrollment returned it (base64url, no padding), and
// "aud", the issuer's public URL (a string, or an array holding it).
const ProofType = "agentid-enrollment+jwt"

// Errors of agent enrollment; each carries its problem (see Error).
var (
	// ErrInvalidEnrollment is a malformed enrollment request (400).
	ErrInvalidEnrollment = errors.New("invalid enrollment request")
	// ErrEnrollmentNonceUsed is an enrollment whose nonce was consumed
	// already: a replay (400).
	ErrEnrollmentNonceUsed = errors.New("enrollment nonce already used")
	// ErrEnrollmentNonceExpired is an enrollment whose nonce expired (400).
	ErrEnrollmentNonceExpired = errors.New("enrollment nonce expired")
	// ErrEnrollmentProof is a proof of possession that does not verify with
	// the agent's did:key, or is not over the nonce and this issuer (400).
	ErrEnrollmentProof = errors.New("proof of possession does not verify")
	// ErrEvidenceRejected is TPM evidence that does not verify: malformed,
	// for another key or nonce, or from an untrusted EK (400).
	ErrEvidenceRejected = errors.New("attestation evidence rejected")
	// ErrSoftwareKeysNotAllowed is a software-key enrollment in an
	// organization whose policy does not allow software keys (403).
	ErrSoftwareKeysNotAllowed = errors.New("the organization does not allow software keys")
	// ErrActivation is a wrong, expired or repeated activation answer (400).
	ErrActivation = errors.New("credential activation failed")
	// ErrAgentExists is an agent DID the organization has enrolled already
	// (409).
	ErrAgentExists = errors.New("agent already enrolled")
	// ErrAgentState is an approval or rejection of an agent that is not
	// pending approval (409).
	ErrAgentState = errors.New("agent is not pending approval")
)

func enrollProblem(kind error, status int, slug, title, detail string, fields ...problem.FieldError) error {
	return &Error{Kind: kind, Problem: problem.New(status, slug, title, detail, fields...)}
}

// WithTPMRoots sets the TPM manufacturer roots (attest.LoadRoots) that
// enrollment trusts EK certificates under; without it only EKs on an
// organization's allowlist are trusted.
func WithTPMRoots(pool *x509.CertPool) Option { return func(s *Service) { s.tpmRoots = pool } }

// AgentSoftware is what an agent says it runs.
type AgentSoftware struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Model   string `json:"model,omitempty"`
}

// EnrollRequest starts an enrollment.
type EnrollRequest struct {
	// Org is the organization's slug; empty is the default organization.
	Org string `json:"org,omitempty"`
	// DID is the agent's P-256 did:key.
	DID      string        `json:"did"`
	Name     string        `json:"name"`
	Software AgentSoftware `json:"software"`
	// Principal is the DID of the human the agent acts for.
	Principal string `json:"principal"`
}

// EnrollStart is the answer to StartEnrollment.
type EnrollStart struct {
	ID string `json:"id"`
	// Nonce is the 32-byte nonce, base64url without padding: the TPM
	// certification's qualifying data is its decoded bytes, the proof of
	// possession names it as is.
	Nonce   string    `json:"nonce"`
	Expires time.Time `json:"expires"`
}

// StartEnrollment checks the request and stores a new enrollment with a
// fresh nonce. Bad input is ErrInvalidEnrollment (an unknown organization
// too); an agent DID the organization has enrolled is ErrAgentExists.
func (s *Service) StartEnrollment(ctx context.Context, req EnrollRequest) (*EnrollStart, error) {
	var fields []problem.FieldError
	if kt, _, err := didmethods.ParseDIDKey(req.DID); err != nil || kt != keys.P256 {
		fields = append(fields, field("/did", "must be a P-256 did:key (the agent's TPM key)"))
	}
	checkLen := func(ptr, v string, min, max int) {
		if n := len([]rune(v)); n < min || n > max {
			fields = append(fields, field(ptr, fmt.Sprintf("must be %d to %d characters", min, max)))
		}
	}
	checkLen("/name", req.Name, 1, 256)
	checkLen("/software/name", req.Software.Name, 1, 256)
	checkLen("/software/version", req.Software.Version, 1, 128)
	if req.Software.Model != "" {
		checkLen("/software/model", req.Software.Model, 1, 256)
	}
	if m, _, err := didmethods.SplitDID(req.Principal); err != nil || m == "" || strings.ContainsAny(req.Principal, "/?#") {
		fields = append(fields, field("/principal", "must be a DID (the human the agent acts for)"))
	}
	var org *store.Organization
	var err error
	if req.Org == "" {
		org, err = s.store.DefaultOrganization(ctx)
	} else {
		org, err = s.store.OrganizationBySlug(ctx, req.Org)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		fields = append(fields, field("/org", "no such organization"))
	case err != nil:
		return nil, fmt.Errorf("start enrollment: %w", err)
	}
	if len(fields) > 0 {
		return nil, invalid(ErrInvalidEnrollment, "the enrollment request is not usable", fields...)
	}
	if _, err := s.store.AgentByDID(ctx, org.ID, req.DID); err == nil {
		return nil, conflict(ErrAgentExists, "the organization has enrolled this agent DID already")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("start enrollment: %w", err)
	}
	software, err := json.Marshal(req.Software)
	if err != nil {
		return nil, fmt.Errorf("start enrollment: %w", err)
	}
	nonce := make([]byte, EnrollmentNonceSize)
	_, _ = rand.Read(nonce)
	encoded := base64.RawURLEncoding.EncodeToString(nonce)
	now := s.now().UTC()
	e := &store.Enrollment{
		OrganizationID: org.ID, AgentDID: req.DID, Name: req.Name, Software: string(software),
		PrincipalDID: req.Principal, NonceHash: nonceHash(encoded),
		NonceExpiresAt: now.Add(EnrollmentNonceTTL), CreatedAt: now,
	}
	if err := s.store.CreateEnrollment(ctx, e); err != nil {
		return nil, fmt.Errorf("start enrollment: %w", err)
	}
	s.log.InfoContext(ctx, "enrollment started", "enrollment", e.ID, "org", org.Slug, "agent", req.DID)
	return &EnrollStart{ID: e.ID, Nonce: encoded, Expires: e.NonceExpiresAt}, nil
}

// nonceHash is the stored form of a nonce: the hex SHA-256 of its base64url
// text.
func nonceHash(encoded string) string {
	sum := sha256.Sum256([]byte(encoded))
	return hex.EncodeToString(sum[:])
}

// EvidenceRequest is the agent's second call.
type EvidenceRequest struct {
	// Evidence is the attest.Evidence document; absent for a software key.
	Evidence json.RawMessage `json:"evidence,omitempty"`
	// Software, with no evidence, asks to enroll a software key.
	Software bool `json:"software,omitempty"`
	// Proof is the proof of possession (see ProofType).
	Proof string `json:"proof"`
}

// EvidenceResult is the answer to SubmitEvidence: the activation challenge
// for TPM evidence, or the recorded agent for a software key.
type EvidenceResult struct {
	Activation *attest.ActivationChallenge `json:"activation,omitempty"`
	Expires    *time.Time                  `json:"expires,omitempty"`
	Agent      *AgentView                  `json:"agent,omitempty"`
}

// SubmitEvidence checks the proof of possession and the evidence of the
// enrollment id, consumes its nonce and stores the activation challenge's
// secret (its SHA-256), expiry and the verified facts, and returns the
// challenge. Errors: ErrNotFound, ErrInvalidEnrollment,
// ErrEnrollmentNonceUsed, ErrEnrollmentNonceExpired, ErrEnrollmentProof,
// ErrEvidenceRejected, ErrSoftwareKeysNotAllowed. Nothing is written unless
// everything verified.
func (s *Service) SubmitEvidence(ctx context.Context, id string, req EvidenceRequest) (*EvidenceResult, error) {
	e, err := s.enrollment(ctx, id)
	if err != nil {
		return nil, err
	}
	hasEvidence := len(req.Evidence) > 0 && string(req.Evidence) != "null"
	switch {
	case req.Proof == "":
		return nil, invalid(ErrInvalidEnrollment, "a proof of possession is required", field("/proof", "required: a compact JWS by the agent key over the nonce and the issuer URL"))
	case hasEvidence && req.Software:
		return nil, invalid(ErrInvalidEnrollment, "evidence and software exclude each other", field("/software", "must be absent with evidence"))
	case !hasEvidence && !req.Software:
		return nil, invalid(ErrInvalidEnrollment, "evidence is required", field("/evidence", `required: the TPM evidence (or "software": true for a software key)`))
	}
	now := s.now().UTC()
	if err := nonceUsable(e, now); err != nil {
		return nil, err
	}
	_, pub, err := didmethods.ParseDIDKey(e.AgentDID)
	if err != nil {
		return nil, fmt.Errorf("submit evidence: stored DID: %w", err)
	}
	nonce, err := s.verifyProof(req.Proof, pub)
	if err != nil {
		return nil, err
	}
	if nonceHash(nonce) != e.NonceHash {
		return nil, enrollProblem(ErrEnrollmentProof, http.StatusBadRequest, "enrollment-proof-invalid", "Proof of possession rejected",
			"the proof is not over this enrollment's nonce", field("/proof", "its nonce is not the enrollment's"))
	}

	if req.Software {
		return s.enrollSoftware(ctx, e, pub, now)
	}
	ev, err := attest.ParseEvidence(req.Evidence)
	if err != nil {
		return nil, enrollProblem(ErrEvidenceRejected, http.StatusBadRequest, "enrollment-evidence-rejected", "Attestation evidence rejected",
			err.Error(), field("/evidence", err.Error()))
	}
	allow, err := s.store.EKAllowlist(ctx, e.OrganizationID)
	if err != nil {
		return nil, fmt.Errorf("submit evidence: %w", err)
	}
	v, err := attest.NewVerifier(attest.Policy{Roots: s.tpmRoots, EKAllowlist: allow, Now: s.now})
	if err != nil {
		return nil, fmt.Errorf("submit evidence: %w", err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(nonce)
	pending, err := v.Verify(ev, raw, pub)
	if err != nil {
		return nil, enrollProblem(ErrEvidenceRejected, http.StatusBadRequest, "enrollment-evidence-rejected", "Attestation evidence rejected",
			err.Error(), field("/evidence", err.Error()))
	}
	facts, err := json.Marshal(pending.Facts)
	if err != nil {
		return nil, fmt.Errorf("submit evidence: %w", err)
	}
	digest := pending.SecretSHA256()
	ok, err := s.store.StartActivation(ctx, e.ID, e.NonceHash, now, digest[:], pending.Expires, string(facts))
	if err != nil {
		return nil, fmt.Errorf("submit evidence: %w", err)
	}
	if !ok {
		return nil, s.nonceGone(ctx, e.ID, now)
	}
	s.log.InfoContext(ctx, "enrollment evidence verified", "enrollment", e.ID, "method", pending.Facts.Method, "ek", pending.Facts.EKPublicKeySHA256)
	exp := pending.Expires.UTC()
	return &EvidenceResult{Activation: &pending.Challenge, Expires: &exp}, nil
}

// enrollment loads an enrollment, 404 when there is none.
func (s *Service) enrollment(ctx context.Context, id string) (*store.Enrollment, error) {
	e, err := s.store.EnrollmentByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("no enrollment " + id)
	}
	if err != nil {
		return nil, fmt.Errorf("enrollment: %w", err)
	}
	return e, nil
}

// nonceUsable says why the enrollment's nonce can no longer be used, or nil.
func nonceUsable(e *store.Enrollment, now time.Time) error {
	if e.NonceUsedAt != nil || e.State != store.EnrollmentPendingEvidence {
		return enrollProblem(ErrEnrollmentNonceUsed, http.StatusBadRequest, "enrollment-nonce-used", "Enrollment nonce already used",
			"the enrollment's nonce was used already; start a new enrollment", field("/proof", "the nonce was used already (replay)"))
	}
	if !now.Before(e.NonceExpiresAt) {
		return enrollProblem(ErrEnrollmentNonceExpired, http.StatusBadRequest, "enrollment-nonce-expired", "Enrollment nonce expired",
			"the enrollment's nonce expired at "+e.NonceExpiresAt.UTC().Format(time.RFC3339)+"; start a new enrollment",
			field("/proof", "the nonce expired"))
	}
	return nil
}

// nonceGone explains a lost race for the nonce: it was consumed or expired
// between the read and the update.
func (s *Service) nonceGone(ctx context.Context, id string, now time.Time) error {
	e, err := s.enrollment(ctx, id)
	if err != nil {
		return err
	}
	if err := nonceUsable(e, now); err != nil {
		return err
	}
	return nonceUsable(&store.Enrollment{NonceUsedAt: &now}, now)
}

// verifyProof checks the compact JWS proof with the agent key and returns
// the nonce it names.
func (s *Service) verifyProof(compact string, pub crypto.PublicKey) (string, error) {
	bad := func(reason string) error {
		return enrollProblem(ErrEnrollmentProof, http.StatusBadRequest, "enrollment-proof-invalid", "Proof of possession rejected",
			reason, field("/proof", reason))
	}
	parts := strings.Split(compact, ".")
	if len(parts) != 3 || len(compact) > 8<<10 {
		return "", bad("not a compact JWS")
	}
	hdrRaw, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	payRaw, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", bad("a JWS part is not base64url")
	}
	var hdr map[string]any
	if err := json.Unmarshal(hdrRaw, &hdr); err != nil {
		return "", bad("the JWS header is not a JSON object")
	}
	if hdr["alg"] != string(keys.ES256) {
		return "", bad("the JWS alg must be ES256 (the agent's P-256 key)")
	}
	if _, ok := hdr["crit"]; ok {
		return "", bad("the JWS has critical header parameters this issuer does not understand")
	}
	if typ, ok := hdr["typ"]; ok && typ != ProofType {
		return "", bad("the JWS typ must be " + ProofType + " when present")
	}
	if err := keys.Verify(pub, keys.ES256, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return "", bad("the signature does not verify with the agent's did:key")
	}
	var payload struct {
		Nonce string `json:"nonce"`
		Aud   any    `json:"aud"`
	}
	if err := json.Unmarshal(payRaw, &payload); err != nil {
		return "", bad("the JWS payload is not a JSON object")
	}
	if payload.Nonce == "" {
		return "", bad("the payload has no nonce")
	}
	audOK := false
	switch a := payload.Aud.(type) {
	case string:
		audOK = a == s.publicURL
	case []any:
		for _, x := range a {
			audOK = audOK || x == s.publicURL
		}
	}
	if !audOK {
		return "", bad("the payload's aud is not this issuer (" + s.publicURL + ")")
	}
	return payload.Nonce, nil
}

// enrollSoftware records an agent with a software key, if the
// organization's policy allows it.
func (s *Service) enrollSoftware(ctx context.Context, e *store.Enrollment, pub crypto.PublicKey, now time.Time) (*EvidenceResult, error) {
	pol, err := s.store.EnrollmentPolicyFor(ctx, e.OrganizationID)
	if err != nil {
		return nil, fmt.Errorf("submit evidence: %w", err)
	}
	if !pol.AllowSoftware {
		return nil, &Error{Kind: ErrSoftwareKeysNotAllowed, Problem: problem.New(http.StatusForbidden, "enrollment-software-not-allowed",
			"Software keys not allowed", "the organization's policy admits only agents whose key is in a TPM", field("/software", "not allowed by the organization"))}
	}
	a, err := attest.SoftwareAssurance(pub, now)
	if err != nil {
		return nil, fmt.Errorf("submit evidence: %w", err)
	}
	agent := newAgent(e, a)
	ok, err := s.store.CompleteSoftwareEnrollment(ctx, e.ID, e.NonceHash, now, agent)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, conflict(ErrAgentExists, "the organization has enrolled this agent DID already")
	case err != nil:
		return nil, fmt.Errorf("submit evidence: %w", err)
	case !ok:
		return nil, s.nonceGone(ctx, e.ID, now)
	}
	s.log.InfoContext(ctx, "agent enrolled", "agent", agent.ID, "did", agent.DID, "assurance", agent.Assurance)
	return &EvidenceResult{Agent: &AgentView{Agent: agent}}, nil
}

func newAgent(e *store.Enrollment, a *attest.Assurance) *store.Agent {
	return &store.Agent{
		OrganizationID: e.OrganizationID, DID: e.AgentDID, Name: e.Name, Software: e.Software, PrincipalDID: e.PrincipalDID,
		Assurance: a.Level, Method: a.Method, EKCertificateSHA256: a.EKCertificateSHA256, EKPublicKeySHA256: a.EKPublicKeySHA256,
		Manufacturer: a.Manufacturer, Model: a.Model, FirmwareVersion: a.FirmwareVersion, AttestedAt: a.AttestedAt,
		State: store.AgentPendingApproval,
	}
}

// AgentView is an agent with its AgentIdentityCredentials.
type AgentView struct {
	Agent *store.Agent
	// Credentials are the agent's AgentIdentityCredentials, oldest first.
	Credentials []store.IssuedCredential
}

// ActivateEnrollment checks the agent's answer to the activation challenge
// (single use: a wrong answer ends the enrollment) and records the agent
// with hardware assurance; when the organization's policy auto-approves,
// the agent is approved and its credentials issued. Errors: ErrNotFound,
// ErrActivation, ErrAgentExists.
func (s *Service) ActivateEnrollment(ctx context.Context, id string, secret []byte) (*AgentView, error) {
	e, err := s.enrollment(ctx, id)
	if err != nil {
		return nil, err
	}
	failed := func(reason string) error {
		return enrollProblem(ErrActivation, http.StatusBadRequest, "enrollment-activation-failed", "Credential activation failed",
			reason, field("/secret", reason))
	}
	if e.State != store.EnrollmentPendingActivation || e.ActivationUsedAt != nil || e.ActivationExpiresAt == nil {
		if e.State == store.EnrollmentPendingEvidence {
			return nil, failed("the enrollment has no activation challenge yet: send the evidence first")
		}
		return nil, failed("the activation was attempted already (single use); start a new enrollment")
	}
	var facts attest.Facts
	if err := json.Unmarshal([]byte(e.Facts), &facts); err != nil {
		return nil, fmt.Errorf("activate enrollment: stored facts: %w", err)
	}
	now := s.now().UTC()
	a, err := attest.CompleteStored(facts, e.SecretHash, *e.ActivationExpiresAt, now, secret)
	if err != nil {
		if _, ferr := s.store.FailActivation(ctx, e.ID, now); ferr != nil {
			return nil, fmt.Errorf("activate enrollment: %w", ferr)
		}
		s.log.WarnContext(ctx, "enrollment activation failed", "enrollment", e.ID, "error", err)
		return nil, failed(err.Error())
	}
	agent := newAgent(e, a)
	ok, err := s.store.CompleteActivation(ctx, e.ID, now, agent)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, conflict(ErrAgentExists, "the organization has enrolled this agent DID already")
	case err != nil:
		return nil, fmt.Errorf("activate enrollment: %w", err)
	case !ok:
		return nil, failed("the activation was attempted already (single use) or expired; start a new enrollment")
	}
	s.log.InfoContext(ctx, "agent enrolled", "agent", agent.ID, "did", agent.DID, "assurance", agent.Assurance, "method", agent.Method)
	pol, err := s.store.EnrollmentPolicyFor(ctx, e.OrganizationID)
	if err != nil {
		return nil, fmt.Errorf("activate enrollment: %w", err)
	}
	if pol.AutoApprove && agent.Assurance == attest.LevelHardware {
		return s.ApproveAgent(ctx, agent.OrganizationID, agent.ID)
	}
	return &AgentView{Agent: agent}, nil
}

// Agent returns the organization's agent and its credentials; another
// organization's agent is ErrNotFound.
func (s *Service) Agent(ctx context.Context, orgID, id string) (*AgentView, error) {
	a, err := s.store.AgentByID(ctx, orgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("no agent " + id)
	}
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	creds, _, err := s.Credentials(ctx, orgID, CredentialQuery{Subject: a.DID, Type: "AgentIdentityCredential", Limit: 1000})
	if err != nil {
		return nil, err
	}
	return &AgentView{Agent: a, Credentials: creds}, nil
}

// RejectAgent rejects an agent pending approval. Errors: ErrNotFound,
// ErrAgentState.
func (s *Service) RejectAgent(ctx context.Context, orgID, id string) (*AgentView, error) {
	if _, err := s.Agent(ctx, orgID, id); err != nil {
		return nil, err
	}
	ok, err := s.store.SetAgentState(ctx, orgID, id, store.AgentPendingApproval, store.AgentRejected, s.now())
	if err != nil {
		return nil, fmt.Errorf("reject agent: %w", err)
	}
	if !ok {
		return nil, conflict(ErrAgentState, "the agent is not pending approval")
	}
	return s.Agent(ctx, orgID, id)
}

// ApproveAgent approves an agent pending approval and issues its
// AgentIdentityCredential as ldp_vc and as dc+sd-jwt. The approval is
// claimed first (so two approvals issue once) and undone when issuance
// fails. Errors: ErrNotFound, ErrAgentState.
func (s *Service) ApproveAgent(ctx context.Context, orgID, id string) (*AgentView, error) {
	a, err := s.store.AgentByID(ctx, orgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("no agent " + id)
	}
	if err != nil {
		return nil, fmt.Errorf("approve agent: %w", err)
	}
	ok, err := s.store.SetAgentState(ctx, orgID, id, store.AgentPendingApproval, store.AgentApproved, s.now())
	if err != nil {
		return nil, fmt.Errorf("approve agent: %w", err)
	}
	if !ok {
		return nil, conflict(ErrAgentState, "the agent is not pending approval")
	}
	var issued []*Issued
	for _, format := range []string{FormatLDPVC, FormatSDJWT} {
		var doc map[string]any
		doc, err = s.agentIdentityDoc(ctx, a)
		if err != nil {
			break
		}
		var out *Issued
		out, err = s.Issue(ctx, orgID, doc, IssueOptions{Format: format})
		if err != nil {
			break
		}
		issued = append(issued, out)
	}
	if err != nil {
		// Undo: revoke what was issued and put the agent back.
		for _, out := range issued {
			if _, rerr := s.ChangeStatus(ctx, Actor{Kind: ActorAdmin, OrganizationID: orgID, ID: "enrollment"}, out.Record.CredentialID, StatusRevoked); rerr != nil {
				s.log.ErrorContext(ctx, "revoke credential of a failed approval", "credential", out.Record.CredentialID, "error", rerr)
			}
		}
		if _, uerr := s.store.SetAgentState(ctx, orgID, id, store.AgentApproved, store.AgentPendingApproval, s.now()); uerr != nil {
			s.log.ErrorContext(ctx, "undo approval", "agent", id, "error", uerr)
		}
		return nil, fmt.Errorf("approve agent %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "agent approved", "agent", id, "did", a.DID)
	return s.Agent(ctx, orgID, id)
}

// agentIdentityDoc is the unsigned AgentIdentityCredential of an agent
// (DESIGN.md §5). Its operator is the organization's default ldp_vc
// issuer identity; the issuer is left for Issue to pick per format.
func (s *Service) agentIdentityDoc(ctx context.Context, a *store.Agent) (map[string]any, error) {
	ids, err := s.store.IssuerIdentities(ctx, a.OrganizationID)
	if err != nil {
		return nil, err
	}
	operator := ""
	for _, id := range ids {
		if id.Active && (operator == "" || id.KeyType == string(keys.Ed25519)) {
			operator = id.DID
			if id.KeyType == string(keys.Ed25519) {
				break
			}
		}
	}
	if operator == "" {
		return nil, errors.New("the organization has no active issuer identity")
	}
	var sw map[string]any
	if err := json.Unmarshal([]byte(a.Software), &sw); err != nil {
		return nil, fmt.Errorf("stored software facts: %w", err)
	}
	binding := map[string]any{
		"type":       "TPM2",
		"assurance":  a.Assurance,
		"attestedAt": a.AttestedAt.UTC().Format(time.RFC3339),
	}
	if a.Assurance != attest.LevelHardware {
		binding["type"] = "SoftwareKey"
	}
	if a.EKCertificateSHA256 != "" {
		binding["ekCertificateSha256"] = a.EKCertificateSHA256
	}
	return map[string]any{
		"@context":   []any{credential.ContextV2, schemas.ContextURL},
		"type":       []any{"VerifiableCredential", "AgentIdentityCredential"},
		"validUntil": s.clock().Add(AgentIdentityValidity).Format(time.RFC3339),
		"credentialSubject": map[string]any{
			"id":              a.DID,
			"type":            "Agent",
			"name":            a.Name,
			"operator":        operator,
			"principal":       a.PrincipalDID,
			"software":        sw,
			"hardwareBinding": binding,
		},
		"credentialSchema": map[string]any{"id": schemas.AgentIdentityV1, "type": "JsonSchema"},
	}, nil
}

// EnrollmentPolicy is the organization's enrollment policy.
func (s *Service) EnrollmentPolicy(ctx context.Context, orgID string) (*store.EnrollmentPolicy, error) {
	return s.store.EnrollmentPolicyFor(ctx, orgID)
}

// SetEnrollmentPolicy replaces the organization's enrollment policy.
func (s *Service) SetEnrollmentPolicy(ctx context.Context, orgID string, allowSoftware, autoApprove bool) (*store.EnrollmentPolicy, error) {
	p := &store.EnrollmentPolicy{OrganizationID: orgID, AllowSoftware: allowSoftware, AutoApprove: autoApprove}
	if err := s.store.PutEnrollmentPolicy(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// AllowEK puts an EK on the organization's allowlist by its
// attest.EKPublicKeyHash (64 hex digits, optional "sha256:" prefix), and
// returns the normalized hash. A malformed hash is ErrInvalidEnrollment.
func (s *Service) AllowEK(ctx context.Context, orgID, hash string) (string, error) {
	d, err := attest.ParseEKHash(hash)
	if err != nil {
		return "", invalid(ErrInvalidEnrollment, "not an EK public-key hash", field("/hash", err.Error()))
	}
	h := hex.EncodeToString(d[:])
	if err := s.store.AddEKAllowlist(ctx, orgID, h); err != nil {
		return "", err
	}
	return h, nil
}
