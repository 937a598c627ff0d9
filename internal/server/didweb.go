package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/issuer"
)

// didDocumentMaxAge is how long clients and caches may keep a did:web
// document. It bounds how long after a key rotation a verifier may still
// miss the new key.
const didDocumentMaxAge = 60 * time.Second

// mountDIDWeb mounts the organizations' did:web documents and key rotation.
func (s *Server) mountDIDWeb(r gin.IRouter) {
	for _, p := range []string{"/.well-known/did.json", "/did.json"} {
		r.GET(p, s.rootDIDDocument)
		r.HEAD(p, s.rootDIDDocument)
	}
	r.GET("/orgs/:org/did.json", s.orgDIDDocument)
	r.HEAD("/orgs/:org/did.json", s.orgDIDDocument)
	r.POST("/admin/organization/keys/rotate", s.requireAdmin(), s.requireScope(ScopeAdmin), s.rotateKey)
}

// rootDIDDocument answers GET /.well-known/did.json (or /did.json when the
// public URL has a path): the default organization's bare did:web.
func (s *Server) rootDIDDocument(c *gin.Context) {
	if c.Request.URL.Path != s.issuer.WebRootPath() {
		s.writeProblem(c, problem.NotFound("no DID document at "+c.Request.URL.Path))
		return
	}
	s.serveDIDDocument(c, "", true)
}

// orgDIDDocument answers GET /orgs/{org}/did.json.
func (s *Server) orgDIDDocument(c *gin.Context) {
	slug, err := url.PathUnescape(c.Param("org"))
	if err != nil || issuer.ValidSlug(slug) != nil {
		s.writeProblem(c, problem.NotFound("no such organization"))
		return
	}
	s.serveDIDDocument(c, slug, false)
}

func (s *Server) serveDIDDocument(c *gin.Context, slug string, root bool) {
	doc, err := s.issuer.WebDocument(c.Request.Context(), slug, root)
	if err != nil {
		s.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("ETag", doc.ETag)
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(didDocumentMaxAge/time.Second)))
	h.Set("Vary", "Accept")
	if etagMatches(c.GetHeader("If-None-Match"), doc.ETag) {
		c.Status(http.StatusNotModified)
		return
	}
	// application/did+json, unless the client asks for plain JSON only.
	ct := issuer.ContentTypeDIDJSON
	if acc := c.GetHeader("Accept"); strings.Contains(acc, "application/json") && !strings.Contains(acc, issuer.ContentTypeDIDJSON) {
		ct = "application/json"
	}
	if c.Request.Method == http.MethodHead {
		h.Set("Content-Type", ct)
		c.Status(http.StatusOK)
		return
	}
	c.Data(http.StatusOK, ct, doc.Body)
}

// rotateRequest is the body of POST /admin/organization/keys/rotate.
type rotateRequest struct {
	Type *string `json:"type"`
}

// rotateKey answers POST /admin/organization/keys/rotate {type}: the
// admin's organization gets a new key of that type; the old one is
// retired (it verifies, it no longer signs).
func (s *Server) rotateKey(c *gin.Context) {
	var req rotateRequest
	if !s.bindJSON(c, &req) {
		return
	}
	if req.Type == nil {
		s.writeProblem(c, problem.BadRequest("/type", "required: ed25519 or p256"))
		return
	}
	rot, err := s.issuer.RotateKey(c.Request.Context(), adminScope(c).OrganizationID, *req.Type)
	if err != nil {
		s.fail(c, err)
		return
	}
	retired := make([]identityView, 0, len(rot.Retired))
	for _, id := range rot.Retired {
		retired = append(retired, viewIdentity(id))
	}
	added := make([]identityView, 0, len(rot.Added))
	for _, id := range rot.Added {
		added = append(added, viewIdentity(id))
	}
	c.JSON(http.StatusOK, gin.H{"keyType": string(rot.KeyType), "retired": retired, "added": added})
}

// identityView is an issuer identity as the admin API shows it.
type identityView struct {
	DID string `json:"did"`
	// VerificationMethod is the DID URL the identity signs as.
	VerificationMethod string     `json:"verificationMethod,omitempty"`
	KeyType            string     `json:"keyType"`
	Cryptosuite        string     `json:"cryptosuite"`
	Active             bool       `json:"active"`
	State              string     `json:"state"`
	CreatedAt          time.Time  `json:"createdAt"`
	RetiredAt          *time.Time `json:"retiredAt,omitempty"`
}

func viewIdentity(id store.IssuerIdentity) identityView {
	v := identityView{
		DID: id.DID, KeyType: id.KeyType, Cryptosuite: id.Cryptosuite, Active: id.Active, State: id.State(),
		CreatedAt: id.CreatedAt.UTC(),
	}
	if vm, err := issuer.VerificationMethodOf(id); err == nil {
		v.VerificationMethod = vm
	}
	if id.RetiredAt != nil {
		t := id.RetiredAt.UTC()
		v.RetiredAt = &t
	}
	return v
}
