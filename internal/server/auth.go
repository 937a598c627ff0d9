package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
)

const adminTokenKey = "agentid.adminToken"

// requireAdmin authenticates an organization admin by bearer token. The
// token is looked up by its SHA-256 hash and compared in constant time; the
// request is then scoped to the token's organization and nothing else.
func (s *Server) requireAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := s.authenticateAdmin(c); !ok {
			return
		}
		c.Next()
	}
}

// authenticateAdmin authenticates the request's admin bearer token and
// records it for adminScope. When it cannot, it answers with a 401 problem
// and returns false.
func (s *Server) authenticateAdmin(c *gin.Context) (*store.AdminToken, bool) {
	token, ok := bearerToken(c.GetHeader("Authorization"))
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="agentid"`)
		s.writeProblem(c, problem.Unauthorized("an admin token is required: Authorization: Bearer <token>"))
		return nil, false
	}
	tok, err := s.store.AdminTokenByHash(c.Request.Context(), store.HashToken(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.Header("WWW-Authenticate", `Bearer realm="agentid", error="invalid_token"`)
		s.writeProblem(c, problem.Unauthorized("the admin token is not valid"))
		return nil, false
	case err != nil:
		s.fail(c, err)
		return nil, false
	case !store.TokenMatches(tok.TokenHash, token):
		s.writeProblem(c, problem.Unauthorized("the admin token is not valid"))
		return nil, false
	}
	if tok.LastUsedAt == nil || time.Since(*tok.LastUsedAt) > time.Minute {
		if err := s.store.TouchAdminToken(c.Request.Context(), tok.ID); err != nil {
			s.log.Warn("record admin token use", "token_id", tok.ID, "error", err)
		}
	}
	c.Set(adminTokenKey, tok)
	return tok, true
}

// bearerToken extracts the token of an "Authorization: Bearer" header.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != "" && len(token) <= 512
}

// adminScope is the organization the authenticated admin token belongs to.
func adminScope(c *gin.Context) *store.AdminToken {
	v, _ := c.Get(adminTokenKey)
	tok, _ := v.(*store.AdminToken)
	return tok
}

// adminOrganization answers GET /admin/organization: the organization the
// admin token is scoped to, with its issuer identities.
func (s *Server) adminOrganization(c *gin.Context) {
	tok := adminScope(c)
	org, err := s.store.OrganizationByID(c.Request.Context(), tok.OrganizationID)
	if err != nil {
		s.fail(c, err)
		return
	}
	ids, err := s.store.IssuerIdentities(c.Request.Context(), org.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]identityView, 0, len(ids))
	for _, id := range ids {
		out = append(out, viewIdentity(id))
	}
	c.JSON(http.StatusOK, gin.H{
		"id":               org.ID,
		"slug":             org.Slug,
		"name":             org.Name,
		"default":          org.IsDefault,
		"issuerIdentities": out,
		"tokenId":          tok.ID,
	})
}
