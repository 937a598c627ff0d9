package server

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/issuer"
)

// mountDelegation mounts POST /delegations, which needs no token: the
// consent is signed by the agent's principal or an approver of the
// organization (or, for a sub-delegation, by the parent delegation's
// agent); POST /delegations/{id}/renew, signed by the delegation's agent;
// and the admin's organization approvers and delegation policy.
func (s *Server) mountDelegation(r gin.IRouter) {
	r.POST("/delegations", s.createDelegation)
	r.POST("/delegations/:id/renew", s.renewDelegation)

	admin := r.Group("/agents", s.requireAdmin(), s.requireScope(ScopeAdmin))
	admin.GET("/approvers", s.listApprovers)
	admin.POST("/approvers", s.addApprover)
	admin.DELETE("/approvers/:did", s.removeApprover)
	admin.GET("/delegation-policy", s.getDelegationPolicy)
	admin.PUT("/delegation-policy", s.putDelegationPolicy)
}

// delegationBody is the answer to an issued or renewed delegation:
// {delegationId, credentialId, verifiableCredential, status, credentials:
// [{format, credentialId, verifiableCredential, status}], expires,
// renewals, parentDelegationId?, supersedes?}. credentialId and
// verifiableCredential are the ldp_vc credential's when it was issued.
func delegationBody(out *issuer.Delegated) gin.H {
	creds := make([]gin.H, 0, len(out.Credentials))
	for _, c := range out.Credentials {
		creds = append(creds, gin.H{"format": c.Record.Format, "credentialId": c.Record.CredentialID,
			"verifiableCredential": c.Credential, "status": c.Status})
	}
	d := out.Delegation
	body := gin.H{
		"delegationId":         d.ID,
		"credentialId":         out.Issued.Record.CredentialID,
		"verifiableCredential": out.Issued.Credential,
		"status":               out.Issued.Status,
		"credentials":          creds,
		"expires":              d.ExpiresAt.UTC().Format(time.RFC3339),
		"renewals":             d.Renewals,
	}
	if d.ParentID != nil {
		body["parentDelegationId"] = *d.ParentID
	}
	if out.Superseded != nil {
		body["supersedes"] = gin.H{"delegationId": out.Superseded.ID, "reparented": out.Reparented, "revoked": out.Revoked}
	}
	return body
}

// createDelegation answers POST /delegations: {org?, consent, formats?} →
// 201 delegationBody.
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
	c.Header("Location", "/credentials/"+url.PathEscape(out.Issued.Record.CredentialID))
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, delegationBody(out))
}

// renewDelegation answers POST /delegations/{id}/renew: {org?, proof} →
// 201 delegationBody, where proof is a compact JWS by the delegation's
// agent over {delegation, nonce, iat, aud}.
func (s *Server) renewDelegation(c *gin.Context) {
	var req struct {
		Org   string `json:"org"`
		Proof string `json:"proof"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	id, err := url.PathUnescape(c.Param("id"))
	if err != nil {
		s.writeProblem(c, problem.NotFound("no delegation "+c.Param("id")))
		return
	}
	out, err := s.issuer.RenewDelegation(c.Request.Context(), issuer.RenewalRequest{Org: req.Org, Delegation: id, Proof: req.Proof})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/credentials/"+url.PathEscape(out.Issued.Record.CredentialID))
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, delegationBody(out))
}

func approverJSON(a *store.DelegationApprover) gin.H {
	return gin.H{"did": a.DID, "created": a.CreatedAt.UTC().Format(time.RFC3339)}
}

// listApprovers answers GET /agents/approvers (admin): {approvers: [{did,
// created}]}.
func (s *Server) listApprovers(c *gin.Context) {
	list, err := s.issuer.Approvers(c.Request.Context(), adminScope(c).OrganizationID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]gin.H, 0, len(list))
	for i := range list {
		out = append(out, approverJSON(&list[i]))
	}
	c.JSON(http.StatusOK, gin.H{"approvers": out})
}

// addApprover answers POST /agents/approvers (admin): {did} → 201 {did,
// created}.
func (s *Server) addApprover(c *gin.Context) {
	var req struct {
		DID string `json:"did"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	a, err := s.issuer.AddApprover(c.Request.Context(), adminScope(c).OrganizationID, req.DID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, approverJSON(a))
}

// removeApprover answers DELETE /agents/approvers/{did} (admin): 204.
func (s *Server) removeApprover(c *gin.Context) {
	did, err := url.PathUnescape(c.Param("did"))
	if err == nil {
		err = s.issuer.RemoveApprover(c.Request.Context(), adminScope(c).OrganizationID, did)
	} else {
		err = problem.NotFound("no approver " + c.Param("did"))
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// delegationPolicyJSON is the body of GET and PUT
// /agents/delegation-policy; maxLifetime is a duration such as "720h".
type delegationPolicyJSON struct {
	Renewable   *bool   `json:"renewable"`
	MaxRenewals *int    `json:"maxRenewals"`
	MaxLifetime *string `json:"maxLifetime"`
}

func delegationPolicyBody(p *issuer.DelegationPolicy) gin.H {
	return gin.H{"renewable": p.Renewable, "maxRenewals": p.MaxRenewals, "maxLifetime": p.MaxLifetime.String()}
}

// getDelegationPolicy answers GET /agents/delegation-policy (admin).
func (s *Server) getDelegationPolicy(c *gin.Context) {
	p, err := s.issuer.DelegationPolicy(c.Request.Context(), adminScope(c).OrganizationID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, delegationPolicyBody(p))
}

// putDelegationPolicy answers PUT /agents/delegation-policy (admin):
// {renewable, maxRenewals, maxLifetime}, all required.
func (s *Server) putDelegationPolicy(c *gin.Context) {
	var req delegationPolicyJSON
	if !s.bindJSON(c, &req) {
		return
	}
	var fields []problem.FieldError
	if req.Renewable == nil {
		fields = append(fields, problem.FieldError{Field: "/renewable", Reason: "required: true or false"})
	}
	if req.MaxRenewals == nil {
		fields = append(fields, problem.FieldError{Field: "/maxRenewals", Reason: "required: a number"})
	}
	var life time.Duration
	if req.MaxLifetime == nil {
		fields = append(fields, problem.FieldError{Field: "/maxLifetime", Reason: "required: a duration such as 720h"})
	} else if d, err := time.ParseDuration(*req.MaxLifetime); err != nil {
		fields = append(fields, problem.FieldError{Field: "/maxLifetime", Reason: "not a duration such as 720h"})
	} else {
		life = d
	}
	if len(fields) > 0 {
		s.writeProblem(c, problem.Invalid("the delegation policy is not usable", fields...))
		return
	}
	p, err := s.issuer.SetDelegationPolicy(c.Request.Context(), adminScope(c).OrganizationID,
		issuer.DelegationPolicy{Renewable: *req.Renewable, MaxRenewals: *req.MaxRenewals, MaxLifetime: life})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, delegationPolicyBody(p))
}
