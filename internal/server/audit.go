package server

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/verifier"
)

// Token scopes that let an admin token read the audit trail: ScopeAudit is
// for auditors, who may read it and nothing else; ScopeAdmin grants
// everything, the audit trail included.
const (
	ScopeAdmin = "admin"
	ScopeAudit = "audit"
)

// ndjson is the media type of a JSON-lines audit export.
const ndjson = "application/x-ndjson"

// operatorChain is the value of ?chain= that reads the events of no
// organization.
const operatorChain = "operator"

// auditQueryParams are the query parameters GET /audit knows; any other is a
// 400, so that a misspelt filter does not silently widen the answer.
var auditQueryParams = []string{"agent", "principal", "decision", "from", "to", "after", "limit", "format", "chain"}

// auditRoutes mounts GET /audit. It is mounted whatever the roles: reading
// the trail needs only the database.
func (s *Server) auditRoutes(e *gin.Engine) {
	log, err := verifier.NewAuditLog(s.store, verifier.WithAuditLogger(s.log))
	if err != nil {
		// New has checked the store already.
		panic(err)
	}
	e.GET("/audit", s.requireAdmin(), s.requireScope(ScopeAudit, ScopeAdmin), s.listAudit(log))
}

// requireScope lets the request through when the authenticated admin token
// has one of the scopes (its Scopes are comma-separated); 403 otherwise.
func (s *Server) requireScope(scopes ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if tokenHasScope(adminScope(c), scopes...) {
			c.Next()
			return
		}
		s.writeProblem(c, problem.Forbidden("the token needs one of the scopes "+strings.Join(scopes, ", ")))
		c.Abort()
	}
}

// tokenHasScope reports whether tok (nil: no token) has one of scopes.
func tokenHasScope(tok *store.AdminToken, scopes ...string) bool {
	if tok == nil {
		return false
	}
	for _, sc := range strings.Split(tok.Scopes, ",") {
		if slices.Contains(scopes, strings.TrimSpace(sc)) {
			return true
		}
	}
	return false
}

// auditQuery is a parsed GET /audit request.
type auditQuery struct {
	filter   store.AuditFilter
	limit    int
	export   bool
	operator bool
}

// parseAuditQuery reads the filters; every bad parameter is named in the
// problem.
func parseAuditQuery(q url.Values, accept string) (*auditQuery, error) {
	var fields []problem.FieldError
	bad := func(param, reason string) { fields = append(fields, problem.FieldError{Field: param, Reason: reason}) }
	for k := range q {
		if !slices.Contains(auditQueryParams, k) {
			bad(k, "unknown parameter; known: "+strings.Join(auditQueryParams, ", "))
		}
	}
	for _, k := range auditQueryParams {
		if len(q[k]) > 1 {
			bad(k, "given more than once")
		}
	}
	aq := &auditQuery{limit: store.DefaultAuditLimit}
	f := &aq.filter
	f.Agent = q.Get("agent")
	f.Principal = q.Get("principal")
	switch d := q.Get("decision"); d {
	case "", verifier.DecisionVerified, verifier.DecisionRejected:
		f.Decision = d
	default:
		bad("decision", fmt.Sprintf("want %q or %q", verifier.DecisionVerified, verifier.DecisionRejected))
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad(p.name, "want an RFC 3339 time, e.g. 2026-11-29T10:00:00Z")
				continue
			}
			*p.dst = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		bad("to", "must be after from")
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			bad("after", "want a sequence number, 0 or more")
		}
		f.AfterSeq = n
	}
	limitSet := false
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			bad("limit", fmt.Sprintf("want a number from 1 to %d", store.MaxAuditLimit))
		}
		aq.limit, limitSet = n, true
	}
	switch v := q.Get("format"); v {
	case "jsonl", "ndjson":
		aq.export = true
	case "json":
	case "":
		aq.export = acceptsNDJSON(accept)
	default:
		bad("format", "want json or jsonl")
	}
	switch v := q.Get("chain"); v {
	case "":
	case operatorChain:
		aq.operator = true
	default:
		bad("chain", "want "+operatorChain+" (events of no organization), or leave it out for the token's organization")
	}
	if aq.export && !limitSet {
		aq.limit = 0 // the whole selection
	}
	if len(fields) > 0 {
		return nil, problem.Invalid("the audit query has bad parameters", fields...)
	}
	return aq, nil
}

// acceptsNDJSON reports whether an Accept header names the JSON-lines type
// (application/x-ndjson, or application/jsonl) with a non-zero quality.
func acceptsNDJSON(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || (mt != ndjson && mt != "application/jsonl") {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		return true
	}
	return false
}

// listAudit answers GET /audit: the audit events of the token's
// organization — or, with ?chain=operator and a token of the default
// organization, the events of no organization — filtered by agent,
// principal, decision, from (inclusive), to (exclusive), after (a sequence
// number). Without export: a JSON page {events, next} of at most limit
// (default 100, max 1000) events, next being the `after` of the next page
// or null at the end. With Accept: application/x-ndjson or ?format=jsonl:
// every selected event (or limit of them) as JSON lines, streamed.
func (s *Server) listAudit(log *verifier.AuditLog) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		aq, err := parseAuditQuery(c.Request.URL.Query(), c.GetHeader("Accept"))
		if err != nil {
			s.writeProblem(c, problem.From(err))
			return
		}
		tok := adminScope(c)
		aq.filter.OrganizationID = tok.OrganizationID
		if aq.operator {
			org, err := s.store.OrganizationByID(ctx, tok.OrganizationID)
			if err != nil {
				s.fail(c, err)
				return
			}
			if !org.IsDefault {
				s.writeProblem(c, problem.Forbidden("only tokens of the default organization may read the operator chain"))
				return
			}
			aq.filter.OrganizationID = ""
		}
		if aq.export {
			s.exportAudit(ctx, c, log, aq)
			return
		}

		f := aq.filter
		f.Limit = aq.limit + 1 // one more tells whether there is a next page
		events := make([]verifier.AuditRecord, 0, min(aq.limit, 128))
		err = log.Each(ctx, f, func(ev *verifier.AuditRecord) error {
			events = append(events, *ev)
			return nil
		})
		if err != nil {
			s.fail(c, err)
			return
		}
		var next *int64
		if len(events) > aq.limit {
			events = events[:aq.limit]
			n := events[len(events)-1].Seq
			next = &n
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"events": events, "next": next})
	}
}

// exportAudit streams the selected events as JSON lines. A failure after
// the first byte cannot become a problem document: the connection is cut
// instead, so the client sees a truncated, failed response, never a short
// export that looks whole.
func (s *Server) exportAudit(ctx context.Context, c *gin.Context, log *verifier.AuditLog, aq *auditQuery) {
	f := aq.filter
	f.Limit = aq.limit
	w := c.Writer
	started := false
	n := 0
	err := log.Each(ctx, f, func(ev *verifier.AuditRecord) error {
		line, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if !started {
			started = true
			w.Header().Set("Content-Type", ndjson)
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return err
		}
		if n++; n%256 == 0 {
			w.Flush()
		}
		return nil
	})
	switch {
	case err != nil && !started:
		s.fail(c, err)
	case err != nil:
		s.log.Error("audit export failed midway; cutting the connection",
			"request_id", c.GetString(requestIDKey), "events_sent", n, "error", err)
		panic(http.ErrAbortHandler)
	case !started:
		w.Header().Set("Content-Type", ndjson)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
}
