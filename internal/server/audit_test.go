package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/verifier"
)

// auditFixture is a server with three chains of events and tokens of
// several kinds, behind a real HTTP listener.
type auditFixture struct {
	url      string
	a, b     *store.Organization
	tokA     string // admin of A
	tokAudit string // auditor of A (scope audit only)
	tokIssue string // a token of A without audit or admin scope
	tokB     string // admin of B
	tokOp    string // admin of the default organization
	recorded []*verifier.AuditRecord
}

func addToken(t *testing.T, st *store.Store, orgID, token, scopes string) {
	t.Helper()
	if err := st.CreateAdminToken(context.Background(), &store.AdminToken{OrganizationID: orgID, Name: scopes, TokenHash: store.HashToken(token), Scopes: scopes}); err != nil {
		t.Fatal(err)
	}
}

func newAuditFixture(t *testing.T, st *store.Store) *auditFixture {
	t.Helper()
	ctx := context.Background()
	f := &auditFixture{}
	f.a, f.tokA = testOrg(t, st, "acme")
	f.b, f.tokB = testOrg(t, st, "globex")
	op := &store.Organization{Slug: "operator", Name: "Operator", IsDefault: true}
	if err := st.CreateOrganization(ctx, op); err != nil {
		t.Fatal(err)
	}
	f.tokOp = "tok_operator_" + strings.Repeat("y", 20)
	addToken(t, st, op.ID, f.tokOp, "admin")
	f.tokAudit = "tok_auditor_" + strings.Repeat("z", 20)
	addToken(t, st, f.a.ID, f.tokAudit, "audit")
	f.tokIssue = "tok_issuer_" + strings.Repeat("w", 20)
	addToken(t, st, f.a.ID, f.tokIssue, "credentials:issue, status")

	log, err := verifier.NewAuditLog(st)
	if err != nil {
		t.Fatal(err)
	}
	record := func(orgID string, i int) {
		ev := verifier.Event{
			OrganizationID: orgID,
			RelyingParty:   "https://erp.example.com",
			Agent:          fmt.Sprintf("did:key:zAgent%d", i%3),
			Principal:      "did:key:zHuman",
			CredentialIDs:  []string{fmt.Sprintf("urn:uuid:%d", i)},
			Action:         "invoices:pay",
			Decision:       verifier.DecisionVerified,
			RequestID:      fmt.Sprintf("req-%d", i),
		}
		if i%5 == 0 {
			ev.Decision = verifier.DecisionRejected
			ev.Reasons = []string{"status: revoked"}
		}
		rec, err := log.Record(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if orgID == f.a.ID {
			f.recorded = append(f.recorded, rec)
		}
	}
	for i := range 30 {
		record(f.a.ID, i)
	}
	for i := range 5 {
		record(f.b.ID, i)
	}
	for i := range 3 {
		record("", i)
	}

	srv := httptest.NewServer(newTestServer(t, st).Handler())
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// get sends GET /audit?query with the token and headers.
func (f *auditFixture) get(t *testing.T, token, query string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.url+"/audit?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

type auditPage struct {
	Events []verifier.AuditRecord `json:"events"`
	Next   *int64                 `json:"next"`
}

func (f *auditFixture) page(t *testing.T, token, query string) auditPage {
	t.Helper()
	r := f.get(t, token, query)
	if r.status != http.StatusOK {
		t.Fatalf("GET /audit?%s: %d %s", query, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var p auditPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("page: %v: %s", err, r.body)
	}
	return p
}

func seqs(events []verifier.AuditRecord) []int64 {
	out := make([]int64, len(events))
	for i, ev := range events {
		out[i] = ev.Seq
	}
	return out
}

func TestAuditAuthorization(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newAuditFixture(t, st)
		assertProblem(t, f.get(t, "", ""), http.StatusUnauthorized, "")
		assertProblem(t, f.get(t, "not-a-token", ""), http.StatusUnauthorized, "")
		// A token without the audit or admin scope may not read the trail.
		assertProblem(t, f.get(t, f.tokIssue, ""), http.StatusForbidden, "")

		// Admin and auditor tokens of A see A's chain, all of it, and
		// nothing else.
		for _, tok := range []string{f.tokA, f.tokAudit} {
			p := f.page(t, tok, "")
			if len(p.Events) != 30 || p.Next != nil {
				t.Fatalf("A sees %d events, next %v", len(p.Events), p.Next)
			}
			for _, ev := range p.Events {
				if ev.OrganizationID != f.a.ID {
					t.Fatalf("A's token sees an event of %q", ev.OrganizationID)
				}
			}
		}
		// B's admin sees B's five events, whatever it filters by.
		p := f.page(t, f.tokB, "")
		if len(p.Events) != 5 || p.Events[0].OrganizationID != f.b.ID {
			t.Fatalf("B sees %+v", p.Events)
		}
		if p := f.page(t, f.tokB, "agent="+url.QueryEscape(f.recorded[0].Agent)+"&after=3"); len(p.Events) != 1 || p.Events[0].OrganizationID != f.b.ID {
			t.Fatalf("B filtered: %+v", p.Events)
		}
		// The operator chain: default organization's tokens only.
		assertProblem(t, f.get(t, f.tokA, "chain=operator"), http.StatusForbidden, "")
		if p := f.page(t, f.tokOp, "chain=operator"); len(p.Events) != 3 || p.Events[0].OrganizationID != "" {
			t.Fatalf("operator chain: %+v", p.Events)
		}
		if p := f.page(t, f.tokOp, ""); len(p.Events) != 0 {
			t.Fatalf("the default organization's own chain: %+v", p.Events)
		}
	})
}

func TestAuditFiltersAndPaging(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newAuditFixture(t, st)

		p := f.page(t, f.tokAudit, "limit=12")
		if len(p.Events) != 12 || p.Next == nil || *p.Next != 12 {
			t.Fatalf("first page: %v next %v", seqs(p.Events), p.Next)
		}
		p = f.page(t, f.tokAudit, fmt.Sprintf("limit=12&after=%d", *p.Next))
		if len(p.Events) != 12 || p.Events[0].Seq != 13 || p.Next == nil || *p.Next != 24 {
			t.Fatalf("second page: %v next %v", seqs(p.Events), p.Next)
		}
		p = f.page(t, f.tokAudit, "limit=12&after=24")
		if len(p.Events) != 6 || p.Next != nil {
			t.Fatalf("last page: %v next %v", seqs(p.Events), p.Next)
		}
		// An exactly full last page says there is no more.
		if p = f.page(t, f.tokAudit, "limit=6&after=24"); len(p.Events) != 6 || p.Next != nil {
			t.Fatalf("exactly full last page: %v next %v", seqs(p.Events), p.Next)
		}

		got := seqs(f.page(t, f.tokAudit, "decision=rejected").Events)
		if fmt.Sprint(got) != "[1 6 11 16 21 26]" {
			t.Errorf("decision=rejected: %v", got)
		}
		got = seqs(f.page(t, f.tokAudit, "agent="+url.QueryEscape("did:key:zAgent1")+"&decision=verified").Events)
		if fmt.Sprint(got) != "[2 5 8 14 17 20 23 29]" {
			t.Errorf("agent and decision: %v", got)
		}
		if n := len(f.page(t, f.tokAudit, "principal="+url.QueryEscape("did:key:zHuman")).Events); n != 30 {
			t.Errorf("principal: %d events", n)
		}
		if n := len(f.page(t, f.tokAudit, "principal=did:key:zNobody").Events); n != 0 {
			t.Errorf("unknown principal: %d events", n)
		}
		from := f.recorded[4].Time.Format(time.RFC3339Nano)
		to := f.recorded[9].Time.Format(time.RFC3339Nano)
		got = seqs(f.page(t, f.tokAudit, "from="+url.QueryEscape(from)+"&to="+url.QueryEscape(to)).Events)
		if fmt.Sprint(got) != "[5 6 7 8 9]" {
			t.Errorf("from %s to %s: %v", from, to, got)
		}
	})
}

func TestAuditBadFilters(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newAuditFixture(t, st)
		for query, param := range map[string]string{
			"decision=maybe":       "decision",
			"from=yesterday":       "from",
			"to=2026-13-01T00:00Z": "to",
			"from=2026-11-29T10:00:00Z&to=2026-11-29T09:00:00Z": "to",
			"after=-1":            "after",
			"after=x":             "after",
			"limit=0":             "limit",
			"limit=1001":          "limit",
			"format=xml":          "format",
			"chain=globex":        "chain",
			"agnet=did:key:z":     "agnet",
			"agent=a&agent=b":     "agent",
			"limit=5&decision=no": "decision",
		} {
			t.Run(query, func(t *testing.T) {
				assertProblem(t, f.get(t, f.tokA, query), http.StatusBadRequest, param)
			})
		}
	})
}

func TestAuditExportJSONLines(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newAuditFixture(t, st)
		for name, get := range map[string]func() response{
			"accept": func() response { return f.get(t, f.tokAudit, "", "Accept", "application/x-ndjson") },
			"format": func() response { return f.get(t, f.tokAudit, "format=jsonl") },
		} {
			t.Run(name, func(t *testing.T) {
				r := get()
				if r.status != http.StatusOK || r.header.Get("Content-Type") != ndjson {
					t.Fatalf("export: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
				}
				sc := bufio.NewScanner(bytes.NewReader(r.body))
				n := 0
				for sc.Scan() {
					var ev verifier.AuditRecord
					if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
						t.Fatalf("line %d: %v", n+1, err)
					}
					if ev.Seq != int64(n+1) || ev.Hash != f.recorded[n].Hash || ev.OrganizationID != f.a.ID {
						t.Fatalf("line %d: %+v", n+1, ev)
					}
					n++
				}
				if n != 30 {
					t.Fatalf("%d lines, want 30", n)
				}
				// The export is a whole chain: it verifies.
				reports, err := verifier.VerifyAuditExport(bytes.NewReader(r.body))
				if err != nil || len(reports) != 1 || !reports[0].OK || reports[0].HeadHash != f.recorded[29].Hash {
					t.Fatalf("verify export: %+v, %v", reports, err)
				}
			})
		}
		// Filters apply to exports; an explicit limit too.
		r := f.get(t, f.tokA, "format=jsonl&decision=rejected&limit=4")
		if lines := strings.Count(string(r.body), "\n"); r.status != 200 || lines != 4 {
			t.Fatalf("filtered export: %d, %d lines", r.status, lines)
		}
		// An empty selection is an empty export, not an error.
		r = f.get(t, f.tokB, "format=jsonl&agent=did:key:zNobody")
		if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Type") != ndjson {
			t.Fatalf("empty export: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
		}
		// format=json wins over Accept.
		if p := f.get(t, f.tokA, "format=json&limit=1", "Accept", "application/x-ndjson"); !strings.HasPrefix(p.header.Get("Content-Type"), "application/json") {
			t.Fatalf("format=json: %q", p.header.Get("Content-Type"))
		}
	})
}
