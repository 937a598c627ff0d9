package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/netguard"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/statusfetch"
)

// issuanceFixture is a real server on loopback with an issuer service: the
// default organization A (bootstrapped, two did:key identities) and a
// second organization B with an Ed25519 identity of its own.
type issuanceFixture struct {
	url        string
	st         *store.Store
	orgA, orgB *store.Organization
	tokA, tokB string
	didsA      map[string]string // key type → DID
	didB       string
	km         *keys.Manager
	client     *http.Client
}

const issuanceTokenA = "tok_issuance_A_0123456789abcdef"

// bootstrapKeys bootstraps st as a first serve would, with admin token
// token and software keys under a new key-encryption key, and returns the
// key manager and what Bootstrap made.
func bootstrapKeys(t testing.TB, st *store.Store, token string) (*keys.Manager, *issuer.BootstrapResult) {
	t.Helper()
	km := testkeys.Manager(t, st)
	boot, err := issuer.Bootstrap(context.Background(), st, km, issuer.BootstrapOptions{AdminToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return km, boot
}

// startIssuanceServer serves st with an issuer on a loopback listener and
// returns its URL.
func startIssuanceServer(t *testing.T, st *store.Store, km *keys.Manager, opts ...Option) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	iss, err := issuer.New(issuer.WithStore(st), issuer.WithKeyManager(km), issuer.WithPublicURL(base),
		issuer.WithLogger(discardLogger()), issuer.WithStatusListMaxAge(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, st, append([]Option{WithIssuer(iss), WithPublicURL(base)}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return base
}

func newIssuanceFixture(t *testing.T, st *store.Store, opts ...Option) *issuanceFixture {
	t.Helper()
	ctx := context.Background()
	km, boot := bootstrapKeys(t, st, issuanceTokenA)
	f := &issuanceFixture{st: st, orgA: boot.Organization, tokA: issuanceTokenA, didsA: map[string]string{}, km: km,
		client: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}}}
	t.Cleanup(f.client.CloseIdleConnections)
	for _, id := range boot.Identities {
		f.didsA[id.KeyType] = id.DID
	}
	f.orgB, f.tokB = testOrg(t, st, "globex")
	signer, err := km.Create(ctx, software.Scheme, keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	f.didB, _ = didmethods.CreateKey(signer.Public())
	if err := st.AddIssuerIdentity(ctx, &store.IssuerIdentity{OrganizationID: f.orgB.ID, DID: f.didB, KeyURI: signer.URI(),
		KeyType: string(keys.Ed25519), Cryptosuite: "eddsa-rdfc-2022", Active: true}); err != nil {
		t.Fatal(err)
	}
	f.url = startIssuanceServer(t, st, km, opts...)
	return f
}

// call sends a request with a JSON body (a string is sent as is) and token.
func (f *issuanceFixture) call(t testing.TB, method, path, token string, body any, header ...string) response {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, f.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, f.client, req, header...)
}

// send sets the header pairs on req, sends it with client and reads the
// whole response.
func send(t testing.TB, client *http.Client, req *http.Request, header ...string) response {
	t.Helper()
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// identityDoc is the schemas package's AgentIdentityCredential example
// about a fresh agent did:key, without issuer, id, validFrom or status.
func identityDoc(t testing.TB) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../../schemas/testdata/agent-identity.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := credential.DecodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"issuer", "id", "validFrom", "credentialStatus"} {
		delete(m, k)
	}
	m["validUntil"] = time.Now().UTC().Add(24 * time.Hour).Format(time.RFC3339)
	agent, err := software.Generate(keys.P256)
	if err != nil {
		t.Fatal(err)
	}
	did, _ := didmethods.CreateKey(agent.Public())
	m["credentialSubject"].(map[string]any)["id"] = did
	return m
}

// v11Doc is a VC 1.1 credential of the W3C examples.
func v11Doc() map[string]any {
	return map[string]any{
		"@context":          []any{credential.ContextV1, map[string]any{"@vocab": "https://example.com/vocab#"}},
		"type":              []any{"VerifiableCredential", "UniversityDegreeCredential"},
		"credentialSubject": map[string]any{"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "degree": map[string]any{"type": "BachelorDegree", "name": "Bachelor of Science and Arts"}},
	}
}

// issue issues doc with options as token and returns the verifiable
// credential (a map, or an SD-JWT string).
func (f *issuanceFixture) issue(t testing.TB, token string, doc map[string]any, options map[string]any) any {
	t.Helper()
	body := map[string]any{"credential": doc}
	if options != nil {
		body["options"] = options
	}
	r := f.call(t, "POST", "/credentials/issue", token, body)
	if r.status != http.StatusCreated {
		t.Fatalf("issue: %d %s", r.status, r.body)
	}
	var out struct {
		VC json.RawMessage `json:"verifiableCredential"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	var s string
	if json.Unmarshal(out.VC, &s) == nil {
		return s
	}
	m, err := credential.DecodeObject(out.VC)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *issuanceFixture) setStatus(t *testing.T, token, id, status string) response {
	t.Helper()
	return f.call(t, "POST", "/credentials/status", token, map[string]any{
		"credentialId": id, "credentialStatus": []any{map[string]any{"type": "BitstringStatusListCredential", "status": status}},
	})
}

// fetchingVerifier verifies with status lists fetched from the test server
// on every verification.
func fetchingVerifier(t *testing.T) *verifier.Verifier {
	t.Helper()
	sc, err := statusfetch.New(didmethods.NewDefaultRegistry(),
		statusfetch.WithPolicy(netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})),
		statusfetch.WithInsecureLoopback(true),
		statusfetch.WithStaleness(0))
	if err != nil {
		t.Fatal(err)
	}
	return verifier.New(verifier.WithStatusChecker(verifier.HTTPStatusChecker(sc)))
}

func wantLiveVerified(t *testing.T, res *verifier.Result, what string) {
	t.Helper()
	if !res.Verified || !res.Passed(verifier.CheckStatus) {
		raw, _ := json.Marshal(res)
		t.Fatalf("%s: not verified with status: %s", what, raw)
	}
}

func wantLiveStatusFailure(t *testing.T, res *verifier.Result, code, what string) {
	t.Helper()
	if res.Verified || !res.Failed(verifier.CheckStatus) {
		raw, _ := json.Marshal(res)
		t.Fatalf("%s: want status failure %s: %s", what, code, raw)
	}
	for _, p := range res.Errors {
		if p.Check == verifier.CheckStatus && p.Code != code {
			t.Fatalf("%s: status code %q, want %q", what, p.Code, code)
		}
	}
}

func credentialID(vc any) string {
	if m, ok := vc.(map[string]any); ok {
		id, _ := m["id"].(string)
		return id
	}
	return ""
}

// Issue VC 2.0 and 1.1 with both cryptosuites and an SD-JWT VC; each
// verifies offline, and against the live status lists; revocation,
// suspension and reinstatement show on the very next verification.
func TestIssuanceEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		offline := verifier.New()
		live := fetchingVerifier(t)

		type issued struct {
			name string
			vc   any
			id   string
		}
		var all []issued
		for _, c := range []struct {
			name    string
			doc     map[string]any
			options map[string]any
		}{
			{"vc2-eddsa", identityDoc(t), nil},
			{"vc2-ecdsa", identityDoc(t), map[string]any{"cryptosuite": "ecdsa-rdfc-2019"}},
			{"vc11-eddsa", v11Doc(), map[string]any{"cryptosuite": "eddsa-rdfc-2022"}},
			{"vc11-ecdsa", v11Doc(), map[string]any{"cryptosuite": "ecdsa-rdfc-2019", "format": "ldp_vc"}},
			{"sdjwt", identityDoc(t), map[string]any{"format": "dc+sd-jwt"}},
		} {
			vc := f.issue(t, f.tokA, c.doc, c.options)
			id := credentialID(vc)
			if m, ok := vc.(map[string]any); ok {
				cred := credential.NewCredential(m)
				if !strings.HasPrefix(id, "urn:uuid:") || len(cred.Status()) != 2 {
					t.Fatalf("%s: id %q, status %v", c.name, id, cred.Status())
				}
				iss, _ := cred.Issuer()
				want := f.didsA["ed25519"]
				if strings.Contains(c.name, "ecdsa") {
					want = f.didsA["p256"]
				}
				if iss != want {
					t.Fatalf("%s: issuer %s, want %s", c.name, iss, want)
				}
				if _, ok := cred.NotBefore(); !ok {
					t.Fatalf("%s: no validFrom/issuanceDate", c.name)
				}
			} else {
				// The SD-JWT's jti is the credential id.
				res := offline.VerifyCredential(ctx, vc, verifier.Options{})
				if !res.Verified || res.Credential == nil {
					raw, _ := json.Marshal(res)
					t.Fatalf("sdjwt offline: %s", raw)
				}
				list := f.call(t, "GET", "/credentials?type=AgentIdentityCredential&limit=1000", f.tokA, nil).json(t)["credentials"].([]any)
				for _, e := range list {
					if e.(map[string]any)["format"] == "dc+sd-jwt" {
						id = e.(map[string]any)["id"].(string)
					}
				}
			}
			if res := offline.VerifyCredential(ctx, vc, verifier.Options{}); !res.Verified {
				raw, _ := json.Marshal(res)
				t.Fatalf("%s offline: %s", c.name, raw)
			}
			wantLiveVerified(t, live.VerifyCredential(ctx, vc, verifier.Options{}), c.name+" live")
			all = append(all, issued{c.name, vc, id})
		}

		byName := map[string]issued{}
		for _, c := range all {
			byName[c.name] = c
		}

		// Revoke: the very next verification fails; revocation is final.
		rev := byName["vc2-eddsa"]
		if r := f.setStatus(t, f.tokA, rev.id, "revoked"); r.status != 200 || r.json(t)["status"] != "revoked" {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, rev.vc, verifier.Options{}), verifier.CodeRevoked, "revoked")
		assertProblem(t, f.setStatus(t, f.tokA, rev.id, "active"), http.StatusConflict, "")
		assertProblem(t, f.setStatus(t, f.tokA, rev.id, "suspended"), http.StatusConflict, "")
		if r := f.setStatus(t, f.tokA, rev.id, "revoked"); r.status != 200 {
			t.Fatalf("revoking twice: %d %s", r.status, r.body)
		}

		// Suspend and reinstate, for both status mechanisms.
		for _, name := range []string{"vc2-ecdsa", "vc11-eddsa", "sdjwt"} {
			c := byName[name]
			if r := f.setStatus(t, f.tokA, c.id, "suspended"); r.status != 200 {
				t.Fatalf("%s suspend: %d %s", name, r.status, r.body)
			}
			wantLiveStatusFailure(t, live.VerifyCredential(ctx, c.vc, verifier.Options{}), verifier.CodeSuspended, name+" suspended")
			if r := f.setStatus(t, f.tokA, c.id, "reinstated"); r.status != 200 || r.json(t)["status"] != "active" {
				t.Fatalf("%s reinstate: %d %s", name, r.status, r.body)
			}
			wantLiveVerified(t, live.VerifyCredential(ctx, c.vc, verifier.Options{}), name+" reinstated")
		}
		sd := byName["sdjwt"]
		if r := f.setStatus(t, f.tokA, sd.id, "revoked"); r.status != 200 {
			t.Fatalf("sdjwt revoke: %d %s", r.status, r.body)
		}
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, sd.vc, verifier.Options{}), verifier.CodeRevoked, "sdjwt revoked")
		// The other credentials are untouched.
		wantLiveVerified(t, live.VerifyCredential(ctx, byName["vc11-ecdsa"].vc, verifier.Options{}), "untouched")

		// GET /credentials/{id} and the listing with filters.
		r := f.call(t, "GET", "/credentials/"+url.PathEscape(rev.id), f.tokA, nil)
		if r.status != 200 {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		got := r.json(t)
		if got["credential"].(map[string]any)["status"] != "revoked" || len(got["credentialStatus"].([]any)) != 2 {
			t.Fatalf("get: %s", r.body)
		}
		page := f.call(t, "GET", "/credentials?status=revoked", f.tokA, nil).json(t)
		if n := len(page["credentials"].([]any)); n != 2 {
			t.Fatalf("%d revoked credentials listed, want 2", n)
		}
		page = f.call(t, "GET", "/credentials?type=UniversityDegreeCredential&limit=1", f.tokA, nil).json(t)
		next, _ := page["next"].(string)
		if len(page["credentials"].([]any)) != 1 || next == "" {
			t.Fatalf("first page: %v", page)
		}
		page = f.call(t, "GET", "/credentials?type=UniversityDegreeCredential&limit=1&after="+next, f.tokA, nil).json(t)
		if len(page["credentials"].([]any)) != 1 || page["next"] != nil {
			t.Fatalf("second page: %v", page)
		}
		agent := credential.NewCredential(byName["vc2-ecdsa"].vc.(map[string]any)).Subjects()[0]["id"].(string)
		page = f.call(t, "GET", "/credentials?agent="+url.QueryEscape(agent), f.tokA, nil).json(t)
		if l := page["credentials"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != byName["vc2-ecdsa"].id {
			t.Fatalf("by agent: %v", page)
		}
		future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		if l := f.call(t, "GET", "/credentials?from="+future, f.tokA, nil).json(t)["credentials"].([]any); len(l) != 0 {
			t.Fatalf("from the future: %v", l)
		}
		assertProblem(t, f.call(t, "GET", "/credentials?colour=red", f.tokA, nil), 400, "colour")
		assertProblem(t, f.call(t, "GET", "/credentials?status=lost", f.tokA, nil), 400, "status")
		assertProblem(t, f.call(t, "GET", "/credentials/urn:uuid:nope", f.tokA, nil), 404, "")
	})
}

// GET /status/{list}: public, ETag and Cache-Control, 304 to If-None-Match
// while nothing changed, a new ETag right after a change.
func TestStatusListHTTPCaching(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newIssuanceFixture(t, st)
		vc := f.issue(t, f.tokA, identityDoc(t), nil).(map[string]any)
		entry := credential.NewCredential(vc).Status()[0]
		listURL := entry["statusListCredential"].(string)
		path := strings.TrimPrefix(listURL, f.url)

		r := f.call(t, "GET", path, "", nil)
		if r.status != 200 || r.header.Get("ETag") == "" || r.header.Get("Cache-Control") != "public, max-age=30" ||
			!strings.HasPrefix(r.header.Get("Content-Type"), issuer.ContentTypeStatusListCredential) {
			t.Fatalf("GET %s: %d %v %s", path, r.status, r.header, r.body)
		}
		etag := r.header.Get("ETag")
		if r2 := f.call(t, "GET", path, "", nil, "If-None-Match", etag); r2.status != http.StatusNotModified || len(r2.body) != 0 {
			t.Fatalf("revalidation: %d %s", r2.status, r2.body)
		}
		if r := f.setStatus(t, f.tokA, vc["id"].(string), "revoked"); r.status != 200 {
			t.Fatal(r.status)
		}
		r3 := f.call(t, "GET", path, "", nil, "If-None-Match", etag)
		if r3.status != 200 || r3.header.Get("ETag") == etag {
			t.Fatalf("after revocation: %d etag %s (was %s)", r3.status, r3.header.Get("ETag"), etag)
		}
		assertProblem(t, f.call(t, "GET", "/status/0123456789abcdef", "", nil), 404, "")
		assertProblem(t, f.call(t, "GET", "/status/..%2fadmin", "", nil), 404, "")

		sd := f.issue(t, f.tokA, identityDoc(t), map[string]any{"format": "dc+sd-jwt"}).(string)
		res := verifier.New().VerifyCredential(context.Background(), sd, verifier.Options{})
		if res.Credential == nil {
			t.Fatal("no facts")
		}
		var tokenPath string
		lists := f.call(t, "GET", "/credentials?type=AgentIdentityCredential", f.tokA, nil).json(t)["credentials"].([]any)
		for _, l := range lists {
			if l.(map[string]any)["format"] == "dc+sd-jwt" {
				d := f.call(t, "GET", "/credentials/"+url.PathEscape(l.(map[string]any)["id"].(string)), f.tokA, nil).json(t)
				tokenPath = strings.TrimPrefix(d["credentialStatus"].([]any)[0].(map[string]any)["statusListCredential"].(string), f.url)
			}
		}
		tr := f.call(t, "GET", tokenPath, "", nil)
		if tr.status != 200 || tr.header.Get("Content-Type") != "application/statuslist+jwt" || strings.Count(string(tr.body), ".") != 2 {
			t.Fatalf("token list: %d %v %s", tr.status, tr.header, tr.body)
		}
	})
}

// Bad input is a 400 problem naming the field, and writes nothing.
func TestIssuanceBadInput(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		body := func(doc map[string]any, options map[string]any) map[string]any {
			b := map[string]any{"credential": doc}
			if options != nil {
				b["options"] = options
			}
			return b
		}
		noOperator := identityDoc(t)
		delete(noOperator["credentialSubject"].(map[string]any), "operator")
		undefined := identityDoc(t)
		undefined["favouriteColour"] = "blue"
		foreign := identityDoc(t)
		foreign["issuer"] = f.didB
		foreignObj := identityDoc(t)
		foreignObj["issuer"] = map[string]any{"id": f.didB}
		withProof := identityDoc(t)
		withProof["proof"] = map[string]any{"type": "DataIntegrityProof"}
		badDate := identityDoc(t)
		badDate["validUntil"] = "tomorrow"
		v11 := v11Doc()
		for _, c := range []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"malformed JSON", `{"credential": {`, 400, "/"},
			{"not an object", `[1, 2]`, 400, "/"},
			{"no credential", `{"options": {}}`, 400, "/credential"},
			{"credential not an object", `{"credential": "x"}`, 400, "/credential"},
			{"duplicate key", `{"credential": {"id": "urn:a", "id": "urn:b"}}`, 400, ""},
			{"oversize", `{"credential": {"x": "` + strings.Repeat("a", int(DefaultMaxBodyBytes)) + `"}}`, 413, ""},
			{"schema violation", body(noOperator, nil), 400, "/credential/credentialSubject/operator"},
			{"undefined term", body(undefined, nil), 400, ""},
			{"bad date", body(badDate, nil), 400, "/credential/validUntil"},
			{"foreign issuer", body(foreign, nil), 400, "/credential/issuer"},
			{"foreign issuer object", body(foreignObj, nil), 400, "/credential/issuer/id"},
			{"proof present", body(withProof, nil), 400, "/credential/proof"},
			{"unknown cryptosuite", body(identityDoc(t), map[string]any{"cryptosuite": "rsa-2048"}), 400, "/options/cryptosuite"},
			{"unknown format", body(identityDoc(t), map[string]any{"format": "jwt_vc"}), 400, "/options/format"},
			{"unknown option", body(identityDoc(t), map[string]any{"cryptosute": "eddsa-rdfc-2022"}), 400, "/options/cryptosute"},
			{"suite of another key", body(map[string]any{"issuer": f.didsA["ed25519"]}, map[string]any{"cryptosuite": "ecdsa-rdfc-2019"}), 400, ""},
			{"cryptosuite with sd-jwt", body(identityDoc(t), map[string]any{"format": "dc+sd-jwt", "cryptosuite": "ecdsa-rdfc-2019"}), 400, "/options/cryptosuite"},
			{"sd-jwt without vct", body(v11, map[string]any{"format": "dc+sd-jwt"}), 400, "/options/vct"},
			{"status not a bool", body(identityDoc(t), map[string]any{"credentialStatus": "no"}), 400, "/options/credentialStatus"},
		} {
			t.Run(c.name, func(t *testing.T) {
				if m, ok := c.body.(map[string]any); ok {
					if d, ok := m["credential"].(map[string]any); ok && len(d) == 1 {
						m["credential"] = identityDoc(t)
						m["credential"].(map[string]any)["issuer"] = d["issuer"]
					}
				}
				p := assertProblem(t, f.call(t, "POST", "/credentials/issue", f.tokA, c.body), c.status, c.field)
				if c.name == "undefined term" && !strings.Contains(fmt.Sprint(p["errors"]), "/credential") {
					t.Fatalf("undefined term not named: %v", p)
				}
			})
		}
		for _, org := range []*store.Organization{f.orgA, f.orgB} {
			if n, err := st.CountIssuedCredentials(ctx, org.ID); err != nil || n != 0 {
				t.Fatalf("%d credentials stored after bad input (%v)", n, err)
			}
			if n, err := st.CountStatusEntries(ctx, org.ID); err != nil || n != 0 {
				t.Fatalf("%d status entries allocated after bad input (%v)", n, err)
			}
		}

		// A taken id is a 409, and the first credential is unchanged.
		doc := identityDoc(t)
		doc["id"] = "urn:uuid:6d0f5e26-8c1d-4f3e-9b8a-1c2d3e4f5a6b"
		f.issue(t, f.tokA, doc, nil)
		assertProblem(t, f.call(t, "POST", "/credentials/issue", f.tokA, map[string]any{"credential": doc}), 409, "")
		// Organization B may use the same id: ids are per organization.
		doc["issuer"] = f.didB
		f.issue(t, f.tokB, doc, nil)

		// Status requests.
		for _, c := range []struct {
			name  string
			body  any
			field string
		}{
			{"no id", map[string]any{"credentialStatus": []any{map[string]any{"type": "BitstringStatusListCredential", "status": "revoked"}}}, "/credentialId"},
			{"no status", map[string]any{"credentialId": "urn:x"}, "/credentialStatus"},
			{"bad status", map[string]any{"credentialId": "urn:x", "credentialStatus": []any{map[string]any{"type": "BitstringStatusListCredential", "status": "gone"}}}, "/credentialStatus/0/status"},
			{"bad type", map[string]any{"credentialId": "urn:x", "credentialStatus": []any{map[string]any{"type": "Nope", "status": "revoked"}}}, "/credentialStatus/0/type"},
			{"malformed", `{"credentialId": 7}`, "/credentialId"},
		} {
			assertProblem(t, f.call(t, "POST", "/credentials/status", f.tokA, c.body), 400, c.field)
		}
		// A credential issued without status has none to change.
		doc = identityDoc(t)
		vc := f.issue(t, f.tokA, doc, map[string]any{"credentialStatus": false}).(map[string]any)
		if _, ok := vc["credentialStatus"]; ok {
			t.Fatal("status entries despite credentialStatus false")
		}
		assertProblem(t, f.setStatus(t, f.tokA, vc["id"].(string), "revoked"), 409, "")
	})
}

// Organization B's token never sees or changes organization A's
// credentials: 404, as for a credential that does not exist. No or a bad
// token is 401.
func TestIssuanceTenantIsolation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		vc := f.issue(t, f.tokA, identityDoc(t), nil).(map[string]any)
		id := vc["id"].(string)
		path := "/credentials/" + url.PathEscape(id)

		assertProblem(t, f.call(t, "GET", path, f.tokB, nil), 404, "")
		for _, st := range []string{"revoked", "suspended", "active"} {
			assertProblem(t, f.setStatus(t, f.tokB, id, st), 404, "")
		}
		if l := f.call(t, "GET", "/credentials", f.tokB, nil).json(t)["credentials"].([]any); len(l) != 0 {
			t.Fatalf("B lists A's credentials: %v", l)
		}
		d := f.call(t, "GET", path, f.tokA, nil).json(t)
		if d["credential"].(map[string]any)["status"] != "active" {
			t.Fatalf("A's credential changed: %v", d)
		}
		wantLiveVerified(t, fetchingVerifier(t).VerifyCredential(ctx, vc, verifier.Options{}), "after B's attempts")

		for _, c := range []struct{ method, path string }{
			{"POST", "/credentials/issue"}, {"POST", "/credentials/status"}, {"GET", "/credentials"}, {"GET", path},
		} {
			assertProblem(t, f.call(t, c.method, c.path, "", map[string]any{}), 401, "")
			assertProblem(t, f.call(t, c.method, c.path, "not-a-token-at-all", map[string]any{}), 401, "")
		}
		// A token of A without the issuance scopes is 403.
		addToken(t, st, f.orgA.ID, "tok_auditor_only_0123456789", "audit")
		assertProblem(t, f.call(t, "POST", "/credentials/issue", "tok_auditor_only_0123456789", map[string]any{"credential": identityDoc(t)}), 403, "")
		if n, _ := st.CountIssuedCredentials(ctx, f.orgA.ID); n != 1 {
			t.Fatalf("%d credentials", n)
		}
	})
}

// 1,000 parallel issuances through HTTP get 1,000 distinct status indexes
// on each list.
func TestIssuanceParallelDistinctIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newIssuanceFixture(t, st)
		const n = 1000
		doc := identityDoc(t)
		raw, _ := json.Marshal(map[string]any{"credential": doc})
		type result struct {
			entries []map[string]any
			err     string
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := f.call(t, "POST", "/credentials/issue", f.tokA, raw)
				if r.status != http.StatusCreated {
					results[i].err = fmt.Sprintf("%d %s", r.status, r.body)
					return
				}
				var out struct {
					VC struct {
						Status []map[string]any `json:"credentialStatus"`
					} `json:"verifiableCredential"`
				}
				if err := json.Unmarshal(r.body, &out); err != nil {
					results[i].err = err.Error()
					return
				}
				results[i].entries = out.VC.Status
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		seen := map[string]bool{}
		for i, r := range results {
			if r.err != "" {
				t.Fatalf("issuance %d: %s", i, r.err)
			}
			if len(r.entries) != 2 {
				t.Fatalf("issuance %d: %d entries", i, len(r.entries))
			}
			for _, e := range r.entries {
				key := fmt.Sprint(e["statusListCredential"], "#", e["statusListIndex"])
				if seen[key] {
					t.Fatalf("index %s handed out twice", key)
				}
				seen[key] = true
			}
		}
		if cnt, _ := st.CountStatusEntries(context.Background(), f.orgA.ID); cnt != 2*n {
			t.Fatalf("%d entries stored, want %d", cnt, 2*n)
		}
		t.Logf("%s: %d parallel eddsa issuances over HTTP in %s (%.0f/s)", st.Driver(), n, elapsed, float64(n)/elapsed.Seconds())
	})
}
