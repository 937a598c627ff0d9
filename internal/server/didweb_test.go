package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/netguard"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/statusfetch"
)

// localhostTLS is a self-signed certificate for localhost and 127.0.0.1, and
// a pool that trusts it: an HTTPS server on loopback with a host name, as
// did:web needs.
func localhostTLS(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// didWebFixture is an issuer served over HTTPS at https://localhost:PORT,
// whose organizations have did:web identities, and a verifier that
// resolves did:web and fetches status lists from it, trusting only the test
// certificate.
type didWebFixture struct {
	*issuanceFixture
	iss     *issuer.Service
	webDID  string // the default organization's bare did:web
	orgDID  string // did:web:…:orgs:default
	bDID    string // did:web:…:orgs:globex
	live    *verifier.Verifier
	offline *verifier.Verifier
}

func newDIDWebFixture(t *testing.T, st *store.Store) *didWebFixture {
	t.Helper()
	ctx := context.Background()
	km, boot := bootstrapKeys(t, st, issuanceTokenA)
	orgB, err := issuer.CreateOrganization(ctx, st, km, issuer.OrganizationOptions{Slug: "globex", AdminToken: "tok_globex_" + strings.Repeat("y", 20)})
	if err != nil {
		t.Fatal(err)
	}

	// A server that ran over plain http has no did:web identities.
	plain, err := issuer.New(issuer.WithStore(st), issuer.WithKeyManager(km), issuer.WithPublicURL("http://localhost:1"), issuer.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if added, err := plain.EnsureWebIdentities(ctx); err != nil || len(added) != 0 {
		t.Fatalf("http public URL: added %v, %v; want none", added, err)
	}

	cert, pool := localhostTLS(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(raw, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	port := raw.Addr().(*net.TCPAddr).Port
	base := "https://localhost:" + strconv.Itoa(port)
	iss, err := issuer.New(issuer.WithStore(st), issuer.WithKeyManager(km), issuer.WithPublicURL(base),
		issuer.WithLogger(discardLogger()), issuer.WithStatusListMaxAge(0))
	if err != nil {
		t.Fatal(err)
	}
	// The same database, now served at an https URL: the identities are
	// added at startup.
	added, err := iss.EnsureWebIdentities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	host := "did:web:localhost%3A" + strconv.Itoa(port)
	f := &didWebFixture{iss: iss, webDID: host, orgDID: host + ":orgs:default", bDID: host + ":orgs:globex"}
	if len(added) != 6 {
		t.Fatalf("EnsureWebIdentities added %d identities, want 6 (2 keys × 3 DIDs): %+v", len(added), added)
	}
	for _, id := range added {
		if !slices.Contains([]string{f.webDID, f.orgDID, f.bDID}, id.DID) || (id.KeyID != "key-1" && id.KeyID != "key-2") {
			t.Fatalf("unexpected did:web identity %s #%s", id.DID, id.KeyID)
		}
	}
	// Running it again (another replica starting) adds nothing.
	if again, err := iss.EnsureWebIdentities(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second EnsureWebIdentities: %v, %v", again, err)
	}

	s := newTestServer(t, st, WithIssuer(iss), WithPublicURL(base))
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(sctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(client.CloseIdleConnections)
	f.issuanceFixture = &issuanceFixture{url: base, st: st, orgA: boot.Organization, tokA: issuanceTokenA,
		orgB: orgB.Organization, tokB: orgB.Token, didsA: map[string]string{}, km: km, client: client}
	for _, id := range boot.Identities {
		f.didsA[id.KeyType] = id.DID
	}

	// The verifier resolves did:web over HTTPS with a client that trusts
	// the test certificate (and nothing else), without a cache, and
	// fetches status lists from the server on every verification.
	reg := didmethods.NewRegistry()
	reg.Register("key", didmethods.KeyResolver{})
	reg.Register("web", didmethods.NewWebResolver(didmethods.WithHTTPClient(client)))
	sc, err := statusfetch.New(reg,
		statusfetch.WithPolicy(netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")})),
		statusfetch.WithTLSConfig(&tls.Config{RootCAs: pool}),
		statusfetch.WithStaleness(0))
	if err != nil {
		t.Fatal(err)
	}
	f.live = verifier.New(verifier.WithResolver(reg), verifier.WithStatusChecker(verifier.HTTPStatusChecker(sc)))
	f.offline = verifier.New(verifier.WithResolver(reg))
	return f
}

// didDoc fetches and decodes a DID document.
func (f *didWebFixture) didDoc(t *testing.T, path string) (*didmethods.Document, response) {
	t.Helper()
	r := f.call(t, "GET", path, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	var doc didmethods.Document
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return &doc, r
}

func refIDs(refs []didmethods.VerificationRef) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.MethodID())
	}
	return out
}

// proofVM is the verification method of an issued credential: the Data
// Integrity proof's, or the SD-JWT's kid.
func proofVM(t *testing.T, vc any) string {
	t.Helper()
	switch v := vc.(type) {
	case map[string]any:
		proof, _ := v["proof"].(map[string]any)
		vm, _ := proof["verificationMethod"].(string)
		return vm
	case string:
		head, _, _ := strings.Cut(v, ".")
		raw, err := base64.RawURLEncoding.DecodeString(head)
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Kid string `json:"kid"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		return h.Kid
	}
	t.Fatalf("unexpected credential %T", vc)
	return ""
}

func (f *didWebFixture) issueAs(t *testing.T, issuerDID string, options map[string]any) any {
	t.Helper()
	doc := identityDoc(t)
	if issuerDID != "" {
		doc["issuer"] = issuerDID
	}
	return f.issue(t, f.tokA, doc, options)
}

func (f *didWebFixture) wantVerified(t *testing.T, vc any, what string) {
	t.Helper()
	ctx := context.Background()
	if res := f.offline.VerifyCredential(ctx, vc, verifier.Options{}); !res.Verified {
		raw, _ := json.Marshal(res)
		t.Fatalf("%s: not verified offline: %s", what, raw)
	}
	wantLiveVerified(t, f.live.VerifyCredential(ctx, vc, verifier.Options{}), what)
}

// The did:web documents: where they are served, with which media type,
// validators and keys; 304 on a matching ETag; 404 for what is not there.
func TestDIDWebDocuments(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newDIDWebFixture(t, st)
		for _, c := range []struct{ path, did string }{
			{"/.well-known/did.json", f.webDID},
			{"/orgs/default/did.json", f.orgDID},
			{"/orgs/globex/did.json", f.bDID},
		} {
			doc, r := f.didDoc(t, c.path)
			if ct := r.header.Get("Content-Type"); ct != issuer.ContentTypeDIDJSON {
				t.Errorf("%s: Content-Type %q", c.path, ct)
			}
			if r.header.Get("ETag") == "" || !strings.Contains(r.header.Get("Cache-Control"), "max-age=") {
				t.Errorf("%s: ETag %q, Cache-Control %q", c.path, r.header.Get("ETag"), r.header.Get("Cache-Control"))
			}
			if doc.ID != c.did || len(doc.VerificationMethod) != 2 {
				t.Fatalf("%s: %s with %d methods, want %s with 2", c.path, doc.ID, len(doc.VerificationMethod), c.did)
			}
			for i, vm := range doc.VerificationMethod {
				want := c.did + "#key-" + strconv.Itoa(i+1)
				if vm.ID != want || vm.Type != "Multikey" || vm.Controller != c.did {
					t.Errorf("%s: method %d = %+v, want %s", c.path, i, vm, want)
				}
				if !doc.Authorizes(didmethods.Relationship("assertionMethod"), vm.ID) || !doc.Authorizes(didmethods.Relationship("authentication"), vm.ID) {
					t.Errorf("%s: %s not in assertionMethod and authentication", c.path, vm.ID)
				}
			}
			// The keys are the organization's did:key keys.
			wantKey := "did:key:" + doc.VerificationMethod[0].PublicKeyMultibase
			if c.did != f.bDID && wantKey != f.didsA["ed25519"] {
				t.Errorf("%s: key-1 %s is not the Ed25519 did:key %s", c.path, wantKey, f.didsA["ed25519"])
			}
			// The DID maps back to the URL it is served at.
			u, err := didmethods.WebDocumentURL(c.did)
			if err != nil || u != f.url+c.path {
				t.Errorf("WebDocumentURL(%s) = %s, %v; want %s", c.did, u, err, f.url+c.path)
			}
			r = f.call(t, "GET", c.path, "", nil, "If-None-Match", r.header.Get("ETag"))
			if r.status != http.StatusNotModified {
				t.Errorf("%s with If-None-Match: %d", c.path, r.status)
			}
			r = f.call(t, "GET", c.path, "", nil, "Accept", "application/json")
			if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("%s as application/json: %d %q", c.path, r.status, r.header.Get("Content-Type"))
			}
		}
		for _, p := range []string{"/orgs/nope/did.json", "/orgs/Bad%2Fslug/did.json", "/did.json"} {
			if r := f.call(t, "GET", p, "", nil); r.status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", p, r.status)
			}
		}
	})
}

// Issue as the did:web and as the did:key with key 1, rotate, issue with
// key 2: every credential verifies (did:web resolved over HTTPS), the new
// ones name the new key; the old credentials' status lists keep being
// served, re-signed and verifiable, also after revoking.
func TestKeyRotation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newDIDWebFixture(t, st)

		oldWeb := f.issueAs(t, f.webDID, nil)
		if vm := proofVM(t, oldWeb); vm != f.webDID+"#key-1" {
			t.Fatalf("did:web credential signed by %s, want #key-1", vm)
		}
		oldOrgWeb := f.issueAs(t, f.orgDID, map[string]any{"cryptosuite": "ecdsa-rdfc-2019"})
		if vm := proofVM(t, oldOrgWeb); vm != f.orgDID+"#key-2" {
			t.Fatalf("did:web ecdsa credential signed by %s, want #key-2", vm)
		}
		oldSD := f.issueAs(t, f.webDID, map[string]any{"format": "dc+sd-jwt"})
		if vm := proofVM(t, oldSD); vm != f.webDID+"#key-2" {
			t.Fatalf("did:web SD-JWT VC kid %s, want #key-2", vm)
		}
		oldKey := f.issueAs(t, "", nil)
		if iss, _ := oldKey.(map[string]any)["issuer"].(string); iss != f.didsA["ed25519"] {
			t.Fatalf("default issuer %s, want the Ed25519 did:key", iss)
		}
		for name, vc := range map[string]any{"old did:web": oldWeb, "old org did:web": oldOrgWeb, "old did:web SD-JWT": oldSD, "old did:key": oldKey} {
			f.wantVerified(t, vc, name)
		}
		bBefore, err := st.IssuerIdentities(ctx, f.orgB.ID)
		if err != nil {
			t.Fatal(err)
		}

		// Bad input: nothing changes.
		for _, body := range []string{`{"type":"rsa"}`, `{}`, `{"type":""}`, `{"type":7}`} {
			r := f.call(t, "POST", "/admin/organization/keys/rotate", f.tokA, body)
			assertProblem(t, r, http.StatusBadRequest, "/type")
		}
		if r := f.call(t, "POST", "/admin/organization/keys/rotate", "", `{"type":"ed25519"}`); r.status != http.StatusUnauthorized {
			t.Fatalf("rotate without token: %d", r.status)
		}

		r := f.call(t, "POST", "/admin/organization/keys/rotate", f.tokA, map[string]any{"type": "ed25519"})
		if r.status != http.StatusOK {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
		var rot struct {
			Retired, Added []identityView
		}
		if err := json.Unmarshal(r.body, &rot); err != nil {
			t.Fatal(err)
		}
		if len(rot.Retired) != 3 || len(rot.Added) != 3 {
			t.Fatalf("rotation retired %d and added %d identities, want 3 and 3: %s", len(rot.Retired), len(rot.Added), r.body)
		}
		var newKeyDID string
		for _, id := range rot.Added {
			if strings.HasPrefix(id.DID, "did:key:") {
				newKeyDID = id.DID
			} else if !strings.HasSuffix(id.VerificationMethod, "#key-3") || id.State != "active" {
				t.Errorf("new did:web key %+v, want #key-3, active", id)
			}
		}
		for _, id := range rot.Retired {
			if id.State != "retired" || id.RetiredAt == nil || id.KeyType != "ed25519" {
				t.Errorf("retired %+v", id)
			}
		}
		if newKeyDID == "" || newKeyDID == f.didsA["ed25519"] {
			t.Fatalf("no new did:key: %s", r.body)
		}

		// Org B is untouched by org A's rotation.
		bAfter, err := st.IssuerIdentities(ctx, f.orgB.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(bAfter) != len(bBefore) {
			t.Fatalf("org B has %d identities after org A's rotation, had %d", len(bAfter), len(bBefore))
		}
		for i := range bAfter {
			if bAfter[i].DID != bBefore[i].DID || bAfter[i].Active != bBefore[i].Active {
				t.Fatalf("org B identity %d changed: %+v → %+v", i, bBefore[i], bAfter[i])
			}
		}

		// New credentials use the new key; the retired did:key cannot issue.
		newWeb := f.issueAs(t, f.webDID, nil)
		if vm := proofVM(t, newWeb); vm != f.webDID+"#key-3" {
			t.Fatalf("did:web credential after rotation signed by %s, want #key-3", vm)
		}
		newKey := f.issueAs(t, "", nil)
		if iss, _ := newKey.(map[string]any)["issuer"].(string); iss != newKeyDID {
			t.Fatalf("default issuer after rotation %s, want %s", iss, newKeyDID)
		}
		doc := identityDoc(t)
		doc["issuer"] = f.didsA["ed25519"]
		assertProblem(t, f.call(t, "POST", "/credentials/issue", f.tokA, map[string]any{"credential": doc}), http.StatusBadRequest, "/credential/issuer")
		// The P-256 key was not rotated.
		if vm := proofVM(t, f.issueAs(t, f.webDID, map[string]any{"format": "dc+sd-jwt"})); vm != f.webDID+"#key-2" {
			t.Fatalf("SD-JWT VC after Ed25519 rotation: kid %s, want #key-2", vm)
		}

		// Everything verifies: old and new, did:web and did:key.
		for name, vc := range map[string]any{"old did:web": oldWeb, "old org did:web": oldOrgWeb, "old did:web SD-JWT": oldSD,
			"old did:key": oldKey, "new did:web": newWeb, "new did:key": newKey} {
			f.wantVerified(t, vc, name+" after rotation")
		}

		// The did:web documents have the three keys; the retired one only
		// for assertions.
		for _, p := range []string{"/.well-known/did.json", "/orgs/default/did.json"} {
			d, _ := f.didDoc(t, p)
			if len(d.VerificationMethod) != 3 {
				t.Fatalf("%s: %d methods after rotation, want 3", p, len(d.VerificationMethod))
			}
			if got := refIDs(d.AssertionMethod); len(got) != 3 {
				t.Errorf("%s: assertionMethod %v, want 3 keys", p, got)
			}
			if got := refIDs(d.Authentication); len(got) != 2 || slices.Contains(got, d.ID+"#key-1") {
				t.Errorf("%s: authentication %v, want #key-2 and #key-3", p, got)
			}
		}
		// Org B's document is unchanged.
		if d, _ := f.didDoc(t, "/orgs/globex/did.json"); len(d.VerificationMethod) != 2 {
			t.Errorf("org B's document has %d keys after org A's rotation", len(d.VerificationMethod))
		}

		// GET /admin/organization shows the states.
		r = f.call(t, "GET", "/admin/organization", f.tokA, nil)
		var org struct {
			IssuerIdentities []identityView `json:"issuerIdentities"`
		}
		if err := json.Unmarshal(r.body, &org); err != nil {
			t.Fatal(err)
		}
		states := map[string]int{}
		for _, id := range org.IssuerIdentities {
			states[id.State]++
		}
		if states["retired"] != 3 || states["active"] != 6 {
			t.Fatalf("identity states %v, want 3 retired, 6 active: %s", states, r.body)
		}

		// Revoking the old credentials after rotation: their lists, signed
		// by the retired did:key and by the did:web, show it and verify.
		for name, vc := range map[string]any{"old did:key": oldKey, "old did:web": oldWeb} {
			if r := f.setStatus(t, f.tokA, credentialID(vc), "revoked"); r.status != http.StatusOK {
				t.Fatalf("revoke %s: %d %s", name, r.status, r.body)
			}
			wantLiveStatusFailure(t, f.live.VerifyCredential(ctx, vc, verifier.Options{}), "revoked", name+" revoked after rotation")
		}
		// The list of the old did:key credential is signed by the old key.
		entry := oldKey.(map[string]any)["credentialStatus"].([]any)[0].(map[string]any)
		listURL, _ := entry["statusListCredential"].(string)
		r = f.call(t, "GET", strings.TrimPrefix(listURL, f.url), "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d", listURL, r.status)
		}
		var list map[string]any
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatal(err)
		}
		if list["issuer"] != f.didsA["ed25519"] || !strings.HasPrefix(proofVM(t, list), f.didsA["ed25519"]+"#") {
			t.Fatalf("old did:key status list issued by %v, signed by %s", list["issuer"], proofVM(t, list))
		}
		if res := f.offline.VerifyCredential(ctx, list, verifier.Options{}); !res.Verified {
			raw, _ := json.Marshal(res)
			t.Fatalf("re-signed status list does not verify: %s", raw)
		}
		// New credentials are unaffected.
		wantLiveVerified(t, f.live.VerifyCredential(ctx, newKey, verifier.Options{}), "new did:key after revocations")
		wantLiveVerified(t, f.live.VerifyCredential(ctx, newWeb, verifier.Options{}), "new did:web after revocations")

		// Org B's token rotates org B's key, never org A's.
		r = f.call(t, "POST", "/admin/organization/keys/rotate", f.tokB, map[string]any{"type": "p256"})
		if r.status != http.StatusOK {
			t.Fatalf("rotate as B: %d %s", r.status, r.body)
		}
		if err := json.Unmarshal(r.body, &rot); err != nil {
			t.Fatal(err)
		}
		for _, id := range append(rot.Retired, rot.Added...) {
			got, err := st.IssuerIdentitiesByDID(ctx, id.DID)
			if err != nil || len(got) == 0 || got[0].OrganizationID != f.orgB.ID {
				t.Fatalf("org B's rotation touched %s (%v)", id.DID, err)
			}
		}
		if vm := proofVM(t, f.issueAs(t, f.webDID, map[string]any{"format": "dc+sd-jwt"})); vm != f.webDID+"#key-2" {
			t.Fatalf("org A's P-256 key changed by org B's rotation: kid %s", vm)
		}
	})
}
