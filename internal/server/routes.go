package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentid/agentid/internal/problem"
)

// routes builds the gin engine. Every route answers JSON; every error is a
// problem document.
func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// DIDs may carry percent-encoded characters (did:web ports are %3A):
	// route on the raw path so they reach the resolver as sent.
	e.UseRawPath = true
	e.UnescapePathValues = false
	e.HandleMethodNotAllowed = true
	e.RemoveExtraSlash = false
	_ = e.SetTrustedProxies(nil)

	e.Use(requestID(), s.observe(), s.recoverPanics(), securityHeaders(), s.limitBody())
	e.NoRoute(func(c *gin.Context) {
		s.writeProblem(c, problem.NotFound("no route for "+c.Request.Method+" "+c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		s.writeProblem(c, problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			c.Request.Method+" is not allowed on "+c.Request.URL.Path))
	})

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})))
	e.GET("/1.0/identifiers/:did", s.resolveDID)

	admin := e.Group("/admin", s.requireAdmin())
	admin.GET("/organization", s.adminOrganization)
	s.auditRoutes(e)

	// The services fill these groups in; the groups exist so that routing,
	// authentication and roles are settled in one place.
	if s.hasRole(RoleIssuer) {
		s.issuerRoutes(e)
	}
	if s.hasRole(RoleVerifier) {
		s.verifierRoutes(e)
	}
	if s.hasRole(RolePortal) {
		s.portalRoutes(e)
	}
	return e
}

// issuerRoutes mounts the issuer's endpoints: VC-API issuance and status,
// enrollment, delegation, did:web documents. Without an issuer service
// (WithIssuer) none is mounted.
func (s *Server) issuerRoutes(e *gin.Engine) {
	if s.issuer == nil {
		s.log.Debug("no issuer service: issuer endpoints not mounted")
		return
	}
	s.mountIssuance(e)
	s.mountEnrollment(e)
	s.mountDelegation(e)
	s.mountDIDWeb(e)
}

// verifierRoutes mounts the verification endpoints behind the bound on
// concurrent verifications (WithMaxConcurrentVerifications).
func (s *Server) verifierRoutes(e *gin.Engine) {
	adm, err := newAdmission(s.verifyConcurrency, s.registry)
	if err != nil {
		s.log.Error("verification concurrency bound unavailable", "error", err)
	}
	if adm == nil {
		s.mountVerification(e)
		return
	}
	s.mountVerification(e.Group("", adm.middleware()))
}
func (s *Server) portalRoutes(e *gin.Engine) { _ = e.Group("/portal") }

// healthz answers while the process is alive.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 when the server can do its work: the database answers.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("not ready", "error", err)
		s.writeProblem(c, problem.Unavailable("the database does not answer"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "database": s.store.Driver()})
}
