package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
)

// Migration 8 keeps the delegations written before it: each becomes a
// delegation of one ldp_vc credential, found by that credential's id, its
// consent time its creation time, with no renewals.
func TestDelegationRenewalMigrationKeepsDelegations(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		old := openAtVersion(t, dbURL, 7)
		org := mustOrg(t, old, "acme")
		created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := store.Exec(ctx, old, `INSERT INTO issued_credentials
			(id, organization_id, credential_id, issuer_did, subject_id, principal_did, types, format, document, status, created_at)
			VALUES ('row1', ?, 'urn:uuid:c1', 'did:key:ziss', 'did:key:zagent', 'did:key:zhuman', ' VerifiableCredential AgentDelegationCredential ', 'ldp_vc', '{}', 'active', ?)`,
			org.ID, created); err != nil {
			t.Fatal(err)
		}
		if err := store.Exec(ctx, old, `INSERT INTO delegations
			(id, organization_id, credential_row_id, credential_id, agent_did, delegator_did, principal_did, scopes, audience, consent_hash, expires_at, created_at)
			VALUES ('d1', ?, 'row1', 'urn:uuid:c1', 'did:key:zagent', 'did:key:zhuman', 'did:key:zhuman', '[]', '[]', 'h1', ?, ?)`,
			org.ID, created.Add(time.Hour), created); err != nil {
			t.Fatal(err)
		}
		s := reopenMigrated(t, old, dbURL)
		d, err := s.DelegationByCredentialID(ctx, org.ID, "urn:uuid:c1")
		if err != nil || d.ID != "d1" || d.Formats != "ldp_vc" || d.Renewals != 0 || d.ConsentedAt == nil || !d.ConsentedAt.Equal(created) {
			t.Fatalf("delegation after migration: %+v, %v", d, err)
		}
		creds, err := s.DelegationCredentials(ctx, "d1")
		if err != nil || len(creds) != 1 || creds[0].CredentialRowID != "row1" || creds[0].Format != "ldp_vc" {
			t.Fatalf("credentials after migration: %+v, %v", creds, err)
		}
		if byRef, err := s.DelegationByRef(ctx, org.ID, "d1"); err != nil || byRef.CredentialID != "urn:uuid:c1" {
			t.Fatalf("by id: %+v, %v", byRef, err)
		}
		other := mustOrg(t, s, "globex")
		_, err = s.DelegationByRef(ctx, other.ID, "urn:uuid:c1")
		wantErr(t, err, store.ErrNotFound)
	})
}

// Approvers are per organization and unique; policies default to no
// renewal and are replaced whole.
func TestDelegationApproversAndPolicy(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := mustOrg(t, s, "acme"), mustOrg(t, s, "globex")
		if _, err := s.AddDelegationApprover(ctx, a.ID, "did:key:z1"); err != nil {
			t.Fatal(err)
		}
		_, err := s.AddDelegationApprover(ctx, a.ID, "did:key:z1")
		wantErr(t, err, store.ErrConflict)
		if ok, err := s.IsDelegationApprover(ctx, b.ID, "did:key:z1"); err != nil || ok {
			t.Fatalf("approver of another organization: %v %v", ok, err)
		}
		if ok, err := s.IsDelegationApprover(ctx, a.ID, "did:key:z1"); err != nil || !ok {
			t.Fatalf("approver: %v %v", ok, err)
		}
		wantErr(t, s.RemoveDelegationApprover(ctx, b.ID, "did:key:z1"), store.ErrNotFound)
		if err := s.RemoveDelegationApprover(ctx, a.ID, "did:key:z1"); err != nil {
			t.Fatal(err)
		}
		if l, err := s.DelegationApprovers(ctx, a.ID); err != nil || len(l) != 0 {
			t.Fatalf("approvers after removal: %v %v", l, err)
		}

		p, err := s.DelegationPolicyFor(ctx, a.ID)
		if err != nil || p.Renewable || p.MaxRenewals != 0 {
			t.Fatalf("default policy: %+v %v", p, err)
		}
		for _, want := range []store.DelegationPolicy{
			{OrganizationID: a.ID, Renewable: true, MaxRenewals: 3, MaxLifetimeSeconds: 7200},
			{OrganizationID: a.ID, Renewable: false, MaxRenewals: 1, MaxLifetimeSeconds: 60},
		} {
			if err := s.PutDelegationPolicy(ctx, &want); err != nil {
				t.Fatal(err)
			}
			got, err := s.DelegationPolicyFor(ctx, a.ID)
			if err != nil || got.Renewable != want.Renewable || got.MaxRenewals != want.MaxRenewals || got.MaxLifetimeSeconds != want.MaxLifetimeSeconds {
				t.Fatalf("policy %+v, want %+v (%v)", got, want, err)
			}
		}
		if p, _ := s.DelegationPolicyFor(ctx, b.ID); p.Renewable {
			t.Fatal("another organization's policy changed")
		}
	})
}
