package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
	"github.com/agentid/agentid/verifier"
)

// didSigner is a software key with its did:key.
type didSigner struct {
	key keys.Signer
	did string
}

func newDIDSigner(t *testing.T, kt keys.KeyType) *didSigner {
	t.Helper()
	k, err := software.Generate(kt)
	if err != nil {
		t.Fatal(err)
	}
	did, err := didmethods.CreateKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &didSigner{key: k, did: did}
}

// jws signs payload as a compact JWS with kid = the did:key URL.
func (d *didSigner) jws(t *testing.T, payload any) string {
	t.Helper()
	hdr, _ := json.Marshal(map[string]any{"alg": d.key.Algorithm(), "kid": d.did + "#" + strings.TrimPrefix(d.did, "did:key:")})
	pay, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(pay)
	sig, err := d.key.Sign(context.Background(), []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// addApprovedAgent records an approved agent of org acting for principal,
// as enrollment and approval would.
func addApprovedAgent(t *testing.T, st *store.Store, orgID, principal string) *didSigner {
	t.Helper()
	agent := newDIDSigner(t, keys.P256)
	now := time.Now()
	if err := st.CreateAgent(context.Background(), &store.Agent{
		OrganizationID: orgID, DID: agent.did, Name: "invoice-bot", Software: `{"name":"invoice-bot","version":"1.0.0"}`,
		PrincipalDID: principal, Assurance: "software", Method: "software", AttestedAt: now,
		State: store.AgentApproved, DecidedAt: &now,
	}); err != nil {
		t.Fatal(err)
	}
	return agent
}

func consent(agent string, scopes []any, audience []any, exp time.Time, parent string) map[string]any {
	c := map[string]any{
		"agent": agent, "scopes": scopes, "audience": audience, "purpose": "Pay approved supplier invoices",
		"exp": exp.Unix(), "iat": time.Now().Unix(), "nonce": randomNonce(),
	}
	if parent != "" {
		c["parent"] = parent
	}
	return c
}

func randomNonce() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func payScope(resource string, constraints map[string]any) map[string]any {
	m := map[string]any{"action": "invoices:pay", "resource": resource}
	if constraints != nil {
		m["constraints"] = constraints
	}
	return m
}

// delegate posts a consent and returns the response.
func (f *issuanceFixture) delegate(t *testing.T, consent string) response {
	t.Helper()
	return f.call(t, "POST", "/delegations", "", map[string]any{"consent": consent})
}

// delegation posts a consent that must be accepted and returns the
// delegation credential (ldp_vc) and its id.
func (f *issuanceFixture) delegation(t *testing.T, consent string) (map[string]any, string) {
	t.Helper()
	r := f.delegate(t, consent)
	if r.status != http.StatusCreated {
		t.Fatalf("delegate: %d %s", r.status, r.body)
	}
	var out struct {
		CredentialID string          `json:"credentialId"`
		VC           json.RawMessage `json:"verifiableCredential"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	vc, err := credential.DecodeObject(out.VC)
	if err != nil {
		t.Fatal(err)
	}
	return vc, out.CredentialID
}

func (f *issuanceFixture) countDelegations(t *testing.T) int64 {
	t.Helper()
	n, err := f.st.CountIssuedCredentials(context.Background(), f.orgA.ID)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// signedStatus sends a principal's signed status request.
func (f *issuanceFixture) signedStatus(t *testing.T, signer *didSigner, id, status string, mutate func(map[string]any)) (response, string) {
	t.Helper()
	p := map[string]any{"credentialId": id, "status": status, "nonce": randomNonce(), "iat": time.Now().Unix(), "aud": f.url}
	if mutate != nil {
		mutate(p)
	}
	proof := signer.jws(t, p)
	return f.sendSigned(t, id, status, proof), proof
}

func (f *issuanceFixture) sendSigned(t *testing.T, id, status, proof string) response {
	t.Helper()
	return f.call(t, "POST", "/credentials/status", "", map[string]any{
		"credentialId": id, "proof": proof,
		"credentialStatus": []any{map[string]any{"type": "BitstringStatusListCredential", "status": status}},
	})
}

// A human's consent yields a delegation credential that verifies and
// carries the scopes; a sub-delegation may narrow but not widen it;
// revoking the parent revokes the child in the status list.
func TestDelegationEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		offline := verifier.New()
		live := fetchingVerifier(t)
		human := newDIDSigner(t, keys.Ed25519)
		agent := addApprovedAgent(t, st, f.orgA.ID, human.did)
		sub := addApprovedAgent(t, st, f.orgA.ID, human.did)

		const erp = "https://erp.example.com/api/invoices"
		aud := []any{"https://erp.example.com", "https://pay.example.com"}
		exp := time.Now().Add(12 * time.Hour)
		scopes := []any{payScope(erp, map[string]any{"maxAmount": 500, "currency": "EUR"}),
			map[string]any{"action": "invoices:read", "resource": erp}}
		vc, credID := f.delegation(t, human.jws(t, consent(agent.did, scopes, aud, exp, "")))
		res := offline.VerifyCredential(ctx, vc, verifier.Options{})
		if !res.Verified {
			raw, _ := json.Marshal(res)
			t.Fatalf("delegation does not verify: %s", raw)
		}
		wantLiveVerified(t, live.VerifyCredential(ctx, vc, verifier.Options{}), "delegation")
		subj := vc["credentialSubject"].(map[string]any)
		if subj["id"] != agent.did || subj["delegator"] != human.did || len(subj["scopes"].([]any)) != 2 ||
			subj["scopes"].([]any)[0].(map[string]any)["action"] != "invoices:pay" {
			t.Fatalf("subject: %v", subj)
		}
		ev := vc["evidence"].([]any)[0].(map[string]any)
		if ev["type"] != "HumanApproval" || ev["approver"] != human.did || !strings.Contains(ev["consent"].(string), ".") {
			t.Fatalf("evidence: %v", ev)
		}
		if vc["validUntil"] != exp.UTC().Format(time.RFC3339) {
			t.Fatalf("validUntil %v, want %s", vc["validUntil"], exp.UTC().Format(time.RFC3339))
		}

		// The same consent again: refused.
		before := f.countDelegations(t)
		c1 := human.jws(t, consent(agent.did, scopes, aud, exp, ""))
		if r := f.delegate(t, c1); r.status != http.StatusCreated {
			t.Fatalf("second consent: %d %s", r.status, r.body)
		}
		assertProblem(t, f.delegate(t, c1), http.StatusBadRequest, "/consent")
		// One delegation, two credentials (ldp_vc and SD-JWT VC).
		if n := f.countDelegations(t); n != before+2 {
			t.Fatalf("%d credentials after a replayed consent, want %d", n, before+2)
		}

		// Sub-delegation by the agent: narrower scope, audience and expiry.
		subExp := exp.Add(-time.Hour)
		narrow := []any{payScope(erp+"/eu", map[string]any{"maxAmount": 500, "currency": "EUR", "supplier": "ACME"})}
		r := f.delegate(t, agent.jws(t, consent(sub.did, narrow, aud[:1], subExp, credID)))
		if r.status != http.StatusCreated {
			t.Fatalf("sub-delegation: %d %s", r.status, r.body)
		}
		child := r.json(t)
		childVC, _ := credential.DecodeObject(mustJSON(t, child["verifiableCredential"]))
		wantLiveVerified(t, live.VerifyCredential(ctx, childVC, verifier.Options{}), "sub-delegation")
		if child["parentDelegationId"] == nil {
			t.Fatalf("sub-delegation has no parent: %v", child)
		}
		// Grandchild below the child, to show the cascade goes all the way.
		sub2 := addApprovedAgent(t, st, f.orgA.ID, human.did)
		r = f.delegate(t, sub.jws(t, consent(sub2.did, narrow, aud[:1], subExp, child["credentialId"].(string))))
		if r.status != http.StatusCreated {
			t.Fatalf("sub-sub-delegation: %d %s", r.status, r.body)
		}
		grandVC, _ := credential.DecodeObject(mustJSON(t, r.json(t)["verifiableCredential"]))

		// Widening: each names its field; nothing is stored.
		before = f.countDelegations(t)
		for _, c := range []struct {
			name   string
			scopes []any
			aud    []any
			exp    time.Time
			field  string
		}{
			{"other action", []any{map[string]any{"action": "invoices:delete", "resource": erp}}, aud[:1], subExp, "/consent/scopes/0"},
			{"wider resource", []any{payScope("https://erp.example.com/api", map[string]any{"maxAmount": 500, "currency": "EUR"})}, aud[:1], subExp, "/consent/scopes/0"},
			{"dropped constraint", []any{payScope(erp, map[string]any{"currency": "EUR"})}, aud[:1], subExp, "/consent/scopes/0"},
			{"other audience", narrow, []any{"https://evil.example.com"}, subExp, "/consent/audience/0"},
			{"later exp", narrow, aud[:1], exp.Add(time.Hour), "/consent/exp"},
		} {
			r := f.delegate(t, agent.jws(t, consent(sub.did, c.scopes, c.aud, c.exp, credID)))
			assertProblem(t, r, http.StatusBadRequest, c.field)
		}
		// A sub-delegation signed by someone other than the parent's agent.
		assertProblem(t, f.delegate(t, human.jws(t, consent(sub.did, narrow, aud[:1], subExp, credID))), http.StatusForbidden, "")
		assertProblem(t, f.delegate(t, agent.jws(t, consent(sub.did, narrow, aud[:1], subExp, "urn:uuid:00000000-0000-4000-8000-000000000000"))), http.StatusBadRequest, "/consent/parent")
		if n := f.countDelegations(t); n != before {
			t.Fatalf("%d credentials after refused sub-delegations, want %d", n, before)
		}

		// The human revokes the parent with a signed request: the child
		// and grandchild are revoked in the same change.
		if r, _ := f.signedStatus(t, human, credID, "revoked", nil); r.status != http.StatusOK {
			t.Fatalf("principal revocation: %d %s", r.status, r.body)
		}
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, vc, verifier.Options{}), verifier.CodeRevoked, "revoked parent")
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, childVC, verifier.Options{}), verifier.CodeRevoked, "child of a revoked parent")
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, grandVC, verifier.Options{}), verifier.CodeRevoked, "grandchild of a revoked parent")
		// A revoked parent takes no new children.
		assertProblem(t, f.delegate(t, agent.jws(t, consent(sub.did, narrow, aud[:1], subExp, credID))), http.StatusBadRequest, "/consent/parent")
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Consents that are signed by someone else, stale, too long or malformed
// are refused, and nothing is stored.
func TestDelegationBadConsent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newIssuanceFixture(t, st)
		human := newDIDSigner(t, keys.Ed25519)
		other := newDIDSigner(t, keys.P256)
		agent := addApprovedAgent(t, st, f.orgA.ID, human.did)
		pending := newDIDSigner(t, keys.P256)
		if err := st.CreateAgent(context.Background(), &store.Agent{OrganizationID: f.orgA.ID, DID: pending.did, Name: "p", Software: "{}",
			PrincipalDID: human.did, Assurance: "software", Method: "software", AttestedAt: time.Now(), State: store.AgentPendingApproval}); err != nil {
			t.Fatal(err)
		}
		scopes := []any{payScope("https://erp.example.com/api/invoices", nil)}
		aud := []any{"https://erp.example.com"}
		exp := time.Now().Add(time.Hour)
		good := func() map[string]any { return consent(agent.did, scopes, aud, exp, "") }
		with := func(k string, v any) map[string]any { c := good(); c[k] = v; return c }

		before := f.countDelegations(t)
		// Signed by someone else, or for an agent not approved: 403.
		assertProblem(t, f.delegate(t, other.jws(t, good())), http.StatusForbidden, "")
		assertProblem(t, f.delegate(t, human.jws(t, with("agent", pending.did))), http.StatusForbidden, "")
		assertProblem(t, f.delegate(t, human.jws(t, with("agent", other.did))), http.StatusForbidden, "")
		// Times.
		assertProblem(t, f.delegate(t, human.jws(t, with("exp", time.Now().Add(-time.Minute).Unix()))), http.StatusBadRequest, "/consent/exp")
		assertProblem(t, f.delegate(t, human.jws(t, with("exp", time.Now().Add(25*time.Hour).Unix()))), http.StatusBadRequest, "/consent/exp")
		assertProblem(t, f.delegate(t, human.jws(t, with("iat", time.Now().Add(-10*time.Minute).Unix()))), http.StatusBadRequest, "/consent/iat")
		assertProblem(t, f.delegate(t, human.jws(t, with("iat", time.Now().Add(10*time.Minute).Unix()))), http.StatusBadRequest, "/consent/iat")
		// Shape.
		assertProblem(t, f.delegate(t, human.jws(t, with("scopes", []any{}))), http.StatusBadRequest, "/consent/scopes")
		assertProblem(t, f.delegate(t, human.jws(t, with("scopes", []any{map[string]any{"action": "pay invoices", "resource": "erp"}}))), http.StatusBadRequest, "/consent/scopes/0/action")
		assertProblem(t, f.delegate(t, human.jws(t, with("audience", []any{"not a url"}))), http.StatusBadRequest, "/consent/audience/0")
		assertProblem(t, f.delegate(t, human.jws(t, with("purpose", ""))), http.StatusBadRequest, "/consent/purpose")
		// Signature and JWS form.
		c := human.jws(t, good())
		parts := strings.Split(c, ".")
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(t, with("exp", time.Now().Add(2*time.Hour).Unix()))) + "." + parts[2]
		assertProblem(t, f.delegate(t, tampered), http.StatusBadRequest, "/consent")
		noKid := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA"}`)) + "." + parts[1] + "." + parts[2]
		assertProblem(t, f.delegate(t, noKid), http.StatusBadRequest, "/consent")
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+human.did+`#`+strings.TrimPrefix(human.did, "did:key:")+`"}`)) + "." + parts[1] + "."
		assertProblem(t, f.delegate(t, none), http.StatusBadRequest, "/consent")
		assertProblem(t, f.delegate(t, "not.a.jws"), http.StatusBadRequest, "/consent")
		assertProblem(t, f.call(t, "POST", "/delegations", "", map[string]any{}), http.StatusBadRequest, "/consent")
		assertProblem(t, f.call(t, "POST", "/delegations", "", map[string]any{"consent": c, "org": "nope"}), http.StatusBadRequest, "/org")
		if n := f.countDelegations(t); n != before {
			t.Fatalf("%d credentials after refused consents, want %d", n, before)
		}
		// The agent is of org A: the same consent presented to org B is 403.
		assertProblem(t, f.call(t, "POST", "/delegations", "", map[string]any{"consent": c, "org": f.orgB.Slug}), http.StatusForbidden, "")
	})
}

// The principal revokes their agent's credential with a signed request;
// replays, other signers, stale or mismatched proofs are refused.
func TestPrincipalSignedStatusChange(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		live := fetchingVerifier(t)
		human := newDIDSigner(t, keys.Ed25519)
		other := newDIDSigner(t, keys.Ed25519)
		doc := identityDoc(t)
		doc["credentialSubject"].(map[string]any)["principal"] = human.did
		vc := f.issue(t, f.tokA, doc, nil)
		id := credentialID(vc)
		wantLiveVerified(t, live.VerifyCredential(ctx, vc, verifier.Options{}), "fresh")

		// Another human: 403, and no change.
		r, _ := f.signedStatus(t, other, id, "suspended", nil)
		assertProblem(t, r, http.StatusForbidden, "")
		// An unknown credential looks the same.
		r, _ = f.signedStatus(t, human, "urn:uuid:00000000-0000-4000-8000-000000000000", "suspended", nil)
		assertProblem(t, r, http.StatusForbidden, "")
		// Mismatched or stale proofs: 400; a bad signature or none: 401.
		for name, m := range map[string]func(map[string]any){
			"other credential": func(p map[string]any) { p["credentialId"] = "urn:uuid:x" },
			"other status":     func(p map[string]any) { p["status"] = "revoked" },
			"other aud":        func(p map[string]any) { p["aud"] = "https://elsewhere.example.com" },
			"old iat":          func(p map[string]any) { p["iat"] = time.Now().Add(-10 * time.Minute).Unix() },
			"future iat":       func(p map[string]any) { p["iat"] = time.Now().Add(10 * time.Minute).Unix() },
			"short nonce":      func(p map[string]any) { p["nonce"] = "x" },
		} {
			r, _ := f.signedStatus(t, human, id, "suspended", m)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: %d %s", name, r.status, r.body)
			}
			assertProblem(t, r, http.StatusBadRequest, "/proof")
		}
		_, proof := f.signedStatus(t, other, id, "suspended", nil)
		parts := strings.Split(proof, ".")
		assertProblem(t, f.sendSigned(t, id, "suspended", parts[0]+"."+parts[1]+"."+base64.RawURLEncoding.EncodeToString(make([]byte, 64))), http.StatusUnauthorized, "/proof")
		assertProblem(t, f.sendSigned(t, id, "suspended", ""), http.StatusUnauthorized, "/proof")
		wantLiveVerified(t, live.VerifyCredential(ctx, vc, verifier.Options{}), "after refused requests")

		// The principal suspends: 200, and the list shows it at once.
		r, proof = f.signedStatus(t, human, id, "suspended", nil)
		if r.status != http.StatusOK || r.json(t)["status"] != "suspended" {
			t.Fatalf("principal suspension: %d %s", r.status, r.body)
		}
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, vc, verifier.Options{}), verifier.CodeSuspended, "suspended by the principal")
		// The same request again: a replay.
		assertProblem(t, f.sendSigned(t, id, "suspended", proof), http.StatusBadRequest, "/proof")
		// Reinstate, then revoke.
		if r, _ := f.signedStatus(t, human, id, "active", nil); r.status != http.StatusOK {
			t.Fatalf("reinstate: %d %s", r.status, r.body)
		}
		wantLiveVerified(t, live.VerifyCredential(ctx, vc, verifier.Options{}), "reinstated")
		if r, _ := f.signedStatus(t, human, id, "revoked", nil); r.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, vc, verifier.Options{}), verifier.CodeRevoked, "revoked by the principal")
		// The admin path is unchanged.
		if r := f.setStatus(t, f.tokA, id, "revoked"); r.status != http.StatusOK {
			t.Fatalf("admin: %d %s", r.status, r.body)
		}
		assertProblem(t, f.setStatus(t, "wrong-token", id, "revoked"), http.StatusUnauthorized, "")
	})
}
