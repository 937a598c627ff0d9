package verifier

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/delegation"
	"github.com/agentid/agentid/keys"
)

const (
	erp      = "https://erp.example.com"
	invoices = erp + "/api/invoices"
)

var delegationSerial int

// delegationDoc is an AgentDelegationCredential as the issuer makes it (the
// schemas example, with the issuer's evidence): delegator delegates scopes
// for audience to agent until validUntil; parent, when set, is the id of the
// delegation it narrows, named in the consent the evidence carries.
func delegationDoc(t *testing.T, issuer party, agent, delegator string, scopes []any, audience []string, validUntil time.Time, parent string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../schemas/testdata/agent-delegation.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := credential.DecodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	delegationSerial++
	m["id"] = "urn:uuid:00000000-0000-4000-8000-" + leftPad(delegationSerial)
	m["issuer"] = issuer.did
	m["validFrom"] = testNow.Add(-time.Hour).Format(time.RFC3339)
	m["validUntil"] = validUntil.UTC().Format(time.RFC3339)
	delete(m, "credentialStatus")
	subj := m["credentialSubject"].(map[string]any)
	subj["id"], subj["delegator"], subj["scopes"] = agent, delegator, scopes
	aud := make([]any, len(audience))
	for i, a := range audience {
		aud[i] = a
	}
	subj["audience"] = aud
	payload, _ := json.Marshal(map[string]any{"agent": agent, "parent": parent, "exp": validUntil.Unix()})
	ev := m["evidence"].([]any)[0].(map[string]any)
	ev["approver"] = delegator
	ev["consent"] = "eyJhbGciOiJFZERTQSJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".c2lnbmF0dXJl"
	return m
}

func leftPad(n int) string {
	s := "000000000000" + itoa(n)
	return s[len(s)-12:]
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func scope(action, resource string, constraints map[string]any) map[string]any {
	m := map[string]any{"action": action, "resource": resource}
	if constraints != nil {
		m["constraints"] = constraints
	}
	return m
}

// human is the principal of the schemas examples.
const human = "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"

// delegationFixture is an issuer, a principal's agent with its identity and
// a delegation, and a sub-agent.
type delegationFixture struct {
	iss, agent, sub party
	identity        map[string]any // of agent, principal human
	subIdentity     map[string]any // of sub, principal human
	root            map[string]any // human → agent: invoices:pay on invoices, for erp
}

func newDelegationFixture(t *testing.T) *delegationFixture {
	f := &delegationFixture{iss: newParty(t, keys.Ed25519), agent: newParty(t, keys.P256), sub: newParty(t, keys.Ed25519)}
	f.identity = sign(t, identityCredential(t, f.iss.did, f.agent.did, false), f.iss, dataintegrity.EdDSARDFC2022)
	f.subIdentity = sign(t, identityCredential(t, f.iss.did, f.sub.did, false), f.iss, dataintegrity.EdDSARDFC2022)
	f.root = sign(t, delegationDoc(t, f.iss, f.agent.did, human,
		[]any{scope("invoices:pay", invoices, map[string]any{"maxAmount": 500}), scope("invoices:read", invoices, nil)},
		[]string{erp, "https://pay.example.com"}, testNow.Add(12*time.Hour), ""), f.iss, dataintegrity.EdDSARDFC2022)
	return f
}

// child is a sub-delegation by agent to sub narrowing the root, changed by
// mutate before it is signed.
func (f *delegationFixture) child(t *testing.T, mutate func(subj map[string]any, doc map[string]any)) map[string]any {
	doc := delegationDoc(t, f.iss, f.sub.did, f.agent.did,
		[]any{scope("invoices:pay", invoices+"/eu", map[string]any{"maxAmount": 500, "supplier": "ACME"})},
		[]string{erp}, testNow.Add(6*time.Hour), f.root["id"].(string))
	if mutate != nil {
		mutate(doc["credentialSubject"].(map[string]any), doc)
	}
	return sign(t, doc, f.iss, dataintegrity.EdDSARDFC2022)
}

func pay(resource string) []delegation.Request {
	return []delegation.Request{{Action: "invoices:pay", Resource: resource}}
}

// wantCode asserts that res failed check c with code.
func wantCode(t *testing.T, res *Result, c Check, code string) {
	t.Helper()
	wantFailed(t, res, c)
	if !slices.ContainsFunc(res.Errors, func(p Problem) bool { return p.Check == c && p.Code == code }) {
		t.Fatalf("no %s error with code %s: %s", c, code, dump(res))
	}
}

func TestDelegationScopes(t *testing.T) {
	f := newDelegationFixture(t)
	v := newTestVerifier()
	present := func(domain string, vcs ...map[string]any) map[string]any {
		return vp(t, f.agent, f.agent, "c-1", domain, vcs...)
	}
	opts := func(domain string, req []delegation.Request) Options {
		return Options{Challenge: "c-1", Domain: domain, Scopes: req}
	}

	t.Run("granted, below the resource", func(t *testing.T) {
		res := v.VerifyPresentation(ctx, present(erp, f.identity, f.root), opts(erp, pay(invoices+"/42")))
		wantVerified(t, res, CheckDelegation, CheckHolderBinding)
		d := res.Agent.Delegation
		if d == nil || d.ChainLength != 1 || d.Delegator != human || d.Credential != f.root["id"] ||
			len(d.Granted) != 1 || d.Granted[0].Action != "invoices:pay" || fmt.Sprint(d.Granted[0].Constraints["maxAmount"]) != "500" {
			t.Fatalf("delegation facts %+v", d)
		}
	})
	t.Run("granted, the resource itself and a wildcard-free read", func(t *testing.T) {
		res := v.VerifyPresentation(ctx, present(erp, f.identity, f.root), opts(erp,
			[]delegation.Request{{Action: "invoices:read", Resource: invoices}}))
		wantVerified(t, res, CheckDelegation)
	})
	t.Run("action not granted", func(t *testing.T) {
		res := v.VerifyPresentation(ctx, present(erp, f.identity, f.root), opts(erp,
			[]delegation.Request{{Action: "invoices:delete", Resource: invoices}}))
		wantCode(t, res, CheckDelegation, CodeScopeNotGranted)
	})
	t.Run("resource prefix boundary", func(t *testing.T) {
		res := v.VerifyPresentation(ctx, present(erp, f.identity, f.root), opts(erp, pay(invoices+"X")))
		wantCode(t, res, CheckDelegation, CodeScopeNotGranted)
		res = v.VerifyPresentation(ctx, present(erp, f.identity, f.root), opts(erp, pay(erp+"/api")))
		wantCode(t, res, CheckDelegation, CodeScopeNotGranted)
	})
	t.Run("audience mismatch", func(t *testing.T) {
		const evil = "https://evil.example.com"
		res := v.VerifyPresentation(ctx, present(evil, f.identity, f.root), opts(evil, pay(invoices)))
		wantCode(t, res, CheckDelegation, CodeAudienceMismatch)
		// Options.Audience (a relying party's domains) is used when given.
		res = v.VerifyPresentation(ctx, present(evil, f.identity, f.root), Options{Challenge: "c-1", Domain: evil,
			Audience: []string{"https://pay.example.com/"}, Scopes: pay(invoices)})
		wantVerified(t, res, CheckDelegation)
	})
	t.Run("expired delegation", func(t *testing.T) {
		old := sign(t, delegationDoc(t, f.iss, f.agent.did, human, []any{scope("invoices:pay", invoices, nil)},
			[]string{erp}, testNow.Add(-10*time.Minute), ""), f.iss, dataintegrity.EdDSARDFC2022)
		res := v.VerifyPresentation(ctx, present(erp, f.identity, old), opts(erp, pay(invoices)))
		wantCode(t, res, CheckDelegation, CodeDelegationExpired)
		wantCode(t, res, CheckValidity, CodeExpired)
	})
	t.Run("no delegation presented", func(t *testing.T) {
		res := v.VerifyPresentation(ctx, present(erp, f.identity), opts(erp, pay(invoices)))
		wantCode(t, res, CheckDelegation, CodeNoDelegation)
		res = v.VerifyPresentation(ctx, present(erp, f.identity), Options{Challenge: "c-1", Domain: erp, RequireDelegation: true})
		wantCode(t, res, CheckDelegation, CodeNoDelegation)
		// Nothing asked: nothing to decide.
		res = v.VerifyPresentation(ctx, present(erp, f.identity), Options{Challenge: "c-1", Domain: erp})
		wantVerified(t, res)
		if res.Passed(CheckDelegation) || res.Failed(CheckDelegation) {
			t.Fatalf("delegation judged without a delegation: %s", dump(res))
		}
	})
	t.Run("no action: verified and reported, no decision", func(t *testing.T) {
		res := v.VerifyPresentation(ctx, present(erp, f.identity, f.root), Options{Challenge: "c-1", Domain: erp})
		wantVerified(t, res, CheckDelegation)
		if d := res.Agent.Delegation; d == nil || len(d.Scopes) != 2 || d.Granted != nil || len(d.Audience) != 2 || d.ValidUntil == nil {
			t.Fatalf("delegation facts %+v", d)
		}
	})
	t.Run("revoked delegation", func(t *testing.T) {
		doc := delegationDoc(t, f.iss, f.agent.did, human, []any{scope("invoices:pay", invoices, nil)}, []string{erp}, testNow.Add(time.Hour), "")
		const list = "https://issuer.example.com/status/9"
		doc["credentialStatus"] = []any{map[string]any{"id": list + "#7", "type": "BitstringStatusListEntry",
			"statusPurpose": "revocation", "statusListIndex": "7", "statusListCredential": list}}
		revocable := sign(t, doc, f.iss, dataintegrity.EdDSARDFC2022)
		good := listChecker{list: statusList(t, list, f.iss.did, "revocation", 6)}
		res := newTestVerifier(WithStatusChecker(good)).VerifyPresentation(ctx, present(erp, f.identity, revocable), opts(erp, pay(invoices)))
		wantVerified(t, res, CheckDelegation, CheckStatus)
		revoked := listChecker{list: statusList(t, list, f.iss.did, "revocation", 7)}
		res = newTestVerifier(WithStatusChecker(revoked)).VerifyPresentation(ctx, present(erp, f.identity, revocable), opts(erp, pay(invoices)))
		wantCode(t, res, CheckStatus, CodeRevoked)
	})
}

func TestDelegationChains(t *testing.T) {
	f := newDelegationFixture(t)
	v := newTestVerifier()
	opts := Options{Challenge: "c-2", Domain: erp, Scopes: pay(invoices + "/eu/7")}
	bySub := func(vcs ...map[string]any) map[string]any { return vp(t, f.sub, f.sub, "c-2", erp, vcs...) }

	t.Run("chain of 2", func(t *testing.T) {
		child := f.child(t, nil)
		res := v.VerifyPresentation(ctx, bySub(f.subIdentity, child, f.root), opts)
		wantVerified(t, res, CheckDelegation, CheckHolderBinding)
		a := res.Agent
		if a.ID != f.sub.did || a.Principal != human || a.Delegation.ChainLength != 2 || a.Delegation.Delegator != f.agent.did ||
			a.Delegation.Credential != child["id"] {
			t.Fatalf("agent %+v delegation %+v", a, a.Delegation)
		}
		// The parent's broader scope does not grant the sub-agent anything.
		res = v.VerifyPresentation(ctx, bySub(f.subIdentity, child, f.root), Options{Challenge: "c-2", Domain: erp, Scopes: pay(invoices + "/us")})
		wantCode(t, res, CheckDelegation, CodeScopeNotGranted)
	})
	t.Run("missing parent", func(t *testing.T) {
		res := v.VerifyPresentation(ctx, bySub(f.subIdentity, f.child(t, nil)), opts)
		wantCode(t, res, CheckDelegation, CodeChainBroken)
		// Without an action too: the chain is verified whenever presented.
		res = v.VerifyPresentation(ctx, bySub(f.subIdentity, f.child(t, nil)), Options{Challenge: "c-2", Domain: erp})
		wantCode(t, res, CheckDelegation, CodeChainBroken)
	})
	for name, mutate := range map[string]func(subj, doc map[string]any){
		"wider resource": func(subj, _ map[string]any) {
			subj["scopes"] = []any{scope("invoices:pay", erp+"/api", map[string]any{"maxAmount": 500})}
		},
		"dropped constraint": func(subj, _ map[string]any) {
			subj["scopes"] = []any{scope("invoices:pay", invoices+"/eu", nil)}
		},
		"other action": func(subj, _ map[string]any) {
			subj["scopes"] = []any{scope("invoices:pay", invoices+"/eu", map[string]any{"maxAmount": 500}), scope("invoices:delete", invoices, nil)}
		},
		"wider audience": func(subj, _ map[string]any) { subj["audience"] = []any{erp, "https://evil.example.com"} },
		"later validUntil": func(_, doc map[string]any) {
			doc["validUntil"] = testNow.Add(13 * time.Hour).Format(time.RFC3339)
		},
	} {
		t.Run("widens: "+name, func(t *testing.T) {
			res := v.VerifyPresentation(ctx, bySub(f.subIdentity, f.child(t, mutate), f.root), opts)
			wantCode(t, res, CheckDelegation, CodeChainWidens)
		})
	}
	t.Run("wrong delegator", func(t *testing.T) {
		// The human signs the child although the parent is the agent's.
		child := f.child(t, func(subj, _ map[string]any) { subj["delegator"] = human })
		res := v.VerifyPresentation(ctx, bySub(f.subIdentity, child, f.root), opts)
		wantCode(t, res, CheckDelegation, CodeDelegatorMismatch)
	})
	t.Run("root not by the principal", func(t *testing.T) {
		other := newParty(t, keys.Ed25519)
		root := sign(t, delegationDoc(t, f.iss, f.agent.did, other.did, []any{scope("invoices:pay", invoices, nil)},
			[]string{erp}, testNow.Add(time.Hour), ""), f.iss, dataintegrity.EdDSARDFC2022)
		res := v.VerifyPresentation(ctx, vp(t, f.agent, f.agent, "c-2", erp, f.identity, root), Options{Challenge: "c-2", Domain: erp, Scopes: pay(invoices)})
		wantCode(t, res, CheckDelegation, CodeDelegatorMismatch)
	})
	t.Run("a lone sub-delegation verifies as a credential", func(t *testing.T) {
		res := v.VerifyCredential(ctx, f.child(t, nil), Options{})
		wantVerified(t, res)
		if res.Agent.Delegation == nil || res.Agent.ID != f.sub.did {
			t.Fatalf("agent %+v", res.Agent)
		}
		wantCode(t, v.VerifyCredential(ctx, f.child(t, nil), Options{Scopes: pay(invoices + "/eu")}), CheckDelegation, CodeChainBroken)
	})
}

func TestTrustPolicy(t *testing.T) {
	f := newDelegationFixture(t)
	other := newParty(t, keys.Ed25519)
	vpOf := func() map[string]any { return vp(t, f.agent, f.agent, "c-3", erp, f.identity, f.root) }
	base := Options{Challenge: "c-3", Domain: erp}
	with := func(p *TrustPolicy) Options { o := base; o.Trust = p; return o }
	v := newTestVerifier()

	res := v.VerifyPresentation(ctx, vpOf(), base)
	wantVerified(t, res)
	if !slices.ContainsFunc(res.Warnings, func(p Problem) bool { return p.Code == CodeNoTrustList }) {
		t.Fatalf("no noTrustList warning: %s", dump(res))
	}
	// Per type: the delegation's issuer is not trusted for delegations.
	res = v.VerifyPresentation(ctx, vpOf(), with(&TrustPolicy{Issuers: map[string][]string{TypeIdentity: {f.iss.did}, TypeDelegation: {other.did}}}))
	wantCode(t, res, CheckTrustedIssuer, CodeUntrustedIssuer)
	if n := len(res.Errors); n != 1 || res.Errors[0].Credential != "/verifiableCredential/1" {
		t.Fatalf("want one error about the delegation: %s", dump(res))
	}
	res = v.VerifyPresentation(ctx, vpOf(), with(&TrustPolicy{Issuers: map[string][]string{TypeIdentity: {f.iss.did}, TypeDelegation: {f.iss.did}}}))
	wantVerified(t, res, CheckTrustedIssuer)
	res = v.VerifyPresentation(ctx, vpOf(), with(&TrustPolicy{Issuers: map[string][]string{AnyType: {f.iss.did}}}))
	wantVerified(t, res, CheckTrustedIssuer)
	// Advisory: a warning, verified.
	res = v.VerifyPresentation(ctx, vpOf(), with(&TrustPolicy{Issuers: map[string][]string{AnyType: {other.did}}, Advisory: true}))
	wantVerified(t, res)
	if res.Passed(CheckTrustedIssuer) || !slices.ContainsFunc(res.Warnings, func(p Problem) bool { return p.Code == CodeUntrustedIssuer }) {
		t.Fatalf("advisory: %s", dump(res))
	}
	// The Trusted function answers for issuers the lists do not name.
	asked := 0
	res = v.VerifyPresentation(ctx, vpOf(), with(&TrustPolicy{Trusted: func(_ context.Context, iss string) (bool, error) {
		asked++
		return iss == f.iss.did, nil
	}}))
	wantVerified(t, res, CheckTrustedIssuer)
	if asked != 2 {
		t.Fatalf("Trusted asked %d times, want 2", asked)
	}
	// The verifier's own per-type list, enforced.
	res = newTestVerifier(WithTrustedIssuersFor(TypeIdentity, f.iss.did)).VerifyPresentation(ctx, vpOf(), base)
	wantCode(t, res, CheckTrustedIssuer, CodeUntrustedIssuer)
}

func TestAgentFacts(t *testing.T) {
	f := newDelegationFixture(t)
	t.Run("Data Integrity", func(t *testing.T) {
		res := newTestVerifier().VerifyPresentation(ctx, vp(t, f.agent, f.agent, "c-4", erp, f.identity, f.root),
			Options{Challenge: "c-4", Domain: erp, Scopes: pay(invoices), MinAssurance: AssuranceHardware})
		wantVerified(t, res, CheckDelegation, CheckAssurance)
		a := res.Agent
		if a.ID != f.agent.did || a.Issuer != f.iss.did || a.Principal != human || a.Name != "invoice-bot" || a.Assurance != AssuranceHardware ||
			len(a.Claims) != 2 || a.Claims[0]["operator"] == nil || len(a.Credentials) != 2 ||
			!slices.Equal(a.Types, []string{TypeIdentity, TypeDelegation}) {
			t.Fatalf("agent %+v", a)
		}
	})
	t.Run("assurance", func(t *testing.T) {
		doc := identityCredential(t, f.iss.did, f.agent.did, false)
		doc["credentialSubject"].(map[string]any)["hardwareBinding"].(map[string]any)["assurance"] = AssuranceSoftware
		soft := sign(t, doc, f.iss, dataintegrity.EdDSARDFC2022)
		res := newTestVerifier().VerifyPresentation(ctx, vp(t, f.agent, f.agent, "c-4", erp, soft),
			Options{Challenge: "c-4", Domain: erp, MinAssurance: AssuranceHardware})
		wantCode(t, res, CheckAssurance, CodeInsufficientAssurance)
	})
	t.Run("SD-JWT: disclosed claims only", func(t *testing.T) {
		iss, holder := newParty(t, keys.P256), newParty(t, keys.P256)
		s := issueSDJWT(t, iss, holder, testNow.Add(time.Hour))
		res := newTestVerifier().VerifyPresentation(ctx, present(t, s, holder, []string{"/principal"}, "n", erp), Options{Challenge: "n", Domain: erp})
		wantVerified(t, res)
		a := res.Agent
		if a.ID != holder.did || a.Issuer != iss.did || a.Principal != human || a.Name != "" || len(a.Claims) != 1 {
			t.Fatalf("agent %+v", a)
		}
		if _, ok := a.Claims[0]["name"]; ok {
			t.Fatalf("undisclosed name in the claims: %v", a.Claims[0])
		}
		if _, ok := a.Claims[0]["operator"]; ok {
			t.Fatalf("undisclosed operator in the claims: %v", a.Claims[0])
		}
		res = newTestVerifier().VerifyPresentation(ctx, present(t, s, holder, []string{"/principal", "/name"}, "n", erp), Options{Challenge: "n", Domain: erp})
		if res.Agent.Name != "invoice-bot" {
			t.Fatalf("agent %+v", res.Agent)
		}
	})
	t.Run("SD-JWT delegation", func(t *testing.T) {
		iss, holder := newParty(t, keys.P256), newParty(t, keys.Ed25519)
		claims := map[string]any{"sub": holder.did, "type": "Agent", "delegator": human, "purpose": "pay",
			"scopes": []any{scope("invoices:pay", invoices, map[string]any{"maxAmount": 500})}, "audience": []any{erp}}
		issued, err := sdjwt.IssueVC(ctx, iss.key, sdjwt.VC{Issuer: iss.did, KeyID: iss.vm, Type: VCTDelegation, Claims: claims,
			HolderKey: holder.key.Public(), IssuedAt: testNow.Add(-time.Hour), Expiry: testNow.Add(time.Hour)},
			sdjwt.IssueOptions{Disclose: []string{"/scopes", "/audience", "/delegator", "/purpose"}})
		if err != nil {
			t.Fatal(err)
		}
		all := present(t, issued, holder, []string{"/scopes", "/audience", "/delegator"}, "n", erp)
		res := newTestVerifier().VerifyPresentation(ctx, all, Options{Challenge: "n", Domain: erp, Scopes: pay(invoices + "/1")})
		wantVerified(t, res, CheckDelegation)
		if d := res.Agent.Delegation; d == nil || d.Delegator != human || len(d.Granted) != 1 || res.Agent.Principal != human {
			t.Fatalf("agent %+v delegation %+v", res.Agent, d)
		}
		if _, ok := res.Agent.Claims[0]["purpose"]; ok {
			t.Fatalf("undisclosed purpose in the claims: %v", res.Agent.Claims[0])
		}
		res = newTestVerifier().VerifyPresentation(ctx, all, Options{Challenge: "n", Domain: erp, Scopes: pay(invoices + "X")})
		wantCode(t, res, CheckDelegation, CodeScopeNotGranted)
		// Scopes withheld: nothing grants.
		hidden := present(t, issued, holder, []string{"/audience", "/delegator"}, "n", erp)
		res = newTestVerifier().VerifyPresentation(ctx, hidden, Options{Challenge: "n", Domain: erp, Scopes: pay(invoices)})
		wantFailed(t, res, CheckDelegation)
	})
}
