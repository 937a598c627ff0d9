package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/verifier"
)

// auditDB fills the database at dbURL with 25 events of organization acme
// and 3 of the operator chain, and returns acme and the last hash of its
// chain.
func auditDB(t *testing.T, dbURL string) (*store.Organization, string) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org := &store.Organization{Slug: "acme", Name: "Acme"}
	if err := st.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	log, err := verifier.NewAuditLog(st)
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for i := range 25 {
		rec, err := log.Record(ctx, verifier.Event{
			OrganizationID: org.ID, RelyingParty: "https://erp.example.com",
			Agent: fmt.Sprintf("did:key:zAgent%d", i%2), Principal: "did:key:zHuman",
			CredentialIDs: []string{"urn:uuid:c"}, Action: "invoices:pay", Decision: verifier.DecisionVerified,
		})
		if err != nil {
			t.Fatal(err)
		}
		last = rec.Hash
	}
	for range 3 {
		if _, err := log.Record(ctx, verifier.Event{Agent: "did:key:zOther", Decision: verifier.DecisionRejected, Reasons: []string{"proof"}}); err != nil {
			t.Fatal(err)
		}
	}
	return org, last
}

func TestAuditExportVerify(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		org, last := auditDB(t, dbURL)
		dir := t.TempDir()

		// The database itself verifies.
		code, out, stderr := runCLI(t, "audit", "verify", "--database", dbURL)
		if code != exitOK || !strings.Contains(out, "OK chain acme") || !strings.Contains(out, "25 events, head 25 "+last) || !strings.Contains(out, "OK chain operator: 3 events") {
			t.Fatalf("verify database: exit %d\n%s%s", code, out, stderr)
		}

		// Export everything, verify the file.
		code, export, stderr := runCLI(t, "audit", "export", "--database", dbURL)
		if code != exitOK {
			t.Fatalf("export: exit %d: %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(export, "\n"), "\n")
		if len(lines) != 28 {
			t.Fatalf("export has %d lines, want 28", len(lines))
		}
		file := filepath.Join(dir, "events.jsonl")
		write := func(lines []string) {
			t.Helper()
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write(lines)
		code, out, stderr = runCLI(t, "audit", "verify", file)
		if code != exitOK || !strings.Contains(out, "OK chain "+org.ID+": 25 events, head 25 "+last) {
			t.Fatalf("verify file: exit %d\n%s%s", code, out, stderr)
		}
		code, out, _ = runCLI(t, "audit", "verify", "--json", file)
		var res struct {
			OK     bool                    `json:"ok"`
			Chains []*verifier.ChainReport `json:"chains"`
		}
		if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || !res.OK || len(res.Chains) != 2 {
			t.Fatalf("verify --json: exit %d: %s", code, out)
		}

		// One organization's chain alone verifies too.
		code, one, _ := runCLI(t, "audit", "export", "--database", dbURL, "--org", "acme")
		if code != exitOK || strings.Count(one, "\n") != 25 {
			t.Fatalf("export --org acme: exit %d, %d lines", code, strings.Count(one, "\n"))
		}
		code, one, _ = runCLI(t, "audit", "export", "--database", dbURL, "--org", "operator", "--decision", "rejected", "--limit", "2")
		if code != exitOK || strings.Count(one, "\n") != 2 {
			t.Fatalf("export --org operator: exit %d: %s", code, one)
		}

		// Change event 5 of acme: exit 1, naming it.
		changed := append([]string(nil), lines...)
		idx := -1
		for i, l := range changed {
			if strings.Contains(l, `"seq":5,`) && strings.Contains(l, org.ID) {
				idx = i
			}
		}
		if idx < 0 {
			t.Fatal("event 5 of acme not in the export")
		}
		changed[idx] = strings.Replace(changed[idx], "did:key:zAgent0", "did:key:zMallory", 1)
		write(changed)
		code, out, stderr = runCLI(t, "audit", "verify", file)
		if code != exitFailure || !strings.Contains(out, "BROKEN chain "+org.ID+": event 5 ") || !strings.Contains(out, "hash-mismatch") {
			t.Fatalf("verify changed file: exit %d\n%s%s", code, out, stderr)
		}
		if !strings.Contains(out, "OK chain operator") {
			t.Errorf("the untouched operator chain is not reported OK:\n%s", out)
		}

		// Delete event 5: event 6 is named.
		deleted := append(append([]string(nil), lines[:idx]...), lines[idx+1:]...)
		write(deleted)
		code, out, _ = runCLI(t, "audit", "verify", file)
		if code != exitFailure || !strings.Contains(out, "event 6 ") || !strings.Contains(out, "sequence-gap") {
			t.Fatalf("verify file without event 5: exit %d\n%s", code, out)
		}
	})
}

func TestAuditBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.jsonl")
	if err := os.WriteFile(garbage, []byte("{\"seq\":1,\"hash\":\"x\"}\nnot json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dbURL := storetest.SQLiteURL(t)
	auditDB(t, dbURL)
	for _, args := range [][]string{
		{"audit", "verify", garbage},
		{"audit", "verify", filepath.Join(dir, "missing.jsonl")},
		{"audit", "verify", "--data", filepath.Join(dir, "no-data")},
		{"audit", "verify", "--database", dbURL, garbage},
		{"audit", "verify", "a", "b"},
		{"audit", "export", "--data", filepath.Join(dir, "no-data")},
		{"audit", "export", "--database", dbURL, "--decision", "maybe"},
		{"audit", "export", "--database", dbURL, "--from", "yesterday"},
		{"audit", "export", "--database", dbURL, "--org", "globex"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage || stderr == "" {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr)
		}
	}
	// An empty export is a valid, empty trail.
	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "audit", "verify", empty); code != exitOK || !strings.Contains(out, "OK: no audit events") {
		t.Errorf("empty export: exit %d %q", code, out)
	}
}
