package server

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/verifier"
)

// issuedDelegation is a POST /delegations answer, its credentials by format.
type issuedDelegation struct {
	id    string
	ldp   map[string]any
	ldpID string
	sd    string
	sdID  string
	body  map[string]any
}

func readDelegation(t *testing.T, r response) *issuedDelegation {
	t.Helper()
	if r.status != http.StatusCreated {
		t.Fatalf("delegation: %d %s", r.status, r.body)
	}
	m := r.json(t)
	d := &issuedDelegation{id: m["delegationId"].(string), body: m}
	for _, c := range m["credentials"].([]any) {
		c := c.(map[string]any)
		switch c["format"] {
		case issuer.FormatLDPVC:
			vc, err := credential.DecodeObject(mustJSON(t, c["verifiableCredential"]))
			if err != nil {
				t.Fatal(err)
			}
			d.ldp, d.ldpID = vc, c["credentialId"].(string)
		case issuer.FormatSDJWT:
			d.sd, d.sdID = c["verifiableCredential"].(string), c["credentialId"].(string)
		default:
			t.Fatalf("format %v", c["format"])
		}
	}
	return d
}

// delegateWith posts a consent with extra request fields.
func (f *issuanceFixture) delegateWith(t *testing.T, consent string, extra map[string]any) response {
	t.Helper()
	body := map[string]any{"consent": consent}
	for k, v := range extra {
		body[k] = v
	}
	return f.call(t, "POST", "/delegations", "", body)
}

// verifySDJWT verifies an SD-JWT VC with the SD-JWT library (issuer key
// from its did:key) and returns its claims.
func verifySDJWT(t *testing.T, sd string) *sdjwt.Result {
	t.Helper()
	res, err := sdjwt.Verify(context.Background(), sd, sdjwt.VerifyOptions{VC: true, Resolver: didmethods.NewDefaultRegistry()})
	if err != nil {
		t.Fatalf("SD-JWT VC does not verify: %v", err)
	}
	return res
}

// rows counts what a refused request must not change.
func (f *issuanceFixture) rows(t *testing.T) [2]int64 {
	t.Helper()
	d, err := f.st.CountDelegations(context.Background(), f.orgA.ID)
	if err != nil {
		t.Fatal(err)
	}
	return [2]int64{d, f.countDelegations(t)}
}

func (f *issuanceFixture) wantRows(t *testing.T, before [2]int64, what string) {
	t.Helper()
	if now := f.rows(t); now != before {
		t.Fatalf("%s: delegations and credentials %v, want %v", what, now, before)
	}
}

func problemType(t *testing.T, p map[string]any, slug string) {
	t.Helper()
	if typ, _ := p["type"].(string); !strings.HasSuffix(typ, "/"+slug) {
		t.Fatalf("problem type %v, want …/%s", p["type"], slug)
	}
}

// A delegation is issued as ldp_vc and as SD-JWT VC; both verify, a
// status change of either applies to both, and revocation cascades to
// both credentials of every child.
func TestDelegationBothFormats(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		live := fetchingVerifier(t)
		human := newDIDSigner(t, keys.Ed25519)
		agent := addApprovedAgent(t, st, f.orgA.ID, human.did)
		sub := addApprovedAgent(t, st, f.orgA.ID, human.did)
		const erp = "https://erp.example.com/api/invoices"
		aud := []any{"https://erp.example.com"}
		exp := time.Now().Add(6 * time.Hour)
		scopes := []any{payScope(erp, map[string]any{"maxAmount": 500})}

		root := readDelegation(t, f.delegate(t, human.jws(t, consent(agent.did, scopes, aud, exp, ""))))
		if root.ldp == nil || root.sd == "" || root.body["credentialId"] != root.ldpID || len(root.body["credentials"].([]any)) != 2 {
			t.Fatalf("want both formats, credentialId the ldp_vc's: %v", root.body)
		}
		wantLiveVerified(t, live.VerifyCredential(ctx, root.ldp, verifier.Options{}), "ldp_vc")
		wantLiveVerified(t, live.VerifyCredential(ctx, root.sd, verifier.Options{}), "SD-JWT VC")
		res := verifySDJWT(t, root.sd)
		if res.Type != issuer.VCTAgentDelegation || res.HolderKey == nil || res.Status == nil {
			t.Fatalf("SD-JWT VC: vct %q, cnf %v, status %v", res.Type, res.HolderJWK, res.Status)
		}
		if res.Claims["sub"] != agent.did || res.Claims["delegator"] != human.did || res.Claims["purpose"] == nil ||
			len(res.Claims["scopes"].([]any)) != 1 || res.Claims["audience"] == nil {
			t.Fatalf("SD-JWT claims: %v", res.Claims)
		}
		ev, _ := res.Claims["evidence"].([]any)
		if len(ev) != 1 || ev[0].(map[string]any)["type"] != "HumanApproval" || ev[0].(map[string]any)["approver"] != human.did ||
			ev[0].(map[string]any)["consent"] != root.ldp["evidence"].([]any)[0].(map[string]any)["consent"] {
			t.Fatalf("SD-JWT evidence: %v", res.Claims["evidence"])
		}
		for _, p := range []string{"/scopes", "/audience", "/delegator", "/purpose", "/sub", "/evidence"} {
			if !strings.Contains(strings.Join(res.Disclosed, " "), p) {
				t.Errorf("%s is not selectively disclosable: %v", p, res.Disclosed)
			}
		}
		for _, p := range []string{"/iss", "/vct", "/cnf", "/status"} {
			for _, d := range res.Disclosed {
				if d == p {
					t.Errorf("%s is disclosable", p)
				}
			}
		}
		if !res.Expiry.Equal(exp.Truncate(time.Second)) {
			t.Errorf("exp %s, want %s", res.Expiry, exp)
		}

		// Formats may be limited; unknown ones are refused.
		only := readDelegation(t, f.delegateWith(t, human.jws(t, consent(agent.did, scopes, aud, exp, "")), map[string]any{"formats": []any{"dc+sd-jwt"}}))
		if only.ldp != nil || only.sd == "" || only.body["credentialId"] != only.sdID {
			t.Fatalf("sd-jwt only: %v", only.body)
		}
		before := f.rows(t)
		assertProblem(t, f.delegateWith(t, human.jws(t, consent(agent.did, scopes, aud, exp, "")), map[string]any{"formats": []any{"jwt_vc"}}), 400, "/formats/0")
		assertProblem(t, f.delegateWith(t, human.jws(t, consent(agent.did, scopes, aud, exp, "")), map[string]any{"formats": []any{"ldp_vc", "ldp_vc"}}), 400, "/formats/1")
		f.wantRows(t, before, "bad formats")

		// Suspending the SD-JWT suspends the ldp_vc; reinstating the ldp_vc
		// reinstates the SD-JWT.
		if r := f.setStatus(t, f.tokA, root.sdID, "suspended"); r.status != 200 {
			t.Fatalf("suspend: %d %s", r.status, r.body)
		}
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, root.ldp, verifier.Options{}), verifier.CodeSuspended, "ldp_vc of a suspended SD-JWT")
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, root.sd, verifier.Options{}), verifier.CodeSuspended, "suspended SD-JWT")
		if r := f.setStatus(t, f.tokA, root.ldpID, "active"); r.status != 200 {
			t.Fatalf("reinstate: %d %s", r.status, r.body)
		}
		wantLiveVerified(t, live.VerifyCredential(ctx, root.sd, verifier.Options{}), "SD-JWT reinstated with the ldp_vc")

		// A child in both formats; a grandchild; the principal revokes the
		// root's SD-JWT: everything is revoked, both formats.
		narrow := []any{payScope(erp+"/eu", map[string]any{"maxAmount": 500})}
		child := readDelegation(t, f.delegate(t, agent.jws(t, consent(sub.did, narrow, aud, exp.Add(-time.Hour), root.sdID))))
		sub2 := addApprovedAgent(t, st, f.orgA.ID, human.did)
		grand := readDelegation(t, f.delegate(t, sub.jws(t, consent(sub2.did, narrow, aud, exp.Add(-time.Hour), child.id))))
		wantLiveVerified(t, live.VerifyCredential(ctx, child.sd, verifier.Options{}), "child SD-JWT")
		if r, _ := f.signedStatus(t, human, root.sdID, "revoked", nil); r.status != 200 {
			t.Fatalf("principal revocation: %d %s", r.status, r.body)
		}
		for name, vc := range map[string]any{"root ldp_vc": root.ldp, "root SD-JWT": root.sd, "child ldp_vc": child.ldp,
			"child SD-JWT": child.sd, "grandchild ldp_vc": grand.ldp, "grandchild SD-JWT": grand.sd} {
			wantLiveStatusFailure(t, live.VerifyCredential(ctx, vc, verifier.Options{}), verifier.CodeRevoked, name)
		}
		for _, id := range []string{root.ldpID, child.sdID, grand.ldpID} {
			if r := f.call(t, "GET", "/credentials/"+url.PathEscape(id), f.tokA, nil); r.json(t)["credential"].(map[string]any)["status"] != "revoked" {
				t.Errorf("%s: %s", id, r.body)
			}
		}
		// The other delegation is untouched.
		wantLiveVerified(t, live.VerifyCredential(ctx, only.sd, verifier.Options{}), "unrelated delegation")
	})
}

// Organization approvers may sign root consents for any approved agent;
// others may not, nor approvers once removed.
func TestDelegationApprovers(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		human := newDIDSigner(t, keys.Ed25519)
		approver := newDIDSigner(t, keys.P256)
		stranger := newDIDSigner(t, keys.Ed25519)
		agent := addApprovedAgent(t, st, f.orgA.ID, human.did)
		scopes := []any{payScope("https://erp.example.com/api/invoices", nil)}
		aud := []any{"https://erp.example.com"}
		exp := time.Now().Add(time.Hour)

		before := f.rows(t)
		assertProblem(t, f.delegate(t, approver.jws(t, consent(agent.did, scopes, aud, exp, ""))), 403, "")
		f.wantRows(t, before, "consent by a non-approver")

		// Admin only, per organization, did:key only.
		assertProblem(t, f.call(t, "POST", "/agents/approvers", "", map[string]any{"did": approver.did}), 401, "")
		assertProblem(t, f.call(t, "POST", "/agents/approvers", f.tokA, map[string]any{"did": "did:web:example.com"}), 400, "/did")
		assertProblem(t, f.call(t, "POST", "/agents/approvers", f.tokA, map[string]any{}), 400, "/did")
		if r := f.call(t, "POST", "/agents/approvers", f.tokA, map[string]any{"did": approver.did}); r.status != 201 || r.json(t)["did"] != approver.did {
			t.Fatalf("add approver: %d %s", r.status, r.body)
		}
		assertProblem(t, f.call(t, "POST", "/agents/approvers", f.tokA, map[string]any{"did": approver.did}), 409, "")
		list := f.call(t, "GET", "/agents/approvers", f.tokA, nil).json(t)["approvers"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["did"] != approver.did {
			t.Fatalf("approvers: %v", list)
		}
		if l := f.call(t, "GET", "/agents/approvers", f.tokB, nil).json(t)["approvers"].([]any); len(l) != 0 {
			t.Fatalf("org B sees org A's approvers: %v", l)
		}

		d := readDelegation(t, f.delegate(t, approver.jws(t, consent(agent.did, scopes, aud, exp, ""))))
		ev := d.ldp["evidence"].([]any)[0].(map[string]any)
		if ev["approver"] != approver.did || d.ldp["credentialSubject"].(map[string]any)["delegator"] != approver.did {
			t.Fatalf("evidence: %v", ev)
		}
		wantLiveVerified(t, fetchingVerifier(t).VerifyCredential(ctx, d.ldp, verifier.Options{}), "approver's delegation")
		rec, err := st.DelegationByRef(ctx, f.orgA.ID, d.id)
		if err != nil || rec.DelegatorRole != issuer.DelegatorApprover || rec.PrincipalDID != human.did {
			t.Fatalf("record: %+v %v", rec, err)
		}
		// A stranger still cannot; an approver of org A cannot for org B.
		before = f.rows(t)
		assertProblem(t, f.delegate(t, stranger.jws(t, consent(agent.did, scopes, aud, exp, ""))), 403, "")
		assertProblem(t, f.delegateWith(t, approver.jws(t, consent(agent.did, scopes, aud, exp, "")), map[string]any{"org": f.orgB.Slug}), 403, "")
		f.wantRows(t, before, "consents by a stranger")

		// Removed: refused from then on.
		assertProblem(t, f.call(t, "DELETE", "/agents/approvers/"+approver.did, f.tokB, nil), 404, "")
		if r := f.call(t, "DELETE", "/agents/approvers/"+approver.did, f.tokA, nil); r.status != 204 {
			t.Fatalf("remove: %d %s", r.status, r.body)
		}
		assertProblem(t, f.call(t, "DELETE", "/agents/approvers/"+approver.did, f.tokA, nil), 404, "")
		before = f.rows(t)
		assertProblem(t, f.delegate(t, approver.jws(t, consent(agent.did, scopes, aud, exp, ""))), 403, "")
		f.wantRows(t, before, "consent by a removed approver")
	})
}

// A new consent renews a delegation: the old one is superseded (revoked),
// its children that narrow the new one move below it, the others are
// revoked.
func TestDelegationRenewalByConsent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		live := fetchingVerifier(t)
		human := newDIDSigner(t, keys.Ed25519)
		other := newDIDSigner(t, keys.Ed25519)
		agent := addApprovedAgent(t, st, f.orgA.ID, human.did)
		agent2 := addApprovedAgent(t, st, f.orgA.ID, human.did)
		subA := addApprovedAgent(t, st, f.orgA.ID, human.did)
		subB := addApprovedAgent(t, st, f.orgA.ID, human.did)
		const erp = "https://erp.example.com/api/invoices"
		aud := []any{"https://erp.example.com"}
		exp := time.Now().Add(2 * time.Hour)
		read := map[string]any{"action": "invoices:read", "resource": erp}
		old := readDelegation(t, f.delegate(t, human.jws(t, consent(agent.did, []any{payScope(erp, nil), read}, aud, exp, ""))))
		keep := readDelegation(t, f.delegate(t, agent.jws(t, consent(subA.did, []any{read}, aud, exp, old.ldpID))))
		lose := readDelegation(t, f.delegate(t, agent.jws(t, consent(subB.did, []any{payScope(erp, nil)}, aud, exp, old.sdID))))

		renewal := func(signer *didSigner, agentDID, renews string) string {
			c := consent(agentDID, []any{read}, aud, time.Now().Add(20*time.Hour), "")
			c["renews"] = renews
			return signer.jws(t, c)
		}
		before := f.rows(t)
		assertProblem(t, f.delegate(t, renewal(human, agent.did, "urn:uuid:00000000-0000-4000-8000-000000000000")), 400, "/consent/renews")
		assertProblem(t, f.delegate(t, renewal(human, agent2.did, old.id)), 400, "/consent/agent")
		assertProblem(t, f.delegate(t, renewal(other, agent.did, old.id)), 403, "")
		// A sub-delegation cannot be renewed as a root one.
		assertProblem(t, f.delegate(t, renewal(human, subA.did, keep.id)), 400, "/consent/parent")
		f.wantRows(t, before, "refused renewals")

		next := readDelegation(t, f.delegate(t, renewal(human, agent.did, old.sdID)))
		if sup, _ := next.body["supersedes"].(map[string]any); sup["delegationId"] != old.id || sup["reparented"] != 1.0 || sup["revoked"] != 2.0 {
			t.Fatalf("supersedes: %v", next.body["supersedes"])
		}
		wantLiveVerified(t, live.VerifyCredential(ctx, next.ldp, verifier.Options{}), "renewed ldp_vc")
		wantLiveVerified(t, live.VerifyCredential(ctx, next.sd, verifier.Options{}), "renewed SD-JWT")
		for name, vc := range map[string]any{"old ldp_vc": old.ldp, "old SD-JWT": old.sd, "non-narrowing child": lose.ldp, "its SD-JWT": lose.sd} {
			wantLiveStatusFailure(t, live.VerifyCredential(ctx, vc, verifier.Options{}), verifier.CodeRevoked, name)
		}
		wantLiveVerified(t, live.VerifyCredential(ctx, keep.sd, verifier.Options{}), "re-parented child")
		rec, err := st.DelegationByRef(ctx, f.orgA.ID, keep.id)
		if err != nil || rec.ParentID == nil || *rec.ParentID != next.id {
			t.Fatalf("child's parent: %+v %v", rec, err)
		}
		nrec, err := st.DelegationByRef(ctx, f.orgA.ID, next.id)
		if err != nil || nrec.RenewalOf == nil || *nrec.RenewalOf != old.id {
			t.Fatalf("renewal record: %+v %v", nrec, err)
		}
		// The superseded delegation cannot be renewed again, and revoking
		// the new one reaches the moved child.
		before = f.rows(t)
		assertProblem(t, f.delegate(t, renewal(human, agent.did, old.id)), 400, "/consent/renews")
		f.wantRows(t, before, "renewing a superseded delegation")
		if r := f.setStatus(t, f.tokA, next.ldpID, "revoked"); r.status != 200 {
			t.Fatal(r.status)
		}
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, keep.sd, verifier.Options{}), verifier.CodeRevoked, "moved child of a revoked renewal")
	})
}

// renewProof is an agent's signed renewal request.
func (f *issuanceFixture) renew(t *testing.T, signer *didSigner, id string, mutate func(map[string]any)) (response, string) {
	t.Helper()
	p := map[string]any{"delegation": id, "nonce": randomNonce(), "iat": time.Now().Unix(), "aud": f.url}
	if mutate != nil {
		mutate(p)
	}
	proof := signer.jws(t, p)
	return f.sendRenewal(t, id, proof), proof
}

func (f *issuanceFixture) sendRenewal(t *testing.T, id, proof string) response {
	t.Helper()
	return f.call(t, "POST", "/delegations/"+url.PathEscape(id)+"/renew", "", map[string]any{"proof": proof})
}

// An agent renews its delegation under the organization's policy; each
// refusal is a 403 of its own type and writes nothing.
func TestDelegationRenewalByPolicy(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		live := fetchingVerifier(t)
		human := newDIDSigner(t, keys.Ed25519)
		agent := addApprovedAgent(t, st, f.orgA.ID, human.did)
		sub := addApprovedAgent(t, st, f.orgA.ID, human.did)
		scopes := []any{payScope("https://erp.example.com/api/invoices", nil)}
		aud := []any{"https://erp.example.com"}
		d := readDelegation(t, f.delegate(t, human.jws(t, consent(agent.did, scopes, aud, time.Now().Add(time.Hour), ""))))

		// The default policy: no renewal.
		if p := f.call(t, "GET", "/agents/delegation-policy", f.tokA, nil).json(t); p["renewable"] != false {
			t.Fatalf("default policy: %v", p)
		}
		before := f.rows(t)
		r, _ := f.renew(t, agent, d.id, nil)
		problemType(t, assertProblem(t, r, 403, ""), issuer.ProblemRenewalNotAllowed)
		f.wantRows(t, before, "renewal not allowed")

		// Policy input.
		assertProblem(t, f.call(t, "PUT", "/agents/delegation-policy", f.tokA, map[string]any{"renewable": true}), 400, "/maxRenewals")
		assertProblem(t, f.call(t, "PUT", "/agents/delegation-policy", f.tokA, map[string]any{"renewable": true, "maxRenewals": 0, "maxLifetime": "48h"}), 400, "/maxRenewals")
		assertProblem(t, f.call(t, "PUT", "/agents/delegation-policy", f.tokA, map[string]any{"renewable": true, "maxRenewals": 1, "maxLifetime": "two days"}), 400, "/maxLifetime")
		assertProblem(t, f.call(t, "PUT", "/agents/delegation-policy", "", map[string]any{"renewable": true, "maxRenewals": 1, "maxLifetime": "48h"}), 401, "")
		if r := f.call(t, "PUT", "/agents/delegation-policy", f.tokA, map[string]any{"renewable": true, "maxRenewals": 1, "maxLifetime": "48h"}); r.status != 200 || r.json(t)["maxLifetime"] != "48h0m0s" {
			t.Fatalf("put policy: %d %s", r.status, r.body)
		}
		if p := f.call(t, "GET", "/agents/delegation-policy", f.tokB, nil).json(t); p["renewable"] != false {
			t.Fatalf("org B's policy changed: %v", p)
		}

		// Bad requests: 400/401/403, nothing written.
		before = f.rows(t)
		r, _ = f.renew(t, human, d.id, nil)
		assertProblem(t, r, 403, "")
		r, _ = f.renew(t, agent, d.id, func(p map[string]any) { p["aud"] = "https://elsewhere.example.com" })
		assertProblem(t, r, 400, "/proof")
		r, _ = f.renew(t, agent, d.id, func(p map[string]any) { p["delegation"] = d.sdID })
		assertProblem(t, r, 400, "/proof")
		r, _ = f.renew(t, agent, d.id, func(p map[string]any) { p["iat"] = time.Now().Add(-time.Hour).Unix() })
		assertProblem(t, r, 400, "/proof")
		_, proof := f.renew(t, sub, "urn:uuid:00000000-0000-4000-8000-000000000000", nil)
		parts := strings.Split(proof, ".")
		assertProblem(t, f.sendRenewal(t, d.id, parts[0]+"."+parts[1]+"."+base64.RawURLEncoding.EncodeToString(make([]byte, 64))), 401, "/proof")
		f.wantRows(t, before, "bad renewal requests")

		// Renewed: fresh credentials for 24 h, the old ones superseded.
		r, proof = f.renew(t, agent, d.sdID, nil)
		next := readDelegation(t, r)
		if next.id != d.id || next.body["renewals"] != 1.0 || next.ldpID == d.ldpID || next.sd == "" {
			t.Fatalf("renewal: %v", next.body)
		}
		until, _ := time.Parse(time.RFC3339, next.ldp["validUntil"].(string))
		if time.Until(until) < 23*time.Hour || time.Until(until) > 24*time.Hour+time.Minute {
			t.Fatalf("renewed validUntil %s", until)
		}
		if !verifySDJWT(t, next.sd).Expiry.Equal(until) {
			t.Fatal("the SD-JWT's exp differs from the ldp_vc's validUntil")
		}
		wantLiveVerified(t, live.VerifyCredential(ctx, next.ldp, verifier.Options{}), "renewed ldp_vc")
		wantLiveVerified(t, live.VerifyCredential(ctx, next.sd, verifier.Options{}), "renewed SD-JWT")
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, d.ldp, verifier.Options{}), verifier.CodeRevoked, "superseded ldp_vc")
		wantLiveStatusFailure(t, live.VerifyCredential(ctx, d.sd, verifier.Options{}), verifier.CodeRevoked, "superseded SD-JWT")

		// Replayed: 400. Again: the one renewal is used up.
		before = f.rows(t)
		assertProblem(t, f.sendRenewal(t, d.sdID, proof), 400, "/proof")
		r, _ = f.renew(t, agent, d.id, nil)
		problemType(t, assertProblem(t, r, 403, ""), issuer.ProblemRenewalsExhausted)
		f.wantRows(t, before, "replayed and exhausted renewals")

		// The lifetime cap: 2 h from the consent.
		if r := f.call(t, "PUT", "/agents/delegation-policy", f.tokA, map[string]any{"renewable": true, "maxRenewals": 5, "maxLifetime": "2h"}); r.status != 200 {
			t.Fatal(r.status)
		}
		capped := readDelegation(t, f.delegate(t, human.jws(t, consent(agent.did, scopes, aud, time.Now().Add(time.Hour), ""))))
		r, _ = f.renew(t, agent, capped.id, nil)
		renewed := readDelegation(t, r)
		until, _ = time.Parse(time.RFC3339, renewed.ldp["validUntil"].(string))
		if d := time.Until(until); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
			t.Fatalf("capped validUntil %s", until)
		}
		before = f.rows(t)
		r, _ = f.renew(t, agent, capped.id, nil)
		problemType(t, assertProblem(t, r, 403, ""), issuer.ProblemLifetimeReached)
		f.wantRows(t, before, "lifetime reached")

		// A sub-delegation renews up to its parent's end.
		child := readDelegation(t, f.delegate(t, agent.jws(t, consent(sub.did, scopes, aud, time.Now().Add(30*time.Minute), renewed.ldpID))))
		r, _ = f.renew(t, sub, child.id, nil)
		ch := readDelegation(t, r)
		if ch.ldp["validUntil"] != renewed.ldp["validUntil"] {
			t.Fatalf("child renewed to %v, parent ends %v", ch.ldp["validUntil"], renewed.ldp["validUntil"])
		}

		// Suspended or revoked: refused.
		if r := f.setStatus(t, f.tokA, renewed.sdID, "suspended"); r.status != 200 {
			t.Fatal(r.status)
		}
		before = f.rows(t)
		r, _ = f.renew(t, agent, capped.id, nil)
		problemType(t, assertProblem(t, r, 403, ""), issuer.ProblemNotInForce)
		r, _ = f.renew(t, sub, child.id, nil)
		problemType(t, assertProblem(t, r, 403, ""), issuer.ProblemNotInForce)
		f.wantRows(t, before, "suspended")
		other := readDelegation(t, f.delegate(t, human.jws(t, consent(agent.did, scopes, aud, time.Now().Add(time.Hour), ""))))
		if r := f.setStatus(t, f.tokA, other.ldpID, "revoked"); r.status != 200 {
			t.Fatal(r.status)
		}
		before = f.rows(t)
		r, _ = f.renew(t, agent, other.sdID, nil)
		problemType(t, assertProblem(t, r, 403, ""), issuer.ProblemNotInForce)
		f.wantRows(t, before, "revoked")
	})
}

// Both credentials of a delegation revoked at the same moment: both calls
// succeed and both credentials are revoked.
func TestDelegationConcurrentRevocation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newIssuanceFixture(t, st)
		human := newDIDSigner(t, keys.Ed25519)
		agent := addApprovedAgent(t, st, f.orgA.ID, human.did)
		scopes := []any{payScope("https://erp.example.com/api/invoices", nil)}
		aud := []any{"https://erp.example.com"}
		for i := 0; i < 5; i++ {
			d := readDelegation(t, f.delegate(t, human.jws(t, consent(agent.did, scopes, aud, time.Now().Add(time.Hour), ""))))
			statuses := make(chan int, 2)
			for _, id := range []string{d.ldpID, d.sdID} {
				go func() { statuses <- f.setStatus(t, f.tokA, id, "revoked").status }()
			}
			for range 2 {
				if s := <-statuses; s != http.StatusOK {
					t.Fatalf("concurrent revocation: %d", s)
				}
			}
			for _, id := range []string{d.ldpID, d.sdID} {
				if r := f.call(t, "GET", "/credentials/"+url.PathEscape(id), f.tokA, nil); r.json(t)["credential"].(map[string]any)["status"] != "revoked" {
					t.Fatalf("%s: %s", id, r.body)
				}
			}
		}
	})
}
