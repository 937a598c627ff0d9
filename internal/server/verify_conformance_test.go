package server

import (
	"encoding/json"
	"testing"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/keys"
)

// A credential or presentation sent as a JSON string that holds the JSON
// document is not a secured document (Data Integrity verify: "securedDocument
// is not a map"; the W3C DI suites send JSON.stringify(vc) and expect 400):
// it is a 400 problem naming the member, not a verification of the
// decoded document. The same document as an object verifies, and a compact
// string is still read as an SD-JWT or JWT.
func TestVerifyJSONInAString(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ls := startServer(t, st)
		iss, agent := newKeyParty(t, keys.Ed25519), newKeyParty(t, keys.P256)
		vc := signVC(t, identityVC(t, iss.did, agent.did, nil), iss)
		vp := signVP(t, agent, "c-json-in-a-string", "https://rp.example.com", vc)
		asString := func(doc map[string]any, indent bool) string {
			var b []byte
			var err error
			if indent {
				b, err = json.MarshalIndent(doc, "  ", "  ")
			} else {
				b, err = json.Marshal(doc)
			}
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}

		wantVerified(t, ls.post(t, "/credentials/verify", map[string]any{"verifiableCredential": vc}))
		for _, c := range []struct {
			name, path, member string
			value              string
		}{
			{"credential", "/credentials/verify", "verifiableCredential", asString(vc, false)},
			{"credential, indented", "/credentials/verify", "verifiableCredential", asString(vc, true)},
			{"credential in an array", "/credentials/verify", "verifiableCredential", "[" + asString(vc, false) + "]"},
			{"presentation", "/presentations/verify", "verifiablePresentation", asString(vp, false)},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := ls.post(t, c.path, map[string]any{c.member: c.value, "options": map[string]any{"checks": []any{"proof"}}})
				assertProblem(t, r, 400, "/"+c.member)
			})
		}
		// A compact string is still verified (and rejected by the
		// verifier, not refused as a request).
		res := readResult(t, ls.post(t, "/credentials/verify", map[string]any{"verifiableCredential": "not.a.jwt!"}))
		if res.Verified || len(res.Errors) == 0 {
			t.Fatalf("garbage JWT: %+v", res)
		}
	})
}
