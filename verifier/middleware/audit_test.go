package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/middleware"
)

// In process, WithAudit records every verification the middleware makes,
// let through or not, in the audit hash chain; the chain verifies.
func TestInProcessAudit(t *testing.T) {
	ctx := context.Background()
	audit, err := verifier.NewAuditLog(storetest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	issuer, holder := newParty(t, keys.P256), newParty(t, keys.P256)
	s := startService(t, inProcess(middleware.WithAudit(audit, "")))
	present := func(claims map[string]any) (reply, string) {
		issued := issueDelegation(t, issuer, holder, claims, time.Now().Add(time.Hour))
		c := challengeOf(t, s.url)
		auth := middleware.AuthorizationValue(presentSDJWT(t, issued, holder, c.Value, c.Domain))
		return call(t, http.MethodPost, s.url, auth), auth
	}

	ok, auth := present(delegationClaims(holder.did, actionPay, s.resource, s.domain))
	if ok.status != http.StatusOK {
		t.Fatalf("status %d: %s", ok.status, ok.body)
	}
	if r := call(t, http.MethodPost, s.url, auth); r.status != http.StatusUnauthorized { // replay
		t.Fatalf("replay: status %d", r.status)
	}
	if r, _ := present(delegationClaims(holder.did, "invoices:read", s.resource, s.domain)); r.status != http.StatusForbidden {
		t.Fatalf("other action: status %d: %s", r.status, r.body)
	}
	// No presentation at all is no verification: nothing recorded.
	if r := call(t, http.MethodPost, s.url, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("no credentials: status %d", r.status)
	}

	events, err := audit.List(ctx, verifier.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(events), events)
	}
	want := []struct {
		decision string
		reason   string
	}{{verifier.DecisionVerified, ""}, {verifier.DecisionRejected, "challenge"}, {verifier.DecisionRejected, "delegation"}}
	for i, ev := range events {
		if ev.Decision != want[i].decision || (want[i].reason != "" && !slices.Contains(ev.Reasons, want[i].reason)) {
			t.Fatalf("event %d: decision %s reasons %v, want %s %s", i, ev.Decision, ev.Reasons, want[i].decision, want[i].reason)
		}
		if ev.RelyingParty != s.domain || ev.Action != actionPay || ev.Resource != s.resource {
			t.Fatalf("event %d: relying party %q action %q resource %q", i, ev.RelyingParty, ev.Action, ev.Resource)
		}
	}
	for i, ev := range events {
		if ev.Agent != holder.did {
			t.Fatalf("event %d names agent %q, want %s", i, ev.Agent, holder.did)
		}
	}
	rep, err := audit.VerifyChain(ctx, "")
	if err != nil || !rep.OK || rep.Events != 3 {
		t.Fatalf("chain: %+v, %v", rep, err)
	}
}

// failingAuditor cannot record anything.
type failingAuditor struct{}

func (failingAuditor) Record(context.Context, verifier.Event) (*verifier.AuditRecord, error) {
	return nil, errors.New("the audit database is down")
}

// An event that cannot be recorded lets nothing through: 503, and the
// handler never runs.
func TestInProcessAuditFailsClosed(t *testing.T) {
	issuer, holder := newParty(t, keys.P256), newParty(t, keys.P256)
	s := startService(t, inProcess(middleware.WithAudit(failingAuditor{}, "")))
	issued := issueDelegation(t, issuer, holder, delegationClaims(holder.did, actionPay, s.resource, s.domain), time.Now().Add(time.Hour))
	c := challengeOf(t, s.url)
	r := call(t, http.MethodPost, s.url, middleware.AuthorizationValue(presentSDJWT(t, issued, holder, c.Value, c.Domain)))
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", r.status, r.body)
	}
}

func TestAuditWithRemoteRefused(t *testing.T) {
	_, err := middleware.New(middleware.WithDomain("https://svc.example"),
		middleware.WithRemote("https://agentid.example", nil), middleware.WithAudit(failingAuditor{}, ""))
	if !errors.Is(err, middleware.ErrPolicy) {
		t.Fatalf("err %v, want ErrPolicy", err)
	}
	if _, err := middleware.New(middleware.WithDomain("https://svc.example"),
		middleware.WithVerifier(verifier.New()), middleware.WithChallenges(verifier.NewMemoryChallenges()),
		middleware.WithAudit(nil, "")); !errors.Is(err, middleware.ErrPolicy) {
		t.Fatalf("nil auditor: err %v, want ErrPolicy", err)
	}
}
