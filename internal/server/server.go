// Package server is agentid's HTTP front: one gin engine that mounts the
// issuer, verifier, DID resolver and portal route groups, with the
// cross-cutting parts every route shares — request ids, structured logs,
// RFC 9457 problem responses, body size limits, panic recovery, admin token
// authentication, Prometheus metrics, health and readiness, and graceful
// shutdown. Handlers are thin adapters over the services' Go APIs.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/netguard"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/issuer"
)

// Role names a part of the server that can be switched on or off.
type Role string

// The roles agentid serves; all of them by default.
const (
	RoleIssuer   Role = "issuer"
	RoleVerifier Role = "verifier"
	RolePortal   Role = "portal"
)

// AllRoles are the roles a server runs when none are named.
var AllRoles = []Role{RoleIssuer, RoleVerifier, RolePortal}

// DefaultMaxBodyBytes bounds every request body unless WithMaxBodyBytes says
// otherwise.
const DefaultMaxBodyBytes int64 = 1 << 20

// Server is the HTTP server. Build it with New and run it with Serve.
type Server struct {
	store           *store.Store
	resolver        didmethods.Resolver
	log             *slog.Logger
	roles           []Role
	publicURL       string
	fetchAllow      []netip.Prefix
	maxBody         int64
	shutdownTimeout time.Duration
	registry        *prometheus.Registry
	metrics         *metrics
	issuer          *issuer.Service
	verification    verificationConfig
	// verifyConcurrency is WithMaxConcurrentVerifications' bound.
	verifyConcurrency int
	// verifiedCache is WithVerifiedCache's size; nil means the verifier's
	// default.
	verifiedCache *int

	engine *gin.Engine
}

// Option configures a Server.
type Option func(*Server)

// WithStore sets the database; required.
func WithStore(st *store.Store) Option { return func(s *Server) { s.store = st } }

// WithResolver sets the DID resolver behind /1.0/identifiers. Otherwise the
// default registry (did:key, did:jwk, did:web) is used, with did:web fetches
// held to the outbound address policy (see WithFetchAllow).
func WithResolver(r didmethods.Resolver) Option { return func(s *Server) { s.resolver = r } }

// WithLogger sets the logger; slog.Default otherwise.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithRoles limits the route groups that are mounted.
func WithRoles(roles ...Role) Option { return func(s *Server) { s.roles = roles } }

// WithPublicURL sets the URL clients reach the server at.
func WithPublicURL(u string) Option { return func(s *Server) { s.publicURL = u } }

// WithFetchAllow lets outbound fetches made for a request (did:web documents)
// reach these otherwise refused (loopback, private) ranges. Public addresses
// and the public URL's own host are always allowed.
func WithFetchAllow(prefixes ...netip.Prefix) Option {
	return func(s *Server) { s.fetchAllow = append(s.fetchAllow, prefixes...) }
}

// WithIssuer sets the issuer service behind the issuance endpoints
// (/credentials/issue, /credentials/status, /credentials, /status/{list});
// without it they are not mounted.
func WithIssuer(is *issuer.Service) Option { return func(s *Server) { s.issuer = is } }

// WithMaxBodyBytes bounds request bodies.
func WithMaxBodyBytes(n int64) Option { return func(s *Server) { s.maxBody = n } }

// WithShutdownTimeout bounds how long Serve waits for in-flight requests after
// its context ends (default 30 s).
func WithShutdownTimeout(d time.Duration) Option { return func(s *Server) { s.shutdownTimeout = d } }

// WithVerifiedCache sets how many credentials the built-in verifier
// remembers as having passed the checks that depend on their content alone
// (verifier.WithVerifiedCache); 0 turns that off. Default:
// verifier.DefaultVerifiedCacheSize. A verifier given with WithVerifier
// keeps its own setting.
func WithVerifiedCache(n int) Option { return func(s *Server) { s.verifiedCache = &n } }

// New builds a server.
func New(opts ...Option) (*Server, error) {
	s := &Server{
		log:             slog.Default(),
		roles:           AllRoles,
		maxBody:         DefaultMaxBodyBytes,
		shutdownTimeout: 30 * time.Second,
		registry:        prometheus.NewRegistry(),
	}
	for _, o := range opts {
		o(s)
	}
	if s.store == nil {
		return nil, errors.New("server: a store is required")
	}
	for _, r := range s.roles {
		if !slices.Contains(AllRoles, r) {
			return nil, fmt.Errorf("server: unknown role %q (want issuer, verifier or portal)", r)
		}
	}
	if s.resolver == nil {
		policy := netguard.New(s.fetchAllow, publicHost(s.publicURL))
		s.resolver = didmethods.NewDefaultRegistry(didmethods.WithDialCheck(policy.Check))
	}
	m, err := newMetrics(s.registry)
	if err != nil {
		return nil, fmt.Errorf("server: metrics: %w", err)
	}
	s.metrics = m
	s.engine = s.routes()
	return s, nil
}

// Handler is the server's http.Handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.engine }

// Serve answers requests on ln until ctx ends, then stops accepting new
// connections and waits for in-flight requests to finish (up to the
// shutdown timeout). It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "roles", s.roles)
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: waiting for in-flight requests", "timeout", s.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	s.log.Info("stopped")
	return nil
}

func (s *Server) hasRole(r Role) bool { return slices.Contains(s.roles, r) }

// publicHost is the host name of the public URL, or "".
func publicHost(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
