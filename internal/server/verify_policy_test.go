package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/verifier"
)

// presentBy is a VC 2.0 presentation of vcs signed by d for domain.
func (d *didSigner) presentBy(t *testing.T, domain string, vcs ...map[string]any) map[string]any {
	t.Helper()
	list := make([]any, len(vcs))
	for i, c := range vcs {
		list[i] = c
	}
	doc := map[string]any{
		"@context":             []any{credential.ContextV2},
		"type":                 []any{credential.TypeVerifiablePresentation},
		"holder":               d.did,
		"verifiableCredential": list,
	}
	out, err := dataintegrity.Sign(context.Background(), doc, d.key, dataintegrity.ProofOptions{
		VerificationMethod: d.did + "#" + strings.TrimPrefix(d.did, "did:key:"), ProofPurpose: dataintegrity.PurposeAuthentication,
		Challenge: "not-issued-here", Domain: []string{domain}, Created: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// policyFixture is a real issuer's human, agent and sub-agent, with the
// agents' identity credentials, a delegation by the human to the agent and
// a sub-delegation by the agent to the sub-agent, all issued over HTTP.
type policyFixture struct {
	*issuanceFixture
	human, agent, sub *didSigner
	identity, subID   map[string]any
	root, child       map[string]any
	rootID            string
}

const (
	policyERP      = "https://erp.example.com"
	policyInvoices = policyERP + "/api/invoices"
)

func newPolicyFixture(t *testing.T, st *store.Store, opts ...Option) *policyFixture {
	t.Helper()
	f := &policyFixture{issuanceFixture: newIssuanceFixture(t, st, append([]Option{WithStatusStaleness(0)}, opts...)...)}
	f.human = newDIDSigner(t, keys.Ed25519)
	f.agent = addApprovedAgent(t, st, f.orgA.ID, f.human.did)
	f.sub = addApprovedAgent(t, st, f.orgA.ID, f.human.did)
	identity := func(agent *didSigner) map[string]any {
		doc := identityDoc(t)
		subj := doc["credentialSubject"].(map[string]any)
		subj["id"], subj["principal"] = agent.did, f.human.did
		return f.issue(t, f.tokA, doc, nil).(map[string]any)
	}
	f.identity, f.subID = identity(f.agent), identity(f.sub)

	exp := time.Now().Add(12 * time.Hour)
	aud := []any{policyERP, "https://pay.example.com"}
	scopes := []any{payScope(policyInvoices, map[string]any{"maxAmount": 500})}
	f.root, f.rootID = f.delegation(t, f.human.jws(t, consent(f.agent.did, scopes, aud, exp, "")))
	f.child, _ = f.delegation(t, f.agent.jws(t, consent(f.sub.did,
		[]any{payScope(policyInvoices+"/eu", map[string]any{"maxAmount": 500})}, aud[:1], exp.Add(-time.Hour), f.rootID)))
	return f
}

// verifyVP posts a presentation with options (and headers).
func (f *policyFixture) verifyVP(t *testing.T, vp any, options map[string]any, header ...string) response {
	t.Helper()
	return f.call(t, "POST", "/presentations/verify", "", map[string]any{"verifiablePresentation": vp, "options": options}, header...)
}

func payOptions(domain, resource string) map[string]any {
	return map[string]any{"domain": domain, "action": "invoices:pay", "resource": resource}
}

// policyResult is a verify answer with the agent as the server renders it.
type policyResult struct {
	Verified bool               `json:"verified"`
	Checks   []string           `json:"checks"`
	Warnings []verifier.Problem `json:"warnings"`
	Errors   []verifier.Problem `json:"errors"`
	Agent    *verifier.Agent    `json:"agent"`
}

func readPolicyResult(t *testing.T, r response, status int) policyResult {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var out policyResult
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if out.Verified != (status == http.StatusOK) || (out.Agent != nil) != out.Verified {
		t.Fatalf("verified %v, agent %v: %s", out.Verified, out.Agent, r.body)
	}
	return out
}

// wantError asserts a 400 verification result naming check with code.
func wantError(t *testing.T, r response, check verifier.Check, code string) policyResult {
	t.Helper()
	res := readPolicyResult(t, r, http.StatusBadRequest)
	if !slices.ContainsFunc(res.Errors, func(p verifier.Problem) bool { return p.Check == check && p.Code == code }) {
		t.Fatalf("no %s/%s error: %s", check, code, r.body)
	}
	return res
}

// TestPresentationDelegationCheck: the delegation check of POST
// /presentations/verify on delegations issued by a real issuer over HTTP,
// on both databases.
func TestPresentationDelegationCheck(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newPolicyFixture(t, st)
		byAgent := f.agent.presentBy(t, policyERP, f.identity, f.root)

		t.Run("granted below the resource", func(t *testing.T) {
			res := readPolicyResult(t, f.verifyVP(t, byAgent, payOptions(policyERP, policyInvoices+"/42")), http.StatusOK)
			a := res.Agent
			if !slices.Contains(res.Checks, "delegation") || a.ID != f.agent.did || a.Principal != f.human.did ||
				a.Issuer != f.didsA[string(keys.Ed25519)] && a.Issuer != f.didsA[string(keys.P256)] ||
				a.Name != "invoice-bot" || a.Assurance != "hardware" {
				t.Fatalf("agent %+v", a)
			}
			d := a.Delegation
			if d == nil || d.Credential != f.rootID || d.Delegator != f.human.did || d.ChainLength != 1 || len(d.Granted) != 1 ||
				len(d.Audience) != 2 || d.ValidUntil == nil || len(a.Claims) != 2 || len(a.Credentials) != 2 {
				t.Fatalf("delegation %+v", d)
			}
			evs := auditEvents(t, st)
			last := evs[len(evs)-1]
			if last.Action != "invoices:pay" || last.Resource != policyInvoices+"/42" || last.Agent != f.agent.did || last.Principal != f.human.did {
				t.Fatalf("audit event %+v", last)
			}
		})
		t.Run("resource prefix boundary", func(t *testing.T) {
			wantError(t, f.verifyVP(t, byAgent, payOptions(policyERP, policyInvoices+"X")), verifier.CheckDelegation, verifier.CodeScopeNotGranted)
		})
		t.Run("action not granted", func(t *testing.T) {
			o := payOptions(policyERP, policyInvoices)
			o["action"] = "invoices:delete"
			wantError(t, f.verifyVP(t, byAgent, o), verifier.CheckDelegation, verifier.CodeScopeNotGranted)
		})
		t.Run("audience mismatch", func(t *testing.T) {
			const evil = "https://evil.example.com"
			wantError(t, f.verifyVP(t, f.agent.presentBy(t, evil, f.identity, f.root), payOptions(evil, policyInvoices)),
				verifier.CheckDelegation, verifier.CodeAudienceMismatch)
		})
		t.Run("no action: reported, not decided", func(t *testing.T) {
			res := readPolicyResult(t, f.verifyVP(t, byAgent, map[string]any{"domain": policyERP}), http.StatusOK)
			if res.Agent.Delegation == nil || res.Agent.Delegation.Granted != nil || !slices.Contains(res.Checks, "delegation") {
				t.Fatalf("%+v", res)
			}
		})
		t.Run("action without resource", func(t *testing.T) {
			assertProblem(t, f.verifyVP(t, byAgent, map[string]any{"action": "invoices:pay"}), http.StatusBadRequest, "/options/resource")
		})
		t.Run("chain of 2", func(t *testing.T) {
			res := readPolicyResult(t, f.verifyVP(t, f.sub.presentBy(t, policyERP, f.subID, f.child, f.root),
				payOptions(policyERP, policyInvoices+"/eu/1")), http.StatusOK)
			if d := res.Agent.Delegation; d.ChainLength != 2 || d.Delegator != f.agent.did || res.Agent.Principal != f.human.did {
				t.Fatalf("agent %+v delegation %+v", res.Agent, d)
			}
			// The parent grants /us; the sub-agent's delegation does not.
			wantError(t, f.verifyVP(t, f.sub.presentBy(t, policyERP, f.subID, f.child, f.root), payOptions(policyERP, policyInvoices+"/us")),
				verifier.CheckDelegation, verifier.CodeScopeNotGranted)
		})
		t.Run("missing parent", func(t *testing.T) {
			wantError(t, f.verifyVP(t, f.sub.presentBy(t, policyERP, f.subID, f.child), payOptions(policyERP, policyInvoices+"/eu/1")),
				verifier.CheckDelegation, verifier.CodeChainBroken)
			// Another delegation of the agent is not the child's parent.
			other, _ := f.delegation(t, f.human.jws(t, consent(f.agent.did, []any{payScope(policyInvoices, map[string]any{"maxAmount": 500})},
				[]any{policyERP}, time.Now().Add(time.Hour), "")))
			wantError(t, f.verifyVP(t, f.sub.presentBy(t, policyERP, f.subID, f.child, other), payOptions(policyERP, policyInvoices+"/eu/1")),
				verifier.CheckDelegation, verifier.CodeChainBroken)
		})
		t.Run("SD-JWT identity: disclosed claims only", func(t *testing.T) {
			doc := identityDoc(t)
			subj := doc["credentialSubject"].(map[string]any)
			subj["id"], subj["principal"] = f.agent.did, f.human.did
			issued := f.issue(t, f.tokA, doc, map[string]any{"format": "dc+sd-jwt"}).(string)
			paths, err := sdjwt.DisclosurePaths(issued, sdjwt.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			paths = slices.DeleteFunc(paths, func(p string) bool { return strings.HasPrefix(p, "/name") || strings.HasPrefix(p, "/software") })
			p, err := sdjwt.Present(context.Background(), issued, sdjwt.PresentOptions{Disclose: paths,
				KeyBinding: &sdjwt.KeyBinding{Signer: f.agent.key, Audience: policyERP, Nonce: "n-1"}})
			if err != nil {
				t.Fatal(err)
			}
			res := readPolicyResult(t, f.verifyVP(t, p, map[string]any{"domain": policyERP, "challenge": "n-1"}), http.StatusOK)
			a := res.Agent
			if a.ID != f.agent.did || a.Principal != f.human.did || a.Name != "" || len(a.Claims) != 1 {
				t.Fatalf("agent %+v", a)
			}
			for _, k := range []string{"name", "software"} {
				if _, ok := a.Claims[0][k]; ok {
					t.Fatalf("undisclosed %s in the claims: %v", k, a.Claims[0])
				}
			}
		})
		t.Run("revoked delegation", func(t *testing.T) {
			if r := f.setStatus(t, f.tokA, f.rootID, "revoked"); r.status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.status, r.body)
			}
			wantError(t, f.verifyVP(t, byAgent, payOptions(policyERP, policyInvoices)), verifier.CheckStatus, verifier.CodeRevoked)
			// The child is revoked with it (cascade), even presented whole.
			wantError(t, f.verifyVP(t, f.sub.presentBy(t, policyERP, f.subID, f.child, f.root), payOptions(policyERP, policyInvoices+"/eu/1")),
				verifier.CheckStatus, verifier.CodeRevoked)
		})
	})
}

// TestRelyingPartyPolicy: options.policy and X-Relying-Party apply a
// configured relying party's trust list (enforced); a bare call only warns
// about an issuer outside the server's organizations; an unknown policy is
// a 400 problem.
func TestRelyingPartyPolicy(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		stranger := newDIDSigner(t, keys.Ed25519)
		f := newPolicyFixture(t, st, WithRelyingParties(
			RelyingParty{ID: "erp", Domains: []string{policyERP}},
			RelyingParty{ID: "strict", TrustedIssuers: map[string][]string{verifier.TypeIdentity: {stranger.did}}},
			RelyingParty{ID: "bank", MinAssurance: "hardware", RequireDelegation: true},
		))
		// A credential of an issuer that is none of the server's.
		foreign := identityDoc(t)
		foreign["issuer"] = stranger.did
		foreign["id"] = "urn:uuid:7a0c1e52-3b9d-4f6e-8a21-5c4d3e2f1a0b"
		foreign["validFrom"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		foreign["credentialSubject"].(map[string]any)["id"] = f.agent.did
		foreign, err := dataintegrity.Sign(context.Background(), foreign, stranger.key, dataintegrity.ProofOptions{
			VerificationMethod: stranger.did + "#" + strings.TrimPrefix(stranger.did, "did:key:")})
		if err != nil {
			t.Fatal(err)
		}
		foreignVP := f.agent.presentBy(t, policyERP, foreign)
		own := f.agent.presentBy(t, policyERP, f.identity, f.root)
		domain := map[string]any{"domain": policyERP}
		withPolicy := func(p string) map[string]any { return map[string]any{"domain": policyERP, "policy": p} }

		t.Run("bare call: untrusted issuer is a warning", func(t *testing.T) {
			res := readPolicyResult(t, f.verifyVP(t, foreignVP, domain), http.StatusOK)
			if !slices.ContainsFunc(res.Warnings, func(p verifier.Problem) bool { return p.Code == verifier.CodeUntrustedIssuer }) ||
				slices.Contains(res.Checks, "trustedIssuer") {
				t.Fatalf("%+v", res)
			}
			// The server's own organizations are trusted.
			res = readPolicyResult(t, f.verifyVP(t, own, domain), http.StatusOK)
			if !slices.Contains(res.Checks, "trustedIssuer") || len(res.Warnings) > 2 {
				t.Fatalf("%+v", res)
			}
		})
		t.Run("policy by options.policy: enforced", func(t *testing.T) {
			wantError(t, f.verifyVP(t, foreignVP, withPolicy("erp")), verifier.CheckTrustedIssuer, verifier.CodeUntrustedIssuer)
			readPolicyResult(t, f.verifyVP(t, own, withPolicy("erp")), http.StatusOK)
		})
		t.Run("policy by X-Relying-Party (id or domain)", func(t *testing.T) {
			wantError(t, f.verifyVP(t, foreignVP, domain, relyingPartyHeader, "erp"), verifier.CheckTrustedIssuer, verifier.CodeUntrustedIssuer)
			wantError(t, f.verifyVP(t, foreignVP, domain, relyingPartyHeader, policyERP+"/"), verifier.CheckTrustedIssuer, verifier.CodeUntrustedIssuer)
			// A header naming no configured relying party is only recorded.
			readPolicyResult(t, f.verifyVP(t, foreignVP, domain, relyingPartyHeader, "someone-else"), http.StatusOK)
		})
		t.Run("trust per credential type", func(t *testing.T) {
			readPolicyResult(t, f.verifyVP(t, foreignVP, withPolicy("strict")), http.StatusOK)
			// Its list names no issuer of delegations, nor the server's.
			res := wantError(t, f.verifyVP(t, own, withPolicy("strict")), verifier.CheckTrustedIssuer, verifier.CodeUntrustedIssuer)
			if len(res.Errors) != 2 {
				t.Fatalf("want both credentials untrusted: %+v", res.Errors)
			}
		})
		t.Run("assurance and delegation required", func(t *testing.T) {
			readPolicyResult(t, f.verifyVP(t, own, withPolicy("bank")), http.StatusOK)
			wantError(t, f.verifyVP(t, f.agent.presentBy(t, policyERP, f.identity), withPolicy("bank")),
				verifier.CheckDelegation, verifier.CodeNoDelegation)
		})
		t.Run("unknown policy", func(t *testing.T) {
			assertProblem(t, f.verifyVP(t, own, withPolicy("nobody")), http.StatusBadRequest, "/options/policy")
		})
	})
}

func TestParseRelyingParties(t *testing.T) {
	good := `{"relyingParties": [{"id": "erp", "domains": ["https://erp.example.com"],
		"trustedIssuers": {"AgentIdentityCredential": ["did:web:issuer.example.com"], "*": ["did:key:z6Mk"]},
		"minAssurance": "hardware", "requireDelegation": true}]}`
	rps, err := ParseRelyingParties([]byte(good))
	if err != nil || len(rps) != 1 || rps[0].MinAssurance != "hardware" || !rps[0].RequireDelegation ||
		rps[0].TrustedIssuers["*"][0] != "did:key:z6Mk" {
		t.Fatalf("%+v %v", rps, err)
	}
	if rps, err := ParseRelyingParties([]byte(`[{"id": "a"}, {"id": "b"}]`)); err != nil || len(rps) != 2 {
		t.Fatalf("%+v %v", rps, err)
	}
	for name, bad := range map[string]string{
		"no id":            `[{"domains": ["x"]}]`,
		"duplicate id":     `[{"id": "a"}, {"id": "a"}]`,
		"bad assurance":    `[{"id": "a", "minAssurance": "titanium"}]`,
		"issuer not a DID": `[{"id": "a", "trustedIssuers": {"*": ["https://x"]}}]`,
		"unknown member":   `[{"id": "a", "trustedIssuer": {}}]`,
		"not JSON":         `id: a`,
	} {
		if _, err := ParseRelyingParties([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
