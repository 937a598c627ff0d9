package issuer

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
)

// DefaultStatusListMaxAge is how long clients and caches may keep a status
// list (Cache-Control max-age) unless WithStatusListMaxAge says otherwise.
const DefaultStatusListMaxAge = 60 * time.Second

// Service is the issuer's Go API: issuance, status lists and status changes
// for the organizations in its store, signing with their issuer identities'
// keys through the key manager. HTTP handlers and the portal are thin
// adapters over it. A Service is safe for concurrent use, and any number of
// Services (in one process or many) may share one database.
type Service struct {
	store     *store.Store
	keys      *keys.Manager
	publicURL string
	// webBase is the method-specific part of the did:web of publicURL
	// (WebBase); empty when publicURL is not https.
	webBase string
	now     func() time.Time
	log     *slog.Logger
	maxAge  time.Duration

	// tpmRoots are the TPM manufacturer roots agent enrollment trusts EK
	// certificates under (WithTPMRoots); nil trusts none.
	tpmRoots *x509.CertPool

	// listSize is the number of entries of a new status list; listFull the
	// fill level, in percent, from which a list takes no more allocations.
	listSize int
	listFull int

	// delegationMax is the longest a delegation may run (0: the default,
	// DefaultDelegationMaxLifetime).
	delegationMax time.Duration

	// open caches, per issuer, kind and purpose, the list new indexes are
	// drawn from, with a count of the allocations made since it was last
	// counted in the database.
	openMu sync.Mutex
	open   map[listKey]*openList
	// commits is the group commit of issuances (batch.go): one writer
	// stores every queued issuance in one transaction.
	commits committer
}

// Option configures a Service.
type Option func(*Service)

// WithStore sets the database; required.
func WithStore(st *store.Store) Option { return func(s *Service) { s.store = st } }

// WithKeyManager sets the key manager that holds the issuer identities'
// signing keys; required.
func WithKeyManager(km *keys.Manager) Option { return func(s *Service) { s.keys = km } }

// WithPublicURL sets the URL clients reach the server at (http or https,
// no query or fragment); status list URLs are built on it. Required.
func WithPublicURL(u string) Option { return func(s *Service) { s.publicURL = u } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithStatusListMaxAge sets how long clients may cache a status list
// (default DefaultStatusListMaxAge); it is also the list's ttl. 0 asks
// clients to revalidate every time.
func WithStatusListMaxAge(d time.Duration) Option { return func(s *Service) { s.maxAge = d } }

// withStatusListSize sets the size of new status lists and the fill level
// in percent at which a new list is opened; for tests of list rollover.
func withStatusListSize(size, fullPercent int) Option {
	return func(s *Service) { s.listSize, s.listFull = size, fullPercent }
}

// New returns a Service.
func New(opts ...Option) (*Service, error) {
	s := &Service{
		now:      time.Now,
		log:      slog.Default(),
		maxAge:   DefaultStatusListMaxAge,
		listSize: StatusListSize,
		listFull: StatusListFullPercent,
		open:     map[listKey]*openList{},
	}
	for _, o := range opts {
		o(s)
	}
	switch {
	case s.store == nil:
		return nil, errors.New("issuer: a store is required")
	case s.keys == nil:
		return nil, errors.New("issuer: a key manager is required")
	case s.maxAge < 0:
		return nil, fmt.Errorf("issuer: negative status list max age %s", s.maxAge)
	case s.now == nil || s.log == nil:
		return nil, errors.New("issuer: nil clock or logger")
	}
	u, err := url.Parse(s.publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("issuer: public URL %q: want an absolute http(s) URL without query or fragment", s.publicURL)
	}
	s.publicURL = strings.TrimSuffix(s.publicURL, "/")
	if s.webBase, err = WebBase(s.publicURL); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	return s, nil
}

// Store is the Service's database, for the parts of the issuer (enrollment)
// that live in other files.
func (s *Service) Store() *store.Store { return s.store }

// StatusListMaxAge is how long clients may cache a status list.
func (s *Service) StatusListMaxAge() time.Duration { return s.maxAge }

// StatusListURL is the URL of the status list with the given ID.
func (s *Service) StatusListURL(listID string) string {
	return s.publicURL + "/status/" + listID
}

// clock is now in UTC, to the second: what credentials and proofs say.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Second) }
