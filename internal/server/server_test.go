package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testvectors"
)

// testOrg creates an organization with an admin token and returns the token.
func testOrg(t *testing.T, st *store.Store, slug string) (*store.Organization, string) {
	t.Helper()
	ctx := context.Background()
	org := &store.Organization{Slug: slug, Name: slug}
	if err := st.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	token := "tok_" + slug + "_" + strings.Repeat("x", 20)
	if err := st.CreateAdminToken(ctx, &store.AdminToken{OrganizationID: org.ID, Name: "t", TokenHash: store.HashToken(token), Scopes: "admin"}); err != nil {
		t.Fatal(err)
	}
	return org, token
}

func newTestServer(t *testing.T, st *store.Store, opts ...Option) *Server {
	t.Helper()
	s, err := New(append([]Option{WithStore(st), WithLogger(discardLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader, header ...string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// assertProblem checks that r is an RFC 9457 problem with the given status
// and, when field is not empty, an errors[] entry naming field.
func assertProblem(t *testing.T, r response, status int, field string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := r.json(t)
	for _, k := range []string{"type", "title", "detail", "requestId"} {
		if s, _ := p[k].(string); s == "" {
			t.Errorf("problem has no %s: %s", k, r.body)
		}
	}
	if got, _ := p["status"].(float64); int(got) != status {
		t.Errorf("problem status %v, want %d", p["status"], status)
	}
	if field != "" {
		errs, _ := p["errors"].([]any)
		found := false
		for _, e := range errs {
			if m, _ := e.(map[string]any); m["field"] == field && m["reason"] != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("problem names no field %q: %s", field, r.body)
		}
	}
	return p
}

func TestHealthAndReadiness(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		if r := do(t, s.Handler(), "GET", "/healthz", nil); r.status != 200 || r.json(t)["status"] != "ok" {
			t.Fatalf("healthz: %d %s", r.status, r.body)
		}
		r := do(t, s.Handler(), "GET", "/readyz", nil)
		if r.status != 200 || r.json(t)["database"] != st.Driver() {
			t.Fatalf("readyz: %d %s", r.status, r.body)
		}
		// A server whose database is gone is alive but not ready.
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		assertProblem(t, do(t, s.Handler(), "GET", "/readyz", nil), http.StatusServiceUnavailable, "")
		if r := do(t, s.Handler(), "GET", "/healthz", nil); r.status != 200 {
			t.Fatalf("healthz after database loss: %d", r.status)
		}
	})
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	s := newTestServer(t, storetest.SQLite(t))
	for range 3 {
		do(t, s.Handler(), "GET", "/healthz", nil)
	}
	do(t, s.Handler(), "GET", "/no/such/route/abc", nil)
	r := do(t, s.Handler(), "GET", "/metrics", nil)
	if r.status != 200 {
		t.Fatalf("metrics: %d", r.status)
	}
	text := string(r.body)
	for _, want := range []string{
		`agentid_http_requests_total{code="200",method="GET",route="/healthz"} 3`,
		`agentid_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`agentid_http_panics_recovered_total 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, "/no/such/route") {
		t.Error("metrics carry a raw request path as a label")
	}
}

func TestUnknownRouteAndMethodAreProblems(t *testing.T) {
	s := newTestServer(t, storetest.SQLite(t))
	p := assertProblem(t, do(t, s.Handler(), "GET", "/nowhere", nil), http.StatusNotFound, "")
	if p["instance"] != "/nowhere" {
		t.Errorf("instance %v", p["instance"])
	}
	assertProblem(t, do(t, s.Handler(), "POST", "/healthz", nil), http.StatusMethodNotAllowed, "")
}

func TestRequestIDIsEchoedAndSanitized(t *testing.T) {
	s := newTestServer(t, storetest.SQLite(t))
	r := do(t, s.Handler(), "GET", "/nowhere", nil, "X-Request-Id", "abc-123")
	if r.header.Get("X-Request-Id") != "abc-123" || r.json(t)["requestId"] != "abc-123" {
		t.Fatalf("request id not echoed: %v %s", r.header, r.body)
	}
	r = do(t, s.Handler(), "GET", "/healthz", nil, "X-Request-Id", "bad id\twith spaces")
	if got := r.header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \t") {
		t.Fatalf("unsafe request id %q kept", got)
	}
}

func TestAdminAuthentication(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		orgA, tokA := testOrg(t, st, "acme")
		orgB, tokB := testOrg(t, st, "globex")
		s := newTestServer(t, st)
		h := s.Handler()

		r := do(t, h, "GET", "/admin/organization", nil)
		assertProblem(t, r, http.StatusUnauthorized, "")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
		assertProblem(t, do(t, h, "GET", "/admin/organization", nil, "Authorization", "Bearer wrong-token"), http.StatusUnauthorized, "")
		assertProblem(t, do(t, h, "GET", "/admin/organization", nil, "Authorization", "Basic "+tokA), http.StatusUnauthorized, "")
		assertProblem(t, do(t, h, "GET", "/admin/organization", nil, "Authorization", "Bearer "+tokA+"x"), http.StatusUnauthorized, "")

		// Each token sees its own organization, and only that one.
		for _, c := range []struct {
			token string
			org   *store.Organization
		}{{tokA, orgA}, {tokB, orgB}} {
			r := do(t, h, "GET", "/admin/organization", nil, "Authorization", "Bearer "+c.token)
			if r.status != 200 {
				t.Fatalf("admin organization: %d %s", r.status, r.body)
			}
			if got := r.json(t); got["id"] != c.org.ID || got["slug"] != c.org.Slug {
				t.Fatalf("token for %s sees %v", c.org.Slug, got)
			}
		}

		// A revoked token stops working at once.
		toks, err := st.ListAdminTokens(context.Background(), orgA.ID)
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens: %v %v", toks, err)
		}
		if err := st.RevokeAdminToken(context.Background(), orgA.ID, toks[0].ID); err != nil {
			t.Fatal(err)
		}
		assertProblem(t, do(t, h, "GET", "/admin/organization", nil, "Authorization", "Bearer "+tokA), http.StatusUnauthorized, "")
		if r := do(t, h, "GET", "/admin/organization", nil, "Authorization", "Bearer "+tokB); r.status != 200 {
			t.Fatalf("other organization's token stopped working: %d", r.status)
		}
	})
}

// echoServer is a server with a JSON echo route and a panicking route, to
// test what every handler shares.
func echoServer(t *testing.T, opts ...Option) *Server {
	s := newTestServer(t, storetest.SQLite(t), opts...)
	s.engine.POST("/test/echo", func(c *gin.Context) {
		var v struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
			Inner struct {
				Flag bool `json:"flag"`
			} `json:"inner"`
		}
		if !s.bindJSON(c, &v) {
			return
		}
		c.JSON(200, v)
	})
	s.engine.GET("/test/panic", func(*gin.Context) { panic("boom") })
	return s
}

func TestBadJSONIsAProblemNamingTheField(t *testing.T) {
	s := echoServer(t)
	h := s.Handler()
	cases := []struct {
		name, body, field string
	}{
		{"empty", ``, "/"},
		{"syntax", `{"name":`, "/"},
		{"not json", `hello`, "/"},
		{"wrong type", `{"name":"a","count":"seven"}`, "/count"},
		{"nested wrong type", `{"inner":{"flag":"yes"}}`, "/inner/flag"},
		{"two values", `{"name":"a"} {"name":"b"}`, "/"},
		{"trailing garbage", `{"name":"a"} x`, "/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertProblem(t, do(t, h, "POST", "/test/echo", strings.NewReader(c.body), "Content-Type", "application/json"), http.StatusBadRequest, c.field)
		})
	}
	r := do(t, h, "POST", "/test/echo", strings.NewReader(`{"name":"ok","count":2}`))
	if r.status != 200 || r.json(t)["name"] != "ok" {
		t.Fatalf("valid body: %d %s", r.status, r.body)
	}
}

func TestBodyLimit(t *testing.T) {
	s := echoServer(t, WithMaxBodyBytes(64))
	h := s.Handler()
	big := `{"name":"` + strings.Repeat("a", 200) + `"}`
	assertProblem(t, do(t, h, "POST", "/test/echo", strings.NewReader(big)), http.StatusRequestEntityTooLarge, "")
	// Without a Content-Length the limit still holds while reading.
	req := httptest.NewRequest("POST", "/test/echo", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked oversize body: %d %s", rec.Code, rec.Body)
	}
	if r := do(t, h, "POST", "/test/echo", strings.NewReader(`{"name":"small"}`)); r.status != 200 {
		t.Fatalf("small body: %d %s", r.status, r.body)
	}
}

func TestPanicIsRecoveredLoggedAndCounted(t *testing.T) {
	var logs bytes.Buffer
	s := echoServer(t, WithLogger(textLogger(&logs)))
	h := s.Handler()
	p := assertProblem(t, do(t, h, "GET", "/test/panic", nil), http.StatusInternalServerError, "")
	if strings.Contains(p["detail"].(string), "boom") {
		t.Error("the panic value leaked to the client")
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Error("the panic was not logged")
	}
	if r := do(t, h, "GET", "/healthz", nil); r.status != 200 {
		t.Fatalf("server unhealthy after panic: %d", r.status)
	}
	if m := do(t, h, "GET", "/metrics", nil); !strings.Contains(string(m.body), "agentid_http_panics_recovered_total 1") {
		t.Error("panic not counted")
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	s := newTestServer(t, storetest.SQLite(t), WithShutdownTimeout(5*time.Second))
	started := make(chan struct{})
	s.engine.GET("/test/slow", func(c *gin.Context) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		c.JSON(200, gin.H{"done": true})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	url := "http://" + ln.Addr().String()
	got := make(chan response, 1)
	go func() {
		resp, err := http.Get(url + "/test/slow")
		if err != nil {
			got <- response{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- response{status: resp.StatusCode, body: b}
	}()
	<-started
	cancel()
	r := <-got
	if r.status != 200 || !strings.Contains(string(r.body), `"done":true`) {
		t.Fatalf("in-flight request was cut: %d %s", r.status, r.body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	c := http.Client{Timeout: time.Second}
	if _, err := c.Get(url + "/healthz"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}

func TestUnknownRoleIsRefused(t *testing.T) {
	if _, err := New(WithStore(storetest.SQLite(t)), WithRoles("issuer", "bogus")); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown role: %v", err)
	}
	if _, err := New(); err == nil {
		t.Fatal("a server without a store was built")
	}
}

// vectorsDir is shared/vectors beside the checkout.
func vectorsDir(t *testing.T) string {
	t.Helper()
	return testvectors.Dir(t)
}
