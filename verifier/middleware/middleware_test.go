package middleware_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/middleware"
)

// inProcess verifies in process with a memory challenge store and requires
// the pay scope, plus extra options.
func inProcess(extra ...middleware.Option) func(domain, resource string) []middleware.Option {
	return func(domain, resource string) []middleware.Option {
		return append([]middleware.Option{
			middleware.WithDomain(domain),
			middleware.WithVerifier(verifier.New()),
			middleware.WithChallenges(verifier.NewMemoryChallenges()),
			middleware.RequireScope(actionPay, resource),
		}, extra...)
	}
}

func TestNoCredentialsGetsChallenge(t *testing.T) {
	s := startService(t, inProcess())
	r := call(t, http.MethodPost, s.url, "")
	if r.status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", r.status)
	}
	c, err := middleware.ParseChallenge(r.header.Get("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Domain != s.domain || len(c.Value) < 40 || c.Error != "" {
		t.Fatalf("challenge %+v", c)
	}
	if d := time.Until(c.Expires); d <= 0 || d > verifier.DefaultChallengeTTL+time.Minute {
		t.Fatalf("expires %s", c.Expires)
	}
	p := r.problem(t)
	if p.Status != http.StatusUnauthorized || !strings.HasSuffix(p.Type, "agent-authentication-required") {
		t.Fatalf("problem %+v", p)
	}
	// Another scheme is no AgentID credentials: a challenge too.
	r = call(t, http.MethodPost, s.url, "Bearer abc")
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("Bearer: status %d", r.status)
	}
	// Two requests get two challenges.
	if c2 := challengeOf(t, s.url); c2.Value == c.Value {
		t.Fatal("a challenge was handed out twice")
	}
}

func TestSDJWTPresentation(t *testing.T) {
	issuer, holder := newParty(t, keys.P256), newParty(t, keys.P256)
	s := startService(t, inProcess())
	issued := issueDelegation(t, issuer, holder, delegationClaims(holder.did, actionPay, s.resource, s.domain), time.Now().Add(time.Hour))

	c := challengeOf(t, s.url)
	auth := middleware.AuthorizationValue(presentSDJWT(t, issued, holder, c.Value, c.Domain))
	r := call(t, http.MethodPost, s.url, auth)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	a := decodeAgent(t, r)
	if a.DID != holder.did || a.Issuer != issuer.did || a.Format != verifier.FormatSDJWT {
		t.Fatalf("agent %+v", a)
	}
	if a.Principal == "" || len(a.Grants) != 1 || a.Grants[0].Action != actionPay || a.Grants[0].Constraints["maxAmount"] != float64(500) {
		t.Fatalf("agent principal or grants: %+v", a)
	}

	t.Run("replay", func(t *testing.T) {
		r := call(t, http.MethodPost, s.url, auth)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("replay: status %d: %s", r.status, r.body)
		}
		if !r.problem(t).names(verifier.CheckChallenge) {
			t.Fatalf("replay not named: %s", r.body)
		}
		c, err := middleware.ParseChallenge(r.header.Get("WWW-Authenticate"))
		if err != nil || c.Error != "invalid_presentation" {
			t.Fatalf("replay challenge %+v, %v", c, err)
		}
	})
	t.Run("wrong domain", func(t *testing.T) {
		c := challengeOf(t, s.url)
		r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentSDJWT(t, issued, holder, c.Value, "https://other.example")))
		if r.status != http.StatusUnauthorized || !r.problem(t).names(verifier.CheckDomain) {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("challenge not issued here", func(t *testing.T) {
		r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentSDJWT(t, issued, holder, "my-own-nonce", s.domain)))
		if r.status != http.StatusUnauthorized || !r.problem(t).names(verifier.CheckChallenge) {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("key binding by another key", func(t *testing.T) {
		c := challengeOf(t, s.url)
		thief := newParty(t, keys.P256)
		r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentSDJWT(t, issued, thief, c.Value, c.Domain)))
		if r.status != http.StatusUnauthorized || !r.problem(t).names(verifier.CheckHolderBinding) {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		// The forgery did not burn the challenge: the holder still answers it.
		r = call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentSDJWT(t, issued, holder, c.Value, c.Domain)))
		if r.status != http.StatusOK {
			t.Fatalf("holder after forgery: status %d: %s", r.status, r.body)
		}
	})
}

func TestMalformedAuthorization(t *testing.T) {
	s := startService(t, inProcess())
	for name, auth := range map[string]string{
		"empty":            "AgentID",
		"not base64":       "AgentID !!!",
		"not JSON":         "AgentID " + middleware.EncodeVP([]byte("hello")),
		"VP without proof": "AgentID " + middleware.EncodeVP([]byte(`{"type":["VerifiablePresentation"]}`)),
		"SD-JWT no KB":     "AgentID eyJhbGciOiJFUzI1NiJ9.e30.c2ln~",
		"too long":         "AgentID " + strings.Repeat("A", middleware.MaxPresentationBytes+1),
	} {
		t.Run(name, func(t *testing.T) {
			r := call(t, http.MethodPost, s.url, auth)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			c, err := middleware.ParseChallenge(r.header.Get("WWW-Authenticate"))
			if err != nil || c.Error != "invalid_request" {
				t.Fatalf("challenge %+v, %v", c, err)
			}
			if len(r.problem(t).Errors) == 0 {
				t.Fatalf("no errors named: %s", r.body)
			}
		})
	}
}

func TestScopePolicy(t *testing.T) {
	issuer, holder := newParty(t, keys.P256), newParty(t, keys.P256)
	s := startService(t, inProcess())
	try := func(t *testing.T, claims map[string]any, exp time.Time) reply {
		t.Helper()
		issued := issueDelegation(t, issuer, holder, claims, exp)
		c := challengeOf(t, s.url)
		return call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentSDJWT(t, issued, holder, c.Value, c.Domain)))
	}
	forbidden := func(t *testing.T, r reply, code string) {
		t.Helper()
		if r.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403: %s", r.status, r.body)
		}
		p := r.problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Check != middleware.CheckDelegation || p.Errors[0].Code != code {
			t.Fatalf("errors %+v, want %s", p.Errors, code)
		}
	}
	hour := time.Now().Add(time.Hour)
	t.Run("parent resource covers", func(t *testing.T) {
		if r := try(t, delegationClaims(holder.did, actionPay, s.domain+"/api", s.domain), hour); r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("other action", func(t *testing.T) {
		forbidden(t, try(t, delegationClaims(holder.did, "invoices:read", s.resource, s.domain), hour), middleware.CodeScopeNotGranted)
	})
	t.Run("sibling resource", func(t *testing.T) {
		forbidden(t, try(t, delegationClaims(holder.did, actionPay, s.domain+"/api/inv", s.domain), hour), middleware.CodeScopeNotGranted)
	})
	t.Run("other audience", func(t *testing.T) {
		forbidden(t, try(t, delegationClaims(holder.did, actionPay, s.resource, "https://other.example"), hour), middleware.CodeAudienceMismatch)
	})
	t.Run("no scopes", func(t *testing.T) {
		claims := delegationClaims(holder.did, actionPay, s.resource, s.domain)
		delete(claims, "scopes")
		forbidden(t, try(t, claims, hour), middleware.CodeNoDelegation)
	})
	t.Run("no expiry", func(t *testing.T) {
		forbidden(t, try(t, delegationClaims(holder.did, actionPay, s.resource, s.domain), time.Time{}), middleware.CodeDelegationExpired)
	})
	// An expired delegation does not verify (the verifier's validity
	// check): 401, with a new challenge for a renewed delegation.
	t.Run("expired", func(t *testing.T) {
		r := try(t, delegationClaims(holder.did, actionPay, s.resource, s.domain), time.Now().Add(-time.Hour))
		if r.status != http.StatusUnauthorized || !r.problem(t).names(verifier.CheckValidity) {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}

func TestUntrustedIssuer(t *testing.T) {
	issuer, holder := newParty(t, keys.P256), newParty(t, keys.P256)
	s := startService(t, inProcess(middleware.RequireIssuer("did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj")))
	issued := issueDelegation(t, issuer, holder, delegationClaims(holder.did, actionPay, s.resource, s.domain), time.Now().Add(time.Hour))
	c := challengeOf(t, s.url)
	r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentSDJWT(t, issued, holder, c.Value, c.Domain)))
	if r.status != http.StatusUnauthorized || !r.problem(t).names(verifier.CheckTrustedIssuer) {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestVPPresentation(t *testing.T) {
	issuer, holder := newParty(t, keys.Ed25519), newParty(t, keys.P256)
	hour := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name      string
		assurance string
		want      int
	}{
		{"hardware required and shown", middleware.AssuranceHardware, http.StatusOK},
		{"software required", middleware.AssuranceSoftware, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startService(t, inProcess(middleware.RequireAssurance(tc.assurance), middleware.RequireIssuer(issuer.did)))
			identity := testdataCredential(t, "agent-identity", issuer, holder.did, hour)
			c := challengeOf(t, s.url)
			r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentVP(t, holder, c.Value, c.Domain, identity, retarget(t, issuer, holder, s, hour))))
			if r.status != tc.want {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			a := decodeAgent(t, r)
			if a.DID != holder.did || a.Assurance != middleware.AssuranceHardware || a.Format != verifier.FormatLDPVP || len(a.Credentials) != 2 || len(a.Grants) != 1 {
				t.Fatalf("agent %+v", a)
			}
		})
	}
	t.Run("software agent on a hardware route", func(t *testing.T) {
		s := startService(t, inProcess(middleware.RequireAssurance(middleware.AssuranceHardware)))
		c := challengeOf(t, s.url)
		// only the delegation: no hardwareBinding shown
		r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentVP(t, holder, c.Value, c.Domain, retarget(t, issuer, holder, s, hour))))
		if r.status != http.StatusForbidden || !r.problem(t).names(middleware.CheckAssurance) {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("VP for another domain", func(t *testing.T) {
		s := startService(t, inProcess())
		c := challengeOf(t, s.url)
		r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentVP(t, holder, c.Value, "https://other.example", retarget(t, issuer, holder, s, hour))))
		if r.status != http.StatusUnauthorized || !r.problem(t).names(verifier.CheckDomain) {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}

// retarget is the testdata delegation re-issued for s: its scope on s's
// resource, its audience s's domain.
func retarget(t *testing.T, issuer, holder party, s *service, validUntil time.Time) map[string]any {
	t.Helper()
	d := testdataCredential(t, "agent-delegation", issuer, holder.did, validUntil)
	delete(d, "proof")
	subj := d["credentialSubject"].(map[string]any)
	subj["scopes"] = []any{map[string]any{"action": actionPay, "resource": s.resource}}
	subj["audience"] = []any{s.domain}
	return resign(t, issuer, d)
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	v, ch := verifier.New(), verifier.NewMemoryChallenges()
	for name, tc := range map[string]struct {
		opts []middleware.Option
		want error
	}{
		"no verifier":            {[]middleware.Option{middleware.WithDomain("https://a.example")}, middleware.ErrNoVerifier},
		"verifier only":          {[]middleware.Option{middleware.WithDomain("https://a.example"), middleware.WithVerifier(v)}, middleware.ErrNoVerifier},
		"both":                   {[]middleware.Option{middleware.WithDomain("https://a.example"), middleware.WithVerifier(v), middleware.WithChallenges(ch), middleware.WithRemote("http://127.0.0.1:1", nil)}, middleware.ErrNoVerifier},
		"bad remote":             {[]middleware.Option{middleware.WithDomain("https://a.example"), middleware.WithRemote("ftp://x", nil)}, middleware.ErrNoVerifier},
		"no domain":              {[]middleware.Option{middleware.WithVerifier(v), middleware.WithChallenges(ch)}, middleware.ErrDomain},
		"quote in domain":        {[]middleware.Option{middleware.WithDomain(`a"b`), middleware.WithVerifier(v), middleware.WithChallenges(ch)}, middleware.ErrDomain},
		"unknown assurance":      {[]middleware.Option{middleware.WithDomain("https://a.example"), middleware.WithVerifier(v), middleware.WithChallenges(ch), middleware.RequireAssurance("tpm")}, middleware.ErrPolicy},
		"scope without resource": {[]middleware.Option{middleware.WithDomain("https://a.example"), middleware.WithVerifier(v), middleware.WithChallenges(ch), middleware.RequireScope("x", "")}, middleware.ErrPolicy},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := middleware.New(tc.opts...); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestResourceCovers(t *testing.T) {
	for _, tc := range []struct {
		granted, required string
		want              bool
	}{
		{"https://e.example/api/invoices", "https://e.example/api/invoices", true},
		{"https://e.example/api", "https://e.example/api/invoices", true},
		{"https://e.example/api/", "https://e.example/api/invoices", true},
		{"https://e.example/api", "https://e.example/apix", false},
		{"https://e.example/api/invoices/1", "https://e.example/api/invoices", false},
		{"", "https://e.example/api", false},
		{"https://e.example/api", "", false},
	} {
		if got := middleware.ResourceCovers(tc.granted, tc.required); got != tc.want {
			t.Errorf("ResourceCovers(%q, %q) = %v", tc.granted, tc.required, got)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	c, err := middleware.ParseChallenge(`Bearer realm="x", agentid challenge="abc", domain="https://a.example/\"q\"", expires="2026-01-02T03:04:05Z", error=invalid_presentation`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value != "abc" || c.Domain != `https://a.example/"q"` || c.Error != "invalid_presentation" || c.Expires.Year() != 2026 {
		t.Fatalf("%+v", c)
	}
	for _, bad := range []string{"", "Bearer x", `AgentID domain="d"`, `AgentID challenge="c"`, `AgentID challenge="c, domain="d"`, `AgentID challenge="c", domain="d", expires="tomorrow"`} {
		if _, err := middleware.ParseChallenge(bad); !errors.Is(err, middleware.ErrMalformedChallenge) {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}
