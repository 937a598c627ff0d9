package server

import (
	"time"

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
	challengeTTL    time.Duration
	challengeRate   float64
	challengeBurst  int
	challengeRateOK bool
	statusOptions   []statusfetch.Option
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
