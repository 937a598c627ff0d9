package middleware_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/middleware"
)

// subDelegation is a delegation by delegator to agent of scopes for s,
// narrowing parent (its id) as the issuer's consent evidence names it.
func subDelegation(t *testing.T, issuer, agent party, delegator string, s *service, resource string, validUntil time.Time, parent string) map[string]any {
	t.Helper()
	d := testdataCredential(t, "agent-delegation", issuer, agent.did, validUntil)
	delete(d, "proof")
	d["id"] = "urn:uuid:" + agent.did[len(agent.did)-12:] + "-" + parent[len(parent)-4:]
	subj := d["credentialSubject"].(map[string]any)
	subj["delegator"] = delegator
	subj["scopes"] = []any{map[string]any{"action": actionPay, "resource": resource}}
	subj["audience"] = []any{s.domain}
	payload, _ := json.Marshal(map[string]any{"agent": agent.did, "parent": parent})
	d["evidence"].([]any)[0].(map[string]any)["consent"] = "eyJhbGciOiJFZERTQSJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
	return resign(t, issuer, d)
}

// TestDelegationChain: the middleware lets a sub-agent through with its
// sub-delegation and the parent (the verifier's delegation check), and
// refuses it (403) when the parent is missing (chainBroken) or the child
// outlives its parent (chainWidens).
func TestDelegationChain(t *testing.T) {
	issuer, agent, sub := newParty(t, keys.Ed25519), newParty(t, keys.P256), newParty(t, keys.P256)
	s := startService(t, inProcess(middleware.RequireIssuer(issuer.did)))
	parent := retarget(t, issuer, agent, s, time.Now().Add(2*time.Hour))
	child := subDelegation(t, issuer, sub, agent.did, s, s.resource, time.Now().Add(time.Hour), parent["id"].(string))

	c := challengeOf(t, s.url)
	r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentVP(t, sub, c.Value, c.Domain, child, parent)))
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if a := decodeAgent(t, r); a.DID != sub.did || len(a.Grants) != 1 || a.Grants[0].Credential != child["id"] {
		t.Fatalf("agent %+v", a)
	}

	c = challengeOf(t, s.url)
	r = call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentVP(t, sub, c.Value, c.Domain, child)))
	if r.status != http.StatusForbidden || !r.problem(t).names(verifier.CheckDelegation) {
		t.Fatalf("without the parent: status %d: %s", r.status, r.body)
	}
	p := r.problem(t)
	if p.Errors[0].Code != verifier.CodeChainBroken {
		t.Fatalf("without the parent: %+v", p.Errors)
	}

	// A child that widens its parent (later end) is refused.
	late := subDelegation(t, issuer, sub, agent.did, s, s.resource, time.Now().Add(3*time.Hour), parent["id"].(string))
	c = challengeOf(t, s.url)
	r = call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentVP(t, sub, c.Value, c.Domain, late, parent)))
	if r.status != http.StatusForbidden || r.problem(t).Errors[0].Code != verifier.CodeChainWidens {
		t.Fatalf("widening child: status %d: %s", r.status, r.body)
	}
}
