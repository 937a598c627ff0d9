package ginagent_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/middleware"
	"github.com/agentid/agentid/verifier/middleware/ginagent"
)

func TestGinRoute(t *testing.T) {
	gin.SetMode(gin.TestMode)
	engine := gin.New()
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	domain, resource := srv.URL, srv.URL+"/api/invoices"

	guard, err := ginagent.New(middleware.WithDomain(domain), middleware.WithVerifier(verifier.New()),
		middleware.WithChallenges(verifier.NewMemoryChallenges()), middleware.RequireScope("invoices:pay", resource))
	if err != nil {
		t.Fatal(err)
	}
	reached := 0
	engine.POST("/pay", guard, func(c *gin.Context) {
		reached++
		a, ok := ginagent.AgentFrom(c)
		b, ok2 := middleware.AgentFrom(c.Request.Context())
		if !ok || !ok2 || a != b {
			c.String(http.StatusInternalServerError, "no agent")
			return
		}
		c.String(http.StatusOK, a.DID)
	})

	do := func(auth string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/pay", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := do("")
	if resp.StatusCode != http.StatusUnauthorized || reached != 0 {
		t.Fatalf("status %d, reached %d: %s", resp.StatusCode, reached, body)
	}
	ch, err := middleware.ParseChallenge(resp.Header.Get("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}

	issuerKey, holderKey := mustKey(t), mustKey(t)
	issuerDID, _ := didmethods.CreateKey(issuerKey.Public())
	holderDID, _ := didmethods.CreateKey(holderKey.Public())
	ctx := context.Background()
	issued, err := sdjwt.IssueVC(ctx, issuerKey, sdjwt.VC{
		Issuer: issuerDID, KeyID: issuerDID + "#" + strings.TrimPrefix(issuerDID, "did:key:"), Type: middleware.VCTDelegation,
		HolderKey: holderKey.Public(), Expiry: time.Now().Add(time.Hour),
		Claims: map[string]any{"sub": holderDID, "audience": []any{domain},
			"scopes": []any{map[string]any{"action": "invoices:pay", "resource": resource}}},
	}, sdjwt.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := sdjwt.DisclosurePaths(issued, sdjwt.Limits{})
	p, err := sdjwt.Present(ctx, issued, sdjwt.PresentOptions{Disclose: paths,
		KeyBinding: &sdjwt.KeyBinding{Signer: holderKey, Audience: ch.Domain, Nonce: ch.Value}})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = do(middleware.AuthorizationValue(p))
	if resp.StatusCode != http.StatusOK || body != holderDID {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	resp, body = do(middleware.AuthorizationValue(p))
	if resp.StatusCode != http.StatusUnauthorized || reached != 1 {
		t.Fatalf("replay: status %d, reached %d: %s", resp.StatusCode, reached, body)
	}
}

func mustKey(t *testing.T) *software.Key {
	t.Helper()
	k, err := software.Generate(keys.P256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
