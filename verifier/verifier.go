package verifier

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/legacy"
	"github.com/agentid/agentid/delegation"
	"github.com/agentid/agentid/didmethods"
)

// DefaultSkew is the clock skew a Verifier allows by default when it
// compares times: validity periods, proof created and expires, SD-JWT iat,
// nbf and exp. One minute matches credential/sdjwt's default and is enough
// for machines that run NTP; a credential that expired two minutes ago is
// expired.
const DefaultSkew = time.Minute

// MaxSkew bounds WithSkew: the security model asks for validity dates with a
// bounded skew, so a configured skew above MaxSkew is lowered to it.
const MaxSkew = time.Hour

// Verifier runs the verification pipeline: structure, JSON-LD context,
// proofs, issuer control of the proof key, validity period, JSON Schema,
// status, issuer trust and, for presentations, holder binding, challenge and
// domain. It holds configuration only, so one Verifier serves any number of
// goroutines.
type Verifier struct {
	resolver didmethods.Resolver
	now      func() time.Time
	skew     time.Duration
	status   StatusChecker
	trusted  map[string]bool
	// trustByType are the issuers trusted for one credential type each
	// (WithTrustedIssuersFor).
	trustByType map[string][]string
	legacy      LegacyVerifier
	log         *slog.Logger
	// verified remembers credentials that passed the document-only checks
	// (WithVerifiedCache); nil remembers nothing.
	verified *verifiedCache
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithResolver sets the DID resolver that finds proof keys. The default
// resolves did:key and did:jwk only, offline; give a registry with did:web
// (didmethods.NewDefaultRegistry) to verify did:web issuers.
func WithResolver(r didmethods.Resolver) Option {
	return func(v *Verifier) {
		if r != nil {
			v.resolver = r
		}
	}
}

// WithClock sets the clock (default time.Now); tests pin it.
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) {
		if now != nil {
			v.now = now
		}
	}
}

// WithNow is WithClock with a fixed instant.
func WithNow(t time.Time) Option { return WithClock(func() time.Time { return t }) }

// WithSkew sets the clock skew allowed on every time comparison (default
// DefaultSkew). Negative means none; above MaxSkew means MaxSkew.
func WithSkew(d time.Duration) Option {
	return func(v *Verifier) { v.skew = min(max(d, 0), MaxSkew) }
}

// WithStatusChecker sets who answers for credentialStatus entries and SD-JWT
// status claims. Without one the status check is a warning ("status not
// checked"), never a pass.
func WithStatusChecker(s StatusChecker) Option {
	return func(v *Verifier) { v.status = s }
}

// WithTrustedIssuers sets the issuers (DIDs) whose credentials are trusted.
// With none, any issuer is accepted with an untrustedIssuer warning; with a
// list, an issuer outside it is an error. Calls accumulate.
func WithTrustedIssuers(dids ...string) Option {
	return func(v *Verifier) {
		for _, d := range dids {
			if d = strings.TrimSpace(d); d != "" {
				v.trusted[d] = true
			}
		}
	}
}

// WithLegacy replaces the verifier of the proof formats older than Data
// Integrity (Ed25519Signature2020, JsonWebSignature2020, VC-JWT). The
// default is credential/legacy with the Verifier's resolver, clock and skew.
func WithLegacy(l LegacyVerifier) Option {
	return func(v *Verifier) { v.legacy = l }
}

// WithLogger sets the logger; each verification is logged at debug level
// with its outcome and the checks that failed. Default: no logging.
func WithLogger(l *slog.Logger) Option {
	return func(v *Verifier) {
		if l != nil {
			v.log = l
		}
	}
}

// New returns a Verifier with the given options.
func New(opts ...Option) *Verifier {
	reg := didmethods.NewRegistry()
	reg.Register("key", didmethods.KeyResolver{})
	reg.Register("jwk", didmethods.JWKResolver{})
	v := &Verifier{
		resolver: reg,
		now:      time.Now,
		skew:     DefaultSkew,
		trusted:  map[string]bool{},
		log:      slog.New(slog.DiscardHandler),
		verified: newVerifiedCache(DefaultVerifiedCacheSize),
	}
	for _, o := range opts {
		o(v)
	}
	if v.legacy == nil {
		v.legacy = &legacy.Verifier{Resolver: v.resolver, Now: v.now, Skew: v.skew}
	}
	return v
}

// Options are the per-call options of a verification, like the options of a
// VC-API verify request.
type Options struct {
	// Challenge is the challenge the presentation's proof (or the SD-JWT
	// KB-JWT nonce) must carry. Empty: not checked, with a warning.
	Challenge string
	// Domain is the domain the presentation's proof (or the KB-JWT aud)
	// must carry. Empty: not checked, with a warning.
	Domain string
	// ProofPurpose overrides the purpose the top-level proof must have:
	// assertionMethod for a credential, authentication for a presentation.
	ProofPurpose string
	// RequireKeyBinding makes VerifyCredential fail an SD-JWT VC without a
	// KB-JWT. VerifyPresentation always requires one.
	RequireKeyBinding bool
	// Checks is the subset of checks to run (VC-API options.checks); empty
	// means all of them. An unknown name is an error.
	Checks []Check
	// Scopes are the actions on resources the agent asks to perform; each
	// must be granted by a presented delegation of the agent, for an
	// audience listing the relying party, in force (the delegation check).
	// Empty: delegations are still verified and reported, but no scope
	// decision is made.
	Scopes []delegation.Request
	// Audience are the relying party's domains, one of which a granting
	// delegation's audience must list. Empty: Domain, when given; with
	// neither, the audience is not checked (a warning says so).
	Audience []string
	// RequireDelegation fails the delegation check when no delegation of
	// the agent was presented, even with no Scopes requested.
	RequireDelegation bool
	// MinAssurance is the least hardwareBinding.assurance the credentials
	// about the agent must show ("software", "hardware"); empty: not
	// checked.
	MinAssurance string
	// Trust replaces the verifier's trust list for this call: a relying
	// party's policy, or the server's advisory default. Nil: the
	// verifier's own list, enforced.
	Trust *TrustPolicy
}

// VerifyCredential verifies one credential. input is a decoded JSON object
// (map[string]any, or JSON as []byte, json.RawMessage or a string starting
// with "{") secured by an embedded proof, or a compact string: an SD-JWT VC
// (with "~" separators, optionally with a KB-JWT) or a VC-JWT. It never
// returns nil and never panics on bad input: every problem is in the Result.
func (v *Verifier) VerifyCredential(ctx context.Context, input any, opts Options) *Result {
	r := newRecorder(opts.Checks)
	r.trust = opts.Trust
	doc, compact, ok := v.readInput(r, input)
	switch {
	case !ok:
	case compact != "":
		r.res.Credential = v.verifySDJWTOrJWT(ctx, r, compact, opts, false)
	default:
		purpose := opts.ProofPurpose
		r.res.Credential = v.verifyEmbedded(ctx, r, doc, purpose)
	}
	if ok {
		v.agentChecks(r, opts)
	}
	return v.done(ctx, "credential", r)
}

// VerifyPresentation verifies a presentation: a VC Data Model 2.0 (or 1.1)
// verifiable presentation with a Data Integrity proof by the holder (as for
// VerifyCredential, a decoded object or JSON), or an SD-JWT VC presentation
// with a KB-JWT (a compact string). Each presented credential gets every
// credential check, plus holder binding; the presentation's proof gets the
// challenge and domain checks.
func (v *Verifier) VerifyPresentation(ctx context.Context, input any, opts Options) *Result {
	r := newRecorder(opts.Checks)
	r.trust = opts.Trust
	doc, compact, ok := v.readInput(r, input)
	switch {
	case !ok:
	case compact != "":
		facts := v.verifySDJWTOrJWT(ctx, r, compact, opts, true)
		if facts != nil {
			r.res.Presentation = &PresentationFacts{Format: facts.Format}
			r.res.Credentials = []CredentialFacts{*facts}
		}
	default:
		v.verifyVP(ctx, r, doc, opts)
	}
	if ok {
		v.agentChecks(r, opts)
	}
	return v.done(ctx, "presentation", r)
}

// done finishes the result and logs it.
func (v *Verifier) done(ctx context.Context, what string, r *recorder) *Result {
	res := r.finish()
	failedChecks := make([]string, 0, len(res.Errors))
	for _, p := range res.Errors {
		failedChecks = append(failedChecks, string(p.Check))
	}
	v.log.DebugContext(ctx, "verification", "kind", what, "verified", res.Verified,
		"checks", len(res.Checks), "warnings", len(res.Warnings), "failed", failedChecks)
	return res
}

// readInput turns the caller's input into a decoded document or a compact
// string; ok is false (with a structure error recorded) when it is neither.
func (v *Verifier) readInput(r *recorder, input any) (doc map[string]any, compact string, ok bool) {
	var raw []byte
	switch in := input.(type) {
	case map[string]any:
		if in == nil {
			r.fail(CheckStructure, CodeMalformed, "input is a nil object")
			return nil, "", false
		}
		return in, "", true
	case *credential.Credential:
		if in == nil || in.Map() == nil {
			r.fail(CheckStructure, CodeMalformed, "input is a nil credential")
			return nil, "", false
		}
		return in.Map(), "", true
	case *credential.Presentation:
		if in == nil || in.Map() == nil {
			r.fail(CheckStructure, CodeMalformed, "input is a nil presentation")
			return nil, "", false
		}
		return in.Map(), "", true
	case string:
		s := strings.TrimSpace(in)
		if !strings.HasPrefix(s, "{") {
			if s == "" {
				r.fail(CheckStructure, CodeMalformed, "input is empty")
				return nil, "", false
			}
			return nil, s, true
		}
		raw = []byte(s)
	case []byte:
		raw = in
	case json.RawMessage:
		raw = in
	default:
		r.fail(CheckStructure, CodeUnsupportedInputType, "input must be a JSON object or a compact SD-JWT or JWT string")
		return nil, "", false
	}
	m, err := credential.DecodeObject(raw)
	if err != nil {
		r.fail(CheckStructure, CodeMalformed, "reading JSON: "+err.Error())
		return nil, "", false
	}
	return m, "", true
}
