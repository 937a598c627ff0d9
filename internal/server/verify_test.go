package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/credential/statuslist"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
	"github.com/agentid/agentid/verifier"
)

// keyParty is a software key with its did:key and verification method.
type keyParty struct {
	key *software.Key
	did string
	vm  string
}

func newKeyParty(t testing.TB, typ keys.KeyType) keyParty {
	t.Helper()
	k, did, vm := testkeys.New(t, typ)
	return keyParty{key: k, did: did, vm: vm}
}

// identityVC is the schemas package's AgentIdentityCredential example
// issued by iss about subject, valid from an hour ago for a day, with the
// given status entries (none when nil).
func identityVC(t testing.TB, iss, subject string, status []any) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../../schemas/testdata/agent-identity.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := credential.DecodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	m["id"] = "urn:uuid:" + randomHex(t)
	m["issuer"] = iss
	m["credentialSubject"].(map[string]any)["id"] = subject
	m["validFrom"] = time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	m["validUntil"] = time.Now().UTC().Add(24 * time.Hour).Format(time.RFC3339)
	delete(m, "credentialStatus")
	if status != nil {
		m["credentialStatus"] = status
	}
	return m
}

func randomHex(t testing.TB) string {
	t.Helper()
	k, err := software.Generate(keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	did, _ := didmethods.CreateKey(k.Public())
	return strings.ToLower(did[len(did)-12:])
}

// signVC adds an assertionMethod Data Integrity proof by p.
func signVC(t testing.TB, doc map[string]any, p keyParty) map[string]any {
	t.Helper()
	out, err := dataintegrity.Sign(context.Background(), doc, p.key, dataintegrity.ProofOptions{
		VerificationMethod: p.vm, Created: time.Now().Add(-time.Minute),
	})
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return out
}

// signVP is a VC 2.0 presentation of vcs by holder with an authentication
// proof for challenge and domain.
func signVP(t testing.TB, holder keyParty, challenge, domain string, vcs ...map[string]any) map[string]any {
	t.Helper()
	list := make([]any, len(vcs))
	for i, c := range vcs {
		list[i] = c
	}
	doc := map[string]any{
		"@context":             []any{"https://www.w3.org/ns/credentials/v2"},
		"type":                 []any{"VerifiablePresentation"},
		"holder":               holder.did,
		"verifiableCredential": list,
	}
	opts := dataintegrity.ProofOptions{VerificationMethod: holder.vm, ProofPurpose: dataintegrity.PurposeAuthentication,
		Challenge: challenge, Created: time.Now().Add(-time.Second)}
	if domain != "" {
		opts.Domain = []string{domain}
	}
	out, err := dataintegrity.Sign(context.Background(), doc, holder.key, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// issueSDJWTVC is an SD-JWT VC by iss bound to holder's key.
func issueSDJWTVC(t testing.TB, iss, holder keyParty) string {
	t.Helper()
	s, err := sdjwt.IssueVC(context.Background(), iss.key, sdjwt.VC{
		Issuer: iss.did, KeyID: iss.vm, Type: "https://agentid.dev/vct/agent-identity/v1",
		Claims:    map[string]any{"sub": holder.did, "name": "invoice-bot", "principal": "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"},
		HolderKey: holder.key.Public(), IssuedAt: time.Now().Add(-time.Hour), Expiry: time.Now().Add(time.Hour),
	}, sdjwt.IssueOptions{Disclose: []string{"/name", "/principal"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func presentSDJWT(t testing.TB, s string, holder keyParty, nonce, aud string) string {
	t.Helper()
	p, err := sdjwt.Present(context.Background(), s, sdjwt.PresentOptions{Disclose: []string{"/name", "/principal"},
		KeyBinding: &sdjwt.KeyBinding{Signer: holder.key, Audience: aud, Nonce: nonce, IssuedAt: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// liveServer is a Server answering on a loopback port.
type liveServer struct {
	*Server
	url   string
	store *store.Store
}

// startServer runs a server on st on 127.0.0.1 until the test ends.
func startServer(t testing.TB, st *store.Store, opts ...Option) *liveServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	s, err := New(append([]Option{WithStore(st), WithLogger(discardLogger()), WithPublicURL(url)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &liveServer{Server: s, url: url, store: st}
}

// post sends body (JSON-encoded unless it is []byte or string) to path.
func (ls *liveServer) post(t testing.TB, path string, body any, header ...string) response {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest("POST", ls.url+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return send(t, http.DefaultClient, req, header...)
}

// challenge asks ls for a challenge.
func (ls *liveServer) challenge(t testing.TB, body any) string {
	t.Helper()
	r := ls.post(t, "/challenges", body)
	if r.status != http.StatusOK {
		t.Fatalf("POST /challenges: %d %s", r.status, r.body)
	}
	var out struct {
		Challenge string    `json:"challenge"`
		Expires   time.Time `json:"expires"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Challenge) != 43 || out.Expires.Before(time.Now()) {
		t.Fatalf("challenge %+v", out)
	}
	return out.Challenge
}

// verifyResult is a verify endpoint's answer as a client reads it.
type verifyResult struct {
	Verified bool               `json:"verified"`
	Checks   []string           `json:"checks"`
	Warnings []verifier.Problem `json:"warnings"`
	Errors   []verifier.Problem `json:"errors"`
	Agent    *agentFacts        `json:"agent"`
}

func readResult(t testing.TB, r response) verifyResult {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d Content-Type %q: %s", r.status, ct, r.body)
	}
	var out verifyResult
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("not a verification result: %v: %s", err, r.body)
	}
	if out.Checks == nil || out.Errors == nil || out.Warnings == nil {
		t.Fatalf("result without checks, warnings or errors: %s", r.body)
	}
	return out
}

// wantVerified asserts a 200 verified answer.
func wantVerified(t testing.TB, r response) verifyResult {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	res := readResult(t, r)
	if !res.Verified || len(res.Errors) != 0 || res.Agent == nil {
		t.Fatalf("not verified: %s", r.body)
	}
	return res
}

// wantRejected asserts a 400 verified:false answer whose errors name check
// (with code, when not empty).
func wantRejected(t testing.TB, r response, check, code string) verifyResult {
	t.Helper()
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", r.status, r.body)
	}
	res := readResult(t, r)
	if res.Verified || res.Agent != nil {
		t.Fatalf("rejected answer says verified or has an agent: %s", r.body)
	}
	if !slices.ContainsFunc(res.Errors, func(p verifier.Problem) bool {
		return string(p.Check) == check && (code == "" || p.Code == code)
	}) {
		t.Fatalf("errors do not name %s/%s: %s", check, code, r.body)
	}
	return res
}

// auditEvents lists the audit events of the operator chain and of every
// organization, in sequence order per chain.
func auditEvents(t testing.TB, st *store.Store) []store.AuditEvent {
	t.Helper()
	heads, err := st.AuditHeads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, h := range heads {
		evs, err := st.ListAuditEvents(context.Background(), store.AuditFilter{OrganizationID: h.OrganizationID, Limit: store.MaxAuditLimit})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, evs...)
	}
	return out
}

func wantChainsIntact(t testing.TB, st *store.Store) {
	t.Helper()
	a, err := verifier.NewAuditLog(st)
	if err != nil {
		t.Fatal(err)
	}
	reports, err := a.VerifyAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if !r.OK {
			t.Fatalf("audit chain %q broken: %+v", r.OrganizationID, r)
		}
	}
}

func TestVerifyEndpoints(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ls := startServer(t, st)
		iss, agent := newKeyParty(t, keys.Ed25519), newKeyParty(t, keys.P256)
		vc := signVC(t, identityVC(t, iss.did, agent.did, nil), iss)
		const domain = "https://erp.example.com"
		rp := []string{relyingPartyHeader, "erp.example.com"}

		var wantEvents []string // decisions, in order
		t.Run("credential verifies", func(t *testing.T) {
			res := wantVerified(t, ls.post(t, "/credentials/verify", map[string]any{"verifiableCredential": vc}, rp...))
			if !slices.Contains(res.Checks, "proof") || res.Agent.ID != agent.did || res.Agent.Issuer != iss.did ||
				res.Agent.Principal != "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj" || res.Agent.Assurance != "hardware" {
				t.Fatalf("result %+v agent %+v", res, res.Agent)
			}
			wantEvents = append(wantEvents, verifier.DecisionVerified)
		})
		t.Run("tampered credential", func(t *testing.T) {
			bad := clone(t, vc)
			bad["credentialSubject"].(map[string]any)["name"] = "evil-bot"
			wantRejected(t, ls.post(t, "/credentials/verify", map[string]any{"verifiableCredential": bad}), "proof", "")
			wantEvents = append(wantEvents, verifier.DecisionRejected)
		})
		t.Run("presentation with an issued challenge, then its replay", func(t *testing.T) {
			ch := ls.challenge(t, nil)
			vp := signVP(t, agent, ch, domain, vc)
			req := map[string]any{"verifiablePresentation": vp, "options": map[string]any{"challenge": ch, "domain": domain}}
			res := wantVerified(t, ls.post(t, "/presentations/verify", req, rp...))
			if !slices.Contains(res.Checks, "challenge") || !slices.Contains(res.Checks, "holderBinding") || res.Agent.ID != agent.did {
				t.Fatalf("%+v", res)
			}
			wantRejected(t, ls.post(t, "/presentations/verify", req, rp...), "challenge", verifier.CodeChallengeReplayed)
			wantEvents = append(wantEvents, verifier.DecisionVerified, verifier.DecisionRejected)
		})
		t.Run("forged presentation does not burn the challenge", func(t *testing.T) {
			ch := ls.challenge(t, nil)
			stranger := newKeyParty(t, keys.P256)
			forged := signVP(t, agent, ch, domain, vc)
			forged["proof"].(map[string]any)["verificationMethod"] = stranger.vm // no longer verifies
			req := map[string]any{"verifiablePresentation": forged, "options": map[string]any{"challenge": ch, "domain": domain}}
			wantRejected(t, ls.post(t, "/presentations/verify", req), "proof", "")
			good := map[string]any{"verifiablePresentation": signVP(t, agent, ch, domain, vc), "options": map[string]any{"challenge": ch, "domain": domain}}
			wantVerified(t, ls.post(t, "/presentations/verify", good))
			wantEvents = append(wantEvents, verifier.DecisionRejected, verifier.DecisionVerified)
		})
		t.Run("challenge bound to a domain", func(t *testing.T) {
			ch := ls.challenge(t, map[string]any{"domain": domain})
			// No domain in options: the challenge's is required of the proof.
			other := signVP(t, agent, ch, "https://evil.example", vc)
			wantRejected(t, ls.post(t, "/presentations/verify", map[string]any{"verifiablePresentation": other, "options": map[string]any{"challenge": ch}}), "domain", "")
			// Another domain in options than the challenge's.
			wantRejected(t, ls.post(t, "/presentations/verify", map[string]any{"verifiablePresentation": other,
				"options": map[string]any{"challenge": ch, "domain": "https://evil.example"}}), "domain", verifier.CodeDomainMismatch)
			// The holder's proof over the challenge verified in both, so
			// the challenge is spent: a fresh one for the right domain.
			ch = ls.challenge(t, map[string]any{"domain": domain})
			wantVerified(t, ls.post(t, "/presentations/verify", map[string]any{"verifiablePresentation": signVP(t, agent, ch, domain, vc), "options": map[string]any{"challenge": ch}}))
			wantEvents = append(wantEvents, verifier.DecisionRejected, verifier.DecisionRejected, verifier.DecisionVerified)
		})
		t.Run("challenge not issued here is only checked against the proof", func(t *testing.T) {
			vp := signVP(t, agent, "rp-own-challenge", domain, vc)
			req := map[string]any{"verifiablePresentation": vp, "options": map[string]any{"challenge": "rp-own-challenge", "domain": domain}}
			wantVerified(t, ls.post(t, "/presentations/verify", req))
			wantVerified(t, ls.post(t, "/presentations/verify", req))
			wantRejected(t, ls.post(t, "/presentations/verify", map[string]any{"verifiablePresentation": vp,
				"options": map[string]any{"challenge": "another", "domain": domain}}), "challenge", verifier.CodeChallengeMismatch)
			wantEvents = append(wantEvents, verifier.DecisionVerified, verifier.DecisionVerified, verifier.DecisionRejected)
		})
		t.Run("SD-JWT presentation with the challenge as KB nonce, then its replay", func(t *testing.T) {
			sd := issueSDJWTVC(t, iss, agent)
			ch := ls.challenge(t, map[string]any{})
			p := presentSDJWT(t, sd, agent, ch, domain)
			req := map[string]any{"verifiablePresentation": p, "options": map[string]any{"challenge": ch, "domain": domain}}
			res := wantVerified(t, ls.post(t, "/presentations/verify", req))
			if res.Agent.ID != agent.did || res.Agent.Name != "invoice-bot" || len(res.Agent.Claims) != 1 {
				t.Fatalf("agent %+v", res.Agent)
			}
			wantRejected(t, ls.post(t, "/presentations/verify", req), "challenge", verifier.CodeChallengeReplayed)
			wantEvents = append(wantEvents, verifier.DecisionVerified, verifier.DecisionRejected)
		})
		t.Run("expired challenge", func(t *testing.T) {
			short := startServer(t, st, WithChallengeTTL(50*time.Millisecond))
			ch := short.challenge(t, nil)
			time.Sleep(100 * time.Millisecond)
			req := map[string]any{"verifiablePresentation": signVP(t, agent, ch, domain, vc), "options": map[string]any{"challenge": ch, "domain": domain}}
			wantRejected(t, short.post(t, "/presentations/verify", req), "challenge", verifier.CodeChallengeExpired)
			wantEvents = append(wantEvents, verifier.DecisionRejected)
		})
		t.Run("minAssurance", func(t *testing.T) {
			wantVerified(t, ls.post(t, "/credentials/verify", map[string]any{"verifiableCredential": vc, "options": map[string]any{"minAssurance": "hardware"}}))
			sw := identityVC(t, iss.did, agent.did, nil)
			sw["credentialSubject"].(map[string]any)["hardwareBinding"].(map[string]any)["assurance"] = "software"
			wantRejected(t, ls.post(t, "/credentials/verify", map[string]any{"verifiableCredential": signVC(t, sw, iss),
				"options": map[string]any{"minAssurance": "hardware"}}), string(checkAssurance), "insufficientAssurance")
			wantEvents = append(wantEvents, verifier.DecisionVerified, verifier.DecisionRejected)
		})

		t.Run("audit", func(t *testing.T) {
			evs := auditEvents(t, st)
			if len(evs) != len(wantEvents) {
				t.Fatalf("%d audit events, want %d", len(evs), len(wantEvents))
			}
			for i, ev := range evs {
				if ev.Decision != wantEvents[i] {
					t.Errorf("event %d: decision %s, want %s", i, ev.Decision, wantEvents[i])
				}
				if ev.RequestID == "" {
					t.Errorf("event %d has no request id", i)
				}
				if (ev.Decision == verifier.DecisionRejected) != (len(ev.Reasons) > 0) {
					t.Errorf("event %d: decision %s with reasons %v", i, ev.Decision, ev.Reasons)
				}
			}
			first := evs[0]
			if first.Agent != agent.did || first.RelyingParty != "erp.example.com" || first.Principal == "" ||
				!slices.Contains(first.CredentialIDs, vc["id"].(string)) {
				t.Errorf("first event: %+v", first)
			}
			if !slices.Equal(evs[1].Reasons, []string{"proof"}) {
				t.Errorf("tampered: reasons %v", evs[1].Reasons)
			}
			if evs[2].Decision != verifier.DecisionVerified || !slices.Equal(evs[3].Reasons, []string{"challenge"}) {
				t.Errorf("replay events: %+v %+v", evs[2], evs[3])
			}
			wantChainsIntact(t, st)
		})
	})
}

// TestVerifyAuditFailsClosed: when the audit event cannot be written, the
// answer is a 503, never verified.
func TestVerifyAuditFailsClosed(t *testing.T) {
	dbURL := storetest.SQLiteURL(t)
	open := func() *store.Store {
		st, err := store.Open(context.Background(), dbURL, store.WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	// The audit log's database connection is gone.
	gone := open()
	broken, err := verifier.NewAuditLog(gone)
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	ls := startServer(t, open(), WithAuditLog(broken))
	iss, agent := newKeyParty(t, keys.Ed25519), newKeyParty(t, keys.P256)
	vc := signVC(t, identityVC(t, iss.did, agent.did, nil), iss)
	r := ls.post(t, "/credentials/verify", map[string]any{"verifiableCredential": vc})
	assertProblem(t, r, http.StatusServiceUnavailable, "")
	if bytes.Contains(r.body, []byte(`"verified"`)) {
		t.Fatalf("503 carries a verdict: %s", r.body)
	}
}

// TestChallengesSharedByReplicas: two servers, each with its own store
// pool, on one database; a challenge issued by A and consumed on B is
// refused on A afterwards.
func TestChallengesSharedByReplicas(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		open := func() *store.Store {
			st, err := store.Open(context.Background(), dbURL, store.WithLogger(discardLogger()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		}
		a, b := startServer(t, open()), startServer(t, open())
		iss, agent := newKeyParty(t, keys.Ed25519), newKeyParty(t, keys.P256)
		vc := signVC(t, identityVC(t, iss.did, agent.did, nil), iss)
		const domain = "https://erp.example.com"

		ch := a.challenge(t, nil)
		req := map[string]any{"verifiablePresentation": signVP(t, agent, ch, domain, vc), "options": map[string]any{"challenge": ch, "domain": domain}}
		wantVerified(t, b.post(t, "/presentations/verify", req))
		wantRejected(t, a.post(t, "/presentations/verify", req), "challenge", verifier.CodeChallengeReplayed)
		wantRejected(t, b.post(t, "/presentations/verify", req), "challenge", verifier.CodeChallengeReplayed)

		// Parallel replays on both replicas: exactly one wins.
		ch = b.challenge(t, nil)
		req = map[string]any{"verifiablePresentation": signVP(t, agent, ch, domain, vc), "options": map[string]any{"challenge": ch, "domain": domain}}
		var wins atomic.Int32
		done := make(chan struct{})
		for i := range 8 {
			go func() {
				defer func() { done <- struct{}{} }()
				srv := a
				if i%2 == 1 {
					srv = b
				}
				r := srv.post(t, "/presentations/verify", req)
				switch r.status {
				case http.StatusOK:
					wins.Add(1)
				case http.StatusBadRequest:
				default:
					t.Errorf("status %d: %s", r.status, r.body)
				}
			}()
		}
		for range 8 {
			<-done
		}
		if wins.Load() != 1 {
			t.Fatalf("%d parallel replays verified, want 1", wins.Load())
		}
		// One audit chain, no fork, whichever replica appended.
		if n := len(auditEvents(t, a.store)); n != 11 {
			t.Fatalf("%d audit events, want 11", n)
		}
		wantChainsIntact(t, a.store)
	})
}

// statusServer serves a signed Bitstring Status List credential at /status/1
// on loopback.
func statusServer(t testing.TB, iss keyParty, set ...int) string {
	t.Helper()
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status/1" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/vc+ld+json")
		_, _ = w.Write(body.Load().([]byte))
	}))
	t.Cleanup(srv.Close)
	listURL := srv.URL + "/status/1"
	bs, err := statuslist.New(statuslist.MinEntries, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range set {
		if err := bs.Set(i, 1); err != nil {
			t.Fatal(err)
		}
	}
	cred, err := statuslist.NewCredential(statuslist.CredentialOptions{ID: listURL, Issuer: iss.did,
		Purposes: []string{statuslist.PurposeRevocation}, List: bs,
		ValidFrom: time.Now().Add(-time.Hour), ValidUntil: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(signVC(t, cred, iss))
	if err != nil {
		t.Fatal(err)
	}
	body.Store(raw)
	return listURL
}

func statusEntry(listURL string, index int) map[string]any {
	return map[string]any{"id": listURL + "#" + strconv.Itoa(index), "type": "BitstringStatusListEntry",
		"statusPurpose": "revocation", "statusListIndex": strconv.Itoa(index), "statusListCredential": listURL}
}

func TestVerifyStatus(t *testing.T) {
	st := storetest.SQLite(t)
	iss, agent := newKeyParty(t, keys.Ed25519), newKeyParty(t, keys.P256)
	listURL := statusServer(t, iss, 7)
	revoked := signVC(t, identityVC(t, iss.did, agent.did, []any{statusEntry(listURL, 7)}), iss)
	valid := signVC(t, identityVC(t, iss.did, agent.did, []any{statusEntry(listURL, 8)}), iss)

	t.Run("loopback allowed", func(t *testing.T) {
		ls := startServer(t, st, WithFetchAllow(netip.MustParsePrefix("127.0.0.0/8")), WithStatusStaleness(0))
		wantRejected(t, ls.post(t, "/credentials/verify", map[string]any{"verifiableCredential": revoked}), "status", verifier.CodeRevoked)
		res := wantVerified(t, ls.post(t, "/credentials/verify", map[string]any{"verifiableCredential": valid}))
		if !slices.Contains(res.Checks, "status") {
			t.Fatalf("status not among the passed checks: %+v", res)
		}
	})
	t.Run("loopback refused by policy: fails closed", func(t *testing.T) {
		// The public URL's host is localhost-by-name, not 127.0.0.1, so
		// the list server's address is not the server's own.
		ls := startServerAt(t, st, "http://verifier.example")
		r := wantRejected(t, ls.post(t, "/credentials/verify", map[string]any{"verifiableCredential": valid}), "status", verifier.CodeStatusUnavailable)
		if !strings.Contains(fmt.Sprint(r.Errors), "refused") {
			t.Fatalf("reason does not say refused: %+v", r.Errors)
		}
	})
}

// The audit log's group commits are counted in /metrics: every
// verification's event, and the transactions that committed them, at most
// one an event.
func TestMetricsCountAuditCommits(t *testing.T) {
	ls := startServer(t, storetest.SQLite(t))
	iss, agent := newKeyParty(t, keys.Ed25519), newKeyParty(t, keys.P256)
	vc := signVC(t, identityVC(t, iss.did, agent.did, nil), iss)
	const n = 24
	body, err := json.Marshal(map[string]any{"verifiableCredential": vc})
	if err != nil {
		t.Fatal(err)
	}
	answers := make(chan error, n)
	for range n {
		go func() {
			resp, err := http.Post(ls.url+"/credentials/verify", "application/json", bytes.NewReader(body))
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			answers <- err
		}()
	}
	for range n {
		if err := <-answers; err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
	metrics := string(do(t, ls.Handler(), "GET", "/metrics", nil).body)
	value := func(name string) int {
		i := strings.Index(metrics, "\n"+name+" ")
		if i < 0 {
			t.Fatalf("metrics lack %s", name)
		}
		var v int
		if _, err := fmt.Sscan(metrics[i+len(name)+2:], &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	if events, commits := value("agentid_audit_events_total"), value("agentid_audit_commits_total"); events != n || commits < 1 || commits > n {
		t.Fatalf("agentid_audit_events_total %d, agentid_audit_commits_total %d; want %d events in 1 to %d commits", events, commits, n, n)
	}
}

// startServerAt is startServer with another public URL.
func startServerAt(t testing.TB, st *store.Store, publicURL string, opts ...Option) *liveServer {
	return startServer(t, st, append(opts, WithPublicURL(publicURL))...)
}

// clone deep-copies a decoded JSON document.
func clone(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := credential.DecodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The audit log the server builds does not linger unless WithAuditLinger
// says so.
func TestAuditLingerOption(t *testing.T) {
	st := storetest.SQLite(t)
	if got := newTestServer(t, st).verification.audit.Linger(); got != 0 {
		t.Errorf("default linger %v, want 0", got)
	}
	if got := newTestServer(t, st, WithAuditLinger(3*time.Millisecond)).verification.audit.Linger(); got != 3*time.Millisecond {
		t.Errorf("WithAuditLinger(3ms) gave %v", got)
	}
	if got := newTestServer(t, st, WithAuditLinger(-time.Second)).verification.audit.Linger(); got != 0 {
		t.Errorf("WithAuditLinger(-1s) gave %v, want 0", got)
	}
}

// A client that goes away before its verification is answered makes the
// audit record fail with its request's context: the 503 is logged as the
// client's doing, at info level, not as a server error.
func TestVerifyClientGoneIsNotAnError(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, storetest.SQLite(t), WithLogger(textLogger(&logs)))
	iss, agent := newKeyParty(t, keys.Ed25519), newKeyParty(t, keys.P256)
	body, err := json.Marshal(map[string]any{"verifiableCredential": signVC(t, identityVC(t, iss.did, agent.did, nil), iss)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/credentials/verify", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a client that went away was logged as an error:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "client went away") {
		t.Fatalf("the cause was not logged:\n%s", logs.String())
	}

	// The same failure with the client still there is an error.
	logs.Reset()
	gone, err := store.Open(t.Context(), storetest.SQLiteURL(t), store.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	broken, err := verifier.NewAuditLog(gone)
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	s = newTestServer(t, storetest.SQLite(t), WithLogger(textLogger(&logs)), WithAuditLog(broken))
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodPost, "/credentials/verify", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("status %d, logs:\n%s", rec.Code, logs.String())
	}
}

// Every verification that ends without an audit event (here a malformed
// request, refused before any check) takes back its announcement, so a
// lingering audit log does not wait for it: the next verification is
// answered at once, not after the linger.
func TestAuditLingerForgetsRefusedRequests(t *testing.T) {
	s := newTestServer(t, storetest.SQLite(t), WithAuditLinger(time.Minute))
	if r := do(t, s.Handler(), http.MethodPost, "/credentials/verify", strings.NewReader(`{"verifiableCredential": [`), "Content-Type", "application/json"); r.status != http.StatusBadRequest {
		t.Fatalf("malformed request: %d %s", r.status, r.body)
	}
	iss, agent := newKeyParty(t, keys.Ed25519), newKeyParty(t, keys.P256)
	body, err := json.Marshal(map[string]any{"verifiableCredential": signVC(t, identityVC(t, iss.did, agent.did, nil), iss)})
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan response, 1)
	go func() {
		answered <- do(t, s.Handler(), http.MethodPost, "/credentials/verify", bytes.NewReader(body), "Content-Type", "application/json")
	}()
	select {
	case r := <-answered:
		if r.status != http.StatusOK {
			t.Fatalf("verification: %d %s", r.status, r.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the verification waited for the audit event of a refused request")
	}
}
