package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/keys"
)

// FuzzVerifyCredentialRequest sends arbitrary bodies to POST
// /credentials/verify: never a 5xx, never a panic, and the answer is JSON.
func FuzzVerifyCredentialRequest(f *testing.F) {
	fuzzVerify(f, "/credentials/verify", "verifiableCredential")
}

// FuzzVerifyPresentationRequest sends arbitrary bodies to POST
// /presentations/verify: never a 5xx, never a panic, and the answer is
// JSON.
func FuzzVerifyPresentationRequest(f *testing.F) {
	fuzzVerify(f, "/presentations/verify", "verifiablePresentation")
}

func fuzzVerify(f *testing.F, path, field string) {
	iss, agent := newKeyParty(f, keys.Ed25519), newKeyParty(f, keys.P256)
	vc := signVC(f, identityVC(f, iss.did, agent.did, nil), iss)
	vp := signVP(f, agent, "c-1", "https://erp.example.com", vc)
	sd := issueSDJWTVC(f, iss, agent)
	seeds := []any{
		map[string]any{field: vc},
		map[string]any{field: vp, "options": map[string]any{"challenge": "c-1", "domain": "https://erp.example.com"}},
		map[string]any{field: presentSDJWT(f, sd, agent, "n", "a"), "options": map[string]any{"challenge": "n", "domain": "a", "checks": []any{"proof", "challenge"}}},
		map[string]any{field: sd},
		map[string]any{field: poisonCredential(iss.did, 6)},
		map[string]any{field: vc, "options": map[string]any{"minAssurance": "hardware", "action": "x", "resource": "y"}},
	}
	for _, s := range seeds {
		raw, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range []string{"", "{}", "[]", "null", `{"` + field + `": 5}`, `{"` + field + `": "a~b~"}`, `{"` + field + `": {"@context": 1}}`,
		`{"` + field + `": {}, "options": {"checks": ["nope"]}}`, deepJSON(200)} {
		f.Add([]byte(s))
	}

	refuse := func(context.Context, string, net.IP) error { return errors.New("no network in the fuzzer") }
	reg := didmethods.NewDefaultRegistry(didmethods.WithDialCheck(refuse))
	s, err := New(WithStore(storetest.SQLite(f)), WithLogger(discardLogger()), WithResolver(reg))
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		// With AGENTID_FUZZ_STACKS set, an input that runs over 3 s writes
		// every goroutine's stack there (a hang shows where it spins).
		watchdog := time.AfterFunc(3*time.Second, func() {
			if os.Getenv("AGENTID_FUZZ_STACKS") == "" {
				return
			}
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			_ = os.WriteFile(os.Getenv("AGENTID_FUZZ_STACKS"), append([]byte(fmt.Sprintf("input %q\n", body)), buf[:n]...), 0o600)
		})
		defer watchdog.Stop()
		req := httptest.NewRequest("POST", path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d for %q: %s", rec.Code, body, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%d answer is not a JSON object: %v: %q", rec.Code, err, rec.Body)
		}
		switch ct := rec.Header().Get("Content-Type"); {
		case strings.HasPrefix(ct, "application/problem+json"):
			if rec.Code < 400 || out["title"] == nil {
				t.Fatalf("problem %d: %s", rec.Code, rec.Body)
			}
		case strings.HasPrefix(ct, "application/json"):
			verified, ok := out["verified"].(bool)
			if !ok || verified != (rec.Code == http.StatusOK) || (rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest) {
				t.Fatalf("verification answer %d: %s", rec.Code, rec.Body)
			}
			if !verified {
				if errs, _ := out["errors"].([]any); len(errs) == 0 {
					t.Fatalf("rejected without errors: %s", rec.Body)
				}
			}
		default:
			t.Fatalf("Content-Type %q", ct)
		}
	})
}
