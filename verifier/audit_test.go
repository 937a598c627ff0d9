package verifier_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/verifier"
)

func TestAuditLogRecordAndVerify(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		at := time.Date(2026, 11, 29, 10, 0, 0, 123456789, time.UTC)
		log, err := verifier.NewAuditLog(st, verifier.WithAuditClock(func() time.Time { return at }))
		if err != nil {
			t.Fatal(err)
		}
		org := &store.Organization{Slug: "acme", Name: "Acme"}
		if err := st.CreateOrganization(ctx, org); err != nil {
			t.Fatal(err)
		}
		creds := []string{"urn:uuid:a"}
		rec, err := log.Record(ctx, verifier.Event{
			OrganizationID: org.ID, RelyingParty: "https://erp.example.com", Agent: "did:key:zAgent",
			Principal: "did:key:zHuman", CredentialIDs: creds, Action: "invoices:pay",
			Resource: "https://erp.example.com/api/invoices", Decision: verifier.DecisionVerified, RequestID: "r1",
		})
		if err != nil {
			t.Fatal(err)
		}
		creds[0] = "changed by the caller later"
		if rec.Seq != 1 || !rec.Time.Equal(at.Truncate(time.Microsecond)) || rec.CredentialIDs[0] != "urn:uuid:a" {
			t.Fatalf("record: %+v", rec)
		}
		if _, err := log.Record(ctx, verifier.Event{Agent: "did:key:zAgent", Decision: "allow"}); err == nil {
			t.Fatal("a decision other than verified or rejected was recorded")
		}
		for range 4 {
			if _, err := log.Record(ctx, verifier.Event{Agent: "did:key:zX", Decision: verifier.DecisionRejected, Reasons: []string{"proof"}}); err != nil {
				t.Fatal(err)
			}
		}

		r, err := log.VerifyChain(ctx, org.ID)
		if err != nil || !r.OK || r.Events != 1 || r.HeadHash != rec.Hash {
			t.Fatalf("VerifyChain: %+v, %v", r, err)
		}
		all, err := log.VerifyAll(ctx)
		if err != nil || len(all) != 2 || all[0].OrganizationID != "" || all[0].Events != 4 || !all[0].OK || all[1].OrganizationID != org.ID {
			t.Fatalf("VerifyAll: %+v, %v", all, err)
		}
		// A chain that was never written to is empty and intact.
		if r, err := log.VerifyChain(ctx, "no-such-org"); err != nil || !r.OK || r.Events != 0 {
			t.Fatalf("empty chain: %+v, %v", r, err)
		}
		page, err := log.List(ctx, verifier.AuditFilter{Decision: verifier.DecisionRejected, Limit: 2})
		if err != nil || len(page) != 2 || page[1].Seq != 2 {
			t.Fatalf("List: %+v, %v", page, err)
		}
	})
}

func TestVerifyAuditExportBadInput(t *testing.T) {
	for name, input := range map[string]string{
		"not json":      "hello\n",
		"unknown field": `{"seq":1,"hash":"ab","extra":true}` + "\n",
		"no seq":        `{"hash":"ab"}` + "\n",
		"wrong type":    `{"seq":"1","hash":"ab"}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := verifier.VerifyAuditExport(strings.NewReader(input)); !errors.Is(err, verifier.ErrBadAuditExport) {
				t.Fatalf("error %v, want ErrBadAuditExport", err)
			}
		})
	}
	if _, err := verifier.NewAuditLog(nil); err == nil {
		t.Fatal("NewAuditLog(nil) did not fail")
	}
}
