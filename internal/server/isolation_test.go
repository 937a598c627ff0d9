package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/verifier"
)

// tenant is an organization made as 'agentid admin create org' makes one,
// with its first admin token.
type tenant struct {
	org   *store.Organization
	token string
	dids  []string // issuer identities, Ed25519 first
}

func newTenant(t *testing.T, f *issuanceFixture, slug string) *tenant {
	t.Helper()
	res, err := issuer.CreateOrganization(context.Background(), f.st, f.km, issuer.OrganizationOptions{Slug: slug})
	if err != nil {
		t.Fatal(err)
	}
	tn := &tenant{org: res.Organization, token: res.Token}
	for _, id := range res.Identities {
		tn.dids = append(tn.dids, id.DID)
	}
	return tn
}

// victimState is everything of organization B that an admin call could
// change, read with B's own token and from the store.
func victimState(t *testing.T, f *issuanceFixture, b *tenant, agentIDs ...string) string {
	t.Helper()
	ctx := context.Background()
	var sb strings.Builder
	get := func(path string) {
		r := f.call(t, "GET", path, b.token, nil)
		if r.status != http.StatusOK {
			t.Fatalf("B reads %s: %d %s", path, r.status, r.body)
		}
		fmt.Fprintf(&sb, "%s: %s\n", path, r.body)
	}
	for _, p := range []string{"/credentials?limit=100", "/agents/policy", "/agents/approvers", "/agents/delegation-policy", "/audit", "/admin/organization"} {
		get(p)
	}
	for _, id := range agentIDs {
		get("/agents/" + url.PathEscape(id))
	}
	eks, err := f.st.EKAllowlist(ctx, b.org.ID)
	if err != nil {
		t.Fatal(err)
	}
	nd, err := f.st.CountDelegations(ctx, b.org.ID)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := f.st.CountIssuedCredentials(ctx, b.org.ID)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := f.st.ListAdminTokens(ctx, b.org.ID)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&sb, "ek %v delegations %d credentials %d\n", eks, nd, nc)
	for _, tk := range toks {
		fmt.Fprintf(&sb, "token %s %s revoked %v\n", tk.ID, tk.Scopes, tk.RevokedAt != nil)
	}
	return sb.String()
}

// credentialIDs lists the ids GET /credentials answers token with.
func credentialIDs(t *testing.T, f *issuanceFixture, token, query string) []string {
	t.Helper()
	r := f.call(t, "GET", "/credentials?"+query, token, nil)
	if r.status != http.StatusOK {
		t.Fatalf("list credentials: %d %s", r.status, r.body)
	}
	var out struct {
		Credentials []struct {
			ID string `json:"id"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, c := range out.Credentials {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}

// An admin token of organization A, tried on every admin endpoint against
// organization B's credentials, agents, policies, allowlist, approvers and
// audit trail, sees and changes only A's: another organization's resource is
// 404 as if it did not exist, another's issuer DID is 400, and B's state is
// the same afterwards. Unknown organizations, missing, malformed and revoked
// tokens and tokens without the scope are refused too.
func TestTenantIsolationEveryAdminEndpoint(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		a := newTenant(t, f, "acme")
		b := newTenant(t, f, "initech")

		// B's resources, made through B's own token where there is an API.
		docB := identityDoc(t)
		docB["issuer"] = b.dids[0]
		credB := credentialID(f.issue(t, b.token, docB, nil))
		docA := identityDoc(t)
		docA["issuer"] = a.dids[1]
		credA := credentialID(f.issue(t, a.token, docA, nil))
		humanB := newDIDSigner(t, keys.Ed25519)
		approvedB := addApprovedAgent(t, st, b.org.ID, humanB.did)
		agentB, err := st.AgentByDID(ctx, b.org.ID, approvedB.did)
		if err != nil {
			t.Fatal(err)
		}
		pendingB := newDIDSigner(t, keys.P256)
		pending := &store.Agent{OrganizationID: b.org.ID, DID: pendingB.did, Name: "pending-bot", Software: `{"name":"pending-bot","version":"1.0.0"}`,
			PrincipalDID: humanB.did, Assurance: "software", Method: "software", AttestedAt: time.Now(), State: store.AgentPendingApproval}
		if err := st.CreateAgent(ctx, pending); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			method, path string
			body         any
			status       int
		}{
			{"PUT", "/agents/policy", map[string]any{"allowSoftwareKeys": true, "autoApprove": true}, 200},
			{"POST", "/agents/ek-allowlist", map[string]any{"hash": strings.Repeat("b", 64)}, 201},
			{"POST", "/agents/approvers", map[string]any{"did": humanB.did}, 201},
			{"PUT", "/agents/delegation-policy", map[string]any{"renewable": true, "maxRenewals": 3, "maxLifetime": "720h"}, 200},
		} {
			if r := f.call(t, c.method, c.path, b.token, c.body); r.status != c.status {
				t.Fatalf("B: %s %s: %d %s", c.method, c.path, r.status, r.body)
			}
		}
		exp := time.Now().Add(2 * time.Hour)
		scopes := []any{map[string]any{"action": "invoices:read", "resource": "https://erp.example.com/api/invoices"}}
		if r := f.call(t, "POST", "/delegations", "", map[string]any{"org": "initech",
			"consent": humanB.jws(t, consent(approvedB.did, scopes, []any{"https://erp.example.com"}, exp, ""))}); r.status != http.StatusCreated {
			t.Fatalf("B's delegation: %d %s", r.status, r.body)
		}
		log, err := verifier.NewAuditLog(st)
		if err != nil {
			t.Fatal(err)
		}
		for i, org := range []string{b.org.ID, b.org.ID, a.org.ID} {
			if _, err := log.Record(ctx, verifier.Event{OrganizationID: org, Agent: fmt.Sprintf("did:key:zAgent%d", i),
				Decision: verifier.DecisionVerified, RelyingParty: "https://erp.example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		agentIDs := []string{agentB.ID, pending.ID}
		before := victimState(t, f, b, agentIDs...)
		credsB := credentialIDs(t, f, b.token, "")

		// Another organization's resources are 404, whatever is asked of
		// them.
		credPath := "/credentials/" + url.PathEscape(credB)
		assertProblem(t, f.call(t, "GET", credPath, a.token, nil), 404, "")
		for _, s := range []string{"revoked", "suspended", "active"} {
			assertProblem(t, f.setStatus(t, a.token, credB, s), 404, "")
		}
		for _, id := range agentIDs {
			p := "/agents/" + url.PathEscape(id)
			assertProblem(t, f.call(t, "GET", p, a.token, nil), 404, "")
			assertProblem(t, f.call(t, "POST", p+"/approve", a.token, nil), 404, "")
			assertProblem(t, f.call(t, "POST", p+"/reject", a.token, nil), 404, "")
		}
		assertProblem(t, f.call(t, "DELETE", "/agents/approvers/"+url.PathEscape(humanB.did), a.token, nil), 404, "")

		// Issuing as B's issuer identities is 400, naming the issuer.
		for _, did := range b.dids {
			doc := identityDoc(t)
			doc["issuer"] = did
			assertProblem(t, f.call(t, "POST", "/credentials/issue", a.token, map[string]any{"credential": doc}), 400, "/credential/issuer")
		}

		// Lists and reads answer A's only, with or without filters.
		if got := credentialIDs(t, f, a.token, ""); !slices.Equal(got, []string{credA}) {
			t.Fatalf("A lists %v, want only %s", got, credA)
		}
		if got := credentialIDs(t, f, a.token, "agent="+url.QueryEscape(docB["credentialSubject"].(map[string]any)["id"].(string))); len(got) != 0 {
			t.Fatalf("A's list filtered on B's agent: %v", got)
		}
		if got := credentialIDs(t, f, b.token, ""); !slices.Equal(got, credsB) || slices.Contains(got, credA) {
			t.Fatalf("B lists %v", got)
		}
		org := f.call(t, "GET", "/admin/organization", a.token, nil).json(t)
		ids, _ := json.Marshal(org["issuerIdentities"])
		if org["id"] != a.org.ID || org["slug"] != "acme" || strings.Contains(string(ids), b.dids[0]) || !strings.Contains(string(ids), a.dids[0]) {
			t.Fatalf("A's /admin/organization: %v", org)
		}
		var audit struct {
			Events []verifier.AuditRecord `json:"events"`
		}
		if err := json.Unmarshal(f.call(t, "GET", "/audit", a.token, nil).body, &audit); err != nil {
			t.Fatal(err)
		}
		if len(audit.Events) != 1 || audit.Events[0].OrganizationID != a.org.ID {
			t.Fatalf("A reads audit events %+v", audit.Events)
		}
		assertProblem(t, f.call(t, "GET", "/audit?chain="+url.QueryEscape(b.org.ID), a.token, nil), 400, "")
		assertProblem(t, f.call(t, "GET", "/audit?chain=operator", a.token, nil), 403, "")
		if r := f.call(t, "GET", "/agents/approvers", a.token, nil); r.status != 200 || strings.Contains(string(r.body), humanB.did) {
			t.Fatalf("A's approvers: %d %s", r.status, r.body)
		}

		// A's writes change A's settings and nothing of B's.
		if r := f.call(t, "PUT", "/agents/policy", a.token, map[string]any{"allowSoftwareKeys": false, "autoApprove": false}); r.status != 200 {
			t.Fatalf("A's policy: %d %s", r.status, r.body)
		}
		if p := f.call(t, "GET", "/agents/policy", a.token, nil).json(t); p["autoApprove"] != false {
			t.Fatalf("A's policy reads %v", p)
		}
		ekA := strings.Repeat("a", 64)
		if r := f.call(t, "POST", "/agents/ek-allowlist", a.token, map[string]any{"hash": ekA}); r.status != 201 {
			t.Fatalf("A's allowlist: %d %s", r.status, r.body)
		}
		if eks, _ := st.EKAllowlist(ctx, a.org.ID); !slices.Equal(eks, []string{ekA}) {
			t.Fatalf("A's allowlist is %v", eks)
		}
		if r := f.call(t, "POST", "/agents/approvers", a.token, map[string]any{"did": humanB.did}); r.status != 201 {
			t.Fatalf("A adds an approver: %d %s", r.status, r.body)
		}
		if r := f.call(t, "DELETE", "/agents/approvers/"+url.PathEscape(humanB.did), a.token, nil); r.status != 204 {
			t.Fatalf("A removes its approver: %d %s", r.status, r.body)
		}
		if r := f.call(t, "PUT", "/agents/delegation-policy", a.token, map[string]any{"renewable": false, "maxRenewals": 0, "maxLifetime": "24h"}); r.status != 200 {
			t.Fatalf("A's delegation policy: %d %s", r.status, r.body)
		}

		// A consent for B's agent sent to A, and enrollment or delegation
		// at an organization that does not exist, are refused.
		r := f.call(t, "POST", "/delegations", "", map[string]any{"org": "acme",
			"consent": humanB.jws(t, consent(approvedB.did, scopes, []any{"https://erp.example.com"}, exp, ""))})
		if r.status < 400 || r.status >= 500 {
			t.Fatalf("B's consent at A: %d %s", r.status, r.body)
		}
		assertProblem(t, r, r.status, "")
		if n, _ := st.CountDelegations(ctx, a.org.ID); n != 0 {
			t.Fatalf("A has %d delegations", n)
		}
		for _, path := range []string{"/agents/enroll", "/delegations"} {
			r := f.call(t, "POST", path, "", map[string]any{"org": "no-such-org", "did": newDIDSigner(t, keys.P256).did, "name": "x",
				"software": map[string]any{"name": "x", "version": "1"}, "principal": humanB.did,
				"consent": humanB.jws(t, consent(approvedB.did, scopes, []any{"https://erp.example.com"}, exp, ""))})
			assertProblem(t, r, 400, "/org")
		}

		if after := victimState(t, f, b, agentIDs...); after != before {
			t.Fatalf("B's state changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if a2, _ := st.AgentByID(ctx, b.org.ID, pending.ID); a2.State != store.AgentPendingApproval {
			t.Fatalf("B's pending agent is %s", a2.State)
		}
	})
}

// Every admin endpoint refuses a request without a token, with a malformed
// one, with a revoked one (401), and with a token that lacks the scope
// (403); nothing is written.
func TestAdminEndpointsRefuseBadTokens(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newIssuanceFixture(t, st)
		a := newTenant(t, f, "acme")
		doc := identityDoc(t)
		doc["issuer"] = a.dids[0]
		cred := credentialID(f.issue(t, a.token, doc, nil))
		agent := addApprovedAgent(t, st, a.org.ID, newDIDSigner(t, keys.Ed25519).did)
		rec, err := st.AgentByDID(ctx, a.org.ID, agent.did)
		if err != nil {
			t.Fatal(err)
		}
		revoked, revRec, err := issuer.CreateAdminToken(ctx, st, a.org.ID, issuer.TokenOptions{Scopes: []string{"admin"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeAdminToken(ctx, a.org.ID, revRec.ID); err != nil {
			t.Fatal(err)
		}
		scoped := map[string]string{}
		for _, sc := range issuer.TokenScopes {
			tok, _, err := issuer.CreateAdminToken(ctx, st, a.org.ID, issuer.TokenOptions{Name: sc, Scopes: []string{sc}})
			if err != nil {
				t.Fatal(err)
			}
			scoped[sc] = tok
		}
		statusBody := map[string]any{"credentialId": cred, "credentialStatus": []any{map[string]any{"type": "BitstringStatusListCredential", "status": "revoked"}}}
		agentPath := "/agents/" + url.PathEscape(rec.ID)

		// Each admin endpoint with a body that would succeed and the
		// scopes that may call it.
		endpoints := []struct {
			method, path string
			body         any
			scopes       []string
		}{
			{"GET", "/admin/organization", nil, issuer.TokenScopes},
			{"GET", "/audit", nil, []string{"admin", "audit"}},
			{"POST", "/credentials/issue", map[string]any{"credential": doc}, []string{"admin", "credentials:issue"}},
			{"POST", "/credentials/status", statusBody, []string{"admin", "credentials:status"}},
			{"GET", "/credentials", nil, []string{"admin", "credentials:read"}},
			{"GET", "/credentials/" + url.PathEscape(cred), nil, []string{"admin", "credentials:read"}},
			{"GET", agentPath, nil, []string{"admin"}},
			{"POST", agentPath + "/approve", nil, []string{"admin"}},
			{"POST", agentPath + "/reject", nil, []string{"admin"}},
			{"GET", "/agents/policy", nil, []string{"admin"}},
			{"PUT", "/agents/policy", map[string]any{"allowSoftwareKeys": true, "autoApprove": true}, []string{"admin"}},
			{"POST", "/agents/ek-allowlist", map[string]any{"hash": strings.Repeat("c", 64)}, []string{"admin"}},
			{"GET", "/agents/approvers", nil, []string{"admin"}},
			{"POST", "/agents/approvers", map[string]any{"did": agent.did}, []string{"admin"}},
			{"DELETE", "/agents/approvers/" + url.PathEscape(agent.did), nil, []string{"admin"}},
			{"GET", "/agents/delegation-policy", nil, []string{"admin"}},
			{"PUT", "/agents/delegation-policy", map[string]any{"renewable": true, "maxRenewals": 1, "maxLifetime": "48h"}, []string{"admin"}},
		}
		state := func() string {
			eks, _ := st.EKAllowlist(ctx, a.org.ID)
			apps, _ := st.DelegationApprovers(ctx, a.org.ID)
			pol, _ := st.EnrollmentPolicyFor(ctx, a.org.ID)
			dp, _ := st.DelegationPolicyFor(ctx, a.org.ID)
			n, _ := st.CountIssuedCredentials(ctx, a.org.ID)
			c, _ := st.IssuedCredentialByID(ctx, a.org.ID, cred, false)
			ag, _ := st.AgentByID(ctx, a.org.ID, rec.ID)
			return fmt.Sprintf("ek %v approvers %d policy %+v dpolicy %+v credentials %d status %s agent %s", eks, len(apps), pol, dp, n, c.Status, ag.State)
		}
		before := state()
		for _, e := range endpoints {
			what := e.method + " " + e.path
			for _, h := range []string{"", "Bearer", "Bearer ", "Basic " + a.token, "Token " + a.token, "Bearer " + a.token + "x",
				"Bearer " + strings.Repeat("A", 600), "Bearer " + revoked, "Bearer " + strings.ToUpper(a.token)} {
				req, err := http.NewRequest(e.method, f.url+e.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if e.body != nil {
					raw, _ := json.Marshal(e.body)
					req, _ = http.NewRequest(e.method, f.url+e.path, strings.NewReader(string(raw)))
					req.Header.Set("Content-Type", "application/json")
				}
				if h != "" {
					req.Header.Set("Authorization", h)
				}
				r := send(t, f.client, req)
				if r.status != http.StatusUnauthorized {
					t.Fatalf("%s with Authorization %.30q: %d, want 401: %s", what, h, r.status, r.body)
				}
				assertProblem(t, r, 401, "")
			}
			for _, sc := range issuer.TokenScopes {
				if slices.Contains(e.scopes, sc) {
					continue
				}
				assertProblem(t, f.call(t, e.method, e.path, scoped[sc], e.body), 403, "")
			}
		}
		if after := state(); after != before {
			t.Fatalf("refused calls changed A's state:\nbefore %s\nafter  %s", before, after)
		}
		// The same calls with a token that has the scope succeed, so the
		// refusals above were for the token and nothing else.
		for _, e := range endpoints {
			tok := scoped[e.scopes[len(e.scopes)-1]]
			if e.path == agentPath+"/approve" || e.path == agentPath+"/reject" {
				continue // the agent is approved already: 409, not a token matter
			}
			if r := f.call(t, e.method, e.path, tok, e.body); r.status >= 300 {
				t.Fatalf("%s %s with scope %s: %d %s", e.method, e.path, e.scopes[len(e.scopes)-1], r.status, r.body)
			}
		}
		// The server's scopes are the ones tokens can be made with.
		for _, sc := range []string{ScopeAdmin, ScopeAudit, ScopeIssue, ScopeStatus, ScopeRead} {
			if !slices.Contains(issuer.TokenScopes, sc) {
				t.Errorf("scope %s cannot be given to a token", sc)
			}
		}
	})
}
