package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentid/agentid/delegation"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/statusfetch"
)

// Defaults of the verification endpoints.
const (
	// DefaultStatusStaleness is how long a fetched status list is used
	// before it is revalidated (0 revalidates on every verification).
	DefaultStatusStaleness = statusfetch.DefaultStaleness
	// DefaultChallengeRate and DefaultChallengeBurst bound POST /challenges
	// per client address: a token bucket refilled at DefaultChallengeRate
	// per second holding at most DefaultChallengeBurst.
	DefaultChallengeRate  = 20.0
	DefaultChallengeBurst = 100
)

// verificationConfig holds the options of the verification endpoints
// (POST /challenges, /credentials/verify, /presentations/verify) and what is
// built from them.
type verificationConfig struct {
	verifier        *verifier.Verifier
	audit           *verifier.AuditLog
	challenges      *verifier.Challenges
	staleness       time.Duration
	stalenessSet    bool
	auditLinger     time.Duration
	challengeTTL    time.Duration
	challengeRate   float64
	challengeBurst  int
	challengeRateOK bool
	statusOptions   []statusfetch.Option
	relyingParties  []RelyingParty
	own             *ownIssuers
	// advisory is the trust policy of a request without a relying party
	// (see applyRelyingParty), built once: the verifier only reads it.
	advisory *verifier.TrustPolicy
}

// WithVerifier sets the verifier the verify endpoints run. Without it the
// server builds one with its own DID resolver (the netguard-policied
// registry) and a status checker that fetches status lists over HTTP(S)
// under the same outbound policy (see WithStatusStaleness). A verifier given
// here is used as it is: its resolver and status checker are the caller's.
func WithVerifier(v *verifier.Verifier) Option {
	return func(s *Server) { s.verification.verifier = v }
}

// WithAuditLog sets the audit log every verification is recorded in;
// default: the audit log in the server's store.
func WithAuditLog(a *verifier.AuditLog) Option {
	return func(s *Server) { s.verification.audit = a }
}

// WithAuditLinger sets how long a small group of audit events waits for
// the events of verifications still in progress before it is committed
// (see verifier.WithAuditLinger; default 0, no wait; negative means 0). It
// applies to the audit log the server builds, not to one given with
// WithAuditLog.
func WithAuditLinger(d time.Duration) Option {
	return func(s *Server) { s.verification.auditLinger = max(d, 0) }
}

// WithStatusStaleness bounds how old a fetched status list may be when the
// server's own verifier uses it (default DefaultStatusStaleness; 0 fetches,
// or revalidates with ETag, on every verification; negative means 0).
func WithStatusStaleness(d time.Duration) Option {
	return func(s *Server) {
		s.verification.staleness = max(d, 0)
		s.verification.stalenessSet = true
	}
}

// WithStatusFetchOptions adds options to the status checker the server
// builds (for example statusfetch.WithTLSConfig for a private CA). The
// server's outbound policy, staleness and logger come first, so these
// override them.
func WithStatusFetchOptions(opts ...statusfetch.Option) Option {
	return func(s *Server) { s.verification.statusOptions = append(s.verification.statusOptions, opts...) }
}

// WithChallengeTTL sets how long a challenge from POST /challenges is
// accepted (default verifier.DefaultChallengeTTL, at most
// verifier.MaxChallengeTTL).
func WithChallengeTTL(d time.Duration) Option {
	return func(s *Server) { s.verification.challengeTTL = d }
}

// WithChallengeRateLimit bounds POST /challenges per client address to
// perSecond on average with bursts of burst (defaults DefaultChallengeRate
// and DefaultChallengeBurst). perSecond <= 0 turns the limit off.
func WithChallengeRateLimit(perSecond float64, burst int) Option {
	return func(s *Server) {
		s.verification.challengeRate = perSecond
		s.verification.challengeBurst = max(burst, 1)
		s.verification.challengeRateOK = true
	}
}

// RelyingParty is a service that calls the verify endpoints under a policy
// of its own: the issuers it trusts per credential type, the assurance it
// requires, whether it requires a delegation. A request applies it when its
// options.policy names the relying party's id, or its X-Relying-Party
// header is the id or one of the domains.
type RelyingParty struct {
	// ID names the relying party in options.policy and X-Relying-Party.
	ID string `json:"id"`
	// Domains are the relying party's domains (conventionally origins):
	// X-Relying-Party may name it by one, and a delegation's audience
	// must list one when the request gives no options.domain.
	Domains []string `json:"domains,omitempty"`
	// TrustedIssuers maps a credential type (or "*" for any type) to the
	// issuer DIDs trusted for it. Empty: the issuer identities of the
	// server's own organizations.
	TrustedIssuers map[string][]string `json:"trustedIssuers,omitempty"`
	// MinAssurance is the least assurance required ("software",
	// "hardware"), whatever the request asks.
	MinAssurance string `json:"minAssurance,omitempty"`
	// RequireDelegation requires a delegation of the agent in every
	// presentation, even when the request names no action.
	RequireDelegation bool `json:"requireDelegation,omitempty"`
}

// relyingPartiesFile is the relying-parties file: an array of
// RelyingParty, or an object with one member relyingParties holding it.
type relyingPartiesFile struct {
	RelyingParties []RelyingParty `json:"relyingParties"`
}

// maxRelyingPartiesFile bounds the relying-parties file.
const maxRelyingPartiesFile = 4 << 20

// LoadRelyingParties reads a relying-parties file (JSON: an array of
// relying parties, or {"relyingParties": [...]}) and checks it: each needs
// a unique id, assurance levels must be known, trusted issuers must be
// DIDs.
func LoadRelyingParties(path string) ([]RelyingParty, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("relying parties: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxRelyingPartiesFile+1))
	if err != nil {
		return nil, fmt.Errorf("relying parties %s: %w", path, err)
	}
	if len(raw) > maxRelyingPartiesFile {
		return nil, fmt.Errorf("relying parties %s: larger than %d bytes", path, maxRelyingPartiesFile)
	}
	return ParseRelyingParties(raw)
}

// ParseRelyingParties parses and checks the contents of a relying-parties
// file (see LoadRelyingParties).
func ParseRelyingParties(raw []byte) ([]RelyingParty, error) {
	var list []RelyingParty
	trimmed := bytes.TrimSpace(raw)
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(trimmed))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		if err := dec(&list); err != nil {
			return nil, fmt.Errorf("relying parties: %w", err)
		}
	default:
		var f relyingPartiesFile
		if err := dec(&f); err != nil {
			return nil, fmt.Errorf("relying parties: %w", err)
		}
		list = f.RelyingParties
	}
	seen := map[string]bool{}
	for i, rp := range list {
		at := fmt.Sprintf("relying party %d", i)
		switch {
		case strings.TrimSpace(rp.ID) == "" || len(rp.ID) > maxRelyingPartyLength:
			return nil, fmt.Errorf("%s: id is required (at most %d bytes)", at, maxRelyingPartyLength)
		case seen[rp.ID]:
			return nil, fmt.Errorf("%s: id %q is listed twice", at, rp.ID)
		case rp.MinAssurance != "" && !slices.Contains(verifier.AssuranceLevels, rp.MinAssurance):
			return nil, fmt.Errorf("%s (%s): minAssurance must be one of %s", at, rp.ID, strings.Join(verifier.AssuranceLevels, ", "))
		}
		seen[rp.ID] = true
		for typ, dids := range rp.TrustedIssuers {
			for _, d := range dids {
				if !strings.HasPrefix(d, "did:") {
					return nil, fmt.Errorf("%s (%s): trustedIssuers[%q]: %q is not a DID", at, rp.ID, typ, d)
				}
			}
		}
		for _, d := range rp.Domains {
			if strings.TrimSpace(d) == "" {
				return nil, fmt.Errorf("%s (%s): an empty domain", at, rp.ID)
			}
		}
	}
	return list, nil
}

// WithRelyingParties configures the relying parties whose policies the
// verify endpoints apply (see RelyingParty). Calls accumulate.
func WithRelyingParties(rps ...RelyingParty) Option {
	return func(s *Server) { s.verification.relyingParties = append(s.verification.relyingParties, rps...) }
}

// relyingPartyFor picks the relying party whose policy applies: the one
// options.policy names (unknown: a 400 problem naming /options/policy), else
// the one the X-Relying-Party header names by id or domain, else none.
func (vc *verificationConfig) relyingPartyFor(policy, header string) (*RelyingParty, *problem.Problem) {
	if policy != "" {
		for i := range vc.relyingParties {
			if vc.relyingParties[i].ID == policy {
				return &vc.relyingParties[i], nil
			}
		}
		return nil, problem.BadRequest("/options/policy", fmt.Sprintf("no relying party %.64q is configured", policy))
	}
	if header == "" {
		return nil, nil
	}
	for i := range vc.relyingParties {
		if vc.relyingParties[i].ID == header {
			return &vc.relyingParties[i], nil
		}
	}
	for i := range vc.relyingParties {
		if slices.ContainsFunc(vc.relyingParties[i].Domains, func(d string) bool { return delegation.SameAudience(d, header) }) {
			return &vc.relyingParties[i], nil
		}
	}
	return nil, nil
}

// ownIssuers answers whether an issuer DID is one of the server's own
// organizations' issuer identities. Positive answers are remembered (an
// issuer identity is never deleted); others are asked of the database each
// time, so that a new organization is trusted at once.
type ownIssuers struct {
	store *store.Store
	known sync.Map // DID → its organization's id
}

func (o *ownIssuers) trusted(ctx context.Context, did string) (bool, error) {
	org, err := o.organization(ctx, did)
	return org != "", err
}

// organization is the id of the organization whose issuer identity did is,
// or "" when it is none of the server's. An identity never moves to another
// organization, so positive answers are remembered like trusted's.
func (o *ownIssuers) organization(ctx context.Context, did string) (string, error) {
	if org, ok := o.known.Load(did); ok {
		return org.(string), nil
	}
	if !strings.HasPrefix(did, "did:") || len(did) > maxOptionLength {
		return "", nil
	}
	id, err := o.store.IssuerIdentityByDID(ctx, did)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	}
	if id.OrganizationID != "" {
		o.known.Store(did, id.OrganizationID)
	}
	return id.OrganizationID, nil
}

// applyRelyingParty sets the verifier options a request's relying party
// (nil: none) implies: its trust policy, enforced, or without one the
// server's own organizations as an advisory list; its assurance and
// delegation requirements; its domains as the delegation audience when the
// request gives no domain.
func (vc *verificationConfig) applyRelyingParty(o *requestOptions, rp *RelyingParty) {
	if rp == nil {
		o.verifier.Trust = vc.advisory
		if o.verifier.Trust == nil { // not set up by setupVerification
			o.verifier.Trust = &verifier.TrustPolicy{Trusted: vc.own.trusted, Advisory: true}
		}
		return
	}
	own := vc.own.trusted
	o.RelyingParty = rp.ID
	if len(rp.TrustedIssuers) > 0 {
		o.verifier.Trust = &verifier.TrustPolicy{Issuers: rp.TrustedIssuers}
	} else {
		o.verifier.Trust = &verifier.TrustPolicy{Trusted: own}
	}
	if slices.Index(verifier.AssuranceLevels, rp.MinAssurance) > slices.Index(verifier.AssuranceLevels, o.verifier.MinAssurance) {
		o.verifier.MinAssurance = rp.MinAssurance
	}
	o.verifier.RequireDelegation = rp.RequireDelegation
	if o.verifier.Domain == "" {
		o.verifier.Audience = rp.Domains
	}
}
