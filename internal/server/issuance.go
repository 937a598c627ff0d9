package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/statuslist"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/issuer"
)

// Token scopes of the issuance endpoints, besides ScopeAdmin which grants
// them all.
const (
	ScopeIssue  = "credentials:issue"
	ScopeStatus = "credentials:status"
	ScopeRead   = "credentials:read"
)

// credentialQueryParams are the query parameters GET /credentials knows.
var credentialQueryParams = []string{"agent", "type", "status", "from", "to", "limit", "after"}

// statusEntryTypes are the credentialStatus[].type values POST
// /credentials/status accepts: the VC-API names the status list credential
// type; the entry type and the token list are accepted too. The credential's
// own format decides which lists change.
var statusEntryTypes = []string{
	statuslist.CredentialType, statuslist.EntryType, "TokenStatusList", "StatusListToken",
}

// mountIssuance mounts the issuer's VC-API endpoints and the public status
// lists.
func (s *Server) mountIssuance(r gin.IRouter) {
	admin := s.requireAdmin()
	r.POST("/credentials/issue", admin, s.requireScope(ScopeAdmin, ScopeIssue), s.issueCredential)
	// An admin token, or a request signed by the principal: the handler
	// authenticates.
	r.POST("/credentials/status", s.updateCredentialStatus)
	r.GET("/credentials", admin, s.requireScope(ScopeAdmin, ScopeRead), s.listCredentials)
	r.GET("/credentials/:id", admin, s.requireScope(ScopeAdmin, ScopeRead), s.getCredential)
	r.GET("/status/:list", s.getStatusList)
	r.HEAD("/status/:list", s.getStatusList)
}

// issueRequest is the VC-API issue request body.
type issueRequest struct {
	Credential json.RawMessage            `json:"credential"`
	Options    map[string]json.RawMessage `json:"options"`
}

// issueCredential answers POST /credentials/issue: {credential, options} →
// 201 {verifiableCredential}.
func (s *Server) issueCredential(c *gin.Context) {
	var req issueRequest
	if !s.bindJSON(c, &req) {
		return
	}
	if len(req.Credential) == 0 || string(req.Credential) == "null" {
		s.writeProblem(c, problem.BadRequest("/credential", "required: the credential to issue"))
		return
	}
	doc, err := credential.DecodeObject(req.Credential)
	if err != nil {
		s.writeProblem(c, credentialProblem("the credential is not a usable JSON object", "/credential", err))
		return
	}
	opts, credentialID, p := parseIssueOptions(req.Options)
	if p != nil {
		s.writeProblem(c, p)
		return
	}
	if credentialID != "" {
		if id, ok := doc["id"]; ok && id != credentialID {
			s.writeProblem(c, problem.BadRequest("/options/credentialId", "differs from the credential's id"))
			return
		}
		doc["id"] = credentialID
	}
	tok := adminScope(c)
	out, err := s.issuer.Issue(c.Request.Context(), tok.OrganizationID, doc, opts)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/credentials/"+url.PathEscape(out.Record.CredentialID))
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, gin.H{"verifiableCredential": out.Credential})
}

// parseIssueOptions reads options: cryptosuite, format, credentialStatus,
// vct and credentialId. Any other option is refused, so that a misspelt
// one is not silently ignored.
func parseIssueOptions(raw map[string]json.RawMessage) (issuer.IssueOptions, string, *problem.Problem) {
	var (
		opts   issuer.IssueOptions
		credID string
		fields []problem.FieldError
	)
	str := func(k string, v json.RawMessage, dst *string) {
		if err := json.Unmarshal(v, dst); err != nil || *dst == "" {
			fields = append(fields, problem.FieldError{Field: "/options/" + k, Reason: "must be a non-empty string"})
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := raw[k]
		switch k {
		case "cryptosuite":
			str(k, v, &opts.Cryptosuite)
		case "format":
			str(k, v, &opts.Format)
		case "vct":
			str(k, v, &opts.VCT)
		case "credentialId":
			str(k, v, &credID)
			if credID != "" && !credential.IsURL(credID) {
				fields = append(fields, problem.FieldError{Field: "/options/credentialId", Reason: "must be a URL"})
			}
		case "credentialStatus":
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				fields = append(fields, problem.FieldError{Field: "/options/credentialStatus", Reason: "must be true or false"})
			}
			opts.NoStatus = !b
		default:
			fields = append(fields, problem.FieldError{Field: "/options/" + k,
				Reason: "unknown option; known: cryptosuite, format, credentialStatus, vct, credentialId"})
		}
	}
	if len(fields) > 0 {
		return opts, "", problem.Invalid("the issuance options are not usable", fields...)
	}
	return opts, credID, nil
}

// credentialProblem turns a credential decoding error into a 400 naming
// the fields under prefix.
func credentialProblem(detail, prefix string, err error) *problem.Problem {
	var fields []problem.FieldError
	var verr *credential.ValidationError
	if errors.As(err, &verr) {
		for _, fe := range verr.Errors {
			fields = append(fields, problem.FieldError{Field: prefix + fe.Pointer, Reason: fe.Reason})
		}
	}
	if len(fields) == 0 {
		fields = append(fields, problem.FieldError{Field: prefix, Reason: err.Error()})
	}
	return problem.Invalid(detail, fields...)
}

// statusRequest is the VC-API status update body.
type statusRequest struct {
	// Org is the organization's slug for a principal's signed request
	// (default organization when empty); an admin token names its own.
	Org          string `json:"org"`
	CredentialID string `json:"credentialId"`
	// Proof is the principal's compact JWS over {credentialId, status,
	// nonce, iat, aud}, when there is no admin token.
	Proof            string `json:"proof"`
	CredentialStatus []struct {
		Type   string `json:"type"`
		Status string `json:"status"`
	} `json:"credentialStatus"`
}

// updateCredentialStatus answers POST /credentials/status:
// {credentialId, credentialStatus: [{type, status}]} with status revoked,
// suspended, or active (reinstated). 200 {credentialId, status} once the
// change is durable. The caller is an admin (bearer token with scope admin
// or credentials:status) or, without an Authorization header, the
// credential's principal, with a proof: a compact JWS by their did:key
// over {credentialId, status, nonce, iat, aud}.
func (s *Server) updateCredentialStatus(c *gin.Context) {
	var tok *store.AdminToken
	if c.GetHeader("Authorization") != "" {
		var ok bool
		if tok, ok = s.authenticateAdmin(c); !ok {
			return
		}
		if !tokenHasScope(tok, ScopeAdmin, ScopeStatus) {
			s.writeProblem(c, problem.Forbidden("the token needs one of the scopes "+ScopeAdmin+", "+ScopeStatus))
			return
		}
	}
	var req statusRequest
	if !s.bindJSON(c, &req) {
		return
	}
	if tok == nil && req.Proof == "" {
		c.Header("WWW-Authenticate", `Bearer realm="agentid"`)
		s.writeProblem(c, problem.New(http.StatusUnauthorized, "unauthorized", "Unauthorized",
			"an admin token (Authorization: Bearer) or a proof signed by the credential's principal is required",
			problem.FieldError{Field: "/proof", Reason: "required without an admin token"}))
		return
	}
	var fields []problem.FieldError
	if req.CredentialID == "" {
		fields = append(fields, problem.FieldError{Field: "/credentialId", Reason: "required: the id of the credential"})
	}
	if len(req.CredentialStatus) == 0 {
		fields = append(fields, problem.FieldError{Field: "/credentialStatus", Reason: `required: [{"type": "BitstringStatusListCredential", "status": "revoked"|"suspended"|"active"}]`})
	}
	target := ""
	for i, e := range req.CredentialStatus {
		at := "/credentialStatus/" + strconv.Itoa(i)
		if !slices.Contains(statusEntryTypes, e.Type) {
			fields = append(fields, problem.FieldError{Field: at + "/type", Reason: "want one of " + strings.Join(statusEntryTypes, ", ")})
		}
		st, ok := issuer.ParseStatusAction(e.Status)
		switch {
		case !ok:
			fields = append(fields, problem.FieldError{Field: at + "/status", Reason: "want revoked, suspended or active (reinstated)"})
		case target != "" && st != target:
			fields = append(fields, problem.FieldError{Field: at + "/status", Reason: "contradicts an earlier entry"})
		default:
			target = st
		}
	}
	if len(fields) > 0 {
		s.writeProblem(c, problem.Invalid("the status change request is not usable", fields...))
		return
	}
	var (
		rec *store.IssuedCredential
		err error
	)
	if tok != nil {
		actor := issuer.Actor{Kind: issuer.ActorAdmin, OrganizationID: tok.OrganizationID, ID: tok.ID}
		rec, err = s.issuer.ChangeStatus(c.Request.Context(), actor, req.CredentialID, target)
	} else {
		rec, err = s.issuer.ChangeStatusSigned(c.Request.Context(), issuer.SignedStatusRequest{
			Org: req.Org, CredentialID: req.CredentialID, Status: target, Proof: req.Proof,
		})
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"credentialId": rec.CredentialID, "status": rec.Status})
}

// credentialSummary is a credential in GET /credentials.
type credentialSummary struct {
	ID              string     `json:"id"`
	Issuer          string     `json:"issuer"`
	Subject         string     `json:"subject,omitempty"`
	Principal       string     `json:"principal,omitempty"`
	Types           []string   `json:"type"`
	Format          string     `json:"format"`
	Status          string     `json:"status"`
	Created         time.Time  `json:"created"`
	ValidFrom       *time.Time `json:"validFrom,omitempty"`
	ValidUntil      *time.Time `json:"validUntil,omitempty"`
	StatusChangedAt *time.Time `json:"statusChanged,omitempty"`
}

func summarize(r *store.IssuedCredential) credentialSummary {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return credentialSummary{
		ID: r.CredentialID, Issuer: r.IssuerDID, Subject: r.SubjectID, Principal: r.PrincipalDID,
		Types: r.TypeList(), Format: r.Format, Status: r.Status, Created: r.CreatedAt.UTC(),
		ValidFrom: utc(r.ValidFrom), ValidUntil: utc(r.ValidUntil), StatusChangedAt: utc(r.StatusChangedAt),
	}
}

// getCredential answers GET /credentials/{id} (the id percent-encoded when
// it holds a slash): the credential with its status entries and the signed
// document. Another organization's credential is 404.
func (s *Server) getCredential(c *gin.Context) {
	id, err := url.PathUnescape(c.Param("id"))
	if err != nil || id == "" {
		s.writeProblem(c, problem.BadRequest("id", "not a percent-encoded credential id"))
		return
	}
	d, err := s.issuer.Credential(c.Request.Context(), adminScope(c).OrganizationID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	var vc any = d.Record.Document
	if d.Record.Format == issuer.FormatLDPVC {
		vc = json.RawMessage(d.Record.Document)
	}
	status := d.Status
	if status == nil {
		status = []issuer.StatusRef{}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{
		"credential":           summarize(d.Record),
		"credentialStatus":     status,
		"verifiableCredential": vc,
	})
}

// listCredentials answers GET /credentials: a page {credentials, next} of
// the token's organization's credentials, filtered by agent (subject DID),
// type, status, from (inclusive) and to (exclusive) issuance time.
func (s *Server) listCredentials(c *gin.Context) {
	q := c.Request.URL.Query()
	var fields []problem.FieldError
	bad := func(p, reason string) { fields = append(fields, problem.FieldError{Field: p, Reason: reason}) }
	for k, v := range q {
		switch {
		case !slices.Contains(credentialQueryParams, k):
			bad(k, "unknown parameter; known: "+strings.Join(credentialQueryParams, ", "))
		case len(v) > 1:
			bad(k, "given more than once")
		}
	}
	cq := issuer.CredentialQuery{Subject: q.Get("agent"), Type: q.Get("type"), After: q.Get("after")}
	switch st := q.Get("status"); st {
	case "", store.CredentialActive, store.CredentialSuspended, store.CredentialRevoked:
		cq.Status = st
	default:
		bad("status", "want active, suspended or revoked")
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &cq.From}, {"to", &cq.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad(p.name, "want an RFC 3339 time, e.g. 2026-11-29T10:00:00Z")
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxCredentialLimit {
			bad("limit", fmt.Sprintf("want a number from 1 to %d", store.MaxCredentialLimit))
		}
		cq.Limit = n
	}
	if len(fields) > 0 {
		s.writeProblem(c, problem.Invalid("the credential query has bad parameters", fields...))
		return
	}
	list, next, err := s.issuer.Credentials(c.Request.Context(), adminScope(c).OrganizationID, cq)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]credentialSummary, 0, len(list))
	for i := range list {
		out = append(out, summarize(&list[i]))
	}
	var nextPtr *string
	if next != "" {
		nextPtr = &next
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"credentials": out, "next": nextPtr})
}

// getStatusList answers GET /status/{list}, for anyone: the signed
// BitstringStatusListCredential or status list token, with an ETag (304 to
// a matching If-None-Match) and Cache-Control max-age.
func (s *Server) getStatusList(c *gin.Context) {
	id := c.Param("list")
	if !validListID(id) {
		s.writeProblem(c, problem.NotFound("no status list "+id))
		return
	}
	l, err := s.issuer.StatusList(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("ETag", l.ETag)
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.issuer.StatusListMaxAge().Seconds())))
	h.Set("Vary", "Accept-Encoding")
	if etagMatches(c.GetHeader("If-None-Match"), l.ETag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, l.ContentType, l.Body)
}

// validListID accepts the 16 lowercase hex digits of a list ID.
func validListID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, r := range id {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// etagMatches implements the weak comparison of If-None-Match (RFC 9110
// §13.1.2): "*", or any listed tag equal to etag ignoring W/.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}
