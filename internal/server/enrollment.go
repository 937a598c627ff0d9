package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/issuer"
)

// mountEnrollment mounts agent enrollment (DESIGN.md §6): the agent's three
// calls, which need no token (the agent proves itself with its key and its
// TPM), and the admin's: approval, rejection, reading an agent, the
// organization's enrollment policy and EK allowlist.
func (s *Server) mountEnrollment(r gin.IRouter) {
	r.POST("/agents/enroll", s.startEnrollment)
	r.POST("/agents/enroll/:id/evidence", s.submitEvidence)
	r.POST("/agents/enroll/:id/activate", s.activateEnrollment)

	admin := r.Group("/agents", s.requireAdmin(), s.requireScope(ScopeAdmin))
	admin.GET("/policy", s.getEnrollmentPolicy)
	admin.PUT("/policy", s.putEnrollmentPolicy)
	admin.POST("/ek-allowlist", s.allowEK)
	admin.GET("/:id", s.getAgent)
	admin.POST("/:id/approve", s.approveAgent)
	admin.POST("/:id/reject", s.rejectAgent)
}

// startEnrollment answers POST /agents/enroll: {org?, did, name, software,
// principal} → 201 {id, nonce, expires}.
func (s *Server) startEnrollment(c *gin.Context) {
	var req issuer.EnrollRequest
	if !s.bindJSON(c, &req) {
		return
	}
	out, err := s.issuer.StartEnrollment(c.Request.Context(), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, out)
}

// submitEvidence answers POST /agents/enroll/{id}/evidence: {evidence,
// proof} → 200 {activation, expires}; {software: true, proof} → 200
// {agent} where the organization allows software keys.
func (s *Server) submitEvidence(c *gin.Context) {
	var req issuer.EvidenceRequest
	if !s.bindJSON(c, &req) {
		return
	}
	out, err := s.issuer.SubmitEvidence(c.Request.Context(), c.Param("id"), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	if out.Agent != nil {
		c.JSON(http.StatusOK, gin.H{"agent": agentJSON(out.Agent)})
		return
	}
	c.JSON(http.StatusOK, gin.H{"activation": out.Activation, "expires": out.Expires})
}

// activateEnrollment answers POST /agents/enroll/{id}/activate: {secret
// (base64, standard or url)} → 200 {agent}, with its credentials when the
// organization's policy approved it at once.
func (s *Server) activateEnrollment(c *gin.Context) {
	var req struct {
		Secret string `json:"secret"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	secret, err := decodeB64(req.Secret)
	if err != nil || len(secret) == 0 {
		s.writeProblem(c, problem.BadRequest("/secret", "required: the activation secret, base64"))
		return
	}
	out, err := s.issuer.ActivateEnrollment(c.Request.Context(), c.Param("id"), secret)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"agent": agentJSON(out)})
}

// decodeB64 accepts standard or URL-safe base64, padded or not.
func decodeB64(v string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b, nil
		}
	}
	return base64.StdEncoding.DecodeString(v)
}

// getAgent answers GET /agents/{id} (admin): the agent, its state and
// credentials. Another organization's agent is 404.
func (s *Server) getAgent(c *gin.Context) {
	out, err := s.issuer.Agent(c.Request.Context(), adminScope(c).OrganizationID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"agent": agentJSON(out)})
}

// approveAgent answers POST /agents/{id}/approve (admin): 200 {agent} with
// the AgentIdentityCredential in both formats.
func (s *Server) approveAgent(c *gin.Context) {
	out, err := s.issuer.ApproveAgent(c.Request.Context(), adminScope(c).OrganizationID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"agent": agentJSON(out)})
}

// rejectAgent answers POST /agents/{id}/reject (admin): 200 {agent}.
func (s *Server) rejectAgent(c *gin.Context) {
	out, err := s.issuer.RejectAgent(c.Request.Context(), adminScope(c).OrganizationID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"agent": agentJSON(out)})
}

// enrollmentPolicyJSON is the body of GET and PUT /agents/policy.
type enrollmentPolicyJSON struct {
	AllowSoftware *bool `json:"allowSoftwareKeys"`
	AutoApprove   *bool `json:"autoApprove"`
}

func policyJSON(p *store.EnrollmentPolicy) gin.H {
	return gin.H{"allowSoftwareKeys": p.AllowSoftware, "autoApprove": p.AutoApprove}
}

// getEnrollmentPolicy answers GET /agents/policy (admin).
func (s *Server) getEnrollmentPolicy(c *gin.Context) {
	p, err := s.issuer.EnrollmentPolicy(c.Request.Context(), adminScope(c).OrganizationID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, policyJSON(p))
}

// putEnrollmentPolicy answers PUT /agents/policy (admin):
// {allowSoftwareKeys, autoApprove}, both required.
func (s *Server) putEnrollmentPolicy(c *gin.Context) {
	var req enrollmentPolicyJSON
	if !s.bindJSON(c, &req) {
		return
	}
	var fields []problem.FieldError
	if req.AllowSoftware == nil {
		fields = append(fields, problem.FieldError{Field: "/allowSoftwareKeys", Reason: "required: true or false"})
	}
	if req.AutoApprove == nil {
		fields = append(fields, problem.FieldError{Field: "/autoApprove", Reason: "required: true or false"})
	}
	if len(fields) > 0 {
		s.writeProblem(c, problem.Invalid("the enrollment policy is not usable", fields...))
		return
	}
	p, err := s.issuer.SetEnrollmentPolicy(c.Request.Context(), adminScope(c).OrganizationID, *req.AllowSoftware, *req.AutoApprove)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, policyJSON(p))
}

// allowEK answers POST /agents/ek-allowlist (admin): {hash} (an
// EKPublicKeyHash, as agentid tpm evidence and attest print it) → 201.
func (s *Server) allowEK(c *gin.Context) {
	var req struct {
		Hash string `json:"hash"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	h, err := s.issuer.AllowEK(c.Request.Context(), adminScope(c).OrganizationID, req.Hash)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"hash": h})
}

// agentJSON is an agent as the API shows it: the record, and its
// credentials with their signed documents.
func agentJSON(v *issuer.AgentView) gin.H {
	a := v.Agent
	var sw any = json.RawMessage(a.Software)
	if !json.Valid([]byte(a.Software)) {
		sw = nil
	}
	creds := make([]gin.H, 0, len(v.Credentials))
	for i := range v.Credentials {
		r := &v.Credentials[i]
		var vc any = r.Document
		if r.Format == issuer.FormatLDPVC {
			vc = json.RawMessage(r.Document)
		}
		creds = append(creds, gin.H{"id": r.CredentialID, "format": r.Format, "status": r.Status, "verifiableCredential": vc})
	}
	hw := gin.H{
		"assurance": a.Assurance, "method": a.Method, "attestedAt": a.AttestedAt.UTC().Format(time.RFC3339),
		"ekCertificateSha256": a.EKCertificateSHA256, "ekPublicKeySha256": a.EKPublicKeySHA256,
		"manufacturer": a.Manufacturer, "model": a.Model, "firmwareVersion": a.FirmwareVersion,
	}
	return gin.H{
		"id": a.ID, "did": a.DID, "name": a.Name, "software": sw, "principal": a.PrincipalDID,
		"state": a.State, "created": a.CreatedAt.UTC(), "hardwareBinding": hw, "credentials": creds,
	}
}
