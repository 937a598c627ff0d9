package middleware_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/server"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/keys"

	"github.com/agentid/agentid/verifier/middleware"
)

// TestRemoteAgainstServer points the middleware at a real agentid server
// (internal/server on SQLite, on loopback): challenges come from its POST
// /challenges, presentations are verified by its POST
// /presentations/verify, which consumes the challenge and audits.
func TestRemoteAgainstServer(t *testing.T) {
	srv, err := server.New(server.WithStore(storetest.SQLite(t)), server.WithRoles(server.RoleVerifier),
		server.WithLogger(slog.New(slog.DiscardHandler)), server.WithChallengeRateLimit(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	agentid := httptest.NewServer(srv.Handler())
	t.Cleanup(agentid.Close)

	issuer, holder, ed := newParty(t, keys.P256), newParty(t, keys.P256), newParty(t, keys.Ed25519)
	s := startService(t, func(domain, resource string) []middleware.Option {
		return []middleware.Option{
			middleware.WithDomain(domain),
			middleware.WithRemote(agentid.URL, agentid.Client()),
			middleware.RequireScope(actionPay, resource),
			middleware.RequireIssuer(issuer.did, ed.did),
		}
	})
	issued := issueDelegation(t, issuer, holder, delegationClaims(holder.did, actionPay, s.resource, s.domain), time.Now().Add(time.Hour))

	c := challengeOf(t, s.url)
	auth := middleware.AuthorizationValue(presentSDJWT(t, issued, holder, c.Value, c.Domain))
	r := call(t, http.MethodPost, s.url, auth)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if a := decodeAgent(t, r); a.DID != holder.did || len(a.Grants) != 1 {
		t.Fatalf("agent %+v", a)
	}
	if r := call(t, http.MethodPost, s.url, auth); r.status != http.StatusUnauthorized {
		t.Fatalf("replay: status %d: %s", r.status, r.body)
	}

	t.Run("self-made nonce is not forwarded", func(t *testing.T) {
		r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentSDJWT(t, issued, holder, "my-own-nonce", s.domain)))
		if r.status != http.StatusUnauthorized || !r.problem(t).names("challenge") {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("missing scope", func(t *testing.T) {
		other := issueDelegation(t, issuer, holder, delegationClaims(holder.did, "invoices:read", s.resource, s.domain), time.Now().Add(time.Hour))
		c := challengeOf(t, s.url)
		r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentSDJWT(t, other, holder, c.Value, c.Domain)))
		if r.status != http.StatusForbidden {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("VP", func(t *testing.T) {
		c := challengeOf(t, s.url)
		r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentVP(t, holder, c.Value, c.Domain, retarget(t, ed, holder, s, time.Now().Add(time.Hour)))))
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("without RequireIssuer the server's trust is enforced", func(t *testing.T) {
		open := startService(t, func(domain, resource string) []middleware.Option {
			return []middleware.Option{middleware.WithDomain(domain), middleware.WithRemote(agentid.URL, agentid.Client()),
				middleware.RequireScope(actionPay, resource)}
		})
		issued := issueDelegation(t, issuer, holder, delegationClaims(holder.did, actionPay, open.resource, open.domain), time.Now().Add(time.Hour))
		c := challengeOf(t, open.url)
		r := call(t, http.MethodPost, open.url, middleware.AuthorizationValue(presentSDJWT(t, issued, holder, c.Value, c.Domain)))
		if r.status != http.StatusUnauthorized || !r.problem(t).names("trustedIssuer") {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}

// TestRemoteRelyingParty: the server applies the policy of the relying
// party the middleware names (X-Relying-Party: its domain): its trusted
// issuers are enforced, and an issuer outside them is refused.
func TestRemoteRelyingParty(t *testing.T) {
	var h http.Handler = http.NotFoundHandler()
	agentid := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(agentid.Close)
	issuer, holder, stranger := newParty(t, keys.P256), newParty(t, keys.P256), newParty(t, keys.P256)
	s := startService(t, func(domain, resource string) []middleware.Option {
		return []middleware.Option{middleware.WithDomain(domain), middleware.WithRemote(agentid.URL, agentid.Client()),
			middleware.RequireScope(actionPay, resource)}
	})
	srv, err := server.New(server.WithStore(storetest.SQLite(t)), server.WithRoles(server.RoleVerifier),
		server.WithLogger(slog.New(slog.DiscardHandler)), server.WithChallengeRateLimit(0, 1),
		server.WithRelyingParties(server.RelyingParty{ID: "erp", Domains: []string{s.domain},
			TrustedIssuers: map[string][]string{middleware.TypeDelegation: {issuer.did}}}))
	if err != nil {
		t.Fatal(err)
	}
	h = srv.Handler()

	for _, tc := range []struct {
		name   string
		issuer party
		want   int
	}{{"trusted by the relying party", issuer, http.StatusOK}, {"not trusted by it", stranger, http.StatusUnauthorized}} {
		t.Run(tc.name, func(t *testing.T) {
			issued := issueDelegation(t, tc.issuer, holder, delegationClaims(holder.did, actionPay, s.resource, s.domain), time.Now().Add(time.Hour))
			c := challengeOf(t, s.url)
			r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentSDJWT(t, issued, holder, c.Value, c.Domain)))
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
		})
	}
}

// TestRemoteUnavailable: a server that does not answer as the contract
// says lets nothing through (503).
func TestRemoteUnavailable(t *testing.T) {
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	s := startService(t, func(domain, resource string) []middleware.Option {
		return []middleware.Option{middleware.WithDomain(domain), middleware.WithRemote(broken.URL, nil)}
	})
	r := call(t, http.MethodPost, s.url, "")
	if r.status != http.StatusServiceUnavailable || r.header.Get("WWW-Authenticate") != "" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}
