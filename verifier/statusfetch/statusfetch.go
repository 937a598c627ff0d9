package statusfetch

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentid/agentid/credential/statuslist"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/netguard"
)

// Kinds of status references a Checker answers for. They are the values of
// verifier.StatusBitstring and verifier.StatusTokenList.
const (
	// KindBitstring is a credentialStatus entry of type
	// BitstringStatusListEntry.
	KindBitstring = statuslist.EntryType
	// KindTokenStatusList is the status claim of an SD-JWT VC.
	KindTokenStatusList = "TokenStatusList"
)

// Defaults of a Checker.
const (
	// DefaultStaleness is how long a fetched list is used before it is
	// revalidated: the bound DESIGN.md §6 gives a remote verifier.
	DefaultStaleness = 60 * time.Second
	// DefaultTimeout bounds one fetch, from dialling to the last byte.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBytes bounds a response body. A list credential cannot be
	// larger than credential.MaxDocumentBytes (1 MiB) anyway.
	DefaultMaxBytes = 1 << 20
	// DefaultMaxRedirects is how many redirects one fetch follows.
	DefaultMaxRedirects = 3
	// DefaultCacheLists bounds the number of cached lists.
	DefaultCacheLists = 256
	// DefaultCacheBytes bounds the memory the cached lists take, counted as
	// their decoded size plus their encoded list.
	DefaultCacheBytes = 32 << 20
	// DefaultMaxDecodedSize bounds one decoded list: 1 MiB holds eight
	// million one-bit entries. Lists are attacker-controlled input that
	// compress extremely well, so the bound is well below statuslist's.
	DefaultMaxDecodedSize = 1 << 20
	// DefaultSkew is the clock skew allowed on the list's validity period.
	DefaultSkew = time.Minute
)

// Errors of Check. Every error Check returns wraps exactly one of them
// (often with the error of a lower layer too, such as a
// dataintegrity or statuslist error), so a caller can tell with errors.Is
// why the status could not be established. Each of them means the status is
// unknown and the credential must not be accepted.
var (
	// ErrUnsupportedKind is a status entry of a kind this package does not
	// fetch.
	ErrUnsupportedKind = errors.New("unsupported status entry kind")
	// ErrInvalidEntry is a status entry that is malformed (bad index, URL
	// or purpose), or that names no issuer.
	ErrInvalidEntry = errors.New("invalid status entry")
	// ErrInsecureURL is a status list URL that is not https (plain http is
	// allowed only to loopback with WithInsecureLoopback), including a
	// redirect to one.
	ErrInsecureURL = errors.New("status list URL is not https")
	// ErrAddressRefused is a status list host whose addresses the outbound
	// policy refuses (loopback, private, link-local… unless allowed).
	ErrAddressRefused = errors.New("status list address refused by the outbound policy")
	// ErrUnreachable is a fetch that failed in the network: DNS, connection
	// refused or reset, TLS.
	ErrUnreachable = errors.New("status list unreachable")
	// ErrTimeout is a fetch that did not finish within the timeout.
	ErrTimeout = errors.New("status list fetch timed out")
	// ErrTooManyRedirects is a fetch redirected more often than allowed.
	ErrTooManyRedirects = errors.New("status list fetch redirected too often")
	// ErrHTTPStatus is a response other than 200 (or 304 to a
	// revalidation).
	ErrHTTPStatus = errors.New("status list server answered with an error")
	// ErrTooLarge is a response body over the size limit.
	ErrTooLarge = errors.New("status list response too large")
	// ErrMalformedList is a response that is not a status list of the
	// expected kind: not JSON, not a BitstringStatusListCredential, not a
	// JWT, a list that does not decode, is too short or too large when
	// decoded.
	ErrMalformedList = errors.New("malformed status list")
	// ErrUnsigned is a list without a proof, or a token with alg none.
	ErrUnsigned = errors.New("status list is not signed")
	// ErrSignerKey is a signing key that cannot be found or may not sign:
	// no kid, a verification method that does not resolve, or one not
	// authorized for assertionMethod.
	ErrSignerKey = errors.New("status list signing key not usable")
	// ErrBadSignature is a proof or JWS that does not verify: the list was
	// changed after signing, or signed with another key.
	ErrBadSignature = errors.New("status list signature does not verify")
	// ErrWrongIssuer is a list that is not the credential issuer's: its
	// issuer differs from the credential's, or the key that signed it is
	// not controlled by that issuer.
	ErrWrongIssuer = errors.New("status list not issued by the credential's issuer")
	// ErrListMismatch is a list that is not the one the reference names:
	// the credential's id or the token's sub is not the URL fetched.
	ErrListMismatch = errors.New("status list is not the referenced list")
	// ErrListNotValid is a list outside its validity period (validFrom,
	// validUntil, or the token's exp and nbf).
	ErrListNotValid = errors.New("status list outside its validity period")
	// ErrPurposeMismatch is a list that does not carry the entry's
	// statusPurpose, or whose statusSize differs from the entry's.
	ErrPurposeMismatch = errors.New("status list does not serve the entry's purpose")
	// ErrIndexOutOfRange is an index outside the list.
	ErrIndexOutOfRange = errors.New("status list index out of range")
)

// Entry is one status reference to answer for.
type Entry struct {
	// Kind is KindBitstring or KindTokenStatusList.
	Kind string
	// Issuer is the DID of the credential's issuer: only a list this
	// issuer signed answers for the credential. Required.
	Issuer string
	// Entry is the reference as decoded JSON: the credentialStatus object
	// (KindBitstring), or the SD-JWT VC's status claim, {"status_list":
	// {"idx": …, "uri": …}} (KindTokenStatusList).
	Entry map[string]any
}

// Result is the status of one entry, read from a verified list.
type Result struct {
	// Purpose is the entry's statusPurpose. A Token Status List status is
	// reported as revocation for VALID and INVALID, suspension for
	// SUSPENDED, and as its hexadecimal value ("0x03") otherwise, a purpose
	// no verifier knows, so that it fails closed.
	Purpose string
	// Valid is true when the status is 0.
	Valid bool
	// Message is the status message: the entry's statusMessage text, or
	// "set"/"unset" for a one-bit Bitstring entry, or the Token Status List
	// name (VALID, INVALID, SUSPENDED).
	Message string
	// Status is the raw value in the list.
	Status uint
	// List is the URL of the list the status was read from.
	List string
}

// Stats counts what a Checker did since it was made. Fields are totals.
type Stats struct {
	// Hits are answers read from a cached list without any request.
	Hits uint64
	// Fetches are lists downloaded (200 responses).
	Fetches uint64
	// NotModified are revalidations answered 304: a round trip, no body.
	NotModified uint64
	// Bytes are response body bytes read.
	Bytes uint64
	// Failures are fetches or list verifications that failed.
	Failures uint64
}

// Option configures a Checker.
type Option func(*Checker)

// WithPolicy sets the outbound address policy every connection is checked
// against, once per resolved address (default: public addresses only, the
// zero netguard policy). Tests that serve lists from httptest on 127.0.0.1
// allow it here: netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).
func WithPolicy(p *netguard.Policy) Option {
	return func(c *Checker) { c.policy = p }
}

// WithInsecureLoopback allows plain http:// to a loopback host (an address
// in 127.0.0.0/8, ::1, or "localhost", which is then dialled on its
// loopback addresses only). For tests and local development: the policy
// must still allow loopback. Every other URL must be https.
func WithInsecureLoopback(allow bool) Option {
	return func(c *Checker) { c.insecureLoopback = allow }
}

// WithTLSConfig sets the TLS client configuration (e.g. RootCAs for a test
// server). It is cloned, and its MinVersion raised to TLS 1.2.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *Checker) {
		if cfg != nil {
			c.tls = cfg.Clone()
		}
	}
}

// WithTimeout bounds each fetch, from dialling to the last byte of the body
// (default DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(c *Checker) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithMaxBytes bounds a response body (default DefaultMaxBytes).
func WithMaxBytes(n int64) Option {
	return func(c *Checker) {
		if n > 0 {
			c.maxBytes = n
		}
	}
}

// WithMaxRedirects sets how many redirects a fetch follows (default
// DefaultMaxRedirects); 0 follows none. Each redirect target must pass the
// URL rule, and its addresses the policy.
func WithMaxRedirects(n int) Option {
	return func(c *Checker) { c.maxRedirects = max(n, 0) }
}

// WithTransport makes every fetch go through rt instead of a network
// transport: for example an in-process handler that serves the caller's own
// status lists. rt alone decides what a URL may reach: the URL rule
// (https, or http to loopback) and the outbound policy apply only to the
// network transport.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *Checker) { c.transport = rt }
}

// WithStaleness sets how long a fetched list is used without asking the
// server again (default DefaultStaleness). 0 revalidates on every call:
// revocation is then seen by the very next verification, at the price of a
// round trip (a 304 when nothing changed). A negative value means 0.
func WithStaleness(d time.Duration) Option {
	return func(c *Checker) { c.staleness = max(d, 0) }
}

// WithCache bounds the cache to lists entries and bytes bytes (defaults
// DefaultCacheLists and DefaultCacheBytes). Values below 1 keep the
// default.
func WithCache(lists int, bytes int64) Option {
	return func(c *Checker) {
		if lists > 0 {
			c.cache.maxEntries = lists
		}
		if bytes > 0 {
			c.cache.maxBytes = bytes
		}
	}
}

// WithMaxDecodedSize bounds the decoded size of one list in bytes (default
// DefaultMaxDecodedSize).
func WithMaxDecodedSize(n int) Option {
	return func(c *Checker) {
		if n > 0 {
			c.maxDecoded = n
		}
	}
}

// WithClock sets the clock for validity periods and staleness (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *Checker) {
		if now != nil {
			c.now = now
		}
	}
}

// WithSkew sets the clock skew allowed on a list's validity period and
// proof times (default DefaultSkew). Negative means none.
func WithSkew(d time.Duration) Option {
	return func(c *Checker) { c.skew = max(d, 0) }
}

// WithLogger sets the logger: fetches and revalidations at debug level,
// lists that fail verification at warn level. Default: no logging.
func WithLogger(l *slog.Logger) Option {
	return func(c *Checker) {
		if l != nil {
			c.log = l
		}
	}
}

// Revalidator tells, without an HTTP request, whether the list at url is
// still the one whose entity tag is etag: for lists whose current version
// the caller can read more cheaply than over HTTP, such as a server's own
// lists in its database. known is false when it cannot tell (the list is
// not one of those); the Checker then revalidates over its transport as
// usual. An error fails the check closed, as an unreachable list does.
type Revalidator func(ctx context.Context, url, etag string) (unchanged, known bool, err error)

// WithRevalidator sets a Revalidator that a cached list whose freshness
// has run out is revalidated with before any request: when it reports the
// list unchanged, the list is used again as after a 304 Not Modified. A
// list it reports changed, or does not know, is fetched (conditionally)
// and its signature verified as usual.
func WithRevalidator(r Revalidator) Option {
	return func(c *Checker) { c.revalidate = r }
}

// Checker fetches, verifies and caches status lists and answers for status
// entries from them. It is safe for concurrent use; concurrent calls that
// need the same list share one fetch.
type Checker struct {
	resolver         didmethods.Resolver
	policy           *netguard.Policy
	insecureLoopback bool
	tls              *tls.Config
	timeout          time.Duration
	maxBytes         int64
	maxRedirects     int
	staleness        time.Duration
	maxDecoded       int
	now              func() time.Time
	skew             time.Duration
	log              *slog.Logger
	transport        http.RoundTripper
	revalidate       Revalidator

	client *http.Client
	dialer net.Dialer
	cache  *lru

	mu       sync.Mutex
	inflight map[flightKey]*flight

	hits, fetches, notModified, bytes, failures atomic.Uint64
}

// New returns a Checker that resolves signing keys with resolver (the
// verifier's: did:key, did:jwk, and did:web where configured). resolver is
// required.
func New(resolver didmethods.Resolver, opts ...Option) (*Checker, error) {
	if resolver == nil {
		return nil, errors.New("statusfetch: a DID resolver is required")
	}
	c := &Checker{
		resolver:     resolver,
		timeout:      DefaultTimeout,
		maxBytes:     DefaultMaxBytes,
		maxRedirects: DefaultMaxRedirects,
		staleness:    DefaultStaleness,
		maxDecoded:   DefaultMaxDecodedSize,
		now:          time.Now,
		skew:         DefaultSkew,
		log:          slog.New(slog.DiscardHandler),
		cache:        newLRU(DefaultCacheLists, DefaultCacheBytes),
		inflight:     map[flightKey]*flight{},
	}
	for _, o := range opts {
		o(c)
	}
	c.client = c.newClient()
	return c, nil
}

// Stats returns the Checker's counters.
func (c *Checker) Stats() Stats {
	return Stats{
		Hits:        c.hits.Load(),
		Fetches:     c.fetches.Load(),
		NotModified: c.notModified.Load(),
		Bytes:       c.bytes.Load(),
		Failures:    c.failures.Load(),
	}
}

// Check answers for one status entry: it finds the list the entry points at
// (from the cache while fresh, otherwise fetched or revalidated and
// verified), checks that the list is the entry issuer's and still valid,
// and reads the entry's value from it. An error, always wrapping one of
// this package's errors, means the status is unknown: fail closed.
func (c *Checker) Check(ctx context.Context, e Entry) (Result, error) {
	if e.Issuer == "" {
		return Result{}, fmt.Errorf("status: %w: no credential issuer to match the list against", ErrInvalidEntry)
	}
	switch e.Kind {
	case KindBitstring:
		return c.checkBitstring(ctx, e)
	case KindTokenStatusList:
		return c.checkToken(ctx, e)
	default:
		return Result{}, fmt.Errorf("status: %w: %q", ErrUnsupportedKind, e.Kind)
	}
}

func (c *Checker) checkBitstring(ctx context.Context, e Entry) (Result, error) {
	var entry statuslist.BitstringStatusListEntry
	if err := decodeEntry(e.Entry, &entry); err != nil {
		return Result{}, fmt.Errorf("status: %w: %w", ErrInvalidEntry, err)
	}
	if err := entry.Validate(); err != nil {
		return Result{}, fmt.Errorf("status: %w: %w", ErrInvalidEntry, err)
	}
	url := entry.StatusListCredential
	l, err := c.list(ctx, KindBitstring, url, e.Issuer)
	if err != nil {
		return Result{}, err
	}
	if err := c.usable(l, e.Issuer); err != nil {
		return Result{}, err
	}
	sub := l.subject
	if !slices.Contains(sub.StatusPurpose, entry.StatusPurpose) {
		return Result{}, fmt.Errorf("status %s: %w: the list's statusPurpose %v does not include %q",
			url, ErrPurposeMismatch, []string(sub.StatusPurpose), entry.StatusPurpose)
	}
	size := entry.Size()
	if sub.StatusSize != 0 && sub.StatusSize != size {
		return Result{}, fmt.Errorf("status %s: %w: entry statusSize %d, list statusSize %d",
			url, ErrPurposeMismatch, size, sub.StatusSize)
	}
	bits := l.bits
	if bits == nil || bits.StatusSize() != size {
		// An entry wider than the list was decoded for (the list does not
		// state its statusSize): decode for this entry, without caching.
		if bits, err = statuslist.Decode(sub.EncodedList, size, statuslist.WithMaxDecodedSize(c.maxDecoded)); err != nil {
			return Result{}, fmt.Errorf("status %s: %w: %w", url, ErrMalformedList, err)
		}
	}
	index, err := entry.Index()
	if err != nil {
		return Result{}, fmt.Errorf("status %s: %w: %w", url, ErrIndexOutOfRange, err)
	}
	v, err := bits.Get(index)
	if err != nil {
		return Result{}, fmt.Errorf("status %s: %w: %w", url, ErrIndexOutOfRange, err)
	}
	return Result{Purpose: entry.StatusPurpose, Valid: v == 0, Message: entry.Message(v), Status: v, List: url}, nil
}

func (c *Checker) checkToken(ctx context.Context, e Entry) (Result, error) {
	var claim statuslist.StatusClaim
	if err := decodeEntry(e.Entry, &claim); err != nil {
		return Result{}, fmt.Errorf("status: %w: %w", ErrInvalidEntry, err)
	}
	if err := claim.Validate(); err != nil {
		return Result{}, fmt.Errorf("status: %w: %w", ErrInvalidEntry, err)
	}
	ref := *claim.StatusList
	l, err := c.list(ctx, KindTokenStatusList, ref.URI, e.Issuer)
	if err != nil {
		return Result{}, err
	}
	if err := c.usable(l, e.Issuer); err != nil {
		return Result{}, err
	}
	s, err := l.token.StatusOf(ref)
	switch {
	case errors.Is(err, statuslist.ErrRange):
		return Result{}, fmt.Errorf("status %s: %w: %w", ref.URI, ErrIndexOutOfRange, err)
	case err != nil:
		return Result{}, fmt.Errorf("status %s: %w: %w", ref.URI, ErrListMismatch, err)
	}
	res := Result{Valid: s == statuslist.StatusValid, Message: s.String(), Status: uint(s), List: ref.URI}
	switch s {
	case statuslist.StatusValid, statuslist.StatusInvalid:
		res.Purpose = statuslist.PurposeRevocation
	case statuslist.StatusSuspended:
		res.Purpose = statuslist.PurposeSuspension
	default:
		res.Purpose = s.String()
	}
	return res, nil
}

// usable checks, on every call, what a cached list may have lost since it
// was verified or what depends on the caller: that it is the caller's
// issuer's, and that it is inside its validity period now.
func (c *Checker) usable(l *cachedList, issuer string) error {
	if l.issuer != issuer {
		return fmt.Errorf("status %s: %w: the list is %s's, the credential is %s's", l.url, ErrWrongIssuer, l.issuer, issuer)
	}
	if err := l.validAt(c.now(), c.skew); err != nil {
		return fmt.Errorf("status %s: %w", l.url, err)
	}
	return nil
}

// decodeEntry turns a decoded JSON object into one of statuslist's entry
// types, through JSON so that their own validation applies.
func decodeEntry(m map[string]any, dst any) error {
	if m == nil {
		return errors.New("no entry")
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, dst)
}
