package verifier

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/credential/statuslist"
	"github.com/agentid/agentid/internal/netguard"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/verifier/statusfetch"
)

// statusHost is an httptest server on loopback that serves status lists by
// path, as an issuer's GET /status/{list} does.
type statusHost struct {
	*httptest.Server
	mu    sync.Mutex
	lists map[string][]byte
}

func newStatusHost(t *testing.T) *statusHost {
	h := &statusHost{lists: map[string][]byte{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		body, ok := h.lists[r.URL.Path]
		h.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *statusHost) put(path string, body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lists[path] = body
}

// signedStatusList is iss's signed BitstringStatusListCredential at url.
func signedStatusList(t *testing.T, iss party, url, purpose string, set ...int) []byte {
	t.Helper()
	bs, err := statuslist.New(statuslist.MinEntries, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range set {
		if err := bs.Set(i, 1); err != nil {
			t.Fatal(err)
		}
	}
	vc, err := statuslist.NewCredential(statuslist.CredentialOptions{ID: url, Issuer: iss.did, Purposes: []string{purpose}, List: bs})
	if err != nil {
		t.Fatal(err)
	}
	signed := sign(t, vc, iss, dataintegrity.EdDSARDFC2022)
	raw, err := json.Marshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// fetchingChecker is the HTTP status checker as a service configures it,
// with loopback allowed (as --fetch-allow 127.0.0.0/8 would) and
// revalidation on every verification.
func fetchingChecker(t *testing.T) StatusChecker {
	t.Helper()
	v := New()
	sc, err := statusfetch.New(v.resolver,
		statusfetch.WithPolicy(netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})),
		statusfetch.WithInsecureLoopback(true),
		statusfetch.WithStaleness(0))
	if err != nil {
		t.Fatal(err)
	}
	return HTTPStatusChecker(sc)
}

// The identity credential's two entries (revocation index 94567,
// suspension index 18823) checked against lists fetched over HTTP: the
// issuer revokes, and the very next verification fails with code revoked.
func TestHTTPStatusCheckerThroughVerifier(t *testing.T) {
	iss, agent := newParty(t, keys.Ed25519), newParty(t, keys.P256)
	host := newStatusHost(t)
	revURL, susURL := host.URL+"/status/3", host.URL+"/status/4"
	host.put("/status/3", signedStatusList(t, iss, revURL, "revocation"))
	host.put("/status/4", signedStatusList(t, iss, susURL, "suspension"))

	m := identityCredential(t, iss.did, agent.did, true)
	entries := m["credentialStatus"].([]any)
	for _, e := range entries {
		e := e.(map[string]any)
		url := revURL
		if e["statusPurpose"] == "suspension" {
			url = susURL
		}
		e["statusListCredential"] = url
		e["id"] = url + "#" + e["statusListIndex"].(string)
	}
	vc := sign(t, m, iss, dataintegrity.EdDSARDFC2022)
	v := newTestVerifier(WithStatusChecker(fetchingChecker(t)))

	wantVerified(t, v.VerifyCredential(ctx, vc, Options{}), CheckStatus)

	host.put("/status/3", signedStatusList(t, iss, revURL, "revocation", 94567))
	res := v.VerifyCredential(ctx, vc, Options{})
	wantFailed(t, res, CheckStatus)
	if len(res.Errors) != 1 || res.Errors[0].Code != CodeRevoked {
		t.Fatalf("errors %+v, want one %s", res.Errors, CodeRevoked)
	}

	// The list disappears: fail closed, status unavailable.
	host.mu.Lock()
	delete(host.lists, "/status/4")
	host.mu.Unlock()
	host.put("/status/3", signedStatusList(t, iss, revURL, "revocation"))
	res = v.VerifyCredential(ctx, vc, Options{})
	wantFailed(t, res, CheckStatus)
	if res.Errors[0].Code != CodeStatusUnavailable {
		t.Fatalf("code %q, want %q", res.Errors[0].Code, CodeStatusUnavailable)
	}
}

// An SD-JWT VC's status claim, through the verifier, against a Token
// Status List token fetched over HTTP.
func TestHTTPStatusCheckerSDJWT(t *testing.T) {
	if StatusTokenList != statusfetch.KindTokenStatusList || StatusBitstring != statusfetch.KindBitstring {
		t.Fatal("the status kinds of verifier and statusfetch differ")
	}
	iss := newParty(t, keys.P256)
	host := newStatusHost(t)
	url := host.URL + "/status/tokens/1"
	token := func(revoked bool) []byte {
		l, err := statuslist.NewTokenList(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		if revoked {
			if err := l.Set(5, statuslist.StatusInvalid); err != nil {
				t.Fatal(err)
			}
		}
		claim, err := l.Claim()
		if err != nil {
			t.Fatal(err)
		}
		tok, err := statuslist.SignToken(ctx, iss.key, iss.vm, statuslist.TokenClaims{
			Subject: url, IssuedAt: time.Now().Add(-time.Minute), ExpiresAt: time.Now().Add(time.Hour), StatusList: claim})
		if err != nil {
			t.Fatal(err)
		}
		return []byte(tok)
	}
	host.put("/status/tokens/1", token(false))
	sd, err := sdjwt.IssueVC(ctx, iss.key, sdjwt.VC{
		Issuer: iss.did, KeyID: iss.vm, Type: "https://agentid.dev/vct/agent-identity/v1",
		Claims:   map[string]any{"name": "invoice-bot"},
		Status:   map[string]any{"status_list": map[string]any{"idx": 5, "uri": url}},
		IssuedAt: testNow.Add(-time.Minute), Expiry: testNow.Add(time.Hour),
	}, sdjwt.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := newTestVerifier(WithStatusChecker(fetchingChecker(t)))
	if res := v.VerifyCredential(ctx, sd, Options{}); !res.Passed(CheckStatus) {
		t.Fatalf("before revocation: %s", dump(res))
	}
	host.put("/status/tokens/1", token(true))
	res := v.VerifyCredential(ctx, sd, Options{})
	wantFailed(t, res, CheckStatus)
	for _, p := range res.Errors {
		if p.Check == CheckStatus && p.Code != CodeRevoked {
			t.Fatalf("status code %q, want %q", p.Code, CodeRevoked)
		}
	}
}
