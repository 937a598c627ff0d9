package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/agentid/agentid/delegation"
	"github.com/agentid/agentid/verifier"
)

// Scheme is the HTTP authentication scheme of agentid presentations.
const Scheme = "AgentID"

// MaxPresentationBytes bounds the presentation in an Authorization header.
// Go's http.Server refuses headers over 1 MiB in all (DefaultMaxHeaderBytes);
// 256 KiB holds a VP with a few credentials, base64url-encoded, with room to
// spare.
const MaxPresentationBytes = 256 << 10

// Assurance levels, lowest first.
const (
	AssuranceSoftware = "software"
	AssuranceHardware = "hardware"
)

var assuranceLevels = []string{AssuranceSoftware, AssuranceHardware}

// Errors of New: the configuration cannot protect a route.
var (
	// ErrNoVerifier: neither WithVerifier and WithChallenges nor WithRemote
	// was given, or both were.
	ErrNoVerifier = errors.New("middleware: give WithVerifier and WithChallenges, or WithRemote")
	// ErrDomain: WithDomain is missing or not an origin-like string.
	ErrDomain = errors.New("middleware: invalid domain")
	// ErrPolicy: a Require option is unusable.
	ErrPolicy = errors.New("middleware: invalid policy")
)

// Option configures the middleware.
type Option func(*config)

// scopeRequirement is one RequireScope.
type scopeRequirement struct{ action, resource string }

type config struct {
	domain     string
	verifier   *verifier.Verifier
	challenges *verifier.Challenges
	remoteURL  string
	remoteHTTP *http.Client
	scopes     []scopeRequirement
	assurance  string
	issuers    []string
	now        func() time.Time
	log        *slog.Logger
	auditor    Auditor
	auditOrg   string
	errs       []error
}

// WithDomain sets the service's domain: the value a presentation must be
// bound to (Data Integrity proof domain, KB-JWT aud) and that a delegation's
// audience must list, conventionally the service's origin
// ("https://erp.example.com"). Required.
func WithDomain(domain string) Option {
	return func(c *config) { c.domain = domain }
}

// WithVerifier verifies presentations in process with v. It needs
// WithChallenges too.
func WithVerifier(v *verifier.Verifier) Option {
	return func(c *config) { c.verifier = v }
}

// WithChallenges issues and consumes the challenges of in-process
// verification: verifier.NewMemoryChallenges for one process,
// verifier.NewChallenges on the agentid database for replicas.
func WithChallenges(ch *verifier.Challenges) Option {
	return func(c *config) { c.challenges = ch }
}

// WithRemote verifies through the agentid server at baseURL (for example
// "https://agentid.example.com"), with client (nil: a client with a
// 10-second timeout). See the package documentation for the calls it makes.
func WithRemote(baseURL string, client *http.Client) Option {
	return func(c *config) { c.remoteURL, c.remoteHTTP = baseURL, client }
}

// RequireScope requires a delegation granting action on resource to this
// service (see the package documentation for the matching rules). Several
// RequireScope options must all be met.
func RequireScope(action, resource string) Option {
	return func(c *config) {
		if strings.TrimSpace(action) == "" || strings.TrimSpace(resource) == "" {
			c.errs = append(c.errs, fmt.Errorf("%w: RequireScope needs an action and a resource", ErrPolicy))
			return
		}
		c.scopes = append(c.scopes, scopeRequirement{action, resource})
	}
}

// RequireAssurance requires a credential showing at least level
// (AssuranceSoftware or AssuranceHardware) in hardwareBinding.assurance.
func RequireAssurance(level string) Option {
	return func(c *config) {
		if !slices.Contains(assuranceLevels, level) {
			c.errs = append(c.errs, fmt.Errorf("%w: assurance %q: want one of %s", ErrPolicy, level, strings.Join(assuranceLevels, ", ")))
			return
		}
		c.assurance = level
	}
}

// RequireIssuer accepts only credentials issued by one of dids: every
// presented credential must be. Calls accumulate. An untrusted issuer is a
// 401 (the presentation does not authenticate the agent to this service),
// like the verifier's own trustedIssuer check.
func RequireIssuer(dids ...string) Option {
	return func(c *config) {
		for _, d := range dids {
			if d = strings.TrimSpace(d); d != "" {
				c.issuers = append(c.issuers, d)
			}
		}
	}
}

// WithClock sets the clock that delegation expiry is judged by (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithLogger logs each decision (agent, outcome, failed checks) at info
// level. Default: no logging.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// backend issues challenges and verifies presentations: in process or
// through an agentid server.
type backend interface {
	// challenge issues a challenge bound to domain.
	challenge(ctx context.Context, domain string) (*verifier.IssuedChallenge, error)
	// verify verifies p, which claims to answer challenge. The error is an
	// infrastructure failure (503); a presentation that does not verify is
	// a Result with errors.
	verify(ctx context.Context, p *presentation, challenge string, req verifyRequest) (*verifier.Result, error)
}

// verifyRequest is what the verification is for.
type verifyRequest struct {
	domain string
	// scopes are the RequireScope options.
	scopes []delegation.Request
	// trust is the RequireIssuer list as a trust policy, nil without one
	// (in process: the verifier's own list applies).
	trust *verifier.TrustPolicy
}

// Middleware is a configured AgentID middleware. New returns its Wrap; the
// type is exported so that adapters (ginagent) can run its steps.
type Middleware struct {
	cfg     config
	backend backend
}

// New returns middleware that protects the handlers it wraps with the
// AgentID scheme. It fails when the options cannot protect a route: no
// verifier (ErrNoVerifier), no usable domain (ErrDomain), an invalid
// policy (ErrPolicy).
func New(opts ...Option) (func(http.Handler) http.Handler, error) {
	m, err := Build(opts...)
	if err != nil {
		return nil, err
	}
	return m.Wrap, nil
}

// Build is New returning the *Middleware itself.
func Build(opts ...Option) (*Middleware, error) {
	cfg := config{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.errs) > 0 {
		return nil, errors.Join(cfg.errs...)
	}
	if err := checkDomain(cfg.domain); err != nil {
		return nil, err
	}
	m := &Middleware{cfg: cfg}
	inProcess := cfg.verifier != nil || cfg.challenges != nil
	switch {
	case inProcess && cfg.remoteURL != "":
		return nil, fmt.Errorf("%w: not both", ErrNoVerifier)
	case inProcess:
		if cfg.verifier == nil || cfg.challenges == nil {
			return nil, fmt.Errorf("%w: in process, both WithVerifier and WithChallenges are needed", ErrNoVerifier)
		}
		m.backend = &local{v: cfg.verifier, ch: cfg.challenges}
	case cfg.remoteURL != "" && cfg.auditor != nil:
		return nil, fmt.Errorf("%w: %w", ErrPolicy, errAuditWithRemote)
	case cfg.remoteURL != "":
		r, err := newRemote(cfg.remoteURL, cfg.remoteHTTP)
		if err != nil {
			return nil, err
		}
		m.backend = r
	default:
		return nil, ErrNoVerifier
	}
	return m, nil
}

// checkDomain accepts a printable string without quotes or backslashes (it
// goes into a quoted-string of WWW-Authenticate) that, when it looks like a
// URL, parses as one.
func checkDomain(d string) error {
	if d == "" {
		return fmt.Errorf("%w: WithDomain is required", ErrDomain)
	}
	if len(d) > verifier.MaxChallengeDomainLength || strings.ContainsFunc(d, func(r rune) bool {
		return r <= 0x20 || r == 0x7f || r == '"' || r == '\\'
	}) {
		return fmt.Errorf("%w: %q must be printable, without spaces, quotes or backslashes, at most %d bytes", ErrDomain, d, verifier.MaxChallengeDomainLength)
	}
	if strings.Contains(d, "://") {
		if _, err := url.Parse(d); err != nil {
			return fmt.Errorf("%w: %w", ErrDomain, err)
		}
	}
	return nil
}

// Wrap protects next.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agent, ok := m.Authenticate(w, r)
		if !ok {
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), agent)))
	})
}

// Authenticate runs the scheme on r. It returns the verified and authorized
// agent, or false when it has written the 401, 403 or 503 answer.
func (m *Middleware) Authenticate(w http.ResponseWriter, r *http.Request) (*Agent, bool) {
	ctx := r.Context()
	token, present := authorizationToken(r.Header.Values("Authorization"))
	if !present {
		m.unauthorized(w, r, "", "an agent presentation is required: answer the challenge in WWW-Authenticate with Authorization: AgentID <presentation>", nil)
		return nil, false
	}
	p, err := parsePresentation(token)
	if err != nil {
		m.unauthorized(w, r, "invalid_request", err.Error(), []verifier.Problem{{Check: verifier.CheckStructure, Code: verifier.CodeMalformed, Message: err.Error()}})
		return nil, false
	}
	challenge, err := p.claimedChallenge()
	if err != nil {
		m.unauthorized(w, r, "invalid_request", err.Error(), []verifier.Problem{{Check: verifier.CheckChallenge, Code: verifier.CodeChallengeMismatch, Message: err.Error()}})
		return nil, false
	}
	req := verifyRequest{domain: m.cfg.domain}
	for _, sc := range m.cfg.scopes {
		req.scopes = append(req.scopes, delegation.Request{Action: sc.action, Resource: sc.resource})
	}
	if len(m.cfg.issuers) > 0 {
		req.trust = &verifier.TrustPolicy{Issuers: map[string][]string{verifier.AnyType: m.cfg.issuers}}
	}
	res, err := m.backend.verify(ctx, p, challenge, req)
	if err != nil {
		m.log(ctx, "verification unavailable", "error", err)
		writeProblem(w, &problemBody{Type: typeBase + "unavailable", Title: "Service unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the agent's presentation could not be verified now; nothing was let through"})
		return nil, false
	}
	if len(m.cfg.issuers) == 0 {
		enforceTrust(res)
	}
	if !res.Verified {
		if !m.record(w, r, res, res.Errors) {
			return nil, false
		}
		if policyOnly(res.Errors) {
			// The presentation authenticates the agent; its delegation or
			// assurance does not authorize it here.
			m.log(ctx, "agent refused", "failed", checkNames(res.Errors))
			writeProblem(w, &problemBody{Type: typeBase + "agent-not-authorized", Title: "Forbidden", Status: http.StatusForbidden,
				Detail: "the agent is verified but not authorized for this route", Errors: res.Errors})
			return nil, false
		}
		m.unauthorized(w, r, "invalid_presentation", "the agent's presentation did not verify", res.Errors)
		return nil, false
	}
	agent := agentOf(p, res)
	if probs := m.trusted(agent); len(probs) > 0 {
		if !m.record(w, r, res, probs) {
			return nil, false
		}
		m.unauthorized(w, r, "invalid_presentation", "the presentation's credentials are not from an issuer this service trusts", probs)
		return nil, false
	}
	if probs := m.authorize(agent); len(probs) > 0 {
		if !m.record(w, r, res, probs) {
			return nil, false
		}
		m.log(ctx, "agent refused", "agent", agent.DID, "failed", checkNames(probs))
		writeProblem(w, &problemBody{Type: typeBase + "agent-not-authorized", Title: "Forbidden", Status: http.StatusForbidden,
			Detail: "the agent is verified but not authorized for this route", Errors: probs})
		return nil, false
	}
	if !m.record(w, r, res, nil) {
		return nil, false
	}
	m.log(ctx, "agent authorized", "agent", agent.DID, "issuer", agent.Issuer, "principal", agent.Principal)
	return agent, true
}

func (m *Middleware) log(ctx context.Context, msg string, args ...any) {
	m.cfg.log.InfoContext(ctx, msg, append([]any{"domain", m.cfg.domain}, args...)...)
}

// unauthorized answers 401 with a fresh challenge; errCode is the error
// parameter of WWW-Authenticate ("" for a request without credentials).
func (m *Middleware) unauthorized(w http.ResponseWriter, r *http.Request, errCode, detail string, probs []verifier.Problem) {
	ctx := r.Context()
	ch, err := m.backend.challenge(ctx, m.cfg.domain)
	if err != nil {
		m.log(ctx, "challenge unavailable", "error", err)
		writeProblem(w, &problemBody{Type: typeBase + "unavailable", Title: "Service unavailable", Status: http.StatusServiceUnavailable,
			Detail: "no challenge could be issued; retry later"})
		return
	}
	if errCode != "" {
		m.log(ctx, "presentation refused", "error", errCode, "failed", checkNames(probs))
	}
	w.Header().Set("WWW-Authenticate", formatChallenge(Challenge{Value: ch.Value, Domain: m.cfg.domain, Expires: ch.Expires, Error: errCode}))
	slug := "agent-authentication-required"
	if errCode != "" {
		slug = "agent-presentation-rejected"
	}
	writeProblem(w, &problemBody{Type: typeBase + slug, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: detail, Errors: probs})
}

// trusted applies RequireIssuer.
func (m *Middleware) trusted(a *Agent) []verifier.Problem {
	if len(m.cfg.issuers) == 0 {
		return nil
	}
	var probs []verifier.Problem
	for _, c := range a.Credentials {
		if !slices.Contains(m.cfg.issuers, c.Issuer) {
			probs = append(probs, verifier.Problem{Check: verifier.CheckTrustedIssuer, Code: verifier.CodeUntrustedIssuer,
				Message: fmt.Sprintf("credential %s is issued by %s, which this service does not trust", orUnnamed(c.ID), c.Issuer)})
		}
	}
	if len(a.Credentials) == 0 {
		probs = append(probs, verifier.Problem{Check: verifier.CheckTrustedIssuer, Code: verifier.CodeUntrustedIssuer, Message: "no credential was presented"})
	}
	return probs
}

// authorize applies RequireAssurance and RequireScope, and records the
// grants that met the scopes in a.
func (m *Middleware) authorize(a *Agent) []verifier.Problem {
	var probs []verifier.Problem
	if m.cfg.assurance != "" && slices.Index(assuranceLevels, a.Assurance) < slices.Index(assuranceLevels, m.cfg.assurance) {
		got := a.Assurance
		if got == "" {
			got = "none"
		}
		probs = append(probs, verifier.Problem{Check: CheckAssurance, Code: CodeInsufficientAssurance,
			Message: fmt.Sprintf("assurance %s is required; the credentials show %s", m.cfg.assurance, got)})
	}
	now := m.cfg.now()
	for _, req := range m.cfg.scopes {
		g, p := a.grant(req, m.cfg.domain, now)
		if g == nil {
			probs = append(probs, p)
			continue
		}
		a.Grants = append(a.Grants, *g)
	}
	return probs
}

// enforceTrust makes an untrusted issuer an error when the middleware has
// no RequireIssuer list of its own (with one, trusted enforces it): a
// server answering with no relying party's policy judges issuers by its own
// organizations and reports the others as a warning, and the middleware
// always enforces issuer trust. A verifier without any trust list says so
// with another code (noTrustList), which is left a warning: configure
// RequireIssuer or the verifier's WithTrustedIssuers to enforce one.
func enforceTrust(res *verifier.Result) {
	for _, w := range res.Warnings {
		if w.Check == verifier.CheckTrustedIssuer && w.Code == verifier.CodeUntrustedIssuer {
			res.Errors = append(res.Errors, w)
			res.Verified = false
		}
	}
	if !res.Verified {
		res.Checks = slices.DeleteFunc(res.Checks, func(c verifier.Check) bool {
			return c == verifier.CheckTrustedIssuer && res.Failed(c)
		})
	}
}

// policyOnly reports whether every error is about authorization (the
// delegation or assurance check) rather than the presentation itself.
func policyOnly(errs []verifier.Problem) bool {
	if len(errs) == 0 {
		return false
	}
	for _, p := range errs {
		if p.Check != CheckDelegation && p.Check != CheckAssurance {
			return false
		}
	}
	return true
}

func orUnnamed(id string) string {
	if id == "" {
		return "(without id)"
	}
	return id
}

func checkNames(probs []verifier.Problem) []string {
	var out []string
	for _, p := range probs {
		if !slices.Contains(out, string(p.Check)) {
			out = append(out, string(p.Check))
		}
	}
	return out
}
