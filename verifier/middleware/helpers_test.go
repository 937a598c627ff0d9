package middleware_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/middleware"
)

// party is a software key with its did:key and verification method.
type party struct {
	key *software.Key
	did string
	vm  string
}

func newParty(t *testing.T, typ keys.KeyType) party {
	t.Helper()
	k, did, vm := testkeys.New(t, typ)
	return party{key: k, did: did, vm: vm}
}

// Names of the tests' scope.
const (
	actionPay = "invoices:pay"
	// resourcePath is appended to the service's URL to make the resource.
	resourcePath = "/api/invoices"
)

// delegationClaims are an AgentDelegationCredential's subject claims for
// SD-JWT: agent acts for a human with one scope on resource for audience.
func delegationClaims(agent, action, resource, audience string) map[string]any {
	return map[string]any{
		"sub":       agent,
		"type":      "Agent",
		"delegator": "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj",
		"purpose":   "Pay approved supplier invoices",
		"scopes": []any{map[string]any{"action": action, "resource": resource,
			"constraints": map[string]any{"maxAmount": 500, "currency": "EUR"}}},
		"audience": []any{audience},
	}
}

// issueDelegation issues an SD-JWT VC delegation by issuer to holder,
// expiring at exp, every claim disclosable.
func issueDelegation(t *testing.T, issuer, holder party, claims map[string]any, exp time.Time) string {
	t.Helper()
	s, err := sdjwt.IssueVC(context.Background(), issuer.key, sdjwt.VC{
		Issuer: issuer.did, KeyID: issuer.vm, Type: middleware.VCTDelegation,
		Claims: claims, HolderKey: holder.key.Public(), Expiry: exp,
		IssuedAt: time.Now().Add(-2 * time.Hour),
	}, sdjwt.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// presentSDJWT presents every disclosure with a KB-JWT for challenge and
// domain.
func presentSDJWT(t *testing.T, issued string, holder party, challenge, domain string) string {
	t.Helper()
	paths, err := sdjwt.DisclosurePaths(issued, sdjwt.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := sdjwt.Present(context.Background(), issued, sdjwt.PresentOptions{
		Disclose:   paths,
		KeyBinding: &sdjwt.KeyBinding{Signer: holder.key, Audience: domain, Nonce: challenge},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testdataCredential reads the schemas package's example of kind
// ("agent-identity", "agent-delegation"), issued by issuer about subject,
// valid from an hour ago until validUntil, without status entries.
func testdataCredential(t *testing.T, kind string, issuer party, subject string, validUntil time.Time) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../../schemas/testdata/" + kind + ".json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := credential.DecodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	m["issuer"] = issuer.did
	m["credentialSubject"].(map[string]any)["id"] = subject
	m["validFrom"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	m["validUntil"] = validUntil.UTC().Format(time.RFC3339)
	delete(m, "credentialStatus")
	return resign(t, issuer, m)
}

// resign adds a Data Integrity proof by issuer to doc.
func resign(t *testing.T, issuer party, doc map[string]any) map[string]any {
	t.Helper()
	signed, err := dataintegrity.Sign(context.Background(), doc, issuer.key, dataintegrity.ProofOptions{
		Cryptosuite: dataintegrity.EdDSARDFC2022, VerificationMethod: issuer.vm, Created: time.Now().Add(-time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// presentVP signs a VP of creds by holder for challenge and domain and
// returns the Authorization token (base64url JSON).
func presentVP(t *testing.T, holder party, challenge, domain string, creds ...any) string {
	t.Helper()
	vp := map[string]any{
		"@context":             []any{credential.ContextV2},
		"type":                 []any{credential.TypeVerifiablePresentation},
		"holder":               holder.did,
		"verifiableCredential": creds,
	}
	signed, err := dataintegrity.Sign(context.Background(), vp, holder.key, dataintegrity.ProofOptions{
		Cryptosuite: dataintegrity.ECDSARDFC2019, VerificationMethod: holder.vm, ProofPurpose: dataintegrity.PurposeAuthentication,
		Challenge: challenge, Domain: []string{domain},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	return middleware.EncodeVP(raw)
}

// reply is an HTTP answer read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes a problem+json body.
func (r reply) problem(t *testing.T) problemDoc {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json: %s", ct, r.body)
	}
	var p problemDoc
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

type problemDoc struct {
	Type   string             `json:"type"`
	Status int                `json:"status"`
	Detail string             `json:"detail"`
	Errors []verifier.Problem `json:"errors"`
}

// names reports whether check c is among the problem's errors.
func (p problemDoc) names(c verifier.Check) bool {
	for _, e := range p.Errors {
		if e.Check == c {
			return true
		}
	}
	return false
}

// call sends method url with an optional Authorization value.
func call(t *testing.T, method, url, authorization string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

// challengeOf asks url without credentials and returns the challenge of the
// 401.
func challengeOf(t *testing.T, url string) *middleware.Challenge {
	t.Helper()
	r := call(t, http.MethodPost, url, "")
	if r.status != http.StatusUnauthorized {
		t.Fatalf("status %d without credentials, want 401: %s", r.status, r.body)
	}
	c, err := middleware.ParseChallenge(r.header.Get("WWW-Authenticate"))
	if err != nil {
		t.Fatalf("WWW-Authenticate %q: %v", r.header.Get("WWW-Authenticate"), err)
	}
	return c
}

// agentEcho answers with the verified agent as JSON, or 500 when there is
// none (the middleware must not let a request through without one).
func agentEcho() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := middleware.AgentFrom(r.Context())
		if !ok {
			http.Error(w, "no agent in the context", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(a)
	})
}

// service is a protected route on a real loopback server, with its domain
// and resource.
type service struct {
	srv      *httptest.Server
	url      string
	domain   string
	resource string
}

// startService starts a loopback server whose /pay route is protected by
// the middleware built from opts(domain, resource). Its domain is its own
// URL.
func startService(t *testing.T, opts func(domain, resource string) []middleware.Option) *service {
	t.Helper()
	var h http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	s := &service{srv: srv, url: srv.URL + "/pay", domain: srv.URL, resource: srv.URL + resourcePath}
	mw, err := middleware.New(opts(s.domain, s.resource)...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /pay", mw(agentEcho()))
	h = mux
	return s
}

func decodeAgent(t *testing.T, r reply) middleware.Agent {
	t.Helper()
	var a middleware.Agent
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return a
}
