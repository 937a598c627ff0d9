package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/delegation"
	"github.com/agentid/agentid/internal/netguard"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/statusfetch"
)

// relyingPartyHeader names the calling service in audit events. It is
// self-asserted: the verify endpoints need no authentication (the VC-API
// and the W3C suites call them without), so the header is recorded as the
// caller said it, to tell services apart in the trail, not to authorize.
// When it names a configured relying party, that party's policy applies:
// it can only make a verification stricter.
const relyingPartyHeader = "X-Relying-Party"

// Limits of a verify request's options, so that an audit event and a log
// line stay small whatever a client sends.
const (
	maxChallengeLength    = 1024
	maxOptionLength       = 2048
	maxRelyingPartyLength = 256
	maxChecks             = 32
)

// Assurance levels a request may ask for with options.minAssurance, lowest
// first.
var assuranceLevels = verifier.AssuranceLevels

// checkAssurance names the assurance check in tests and problems.
const checkAssurance = verifier.CheckAssurance

// errVerificationUnavailable is the cause of a 503 when the verification
// endpoints could not be set up.
var errVerificationUnavailable = errors.New("verification endpoints are not available")

// mountVerification mounts POST /challenges, POST /credentials/verify and
// POST /presentations/verify (VC-API). None needs authentication; see
// relyingPartyHeader.
func (s *Server) mountVerification(r gin.IRouter) {
	if err := s.setupVerification(); err != nil {
		s.log.Error("verification endpoints unavailable", "error", err)
		unavailable := func(c *gin.Context) {
			s.writeProblem(c, problem.Unavailable("the verifier is not configured; see the server log").WithCause(errVerificationUnavailable))
		}
		r.POST("/challenges", unavailable)
		r.POST("/credentials/verify", unavailable)
		r.POST("/presentations/verify", unavailable)
		return
	}
	limit := newRateLimiter(s.verification.challengeRate, s.verification.challengeBurst)
	r.POST("/challenges", s.issueChallenge(limit))
	r.POST("/credentials/verify", s.verify(false))
	r.POST("/presentations/verify", s.verify(true))
}

// setupVerification builds what the verification endpoints use and the
// options did not give: the verifier (with the server's DID resolver and an
// HTTP status checker under the server's outbound policy), the audit log
// and the challenge store.
func (s *Server) setupVerification() error {
	vc := &s.verification
	if vc.verifier == nil {
		staleness := DefaultStatusStaleness
		if vc.stalenessSet {
			staleness = vc.staleness
		}
		// The policy is the resolver's: public addresses, the ranges of
		// --fetch-allow and the public URL's own host, so that a verifier
		// in the issuer's process reads the issuer's lists (and sees a
		// revocation on the next verification with staleness 0). Plain
		// http is allowed to loopback only, and loopback is reachable only
		// when the policy allows it.
		policy := netguard.New(s.fetchAllow, publicHost(s.publicURL))
		opts := append([]statusfetch.Option{
			statusfetch.WithPolicy(policy),
			statusfetch.WithInsecureLoopback(true),
			statusfetch.WithStaleness(staleness),
			statusfetch.WithLogger(s.log),
		}, vc.statusOptions...)
		sc, err := statusfetch.New(s.resolver, opts...)
		if err != nil {
			return fmt.Errorf("status checker: %w", err)
		}
		var status verifier.StatusChecker = verifier.HTTPStatusChecker(sc)
		if prefix := ownListPrefix(s.publicURL); prefix != "" && s.issuer != nil {
			// The server's own lists come from the database and are
			// revalidated on every check (see ownstatus.go).
			own, err := statusfetch.New(s.resolver, append(append([]statusfetch.Option{}, opts...),
				statusfetch.WithStaleness(0),
				statusfetch.WithTransport(ownListTransport{prefix: prefix, issuer: s.issuer}),
				statusfetch.WithRevalidator(ownListRevalidator(prefix, s.issuer)))...)
			if err != nil {
				return fmt.Errorf("own status checker: %w", err)
			}
			status = routedStatus{prefix: prefix, own: verifier.HTTPStatusChecker(own), remote: status}
		}
		vopts := []verifier.Option{
			verifier.WithResolver(s.resolver),
			verifier.WithStatusChecker(status),
			verifier.WithLogger(s.log),
		}
		if s.verifiedCache != nil {
			vopts = append(vopts, verifier.WithVerifiedCache(*s.verifiedCache))
		}
		vc.verifier = verifier.New(vopts...)
	}
	vc.own = &ownIssuers{store: s.store}
	vc.advisory = &verifier.TrustPolicy{Trusted: vc.own.trusted, Advisory: true}
	if vc.audit == nil {
		a, err := verifier.NewAuditLog(s.store, verifier.WithAuditLogger(s.log), verifier.WithAuditLinger(vc.auditLinger))
		if err != nil {
			return err
		}
		vc.audit = a
	}
	audit := vc.audit
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agentid_audit_events_total",
			Help: "Audit events this process has committed (one per verification).",
		}, func() float64 { return float64(audit.Stats().Events) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agentid_audit_commits_total",
			Help: "Transactions that committed them: events per commit is the mean size of a group commit.",
		}, func() float64 { return float64(audit.Stats().Commits) }),
	} {
		if err := s.registry.Register(c); err != nil {
			return fmt.Errorf("register audit metrics: %w", err)
		}
	}
	ch, err := verifier.NewChallenges(s.store, verifier.WithChallengeTTL(vc.challengeTTL), verifier.WithChallengeLogger(s.log))
	if err != nil {
		return err
	}
	vc.challenges = ch
	if !vc.challengeRateOK {
		vc.challengeRate, vc.challengeBurst = DefaultChallengeRate, DefaultChallengeBurst
	}
	return nil
}

// challengeRequest is the optional body of POST /challenges.
type challengeRequest struct {
	// Domain, when set, binds the challenge: a presentation answering it
	// must be for this domain.
	Domain string `json:"domain"`
}

// issueChallenge answers POST /challenges with {challenge, expires[,
// domain]}: 256 random bits, base64url, single use, stored in the database
// so that any replica accepts it once. The body is optional ({} or
// {"domain": "..."}); requests are rate-limited per client address (429).
func (s *Server) issueChallenge(limit *rateLimiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !limit.allow(c.ClientIP(), time.Now()) {
			c.Header("Retry-After", "1")
			s.writeProblem(c, problem.New(http.StatusTooManyRequests, "too-many-requests", "Too many requests",
				"too many challenges requested from this address; retry later"))
			return
		}
		var req challengeRequest
		body, ok := s.readBody(c)
		if !ok {
			return
		}
		if b := bytes.TrimSpace(body); len(b) > 0 && !bytes.Equal(b, []byte("null")) {
			if !s.decodeObject(c, body, &req) {
				return
			}
		}
		ch, err := s.verification.challenges.Issue(c.Request.Context(), req.Domain)
		switch {
		case errors.Is(err, verifier.ErrChallengeDomain):
			s.writeProblem(c, problem.BadRequest("/domain", err.Error()))
			return
		case err != nil:
			s.writeProblem(c, problem.Unavailable("the challenge could not be stored").WithCause(err))
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, ch)
	}
}

// verifyRequest is the body of a VC-API verify request.
type verifyRequest struct {
	VerifiableCredential   json.RawMessage `json:"verifiableCredential"`
	VerifiablePresentation json.RawMessage `json:"verifiablePresentation"`
	Options                *verifyOptions  `json:"options"`
}

// verifyOptions are a verify request's options. Unknown members are
// ignored (VC-API clients send more than agentid reads).
type verifyOptions struct {
	Challenge    string   `json:"challenge"`
	Domain       string   `json:"domain"`
	Checks       []string `json:"checks"`
	Action       string   `json:"action"`
	Resource     string   `json:"resource"`
	MinAssurance string   `json:"minAssurance"`
	Policy       string   `json:"policy"`
}

// verifyResponse is the answer of the verify endpoints: the verifier's
// Result, with its agent only when the verification verified.
type verifyResponse struct {
	*verifier.Result
	// Agent shadows Result.Agent: present when the verification verified.
	Agent *agentFacts `json:"agent,omitempty"`
}

// agentFacts are what a verified credential or presentation says about the
// agent (verifier.Agent): only what was presented (and, for SD-JWT,
// disclosed).
type agentFacts = verifier.Agent

// verify answers POST /credentials/verify (presentation false) and POST
// /presentations/verify. 200 with verified true; 400 with verified false
// and the failed checks in errors; 400 problem for a malformed request; 503
// when the audit event or the challenge cannot be written (fail closed: the
// answer never says verified without its audit event).
//
// A challenge in options is checked against the proof by the verifier. If
// POST /challenges issued it, it is also consumed, atomically, when the
// presentation's proof verified and carries it (see verifier.Challenges.
// Settle): consuming only then keeps a forged presentation from burning the
// holder's challenge, and the conditional UPDATE makes a concurrent replay
// lose (challenge, code "replayed").
func (s *Server) verify(presentation bool) gin.HandlerFunc {
	kind := "credential"
	if presentation {
		kind = "presentation"
	}
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		// This verification's audit event is on its way: a group commit
		// may wait for it (see WithAuditLinger).
		expected := s.verification.audit.Expect()
		defer expected.Cancel()
		rp, ok := relyingParty(c)
		if !ok {
			s.writeProblem(c, problem.BadRequest(relyingPartyHeader, fmt.Sprintf("the %s header must be printable UTF-8 of at most %d bytes", relyingPartyHeader, maxRelyingPartyLength)))
			return
		}
		body, ok := s.readBody(c)
		if !ok {
			return
		}
		input, reqOptions, err := readVerifyRequest(body, presentation)
		if err != nil {
			s.fail(c, err)
			return
		}
		opts, p := readOptions(reqOptions)
		if p != nil {
			s.writeProblem(c, p)
			return
		}
		vc := &s.verification
		party, p := vc.relyingPartyFor(opts.Policy, rp)
		if p != nil {
			s.writeProblem(c, p)
			return
		}
		vc.applyRelyingParty(opts, party)

		use, err := vc.challenges.Lookup(ctx, opts.Challenge)
		if err != nil {
			s.writeProblem(c, problem.Unavailable("the challenge store does not answer").WithCause(err))
			return
		}
		domainMismatch := ""
		if d := use.Domain(); d != "" {
			switch {
			case opts.Domain == "":
				// The proof must carry the challenge's domain.
				opts.Domain, opts.verifier.Domain = d, d
			case opts.Domain != d:
				domainMismatch = fmt.Sprintf("options.domain is %q but the challenge was issued for domain %q", opts.Domain, d)
			}
		}

		var res *verifier.Result
		if presentation {
			res = vc.verifier.VerifyPresentation(ctx, input, opts.verifier)
		} else {
			res = vc.verifier.VerifyCredential(ctx, input, opts.verifier)
		}
		if domainMismatch != "" {
			verifier.FailDomain(res, domainMismatch)
		}
		if err := vc.challenges.Settle(ctx, use, res); err != nil {
			s.writeProblem(c, problem.Unavailable("the challenge could not be consumed; nothing was verified").WithCause(err))
			return
		}
		agent := res.Agent
		if agent == nil {
			agent = &agentFacts{}
		}

		orgID, err := s.organizationOf(ctx, agent.Issuer)
		if err != nil {
			s.writeProblem(c, problem.Unavailable("the database does not answer; nothing was verified").WithCause(err))
			return
		}
		if rp == "" {
			rp = opts.RelyingParty
		}
		ev := verifier.Event{
			OrganizationID: orgID,
			RelyingParty:   rp,
			Agent:          agent.ID,
			Principal:      agent.Principal,
			CredentialIDs:  agent.Credentials,
			Action:         opts.Action,
			Resource:       opts.Resource,
			Decision:       verifier.DecisionRejected,
			Reasons:        failedChecks(res),
			RequestID:      c.GetString(requestIDKey),
		}
		if res.Verified {
			ev.Decision = verifier.DecisionVerified
		}
		releaseAdmission(c)
		if _, err := expected.Record(ctx, ev); err != nil {
			s.writeProblem(c, problem.Unavailable("the audit event could not be recorded, so the "+kind+" is not reported as verified").WithCause(err))
			return
		}

		out := verifyResponse{Result: res}
		status := http.StatusBadRequest
		if res.Verified {
			out.Agent = agent
			status = http.StatusOK
		}
		c.Header("Cache-Control", "no-store")
		writeVerifyResponse(c, status, &out)
	}
}

// readBody reads the whole (size-limited) body; false when it has answered
// with a 413 or 400 problem.
func (s *Server) readBody(c *gin.Context) ([]byte, bool) {
	body, err := readAllSized(c.Request.Body, c.Request.ContentLength)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeProblem(c, problem.TooLarge(tooLarge.Limit))
			return nil, false
		}
		s.writeProblem(c, problem.BadRequest("/", "the request body could not be read: "+err.Error()))
		return nil, false
	}
	return body, true
}

// readAllSized reads r to its end into a buffer of size+1 bytes when size,
// the request's Content-Length, is known (limitBody has refused one over
// the limit): io.ReadAll starts at 512 bytes and grows, six allocations for
// a verification request's body. The extra byte lets the read that meets
// the end do so without growing the buffer. A reader that gives more bytes
// than size still reads whole.
func readAllSized(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// decodeObject decodes body, which must be one JSON object, into v; false
// when it has answered with a 400 problem naming the field at fault.
func (s *Server) decodeObject(c *gin.Context, body []byte, v any) bool {
	if err := decodeObjectBody(body, v); err != nil {
		s.fail(c, err)
		return false
	}
	return true
}

// decodeObjectBody decodes body, which must be one JSON object, into v. Its
// errors are 400 problems naming the field at fault.
func decodeObjectBody(body []byte, v any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return problem.BadRequest("/", "the request body is empty; a JSON object is required")
	}
	if trimmed[0] != '{' {
		return problem.BadRequest("/", "the request body must be a JSON object")
	}
	if !utf8.Valid(body) {
		return problem.BadRequest("/", "the request body is not valid UTF-8")
	}
	return decodeJSON(bytes.NewReader(body), v)
}

// securedField is the member of a verify request that holds what is
// verified.
func securedField(presentation bool) string {
	if presentation {
		return "verifiablePresentation"
	}
	return "verifiableCredential"
}

// readVerifyRequest reads the body of a verify request: the verifier's
// input (see readSecured) and the options. Errors are 400 problems naming
// the field at fault.
//
// Most bodies are read in one pass (scanVerifyRequest); anything unusual —
// a malformed or oversized body, a secured document DecodeObject refuses, a
// member spelt in another case, options of the wrong type — is read again
// by decodeVerifyRequest, the general reader, which has the last word on
// what is accepted and how a refusal is worded.
func readVerifyRequest(body []byte, presentation bool) (any, *verifyOptions, error) {
	if input, o, ok := scanVerifyRequest(body, presentation); ok {
		return input, o, nil
	}
	return decodeVerifyRequest(body, presentation)
}

// decodeVerifyRequest is readVerifyRequest's general reader:
// encoding/json into verifyRequest (members matched case-insensitively,
// the last of a repeated member winning, unknown members ignored), then
// readSecured.
func decodeVerifyRequest(body []byte, presentation bool) (any, *verifyOptions, error) {
	var req verifyRequest
	if err := decodeObjectBody(body, &req); err != nil {
		return nil, nil, err
	}
	field := securedField(presentation)
	raw, other := req.VerifiableCredential, req.VerifiablePresentation
	if presentation {
		raw, other = other, raw
	}
	input, p := readSecured(field, raw, other)
	if p != nil {
		return nil, nil, p
	}
	return input, req.Options, nil
}

// verifyRequestMembers and verifyOptionMembers are the JSON names of
// verifyRequest's and verifyOptions' fields.
var (
	verifyRequestMembers = []string{"verifiableCredential", "verifiablePresentation", "options"}
	verifyOptionMembers  = []string{"challenge", "domain", "checks", "action", "resource", "minAssurance", "policy"}
)

// scanVerifyRequest is readVerifyRequest's one pass: the body decoded by
// credential.DecodeObject, whose object member is then the very document
// readSecured would decode from it (the body's limits are at least as
// strict as the member's). It reports false, to leave the body to
// decodeVerifyRequest, unless the read is certain to match it: no member
// that encoding/json would match case-insensitively to a field (nor any
// non-ASCII name, whose folding is Unicode's), a secured document that is
// an object or an acceptable compact string, and options of the right
// types.
func scanVerifyRequest(body []byte, presentation bool) (any, *verifyOptions, bool) {
	doc, err := credential.DecodeObject(body)
	if err != nil {
		return nil, nil, false
	}
	for k := range doc {
		switch k {
		case "verifiableCredential", "verifiablePresentation", "options":
			continue // read below
		}
		if !ignoredMember(k, verifyRequestMembers) {
			return nil, nil, false
		}
	}
	field := securedField(presentation)
	var input any
	switch v := doc[field].(type) {
	case map[string]any:
		input = v
	case string:
		in, p := readCompact(field, v)
		if p != nil {
			return nil, nil, false
		}
		input = in
	default:
		return nil, nil, false
	}
	o, ok := scanVerifyOptions(doc["options"])
	if !ok {
		return nil, nil, false
	}
	return input, o, true
}

// scanVerifyOptions turns a decoded options member into verifyOptions as
// encoding/json would (null or absent: nil; a null member: its zero
// value); false for anything it would refuse or might match differently.
func scanVerifyOptions(v any) (*verifyOptions, bool) {
	if v == nil {
		return nil, true
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	o := &verifyOptions{}
	for k, val := range m {
		var dst *string
		switch k {
		case "challenge":
			dst = &o.Challenge
		case "domain":
			dst = &o.Domain
		case "action":
			dst = &o.Action
		case "resource":
			dst = &o.Resource
		case "minAssurance":
			dst = &o.MinAssurance
		case "policy":
			dst = &o.Policy
		case "checks":
			switch cs := val.(type) {
			case nil:
			case []any:
				o.Checks = make([]string, len(cs))
				for i, c := range cs {
					str, ok := c.(string)
					if !ok {
						return nil, false
					}
					o.Checks[i] = str
				}
			default:
				return nil, false
			}
			continue
		default:
			if !ignoredMember(k, verifyOptionMembers) {
				return nil, false
			}
			continue
		}
		switch str := val.(type) {
		case nil:
		case string:
			*dst = str
		default:
			return nil, false
		}
	}
	return o, true
}

// ignoredMember reports whether encoding/json would certainly ignore member
// k of an object whose known members are names: k is ASCII and no
// spelling of any of them, in any case. (A known name that reaches here is
// one the caller does not read: not ignored, so the caller declines.)
func ignoredMember(k string, names []string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			return false
		}
	}
	return !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(k, n) })
}

// readSecured turns the verifiableCredential (or verifiablePresentation)
// member into the verifier's input: the JSON object as decoded by
// credential.DecodeObject (size and depth limits), or the compact string
// (SD-JWT, JWT). A document DecodeObject refuses is passed on as raw JSON,
// so that the verifier reports why under the structure check.
func readSecured(field string, raw, other json.RawMessage) (any, *problem.Problem) {
	ptr := "/" + field
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		detail := field + " is required"
		if len(bytes.TrimSpace(other)) > 0 {
			o := "verifiablePresentation"
			if field == o {
				o = "verifiableCredential"
			}
			detail += fmt.Sprintf(" (this endpoint verifies a %s; %s belongs to the other verify endpoint)", strings.TrimPrefix(field, "verifiable"), o)
		}
		return nil, problem.BadRequest(ptr, detail)
	}
	switch raw[0] {
	case '{':
		doc, err := credential.DecodeObject(raw)
		if err != nil {
			return json.RawMessage(raw), nil
		}
		return doc, nil
	case '"':
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return nil, problem.BadRequest(ptr, "not a valid JSON string")
		}
		return readCompact(field, str)
	}
	return nil, problem.BadRequest(ptr, field+" must be a JSON object or a string (a compact SD-JWT or JWT), not JSON "+jsonKind(raw[0]))
}

// readCompact checks the string value of the verifiableCredential (or
// verifiablePresentation) member: a compact SD-JWT or JWT.
func readCompact(field, str string) (any, *problem.Problem) {
	ptr := "/" + field
	if strings.TrimSpace(str) == "" {
		return nil, problem.BadRequest(ptr, field+" is an empty string; want a JSON object or a compact SD-JWT or JWT")
	}
	if len(str) > credential.MaxDocumentBytes {
		return nil, problem.BadRequest(ptr, fmt.Sprintf("longer than %d bytes", credential.MaxDocumentBytes))
	}
	if t := strings.TrimSpace(str); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		// JSON text inside a string is not a secured document (Data
		// Integrity: "securedDocument is not a map"); a compact SD-JWT
		// or JWT never starts with a brace or bracket.
		return nil, problem.BadRequest(ptr, field+" is a string holding JSON; send the "+strings.ToLower(strings.TrimPrefix(field, "verifiable"))+" itself as a JSON object (a string is read as a compact SD-JWT or JWT)")
	}
	return str, nil
}

// jsonKind names the JSON type that starts with b.
func jsonKind(b byte) string {
	switch b {
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// requestOptions are a request's options, checked.
type requestOptions struct {
	verifier     verifier.Options
	Challenge    string
	Domain       string
	Action       string
	Resource     string
	MinAssurance string
	Policy       string
	// RelyingParty is the id of the relying party whose policy applied.
	RelyingParty string
}

// readOptions checks a request's options and turns them into the
// verifier's.
func readOptions(o *verifyOptions) (*requestOptions, *problem.Problem) {
	out := &requestOptions{}
	if o == nil {
		return out, nil
	}
	var fields []problem.FieldError
	bad := func(field, reason string) { fields = append(fields, problem.FieldError{Field: field, Reason: reason}) }
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"challenge", o.Challenge, maxChallengeLength},
		{"domain", o.Domain, maxOptionLength},
		{"action", o.Action, maxOptionLength},
		{"resource", o.Resource, maxOptionLength},
		{"policy", o.Policy, maxRelyingPartyLength},
	} {
		if len(f.value) > f.max {
			bad("/options/"+f.name, fmt.Sprintf("longer than %d bytes", f.max))
		}
		if strings.ContainsFunc(f.value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			bad("/options/"+f.name, "contains control characters")
		}
	}
	if len(o.Checks) > maxChecks {
		bad("/options/checks", fmt.Sprintf("more than %d checks", maxChecks))
	}
	checks := make([]verifier.Check, 0, len(o.Checks))
	for i, name := range o.Checks {
		if !slices.Contains(verifier.AllChecks, verifier.Check(name)) {
			bad("/options/checks/"+strconv.Itoa(i), fmt.Sprintf("unknown check %.64q; known checks: %s", name, joinChecks(verifier.AllChecks)))
			continue
		}
		checks = append(checks, verifier.Check(name))
	}
	if o.MinAssurance != "" && !slices.Contains(assuranceLevels, o.MinAssurance) {
		bad("/options/minAssurance", "must be one of "+strings.Join(assuranceLevels, ", "))
	}
	switch {
	case o.Action != "" && o.Resource == "":
		bad("/options/resource", "required with options.action: the resource the action is on")
	case o.Resource != "" && o.Action == "":
		bad("/options/action", "required with options.resource: the action on it")
	}
	if len(fields) > 0 {
		return nil, problem.Invalid("the request's options are not valid", fields...)
	}
	out.Challenge, out.Domain = o.Challenge, o.Domain
	out.Action, out.Resource, out.MinAssurance, out.Policy = o.Action, o.Resource, o.MinAssurance, o.Policy
	out.verifier = verifier.Options{Challenge: o.Challenge, Domain: o.Domain, Checks: checks, MinAssurance: o.MinAssurance}
	if o.Action != "" {
		out.verifier.Scopes = []delegation.Request{{Action: o.Action, Resource: o.Resource}}
	}
	return out, nil
}

func joinChecks(cs []verifier.Check) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// relyingParty reads the X-Relying-Party header; false when it is not
// printable UTF-8 of bounded length.
func relyingParty(c *gin.Context) (string, bool) {
	rp := strings.TrimSpace(c.GetHeader(relyingPartyHeader))
	if len(rp) > maxRelyingPartyLength || !utf8.ValidString(rp) ||
		strings.ContainsFunc(rp, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", false
	}
	return rp, true
}

// failedChecks are the names of the checks that failed, in order, once
// each: the reasons of an audit event.
func failedChecks(res *verifier.Result) []string {
	out := []string{}
	for _, p := range res.Errors {
		if !slices.Contains(out, string(p.Check)) {
			out = append(out, string(p.Check))
		}
	}
	return out
}

// organizationOf is the organization whose issuer identity issuer is, or
// "" when it is not one of this server's.
func (s *Server) organizationOf(ctx context.Context, issuer string) (string, error) {
	own := s.verification.own
	if own == nil {
		own = &ownIssuers{store: s.store}
	}
	return own.organization(ctx, issuer)
}

// rateLimiter is a token bucket per client address, bounded in memory: when
// it tracks maxClients addresses it forgets the full ones.
type rateLimiter struct {
	rate    float64 // tokens per second; <= 0: no limit
	burst   float64
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxClients = 10000

func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	return &rateLimiter{rate: perSecond, burst: float64(max(burst, 1)), buckets: map[string]*bucket{}}
}

// allow takes a token for client at now; false when its bucket is empty.
func (l *rateLimiter) allow(client string, now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[client]
	if b == nil {
		if len(l.buckets) >= maxClients {
			l.forgetFull(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// forgetFull drops the buckets that have refilled (they hold no state worth
// keeping); if none has, it drops them all rather than grow.
func (l *rateLimiter) forgetFull(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxClients {
		clear(l.buckets)
	}
}
