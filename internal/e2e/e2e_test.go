package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/verifier"
)

const (
	erpDomain   = "https://erp.example.com"
	erpInvoices = "https://erp.example.com/api/invoices"
)

// TestIssuerWalkthrough is the done criterion of the issuer, from a fresh
// `agentid serve` on each database: an agent with a simulator TPM enrolls
// (enroll, evidence and proof of possession, activation), the admin
// approves it, and it receives the AgentIdentityCredential as ldp_vc and
// dc+sd-jwt; its principal's signed consent yields an
// AgentDelegationCredential; the admin revokes one credential and the
// principal another, and each list shows it on the next fetch; a VC-API
// client issues VC 2.0 and VC 1.1 credentials that `agentid vc verify`
// accepts offline, and rejects once tampered with.
func TestIssuerWalkthrough(t *testing.T) {
	rig := newTPMRig(t)
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		srv := startServe(t, serveConfig{name: "issuer", dbURL: dbURL, args: []string{"--tpm-roots", rig.rootsDir}})
		live := liveVerifier(t)
		alice := newHuman(t)

		orgDIDs := organizationDIDs(t, srv)
		if len(orgDIDs) < 2 {
			t.Fatalf("organization identities: %v", orgDIDs)
		}

		// Enrollment with the TPM, admin approval, both formats.
		ag := enrollAgent(t, rig, srv, alice.did)
		if hw, _ := ag.approved["hardwareBinding"].(map[string]any); hw["assurance"] != "hardware" {
			t.Fatalf("approved agent: %v", ag.approved)
		}
		subj, _ := ag.ldp["credentialSubject"].(map[string]any)
		if !slices.Contains(anyStrings(ag.ldp["type"]), "AgentIdentityCredential") || subj["id"] != ag.did || subj["principal"] != alice.did ||
			!orgDIDs[issuerOf(ag.ldp)] {
			t.Fatalf("identity credential: %s", mustJSON(t, ag.ldp))
		}
		if hw, _ := subj["hardwareBinding"].(map[string]any); hw["assurance"] != "hardware" || hw["type"] != "TPM2" {
			t.Fatalf("identity credential hardware binding: %v", subj["hardwareBinding"])
		}
		wantLive(t, live.VerifyCredential(ctx, ag.ldp, verifier.Options{}), "identity ldp_vc")
		res := live.VerifyCredential(ctx, ag.sdjwt, verifier.Options{})
		wantLive(t, res, "identity dc+sd-jwt")
		if res.Credential == nil || res.Credential.Subject != ag.did || res.Credential.Claims["principal"] != alice.did {
			t.Fatalf("identity SD-JWT VC: %s", mustJSON(t, res))
		}
		// The admin reads the agent back with both credentials.
		got := must(t, srv.call(t, "GET", "/agents/"+ag.id, adminToken, nil), http.StatusOK, "GET /agents/{id}").obj(t)
		if a, _ := got["agent"].(map[string]any); a["state"] != "approved" || len(a["credentials"].([]any)) != 2 {
			t.Fatalf("GET /agents/{id}: %s", mustJSON(t, got))
		}

		// Delegation: Alice, the recorded principal, signs a consent.
		exp := time.Now().Add(8 * time.Hour).Truncate(time.Second)
		consent := map[string]any{
			"agent":    ag.did,
			"scopes":   []any{map[string]any{"action": "invoices:pay", "resource": erpInvoices, "constraints": map[string]any{"maxAmount": 500, "currency": "EUR"}}},
			"audience": []any{erpDomain},
			"purpose":  "Pay approved supplier invoices",
			"exp":      exp.Unix(), "iat": time.Now().Unix(), "nonce": randomString(t),
		}
		// Someone else's signature over the same consent: refused, nothing issued.
		mallory := newHuman(t)
		issued := countCredentials(t, srv)
		must(t, srv.call(t, "POST", "/delegations", "", map[string]any{"consent": jws(t, mallory.key, mallory.vm, consent)}),
			http.StatusForbidden, "consent signed by someone other than the principal")
		if n := countCredentials(t, srv); n != issued {
			t.Fatalf("%d credentials after a refused consent, want %d", n, issued)
		}
		signed := jws(t, alice.key, alice.vm, consent)
		r := must(t, srv.call(t, "POST", "/delegations", "", map[string]any{"consent": signed}), http.StatusCreated, "POST /delegations")
		del := r.obj(t)
		delID, _ := del["credentialId"].(string)
		delVC := decodeVC(t, del["verifiableCredential"])
		dsubj, _ := delVC["credentialSubject"].(map[string]any)
		if delID == "" || delVC["id"] != delID || !slices.Contains(anyStrings(delVC["type"]), "AgentDelegationCredential") ||
			dsubj["id"] != ag.did || dsubj["delegator"] != alice.did || delVC["validUntil"] != exp.UTC().Format(time.RFC3339) {
			t.Fatalf("delegation: %s", r.body)
		}
		evidence, _ := delVC["evidence"].([]any)
		if len(evidence) != 1 || evidence[0].(map[string]any)["type"] != "HumanApproval" || evidence[0].(map[string]any)["approver"] != alice.did ||
			evidence[0].(map[string]any)["consent"] != signed {
			t.Fatalf("delegation evidence: %v", delVC["evidence"])
		}
		wantLive(t, live.VerifyCredential(ctx, delVC, verifier.Options{}), "delegation ldp_vc")
		delSD, delSDID := delegationSDJWT(t, del)
		res = live.VerifyCredential(ctx, delSD, verifier.Options{})
		wantLive(t, res, "delegation dc+sd-jwt")
		if res.Credential == nil || res.Credential.Subject != ag.did || res.Credential.Claims["delegator"] != alice.did {
			t.Fatalf("delegation SD-JWT VC: %s", mustJSON(t, res))
		}
		t.Logf("delegation %s: ldp_vc %s, dc+sd-jwt %s", del["delegationId"], delID, delSDID)

		// The admin revokes the delegation: its list shows it at once.
		statusURL := statusListOf(t, delVC, "revocation")
		before := must(t, srv.callURL(t, "GET", statusURL, "", nil), http.StatusOK, "GET status list").header.Get("ETag")
		r = must(t, adminStatus(t, srv, delID, "BitstringStatusListCredential", "revoked"), http.StatusOK, "admin revocation")
		if r.obj(t)["status"] != "revoked" {
			t.Fatalf("admin revocation: %s", r.body)
		}
		after := must(t, srv.callURL(t, "GET", statusURL, "", nil), http.StatusOK, "GET status list after revocation")
		if tag := after.header.Get("ETag"); tag == "" || tag == before {
			t.Fatalf("status list ETag %q before and %q after the revocation", before, tag)
		}
		wantStatusCode(t, live.VerifyCredential(ctx, delVC, verifier.Options{}), verifier.CodeRevoked, "delegation revoked by the admin")
		wantStatusCode(t, live.VerifyCredential(ctx, delSD, verifier.Options{}), verifier.CodeRevoked, "delegation SD-JWT revoked with it")
		// The identity credentials are untouched.
		wantLive(t, live.VerifyCredential(ctx, ag.ldp, verifier.Options{}), "identity ldp_vc after another revocation")

		// Alice revokes the agent's SD-JWT identity credential with a
		// signed request; Mallory cannot.
		must(t, mallory.signedStatus(t, srv, ag.sdjwtID, "TokenStatusList", "revoked"), http.StatusForbidden, "revocation by a stranger")
		wantLive(t, live.VerifyCredential(ctx, ag.sdjwt, verifier.Options{}), "identity SD-JWT after a refused revocation")
		r = must(t, alice.signedStatus(t, srv, ag.sdjwtID, "TokenStatusList", "revoked"), http.StatusOK, "principal revocation")
		if r.obj(t)["status"] != "revoked" {
			t.Fatalf("principal revocation: %s", r.body)
		}
		wantStatusCode(t, live.VerifyCredential(ctx, ag.sdjwt, verifier.Options{}), verifier.CodeRevoked, "identity SD-JWT revoked by the principal")
		c := must(t, srv.call(t, "GET", "/credentials/"+url.PathEscape(ag.sdjwtID), adminToken, nil), http.StatusOK, "GET /credentials/{id}").obj(t)
		if cm, _ := c["credential"].(map[string]any); cm["status"] != "revoked" || cm["format"] != "dc+sd-jwt" {
			t.Fatalf("GET /credentials/{id} after revocation: %s", mustJSON(t, c))
		}

		// A VC-API client issues VC 2.0 and VC 1.1 credentials; each
		// verifies offline with the binary, and a tampered copy does not.
		dir := t.TempDir()
		vcapi := []struct {
			name    string
			doc     map[string]any
			options map[string]any
		}{
			{"vc2-eddsa", identityDoc(t, newHolder(t).did, alice.did), nil},
			{"vc2-ecdsa", identityDoc(t, newHolder(t).did, alice.did), map[string]any{"cryptosuite": "ecdsa-rdfc-2019"}},
			{"vc2-sd-jwt", identityDoc(t, newHolder(t).did, alice.did), map[string]any{"format": "dc+sd-jwt"}},
			{"vc11-eddsa", vc11Doc(), nil},
			{"vc11-ecdsa", vc11Doc(), map[string]any{"cryptosuite": "ecdsa-rdfc-2019"}},
		}
		for _, c := range vcapi {
			body := map[string]any{"credential": c.doc}
			if c.options != nil {
				body["options"] = c.options
			}
			r := must(t, srv.call(t, "POST", "/credentials/issue", adminToken, body), http.StatusCreated, "issue "+c.name)
			var out struct {
				VC json.RawMessage `json:"verifiableCredential"`
			}
			if err := json.Unmarshal(r.body, &out); err != nil {
				t.Fatal(err)
			}
			var file, tampered []byte
			var compact string
			if json.Unmarshal(out.VC, &compact) == nil {
				file = []byte(compact)
				tampered = []byte(tamperCompact(t, compact))
			} else {
				m := decodeVC(t, out.VC)
				if strings.HasPrefix(c.name, "vc11") != slices.Contains(anyStrings(m["@context"]), credential.ContextV1) {
					t.Fatalf("%s: context %v", c.name, m["@context"])
				}
				wantLive(t, live.VerifyCredential(ctx, m, verifier.Options{}), c.name)
				file = out.VC
				m["credentialSubject"].(map[string]any)["id"] = "did:example:someone-else"
				tampered = mustJSON(t, m)
			}
			path := filepath.Join(dir, c.name+".json")
			if err := os.WriteFile(path, file, 0o600); err != nil {
				t.Fatal(err)
			}
			res := cli(t, "vc", "verify", path)
			if res.code != 0 || !verifiedTrue(t, res.stdout) {
				t.Fatalf("agentid vc verify %s: exit %d\n%s\n%s", c.name, res.code, res.stdout, res.stderr)
			}
			bad := filepath.Join(dir, c.name+"-tampered.json")
			if err := os.WriteFile(bad, tampered, 0o600); err != nil {
				t.Fatal(err)
			}
			res = cli(t, "vc", "verify", bad)
			if res.code != 1 || verifiedTrue(t, res.stdout) {
				t.Fatalf("agentid vc verify %s (tampered): exit %d, want 1\n%s\n%s", c.name, res.code, res.stdout, res.stderr)
			}
		}
	})
}

// TestVerifierWalkthrough is the done criterion of the verifier against a
// real server on each database: the agent presents its identity credential
// with its TPM key as a Data Integrity VP and as an SD-JWT presentation
// with a KB-JWT, each answering a challenge from POST /challenges; each
// verifies with the agent's facts; a replay fails `challenge`; after the
// admin revokes the credential the very next verification fails `status`
// (with the default status staleness: the server reads its own lists from
// the database);
// every verification is an audit event, the chain verifies with `agentid
// audit verify`, and a changed row makes it exit 1 naming the event.
func TestVerifierWalkthrough(t *testing.T) {
	rig := newTPMRig(t)
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		srv := startServe(t, serveConfig{name: "verifier", dbURL: dbURL,
			args: []string{"--tpm-roots", rig.rootsDir}}) // default status staleness
		alice := newHuman(t)
		ag := enrollAgent(t, rig, srv, alice.did)
		orgDIDs := organizationDIDs(t, srv)
		issuerDID := issuerOf(ag.ldp)

		// Data Integrity VP, authentication proof by the TPM key.
		ch := challenge(t, srv, erpDomain)
		vp := presentDI(t, ag.key, ag.did, ag.vm, ch, erpDomain, ag.ldp)
		r, out := verifyPresentation(t, srv, vp, ch, erpDomain)
		wantVerified(t, r, out, "Data Integrity VP")
		for _, c := range []string{"proof", "status", "holderBinding", "challenge", "domain"} {
			if !slices.Contains(out.Checks, c) {
				t.Errorf("Data Integrity VP: check %s not passed: %s", c, r.body)
			}
		}
		if a := out.Agent; a.ID != ag.did || a.Issuer != issuerDID || a.Principal != alice.did || a.Assurance != "hardware" ||
			!slices.Contains(a.Credentials, ag.ldpID) {
			t.Fatalf("Data Integrity VP agent: %s", r.body)
		}
		// Its replay.
		r, out = verifyPresentation(t, srv, vp, ch, erpDomain)
		wantRejected(t, r, out, "challenge", verifier.CodeChallengeReplayed, "replayed Data Integrity VP")

		// SD-JWT presentation, KB-JWT by the TPM key.
		ch = challenge(t, srv, "")
		sd := presentSDJWT(t, ag.sdjwt, ag.key, ch, erpDomain, "/jti", "/name", "/principal", "/hardwareBinding")
		r, out = verifyPresentation(t, srv, sd, ch, erpDomain)
		wantVerified(t, r, out, "SD-JWT presentation")
		if a := out.Agent; a.ID != ag.did || !orgDIDs[a.Issuer] || a.Principal != alice.did || a.Assurance != "hardware" ||
			len(a.Claims) == 0 || a.Claims[0]["name"] != "invoice-bot" || !slices.Contains(a.Credentials, ag.sdjwtID) {
			t.Fatalf("SD-JWT presentation agent: %s", r.body)
		}
		r, out = verifyPresentation(t, srv, sd, ch, erpDomain)
		wantRejected(t, r, out, "challenge", verifier.CodeChallengeReplayed, "replayed SD-JWT presentation")

		// A presentation signed by another key than the credential's
		// subject: holder binding fails (and the challenge is not burnt).
		other := newHolder(t)
		ch = challenge(t, srv, "")
		r, out = verifyPresentation(t, srv, presentDI(t, other.key, other.did, other.vm, ch, erpDomain, ag.ldp), ch, erpDomain)
		wantRejected(t, r, out, "holderBinding", "", "presentation by another holder")
		r, out = verifyPresentation(t, srv, presentDI(t, ag.key, ag.did, ag.vm, ch, erpDomain, ag.ldp), ch, erpDomain)
		wantVerified(t, r, out, "the agent's own presentation after a stranger's")

		// With the delegation Alice signed, for an action it grants.
		delegation := delegate(t, srv, alice, ag.did)
		ch = challenge(t, srv, erpDomain)
		r = srv.call(t, "POST", "/presentations/verify", "", map[string]any{
			"verifiablePresentation": presentDI(t, ag.key, ag.did, ag.vm, ch, erpDomain, ag.ldp, delegation),
			"options":                map[string]any{"challenge": ch, "domain": erpDomain, "action": "invoices:pay", "resource": erpInvoices + "/42", "minAssurance": "hardware"},
		})
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		wantVerified(t, r, out, "presentation with a delegation")
		if a := out.Agent; a.ID != ag.did || a.Principal != alice.did || a.Delegation == nil || a.Delegation.Credential != delegation["id"] ||
			a.Delegation.Delegator != alice.did || len(a.Delegation.Granted) != 1 || a.Delegation.Granted[0]["action"] != "invoices:pay" ||
			!slices.Contains(a.Credentials, delegation["id"].(string)) {
			t.Fatalf("presentation with a delegation: agent %s", r.body)
		}
		// An action the delegation does not grant.
		ch = challenge(t, srv, erpDomain)
		r = srv.call(t, "POST", "/presentations/verify", "", map[string]any{
			"verifiablePresentation": presentDI(t, ag.key, ag.did, ag.vm, ch, erpDomain, ag.ldp, delegation),
			"options":                map[string]any{"challenge": ch, "domain": erpDomain, "action": "invoices:delete", "resource": erpInvoices + "/42"},
		})
		out = verifyAnswer{}
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		wantRejected(t, r, out, "delegation", "", "presentation for an action the delegation does not grant")

		// The admin revokes the identity credential (ldp_vc): the very
		// next verification fails status.
		must(t, adminStatus(t, srv, ag.ldpID, "BitstringStatusListCredential", "revoked"), http.StatusOK, "revoke ldp_vc")
		ch = challenge(t, srv, erpDomain)
		r, out = verifyPresentation(t, srv, presentDI(t, ag.key, ag.did, ag.vm, ch, erpDomain, ag.ldp), ch, erpDomain)
		wantRejected(t, r, out, "status", verifier.CodeRevoked, "presentation of a revoked ldp_vc")
		// And the SD-JWT VC.
		must(t, adminStatus(t, srv, ag.sdjwtID, "TokenStatusList", "revoked"), http.StatusOK, "revoke dc+sd-jwt")
		ch = challenge(t, srv, "")
		r, out = verifyPresentation(t, srv, presentSDJWT(t, ag.sdjwt, ag.key, ch, erpDomain, "/jti", "/principal"), ch, erpDomain)
		wantRejected(t, r, out, "status", verifier.CodeRevoked, "presentation of a revoked SD-JWT VC")

		// The audit trail: one event per verification, in order.
		events := auditEvents(t, srv)
		// Each event names the agent (a stranger's presentation: the
		// stranger, acting for no one), the principal and the credentials
		// presented (an SD-JWT VC's id is its jti, shown when the holder
		// discloses it).
		delID, _ := delegation["id"].(string)
		want := []struct {
			decision, reason, agent string
			creds                   []string
			stranger                bool // principal not attributed
		}{
			{verifier.DecisionVerified, "", ag.did, []string{ag.ldpID}, false},
			{verifier.DecisionRejected, "challenge", ag.did, []string{ag.ldpID}, false},
			{verifier.DecisionVerified, "", ag.did, []string{ag.sdjwtID}, false},
			{verifier.DecisionRejected, "challenge", ag.did, []string{ag.sdjwtID}, false},
			{verifier.DecisionRejected, "holderBinding", other.did, []string{ag.ldpID}, true},
			{verifier.DecisionVerified, "", ag.did, []string{ag.ldpID}, false},
			{verifier.DecisionVerified, "", ag.did, []string{ag.ldpID, delID}, false},
			{verifier.DecisionRejected, "delegation", ag.did, []string{ag.ldpID, delID}, false},
			{verifier.DecisionRejected, "status", ag.did, []string{ag.ldpID}, false},
			{verifier.DecisionRejected, "status", ag.did, []string{ag.sdjwtID}, false},
		}
		if len(events) != len(want) {
			t.Fatalf("%d audit events, want %d: %s", len(events), len(want), mustJSON(t, events))
		}
		wantChain(t, events)
		for i, w := range want {
			e := events[i]
			if e.Decision != w.decision || (w.reason != "" && !slices.Contains(e.Reasons, w.reason)) || e.RequestID == "" ||
				e.Agent != w.agent || (e.Principal == alice.did) == w.stranger || !slices.Equal(e.CredentialIDs, w.creds) {
				t.Fatalf("audit event %d: %s, want %s %s by %s with %v", e.Seq, mustJSON(t, e), w.decision, w.reason, w.agent, w.creds)
			}
		}
		// Filters.
		r = must(t, srv.call(t, "GET", "/audit?decision=verified&agent="+url.QueryEscape(ag.did), adminToken, nil), http.StatusOK, "GET /audit filtered")
		var page struct {
			Events []auditEvent `json:"events"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil || len(page.Events) != 4 {
			t.Fatalf("GET /audit?decision=verified: %v %s", err, r.body)
		}
		must(t, srv.call(t, "GET", "/audit", "", nil), http.StatusUnauthorized, "GET /audit without a token")

		// The chain verifies, by --database and by --data.
		res := cli(t, "audit", "verify", "--database", dbURL)
		if res.code != 0 || !strings.Contains(res.stdout, "OK chain") {
			t.Fatalf("agentid audit verify: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		// One changed row: exit 1, naming the event.
		victim := events[1] // the rejected replay, now claimed verified
		tamperAudit(t, dbURL, victim.ID, verifier.DecisionVerified)
		res = cli(t, "audit", "verify", "--database", dbURL)
		if res.code != 1 || !strings.Contains(res.stdout, victim.ID) || !strings.Contains(res.stdout, "hash-mismatch") {
			t.Fatalf("agentid audit verify after tampering: exit %d, want 1 naming %s\n%s\n%s", res.code, victim.ID, res.stdout, res.stderr)
		}
	})
}

// TestReplicas runs two `agentid serve` processes on one PostgreSQL
// database: concurrent issuance through both gives distinct status
// entries, a challenge from one is accepted once by the other and refused
// as a replay, and verifications on both append to one audit chain.
func TestReplicas(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	kek := newKEK(t)
	a := startServe(t, serveConfig{name: "A", dbURL: dbURL, kek: kek})
	b := startServe(t, serveConfig{name: "B", dbURL: dbURL, kek: kek})
	procs := []*process{a, b}
	alice := newHuman(t)

	// 300 issuances at once, alternating between the processes.
	const n, workers = 300, 24
	docs := make([]map[string]any, n)
	for i := range docs {
		docs[i] = identityDoc(t, newHolder(t).did, alice.did)
	}
	type pair struct{ list, index string }
	var (
		mu    sync.Mutex
		pairs = map[pair]string{}
		bad   []string
		wg    sync.WaitGroup
		jobs  = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				p := procs[i%2]
				r, err := p.do("POST", p.url+"/credentials/issue", adminToken, map[string]any{"credential": docs[i]})
				var out struct {
					VC struct {
						ID     string `json:"id"`
						Status []struct {
							Purpose string `json:"statusPurpose"`
							Index   string `json:"statusListIndex"`
							List    string `json:"statusListCredential"`
						} `json:"credentialStatus"`
					} `json:"verifiableCredential"`
				}
				mu.Lock()
				switch {
				case err != nil:
					bad = append(bad, err.Error())
				case r.status != http.StatusCreated:
					bad = append(bad, fmt.Sprintf("%s: %d %s", p.name, r.status, r.body))
				case json.Unmarshal(r.body, &out) != nil || len(out.VC.Status) != 2:
					bad = append(bad, "unexpected answer: "+string(r.body))
				}
				for _, s := range out.VC.Status {
					u, err := url.Parse(s.List)
					if err != nil || s.Index == "" {
						bad = append(bad, "bad entry "+s.List+"#"+s.Index)
						continue
					}
					k := pair{list: u.Path, index: s.Index} // each process names its own host
					if prev, ok := pairs[k]; ok {
						bad = append(bad, "duplicate "+k.list+"#"+k.index+" in "+prev+" and "+out.VC.ID)
					}
					pairs[k] = out.VC.ID
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if len(bad) > 0 {
		t.Fatalf("%d failed issuances or bad entries, e.g. %s", len(bad), bad[0])
	}
	if len(pairs) != 2*n {
		t.Fatalf("%d distinct (list, index) pairs, want %d", len(pairs), 2*n)
	}
	t.Logf("%d issuances through two processes in %v (%.0f/s; provisional, shared machine)", n, elapsed.Round(time.Millisecond), n/elapsed.Seconds())

	// An agent (software key) with an identity credential issued by A.
	h := newHolder(t)
	r := must(t, a.call(t, "POST", "/credentials/issue", adminToken, map[string]any{"credential": identityDoc(t, h.did, alice.did)}),
		http.StatusCreated, "issue the holder's credential")
	vc := decodeVC(t, r.obj(t)["verifiableCredential"])

	// A challenge from A, used on B: accepted once; its replay on A fails.
	ch := challenge(t, a, erpDomain)
	vp := presentDI(t, h.key, h.did, h.vm, ch, erpDomain, vc)
	rr, out := verifyPresentation(t, b, vp, ch, erpDomain)
	wantVerified(t, rr, out, "A's challenge on B")
	rr, out = verifyPresentation(t, a, vp, ch, erpDomain)
	wantRejected(t, rr, out, "challenge", verifier.CodeChallengeReplayed, "replay on A")
	rr, out = verifyPresentation(t, b, vp, ch, erpDomain)
	wantRejected(t, rr, out, "challenge", verifier.CodeChallengeReplayed, "replay on B")

	// Concurrent verifications on both processes, each answering a
	// challenge from the other.
	const m = 40
	var (
		vwg   sync.WaitGroup
		vmu   sync.Mutex
		vbad  []string
		fails = func(s string) { vmu.Lock(); vbad = append(vbad, s); vmu.Unlock() }
	)
	for i := 0; i < m; i++ {
		vwg.Add(1)
		go func(i int) {
			defer vwg.Done()
			on, from := procs[i%2], procs[(i+1)%2]
			cr, err := from.do("POST", from.url+"/challenges", "", map[string]any{})
			var c struct {
				Challenge string `json:"challenge"`
			}
			if err != nil || cr.status != http.StatusOK || json.Unmarshal(cr.body, &c) != nil {
				fails(fmt.Sprintf("challenge: %v %s", err, cr.body))
				return
			}
			vp, err := signPresentation(h.key, h.did, h.vm, c.Challenge, erpDomain, vc)
			if err != nil {
				fails(err.Error())
				return
			}
			vr, err := on.do("POST", on.url+"/presentations/verify", "", map[string]any{"verifiablePresentation": vp,
				"options": map[string]any{"challenge": c.Challenge, "domain": erpDomain}})
			if err != nil || vr.status != http.StatusOK {
				fails(fmt.Sprintf("verify on %s: %v %s", on.name, err, vr.body))
			}
		}(i)
	}
	vwg.Wait()
	if len(vbad) > 0 {
		t.Fatalf("%d verifications failed, e.g. %s", len(vbad), vbad[0])
	}

	// One chain, no gap, no fork, as each process reads it.
	events := auditEvents(t, a)
	if len(events) != 3+m {
		t.Fatalf("%d audit events, want %d", len(events), 3+m)
	}
	wantChain(t, events)
	if fromB := auditEvents(t, b); len(fromB) != len(events) || fromB[len(fromB)-1].Hash != events[len(events)-1].Hash {
		t.Fatalf("B reads another chain: %d events", len(fromB))
	}
	res := cli(t, "audit", "verify", "--database", dbURL)
	if res.code != 0 || !strings.Contains(res.stdout, "OK chain") {
		t.Fatalf("agentid audit verify: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}

// delegationSDJWT is the dc+sd-jwt form of a delegation in the answer of
// POST /delegations ({credentials: [{format, credentialId,
// verifiableCredential, status}]}) and its credential id; the test fails
// when the answer lacks it or the ldp_vc form.
func delegationSDJWT(t *testing.T, answer map[string]any) (compact, id string) {
	t.Helper()
	list, _ := answer["credentials"].([]any)
	formats := map[string]bool{}
	for _, c := range list {
		m, _ := c.(map[string]any)
		f, _ := m["format"].(string)
		formats[f] = true
		if f == "dc+sd-jwt" {
			compact, _ = m["verifiableCredential"].(string)
			id, _ = m["credentialId"].(string)
		}
	}
	if len(list) != 2 || !formats["ldp_vc"] || compact == "" || id == "" || id == answer["credentialId"] {
		t.Fatalf("delegation answer without both formats: %s", mustJSON(t, answer))
	}
	return compact, id
}

// organizationDIDs are the issuer DIDs of the default organization.
func organizationDIDs(t *testing.T, p *process) map[string]bool {
	t.Helper()
	org := must(t, p.call(t, "GET", "/admin/organization", adminToken, nil), http.StatusOK, "GET /admin/organization").obj(t)
	dids := map[string]bool{}
	ids, _ := org["issuerIdentities"].([]any)
	for _, id := range ids {
		if m, ok := id.(map[string]any); ok {
			if d, ok := m["did"].(string); ok {
				dids[d] = true
			}
		}
	}
	return dids
}

// delegate has the principal sign a consent for agentDID (pay invoices on
// the ERP, for 8 hours) and returns the AgentDelegationCredential (ldp_vc).
func delegate(t *testing.T, p *process, principal *human, agentDID string) map[string]any {
	t.Helper()
	consent := map[string]any{
		"agent":    agentDID,
		"scopes":   []any{map[string]any{"action": "invoices:pay", "resource": erpInvoices}},
		"audience": []any{erpDomain},
		"purpose":  "Pay approved supplier invoices",
		"exp":      time.Now().Add(8 * time.Hour).Unix(), "iat": time.Now().Unix(), "nonce": randomString(t),
	}
	r := must(t, p.call(t, "POST", "/delegations", "", map[string]any{"consent": jws(t, principal.key, principal.vm, consent)}),
		http.StatusCreated, "POST /delegations")
	return decodeVC(t, r.obj(t)["verifiableCredential"])
}

// countCredentials is the number of credentials the default organization
// has issued, read through GET /credentials.
func countCredentials(t *testing.T, p *process) int {
	t.Helper()
	n, after := 0, ""
	for {
		q := url.Values{"limit": {"1000"}}
		if after != "" {
			q.Set("after", after)
		}
		r := must(t, p.call(t, "GET", "/credentials?"+q.Encode(), adminToken, nil), http.StatusOK, "GET /credentials")
		var page struct {
			Credentials []any   `json:"credentials"`
			Next        *string `json:"next"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatalf("GET /credentials: %v: %s", err, r.body)
		}
		n += len(page.Credentials)
		if page.Next == nil || *page.Next == "" {
			return n
		}
		after = *page.Next
	}
}
