package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/keys"
)

// poisonCredential is a signed-looking credential whose subject links n
// look-alike blank nodes to each other: RDFC-1.0 on it is factorial in n,
// so it must be refused before canonicalization.
func poisonCredential(issuer string, n int) map[string]any {
	nodes := make([]any, n)
	for i := range n {
		var links []any
		for j := range n {
			if j != i {
				links = append(links, map[string]any{"id": fmt.Sprintf("_:b%d", j)})
			}
		}
		nodes[i] = map[string]any{"id": fmt.Sprintf("_:b%d", i), "related": links}
	}
	return map[string]any{
		"@context":          []any{"https://www.w3.org/ns/credentials/v2"},
		"type":              []any{"VerifiableCredential"},
		"issuer":            issuer,
		"credentialSubject": map[string]any{"related": nodes},
		"proof": map[string]any{"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
			"verificationMethod": issuer + "#" + strings.TrimPrefix(issuer, "did:key:"), "proofPurpose": "assertionMethod",
			"proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKKFkLgMsrWL9Pd9Dw6"},
	}
}

func deepJSON(levels int) string {
	return strings.Repeat(`{"a":`, levels) + "1" + strings.Repeat("}", levels)
}

// TestVerifyBadInput: malformed and hostile requests are answered 4xx with
// a reason, never 5xx, and quickly.
func TestVerifyBadInput(t *testing.T) {
	st := storetest.SQLite(t)
	ls := startServer(t, st)
	iss, agent := newKeyParty(t, keys.Ed25519), newKeyParty(t, keys.P256)
	vc := signVC(t, identityVC(t, iss.did, agent.did, nil), iss)

	unknownMethod := clone(t, vc)
	unknownMethod["issuer"] = "did:example:123"
	unknownMethod["proof"].(map[string]any)["verificationMethod"] = "did:example:123#key-1"
	webIssuer := clone(t, vc)
	webIssuer["issuer"] = "did:web:127.0.0.1%3A1"
	webIssuer["proof"].(map[string]any)["verificationMethod"] = "did:web:127.0.0.1%3A1#key-1"

	type verdict int
	const (
		problemDoc verdict = iota // 4xx problem+json naming field
		rejected                  // 400 verified:false naming check
	)
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		want       verdict
		field      string // problem field, or failed check
	}{
		{"not JSON", "/credentials/verify", "hello", 400, problemDoc, "/"},
		{"truncated JSON", "/credentials/verify", `{"verifiableCredential": {`, 400, problemDoc, "/"},
		{"array", "/credentials/verify", "[]", 400, problemDoc, "/"},
		{"empty body", "/presentations/verify", "", 400, problemDoc, "/"},
		{"empty object", "/credentials/verify", "{}", 400, problemDoc, "/verifiableCredential"},
		{"number", "/credentials/verify", `{"verifiableCredential": 5}`, 400, problemDoc, "/verifiableCredential"},
		{"array credential", "/credentials/verify", `{"verifiableCredential": [1]}`, 400, problemDoc, "/verifiableCredential"},
		{"empty string", "/credentials/verify", `{"verifiableCredential": "  "}`, 400, problemDoc, "/verifiableCredential"},
		{"presentation on the credential endpoint", "/credentials/verify", map[string]any{"verifiablePresentation": vc}, 400, problemDoc, "/verifiableCredential"},
		{"credential on the presentation endpoint", "/presentations/verify", map[string]any{"verifiableCredential": vc}, 400, problemDoc, "/verifiablePresentation"},
		{"options of the wrong type", "/credentials/verify", map[string]any{"verifiableCredential": vc, "options": "x"}, 400, problemDoc, "/options"},
		{"challenge of the wrong type", "/credentials/verify", map[string]any{"verifiableCredential": vc, "options": map[string]any{"challenge": 5}}, 400, problemDoc, "/options/challenge"},
		{"unknown check", "/credentials/verify", map[string]any{"verifiableCredential": vc, "options": map[string]any{"checks": []any{"proof", "sorcery"}}}, 400, problemDoc, "/options/checks/1"},
		{"bad minAssurance", "/credentials/verify", map[string]any{"verifiableCredential": vc, "options": map[string]any{"minAssurance": "divine"}}, 400, problemDoc, "/options/minAssurance"},
		{"huge challenge", "/presentations/verify", map[string]any{"verifiablePresentation": vc, "options": map[string]any{"challenge": strings.Repeat("c", 5000)}}, 400, problemDoc, "/options/challenge"},
		{"two JSON values", "/credentials/verify", `{} {}`, 400, problemDoc, "/"},
		{"2 MiB body", "/credentials/verify", `{"verifiableCredential": "` + strings.Repeat("a", 2<<20) + `"}`, 413, problemDoc, ""},
		{"1000 levels deep", "/credentials/verify", `{"verifiableCredential": ` + deepJSON(1000) + `}`, 400, rejected, "structure"},
		{"1000 levels deep options", "/credentials/verify", `{"verifiableCredential": {}, "options": ` + deepJSON(1000) + `}`, 400, rejected, "structure"},
		{"poison JSON-LD, many nodes", "/credentials/verify", map[string]any{"verifiableCredential": poisonCredential(iss.did, 40)}, 400, rejected, "context"},
		{"poison JSON-LD, linked look-alike blank nodes", "/credentials/verify", map[string]any{"verifiableCredential": poisonCredential(iss.did, 12)}, 400, rejected, ""},
		{"poison JSON-LD presentation", "/presentations/verify", map[string]any{"verifiablePresentation": withCredential(signVP(t, agent, "c", "d", vc), poisonCredential(iss.did, 12))}, 400, rejected, ""},
		{"garbage SD-JWT", "/presentations/verify", map[string]any{"verifiablePresentation": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln~WyJ4Il0~garbage~"}, 400, rejected, ""},
		{"garbage JWT", "/credentials/verify", map[string]any{"verifiableCredential": "not.a.jwt!"}, 400, rejected, ""},
		{"unknown DID method", "/credentials/verify", map[string]any{"verifiableCredential": unknownMethod}, 400, rejected, "proof"},
		{"did:web refused by policy", "/credentials/verify", map[string]any{"verifiableCredential": webIssuer}, 400, rejected, "proof"},
		{"VC as a presentation", "/presentations/verify", map[string]any{"verifiablePresentation": vc}, 400, rejected, "structure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := ls.post(t, tc.path, tc.body)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %s", d)
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %.600s", r.status, tc.status, r.body)
			}
			switch tc.want {
			case problemDoc:
				assertProblem(t, r, tc.status, tc.field)
			case rejected:
				res := readResult(t, r)
				if tc.field != "" {
					res = wantRejected(t, r, tc.field, "")
				}
				if len(res.Errors) == 0 || res.Errors[0].Message == "" {
					t.Fatalf("no reason: %s", r.body)
				}
			}
			if bytes.Contains(r.body, []byte("goroutine")) {
				t.Fatalf("internals leaked: %s", r.body)
			}
		})
	}

	t.Run("challenges: bad domain, rate limit", func(t *testing.T) {
		assertProblem(t, ls.post(t, "/challenges", map[string]any{"domain": strings.Repeat("d", 600)}), 400, "/domain")
		assertProblem(t, ls.post(t, "/challenges", "[1]"), 400, "/")
		assertProblem(t, ls.post(t, "/challenges", map[string]any{"domain": 5}), 400, "/domain")
		limited := startServer(t, st, WithChallengeRateLimit(1, 3))
		for i := range 3 {
			if r := limited.post(t, "/challenges", nil); r.status != http.StatusOK {
				t.Fatalf("challenge %d: %d %s", i, r.status, r.body)
			}
		}
		r := limited.post(t, "/challenges", nil)
		assertProblem(t, r, http.StatusTooManyRequests, "")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	})
}

// withCredential replaces the credentials of a signed presentation with
// cred (its proof no longer matches): a presentation that cannot be signed
// here, such as one whose credential is a JSON-LD poison document, still
// reaches the verifier.
func withCredential(vp map[string]any, cred map[string]any) map[string]any {
	vp["verifiableCredential"] = []any{cred}
	return vp
}
