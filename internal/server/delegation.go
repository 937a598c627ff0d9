package server

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/issuer"
)

// mountDelegation mounts POST /delegations, which needs no token: the
// consent is signed by the agent's principal (or, for a sub-delegation, by
// the parent delegation's agent). Without an issuer service nothing is
// mounted.
func (s *Server) mountDelegation(r gin.IRouter) {
	if s.issuer == nil {
		return
	}
	r.POST("/delegations", s.createDelegation)
}

// createDelegation answers POST /delegations: {org?, consent} → 201
// {delegationId, credentialId, parent?, verifiableCredential, status}.
func (s *Server) createDelegation(c *gin.Context) {
	var req issuer.DelegationRequest
	if !s.bindJSON(c, &req) {
		return
	}
	if req.Consent == "" {
		s.writeProblem(c, problem.BadRequest("/consent", "required: the consent, a compact JWS signed by the delegator's did:key"))
		return
	}
	out, err := s.issuer.Delegate(c.Request.Context(), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	body := gin.H{
		"delegationId":         out.Delegation.ID,
		"credentialId":         out.Delegation.CredentialID,
		"verifiableCredential": out.Issued.Credential,
		"status":               out.Issued.Status,
	}
	if out.Delegation.ParentID != nil {
		body["parentDelegationId"] = *out.Delegation.ParentID
	}
	c.Header("Location", "/credentials/"+url.PathEscape(out.Delegation.CredentialID))
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, body)
}
