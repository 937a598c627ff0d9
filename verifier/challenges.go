package verifier

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/agentid/agentid/internal/store"
)

// Challenge defaults and limits.
const (
	// DefaultChallengeTTL is how long an issued challenge is accepted.
	DefaultChallengeTTL = 5 * time.Minute
	// MaxChallengeTTL bounds WithChallengeTTL.
	MaxChallengeTTL = time.Hour
	// MaxChallengeDomainLength bounds the domain a challenge is issued for.
	MaxChallengeDomainLength = 512
	// challengeBytes is the size of a challenge's random value: 256 bits.
	challengeBytes = 32
	// purgeEvery is how often one process deletes long-expired challenges.
	purgeEvery = time.Minute
	// purgeGrace keeps expired challenges this long, so that a late replay
	// is still told "expired" rather than treated as a challenge of
	// someone else.
	purgeGrace = time.Hour
)

// Problem codes of the challenge check that come from the challenge store
// rather than from the proof.
const (
	// CodeChallengeReplayed: the challenge was issued here and has been
	// used already.
	CodeChallengeReplayed = "replayed"
	// CodeChallengeExpired: the challenge was issued here and has expired.
	CodeChallengeExpired = "challengeExpired"
)

// Errors of Challenges.
var (
	// ErrChallengeDomain is a domain that is too long or not printable.
	ErrChallengeDomain = errors.New("invalid challenge domain")
)

// IssuedChallenge is a challenge handed to a relying party.
type IssuedChallenge struct {
	// Value is the challenge: 256 random bits, base64url without padding.
	Value string `json:"challenge"`
	// Expires is when it stops being accepted.
	Expires time.Time `json:"expires"`
	// Domain, when set, is the domain a presentation answering it must be
	// bound to.
	Domain string `json:"domain,omitempty"`
}

// Challenges issues single-use challenges and consumes them when a
// presentation answers one. They live in a ChallengeStore: the database
// (NewChallenges), so that every replica on one database shares them and a
// challenge consumed by one replica is refused by all, or process memory
// (NewMemoryChallenges) for a service that verifies in process on its own.
// Safe for concurrent use.
type Challenges struct {
	store     ChallengeStore
	now       func() time.Time
	ttl       time.Duration
	log       *slog.Logger
	lastPurge atomic.Int64
}

// ChallengeOption configures Challenges.
type ChallengeOption func(*Challenges)

// WithChallengeTTL sets how long a challenge is accepted (default
// DefaultChallengeTTL; at most MaxChallengeTTL; 0 or less keeps the
// default).
func WithChallengeTTL(d time.Duration) ChallengeOption {
	return func(c *Challenges) {
		if d > 0 {
			c.ttl = min(d, MaxChallengeTTL)
		}
	}
}

// WithChallengeClock sets the clock (default time.Now).
func WithChallengeClock(now func() time.Time) ChallengeOption {
	return func(c *Challenges) {
		if now != nil {
			c.now = now
		}
	}
}

// WithChallengeLogger sets the logger. Default: no logging.
func WithChallengeLogger(l *slog.Logger) ChallengeOption {
	return func(c *Challenges) {
		if l != nil {
			c.log = l
		}
	}
}

// NewChallenges returns the challenges kept in the database st.
func NewChallenges(st *store.Store, opts ...ChallengeOption) (*Challenges, error) {
	if st == nil {
		return nil, errors.New("challenges: a store is required")
	}
	return NewChallengesIn(dbChallenges{st}, opts...)
}

// NewChallengesIn returns the challenges kept in cs.
func NewChallengesIn(cs ChallengeStore, opts ...ChallengeOption) (*Challenges, error) {
	if cs == nil {
		return nil, errors.New("challenges: a store is required")
	}
	c := &Challenges{store: cs, now: time.Now, ttl: DefaultChallengeTTL, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// TTL is how long an issued challenge is accepted.
func (c *Challenges) TTL() time.Duration { return c.ttl }

// Issue makes a new challenge, optionally bound to domain, and stores it.
func (c *Challenges) Issue(ctx context.Context, domain string) (*IssuedChallenge, error) {
	if len(domain) > MaxChallengeDomainLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrChallengeDomain, MaxChallengeDomainLength)
	}
	for _, r := range domain {
		if r < 0x20 || r == 0x7f {
			return nil, fmt.Errorf("%w: control character", ErrChallengeDomain)
		}
	}
	var b [challengeBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	value := base64.RawURLEncoding.EncodeToString(b[:])
	now := c.now().UTC().Truncate(time.Microsecond)
	row := &ChallengeRecord{Key: ChallengeKey(value), Domain: domain, CreatedAt: now, ExpiresAt: now.Add(c.ttl)}
	if err := c.store.CreateChallenge(ctx, row); err != nil {
		return nil, err
	}
	c.maybePurge(ctx, now)
	return &IssuedChallenge{Value: value, Expires: row.ExpiresAt, Domain: domain}, nil
}

// maybePurge deletes long-expired challenges, at most once per purgeEvery
// per process. A failure is logged; it costs only disk space.
func (c *Challenges) maybePurge(ctx context.Context, now time.Time) {
	last := c.lastPurge.Load()
	if now.UnixNano()-last < int64(purgeEvery) || !c.lastPurge.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	n, err := c.store.DeleteChallengesExpiredBefore(ctx, now.Add(-purgeGrace))
	if err != nil {
		c.log.WarnContext(ctx, "purge expired challenges", "error", err)
		return
	}
	if n > 0 {
		c.log.DebugContext(ctx, "purged expired challenges", "count", n)
	}
}

// ChallengeUse is one verification's use of a challenge: Lookup before the
// verification, Settle after it.
type ChallengeUse struct {
	value  string
	issued *ChallengeRecord // nil: not a challenge issued here
}

// Issued reports whether the challenge was issued here (by Issue, on any
// replica).
func (u *ChallengeUse) Issued() bool { return u != nil && u.issued != nil }

// Domain is the domain the challenge was issued for, if any.
func (u *ChallengeUse) Domain() string {
	if !u.Issued() {
		return ""
	}
	return u.issued.Domain
}

// Lookup finds the challenge a verification request names. A challenge not
// issued here is not an error: it is checked against the proof only (the
// VC-API behaviour other verifiers and the W3C suites rely on). An empty
// value is no challenge.
func (c *Challenges) Lookup(ctx context.Context, value string) (*ChallengeUse, error) {
	u := &ChallengeUse{value: value}
	if value == "" {
		return u, nil
	}
	row, err := c.store.ChallengeByKey(ctx, ChallengeKey(value))
	switch {
	case errors.Is(err, ErrChallengeNotFound):
		return u, nil
	case err != nil:
		return nil, err
	}
	u.issued = row
	return u, nil
}

// Settle finishes a verification that named an issued challenge. When the
// presentation answered it — its proof verified and carries the challenge
// (the proof and challenge checks passed, holder binding did not fail) —
// the challenge is consumed in one conditional UPDATE; if that UPDATE finds
// it already used or expired (a replay, possibly a concurrent one on
// another replica), res fails the challenge check with CodeChallengeReplayed
// or CodeChallengeExpired. A presentation whose proof did not verify does
// not consume the challenge (a forgery must not burn the genuine holder's
// challenge), but is still told when the challenge is spent.
//
// The error is a database failure; the caller must not report the
// verification as verified then.
func (c *Challenges) Settle(ctx context.Context, u *ChallengeUse, res *Result) error {
	if !u.Issued() {
		return nil
	}
	now := c.now()
	answered := res.Passed(CheckProof) && res.Passed(CheckChallenge) && !res.Failed(CheckHolderBinding)
	if answered {
		ok, err := c.store.ConsumeChallenge(ctx, u.issued.Key, now)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		// Lost: read why.
		row, err := c.store.ChallengeByKey(ctx, u.issued.Key)
		if err != nil {
			return err
		}
		u.issued = row
	}
	switch {
	case u.issued.UsedAt != nil:
		failChallenge(res, CodeChallengeReplayed, "the challenge was issued by this verifier and has been used already: the presentation is a replay")
	case !u.issued.ExpiresAt.After(now):
		failChallenge(res, CodeChallengeExpired, fmt.Sprintf("the challenge was issued by this verifier and expired at %s", u.issued.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	return nil
}

// failChallenge adds a challenge error to a finished result.
func failChallenge(res *Result, code, msg string) {
	res.Errors = append(res.Errors, Problem{Check: CheckChallenge, Code: code, Message: msg})
	res.Checks = slices.DeleteFunc(res.Checks, func(c Check) bool { return c == CheckChallenge })
	res.Verified = false
}

// FailDomain adds a domain error to a finished result: the request's
// domain is not the one its challenge was issued for.
func FailDomain(res *Result, msg string) {
	res.Errors = append(res.Errors, Problem{Check: CheckDomain, Code: CodeDomainMismatch, Message: msg})
	res.Checks = slices.DeleteFunc(res.Checks, func(c Check) bool { return c == CheckDomain })
	res.Verified = false
}
