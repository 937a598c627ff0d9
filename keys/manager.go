package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// Errors of key URIs and the Manager.
var (
	// ErrInvalidKeyURI is a key URI that does not parse as scheme:rest.
	ErrInvalidKeyURI = errors.New("invalid key URI")
	// ErrUnknownScheme is a key URI scheme no back end is registered for.
	ErrUnknownScheme = errors.New("no key back end for this URI scheme")
	// ErrKeyExists is an attempt to store a key under an id that is taken.
	ErrKeyExists = errors.New("key already exists")
)

// Backend creates and loads the keys of one URI scheme: the software back end
// (package keys/software) for "software:", a TPM back end for "tpm:". The
// Manager hands it only URIs of its own scheme.
//
// Implementations must be safe for concurrent use. Load of a URI that names
// no key returns an error wrapping ErrKeyNotFound.
type Backend interface {
	// Create makes a new key of type typ and returns its signer; the
	// signer's URI has the back end's scheme and can be given to Load later,
	// also from another process.
	Create(ctx context.Context, typ KeyType) (Signer, error)
	// Load returns the signer of an existing key.
	Load(ctx context.Context, uri string) (Signer, error)
}

// ParseKeyURI splits a key URI into its scheme and the rest, as in
// "software:3f2a…" → ("software", "3f2a…"). The scheme follows RFC 3986
// (a letter, then letters, digits, "+", "-" or "."), compared in lower case;
// the rest must not be empty. Errors wrap ErrInvalidKeyURI.
func ParseKeyURI(uri string) (scheme, rest string, err error) {
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok {
		return "", "", fmt.Errorf("%w %q: no scheme (want scheme:…, e.g. software:…)", ErrInvalidKeyURI, uri)
	}
	if !validScheme(scheme) {
		return "", "", fmt.Errorf("%w %q: bad scheme %q", ErrInvalidKeyURI, uri, scheme)
	}
	if rest == "" {
		return "", "", fmt.Errorf("%w %q: nothing after the scheme", ErrInvalidKeyURI, uri)
	}
	return strings.ToLower(scheme), rest, nil
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// Manager creates and loads signers by key URI, dispatching on the URI scheme
// to a registered Backend, in the style of a KMS: callers keep a URI (in
// configuration or the database) and ask the Manager for its signer when they
// need to sign.
//
// Loaded and created signers are cached by URI for the life of the Manager,
// so that a software key is decrypted once, not at every signature. The cache
// is not bounded: a deployment has a handful of issuer and wallet keys. A
// Manager is safe for concurrent use.
type Manager struct {
	log *slog.Logger

	mu       sync.RWMutex
	backends map[string]Backend
	cache    map[string]Signer
}

// ManagerOption configures NewManager.
type ManagerOption func(*managerConfig)

type managerConfig struct {
	log      *slog.Logger
	backends []registration
}

type registration struct {
	scheme  string
	backend Backend
}

// WithBackend registers b for scheme, as RegisterBackend does. Wiring a TPM
// back end is then one line in the NewManager call:
//
//	keys.WithBackend("tpm", tpmBackend)
func WithBackend(scheme string, b Backend) ManagerOption {
	return func(c *managerConfig) { c.backends = append(c.backends, registration{scheme, b}) }
}

// WithLogger sets the logger for the Manager's debug records (keys created
// and loaded, by URI). The default is slog.Default().
func WithLogger(l *slog.Logger) ManagerOption {
	return func(c *managerConfig) { c.log = l }
}

// NewManager returns a Manager with the back ends given by WithBackend. It
// fails when a registration would fail in RegisterBackend.
func NewManager(opts ...ManagerOption) (*Manager, error) {
	var c managerConfig
	for _, o := range opts {
		o(&c)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	m := &Manager{
		log:      c.log.With("component", "keys"),
		backends: make(map[string]Backend),
		cache:    make(map[string]Signer),
	}
	for _, r := range c.backends {
		if err := m.RegisterBackend(r.scheme, r.backend); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// RegisterBackend makes b the back end of key URIs with scheme. The scheme
// is case-insensitive and must be a valid URI scheme; registering a scheme
// twice, or a nil back end, is an error.
func (m *Manager) RegisterBackend(scheme string, b Backend) error {
	if !validScheme(scheme) {
		return fmt.Errorf("register key back end: invalid scheme %q", scheme)
	}
	if b == nil {
		return fmt.Errorf("register key back end %q: nil back end", scheme)
	}
	scheme = strings.ToLower(scheme)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.backends[scheme]; dup {
		return fmt.Errorf("register key back end %q: scheme already registered", scheme)
	}
	m.backends[scheme] = b
	return nil
}

// Schemes returns the registered URI schemes, sorted.
func (m *Manager) Schemes() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.backends))
	for s := range m.backends {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func (m *Manager) backend(scheme string) (Backend, error) {
	m.mu.RLock()
	b, ok := m.backends[strings.ToLower(scheme)]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %s)", ErrUnknownScheme, scheme, strings.Join(m.Schemes(), ", "))
	}
	return b, nil
}

// Create makes a new key of type typ in the back end of scheme and returns
// its signer, which is also cached for Load.
func (m *Manager) Create(ctx context.Context, scheme string, typ KeyType) (Signer, error) {
	b, err := m.backend(scheme)
	if err != nil {
		return nil, fmt.Errorf("create %s key: %w", typ, err)
	}
	s, err := b.Create(ctx, typ)
	if err != nil {
		return nil, fmt.Errorf("create %s key in %s back end: %w", typ, scheme, err)
	}
	if s == nil {
		return nil, fmt.Errorf("create %s key in %s back end: back end returned no signer", typ, scheme)
	}
	if got, _, err := ParseKeyURI(s.URI()); err != nil || got != strings.ToLower(scheme) {
		return nil, fmt.Errorf("create %s key in %s back end: back end returned URI %q of another scheme", typ, scheme, s.URI())
	}
	m.mu.Lock()
	m.cache[s.URI()] = s
	m.mu.Unlock()
	m.log.DebugContext(ctx, "key created", "uri", s.URI(), "type", typ)
	return s, nil
}

// Load returns the signer of the key at uri, from the cache or else from the
// back end of the URI's scheme. A malformed URI fails with ErrInvalidKeyURI,
// a scheme without back end with ErrUnknownScheme, and a key the back end
// does not have with an error wrapping ErrKeyNotFound (when the back end's
// store reports it so). Failed loads are not cached.
func (m *Manager) Load(ctx context.Context, uri string) (Signer, error) {
	scheme, _, err := ParseKeyURI(uri)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	m.mu.RLock()
	s, ok := m.cache[uri]
	m.mu.RUnlock()
	if ok {
		return s, nil
	}
	b, err := m.backend(scheme)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", uri, err)
	}
	s, err = b.Load(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", uri, err)
	}
	if s == nil {
		return nil, fmt.Errorf("load key %s: back end returned no signer", uri)
	}
	m.mu.Lock()
	// Two goroutines may have loaded the same key at once; keep the first
	// so that every caller shares one signer.
	if cached, ok := m.cache[uri]; ok {
		s = cached
	} else {
		m.cache[uri] = s
	}
	m.mu.Unlock()
	m.log.DebugContext(ctx, "key loaded", "uri", uri, "type", s.KeyType())
	return s, nil
}

// Forget drops uri from the cache, so that the next Load asks the back end
// again (after a key was deleted or replaced in its store, for example).
func (m *Manager) Forget(uri string) {
	m.mu.Lock()
	delete(m.cache, uri)
	m.mu.Unlock()
}
