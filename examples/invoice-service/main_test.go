package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
	"github.com/agentid/agentid/verifier/middleware"
)

// TestPayRoundTrip runs the README's round trip against the service's
// handler on loopback, verifying in process: 401 with a challenge, an
// SD-JWT presentation answering it, payment within and beyond the
// delegation's constraints.
func TestPayRoundTrip(t *testing.T) {
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	c := config{domain: srv.URL, resource: srv.URL + "/api/invoices", inProcess: true}
	log := slog.New(slog.DiscardHandler)
	protect, err := middleware.New(options(c, log)...)
	if err != nil {
		t.Fatal(err)
	}
	h = newHandler(protect, log)

	post := func(path, auth, body string) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	if resp, err := http.Get(srv.URL + "/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %v %v", resp, err)
	}

	issuerKey, holderKey := newKey(t), newKey(t)
	issuerDID, _ := didmethods.CreateKey(issuerKey.Public())
	holderDID, _ := didmethods.CreateKey(holderKey.Public())
	ctx := context.Background()
	issued, err := sdjwt.IssueVC(ctx, issuerKey, sdjwt.VC{
		Issuer: issuerDID, KeyID: issuerDID + "#" + strings.TrimPrefix(issuerDID, "did:key:"), Type: middleware.VCTDelegation,
		HolderKey: holderKey.Public(), Expiry: time.Now().Add(time.Hour),
		Claims: map[string]any{"sub": holderDID, "delegator": "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj",
			"audience": []any{c.domain},
			"scopes": []any{map[string]any{"action": "invoices:pay", "resource": c.resource,
				"constraints": map[string]any{"maxAmount": 500, "currency": "EUR"}}}},
	}, sdjwt.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	present := func() string {
		status, hdr, body := post("/invoices/42/pay", "", "")
		if status != http.StatusUnauthorized {
			t.Fatalf("without credentials: %d %s", status, body)
		}
		ch, err := middleware.ParseChallenge(hdr.Get("WWW-Authenticate"))
		if err != nil {
			t.Fatal(err)
		}
		paths, _ := sdjwt.DisclosurePaths(issued, sdjwt.Limits{})
		p, err := sdjwt.Present(ctx, issued, sdjwt.PresentOptions{Disclose: paths,
			KeyBinding: &sdjwt.KeyBinding{Signer: holderKey, Audience: ch.Domain, Nonce: ch.Value}})
		if err != nil {
			t.Fatal(err)
		}
		return middleware.AuthorizationValue(p)
	}
	if status, _, body := post("/invoices/42/pay", present(), `{"amount": 120, "currency": "EUR"}`); status != http.StatusOK || !strings.Contains(body, holderDID) {
		t.Fatalf("pay: %d %s", status, body)
	}
	if status, _, body := post("/invoices/43/pay", present(), `{"amount": 900, "currency": "EUR"}`); status != http.StatusForbidden {
		t.Fatalf("over maxAmount: %d %s", status, body)
	}
	if status, _, body := post("/invoices/44/pay", present(), `{"amount": 10, "currency": "USD"}`); status != http.StatusForbidden {
		t.Fatalf("other currency: %d %s", status, body)
	}
}

func newKey(t *testing.T) *software.Key {
	t.Helper()
	k, err := software.Generate(keys.P256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
