package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

// FuzzDelegationRequest sends arbitrary bodies to POST /delegations and
// POST /delegations/{id}/renew (the first byte picks the endpoint): never
// a 5xx, never a panic, and every refusal is a problem document.
func FuzzDelegationRequest(f *testing.F) {
	ctx := context.Background()
	st := storetest.SQLite(f)
	km, _ := bootstrapKeys(f, st, issuanceTokenA)
	const base = "http://127.0.0.1:1"
	iss, err := issuer.New(issuer.WithStore(st), issuer.WithKeyManager(km), issuer.WithPublicURL(base), issuer.WithLogger(discardLogger()))
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(WithStore(st), WithLogger(discardLogger()), WithIssuer(iss), WithPublicURL(base))
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()

	// Seeds: well-formed consents and renewal proofs by a stranger (403),
	// and near misses.
	k, err := software.Generate(keys.Ed25519)
	if err != nil {
		f.Fatal(err)
	}
	did, err := didmethods.CreateKey(k.Public())
	if err != nil {
		f.Fatal(err)
	}
	sign := func(payload any) string {
		hdr, _ := json.Marshal(map[string]any{"alg": k.Algorithm(), "kid": did + "#" + strings.TrimPrefix(did, "did:key:")})
		pay, _ := json.Marshal(payload)
		input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(pay)
		sig, err := k.Sign(ctx, []byte(input))
		if err != nil {
			f.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	now := time.Now()
	consent := sign(map[string]any{"agent": did, "scopes": []any{map[string]any{"action": "invoices:pay", "resource": "https://erp.example.com/api"}},
		"audience": []any{"https://erp.example.com"}, "purpose": "p", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": "0123456789abcdef"})
	proof := sign(map[string]any{"delegation": "d", "nonce": "0123456789abcdef", "iat": now.Unix(), "aud": base})
	for _, seed := range []string{
		`0{"consent":"` + consent + `"}`,
		`0{"consent":"` + consent + `","formats":["dc+sd-jwt"],"org":"default"}`,
		`0{"consent":"` + consent + `","formats":["x"]}`,
		`1{"proof":"` + proof + `"}`,
		`1{"proof":"a.b.c","org":"nope"}`,
		`0{}`, `0[]`, `0null`, `0{"consent":5}`, `0{"consent":"a.b"}`, `1`, `0` + deepJSON(100),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		path, body := "/delegations", in
		if len(in) > 0 {
			if in[0] == '1' {
				path = "/delegations/urn:example:d/renew"
			}
			body = in[1:]
		}
		req := httptest.NewRequest("POST", path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d for %s %q: %s", rec.Code, path, body, rec.Body)
		}
		if rec.Code == http.StatusCreated {
			t.Fatalf("a stranger's request was accepted: %s %q: %s", path, body, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out["title"] == nil ||
			!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%d answer is not a problem document: %v: %q", rec.Code, err, rec.Body)
		}
	})
}

// FuzzParseRelyingParties parses arbitrary relying-parties files: never a
// panic, and what parses survives a round trip through JSON.
func FuzzParseRelyingParties(f *testing.F) {
	for _, s := range []string{
		`[{"id":"erp","domains":["https://erp.example.com"],"trustedIssuers":{"*":["did:key:z6Mk"]},"minAssurance":"hardware","requireDelegation":true}]`,
		`{"relyingParties":[{"id":"a"}]}`, `[]`, `{}`, `[{"id":""}]`, `[{"id":"a","minAssurance":"gold"}]`, `[{"id":"a"},{"id":"a"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rps, err := ParseRelyingParties(raw)
		if err != nil {
			return
		}
		again, err := json.Marshal(rps)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseRelyingParties(again)
		if err != nil || len(back) != len(rps) {
			t.Fatalf("round trip of %q: %d parties, %v (was %d)", raw, len(back), err, len(rps))
		}
	})
}
