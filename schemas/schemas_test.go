package schemas

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

func load(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// at returns the parent object and final token for a pointer into m.
func at(t testing.TB, m map[string]any, pointer string) (any, string) {
	t.Helper()
	toks := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	var cur any = m
	for _, tok := range toks[:len(toks)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			var i int
			for _, r := range tok {
				i = i*10 + int(r-'0')
			}
			cur = c[i]
		}
	}
	return cur, toks[len(toks)-1]
}

func remove(t testing.TB, m map[string]any, pointer string) {
	parent, last := at(t, m, pointer)
	delete(parent.(map[string]any), last)
}

func put(t testing.TB, m map[string]any, pointer string, lit string) {
	parent, last := at(t, m, pointer)
	var v any
	if err := json.Unmarshal([]byte(lit), &v); err != nil {
		t.Fatal(err)
	}
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
	case []any:
		var i int
		for _, r := range last {
			i = i*10 + int(r-'0')
		}
		p[i] = v
	}
}

func fieldPointers(t testing.TB, err error) []string {
	t.Helper()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error %v is %T, not *ValidationError", err, err)
	}
	var out []string
	for _, fe := range verr.Errors {
		out = append(out, fe.Pointer)
	}
	return out
}

func TestExamplesValid(t *testing.T) {
	for _, tc := range []struct{ file, id string }{
		{"agent-identity.json", AgentIdentityV1},
		{"agent-delegation.json", AgentDelegationV1},
	} {
		doc := load(t, tc.file)
		if err := Validate(tc.id, doc); err != nil {
			t.Errorf("%s: %v", tc.file, err)
		}
		if err := ForCredential(doc); err != nil {
			t.Errorf("%s ForCredential: %v", tc.file, err)
		}
		raw, _ := os.ReadFile("testdata/" + tc.file)
		if err := Validate(tc.id, raw); err != nil {
			t.Errorf("%s as bytes: %v", tc.file, err)
		}
	}
	// the identity credential is not a delegation
	if err := Validate(AgentDelegationV1, load(t, "agent-identity.json")); !errors.Is(err, ErrInvalid) {
		t.Errorf("identity validated as a delegation: %v", err)
	}
}

func TestRequiredFields(t *testing.T) {
	tests := []struct {
		file, id string
		required []string
	}{
		{"agent-identity.json", AgentIdentityV1, []string{
			"/@context", "/id", "/type", "/issuer", "/validFrom", "/validUntil", "/credentialSubject",
			"/credentialSubject/id", "/credentialSubject/type", "/credentialSubject/operator",
			"/credentialSubject/software", "/credentialSubject/software/name", "/credentialSubject/software/version",
			"/credentialSubject/hardwareBinding", "/credentialSubject/hardwareBinding/type",
			"/credentialSubject/hardwareBinding/assurance", "/credentialSubject/hardwareBinding/attestedAt",
		}},
		{"agent-delegation.json", AgentDelegationV1, []string{
			"/@context", "/id", "/type", "/issuer", "/validFrom", "/validUntil", "/credentialSubject", "/evidence",
			"/credentialSubject/id", "/credentialSubject/type", "/credentialSubject/delegator",
			"/credentialSubject/purpose", "/credentialSubject/scopes", "/credentialSubject/audience",
			"/credentialSubject/scopes/0/action", "/credentialSubject/scopes/0/resource",
			"/evidence/0/approver", "/evidence/0/approvedAt", "/evidence/0/consent",
		}},
	}
	for _, tc := range tests {
		for _, p := range tc.required {
			t.Run(tc.file+p, func(t *testing.T) {
				doc := load(t, tc.file)
				remove(t, doc, p)
				err := Validate(tc.id, doc)
				if err == nil {
					t.Fatal("accepted")
				}
				if got := fieldPointers(t, err); !slices.Contains(got, p) {
					t.Errorf("missing %s not named; got %v (%v)", p, got, err)
				}
			})
		}
	}
}

func TestSchemaRules(t *testing.T) {
	tests := []struct {
		name, file, id string
		pointer, value string
		want           string // a pointer that must be reported, or "" for valid
	}{
		{"subject id not a DID", "agent-identity.json", AgentIdentityV1, "/credentialSubject/id", `"https://agent.example.com"`, "/credentialSubject/id"},
		{"subject id a DID URL", "agent-identity.json", AgentIdentityV1, "/credentialSubject/id", `"did:key:z6Mk#frag"`, "/credentialSubject/id"},
		{"subject id upper-case method", "agent-identity.json", AgentIdentityV1, "/credentialSubject/id", `"did:KEY:z6Mk"`, "/credentialSubject/id"},
		{"operator not a DID", "agent-identity.json", AgentIdentityV1, "/credentialSubject/operator", `"acme"`, "/credentialSubject/operator"},
		{"principal not a DID", "agent-identity.json", AgentIdentityV1, "/credentialSubject/principal", `"alice@example.com"`, "/credentialSubject/principal"},
		{"issuer not a DID", "agent-identity.json", AgentIdentityV1, "/issuer", `"https://issuer.example.com"`, "/issuer"},
		{"issuer object with DID", "agent-identity.json", AgentIdentityV1, "/issuer", `{"id": "did:web:issuer.example.com"}`, ""},
		{"did:web with port", "agent-identity.json", AgentIdentityV1, "/credentialSubject/operator", `"did:web:localhost%3A8080:orgs:acme"`, ""},
		{"bad assurance", "agent-identity.json", AgentIdentityV1, "/credentialSubject/hardwareBinding/assurance", `"tpm"`, "/credentialSubject/hardwareBinding/assurance"},
		{"software assurance with SoftwareKey", "agent-identity.json", AgentIdentityV1, "/credentialSubject/hardwareBinding", `{"type": "SoftwareKey", "assurance": "software", "attestedAt": "2026-11-29T09:59:58Z"}`, ""},
		{"hardware assurance needs TPM2", "agent-identity.json", AgentIdentityV1, "/credentialSubject/hardwareBinding/type", `"SoftwareKey"`, "/credentialSubject/hardwareBinding/type"},
		{"bad binding type", "agent-identity.json", AgentIdentityV1, "/credentialSubject/hardwareBinding/type", `"TPM1.2"`, "/credentialSubject/hardwareBinding/type"},
		{"EK hash not hex", "agent-identity.json", AgentIdentityV1, "/credentialSubject/hardwareBinding/ekCertificateSha256", `"9c1e"`, "/credentialSubject/hardwareBinding/ekCertificateSha256"},
		{"attestedAt without zone", "agent-identity.json", AgentIdentityV1, "/credentialSubject/hardwareBinding/attestedAt", `"2026-11-29T09:59:58"`, "/credentialSubject/hardwareBinding/attestedAt"},
		{"subject not an Agent", "agent-identity.json", AgentIdentityV1, "/credentialSubject/type", `"Person"`, "/credentialSubject/type"},
		{"type missing the credential type", "agent-identity.json", AgentIdentityV1, "/type", `["VerifiableCredential"]`, "/type"},
		{"agentid context missing", "agent-identity.json", AgentIdentityV1, "/@context", `["https://www.w3.org/ns/credentials/v2"]`, "/@context"},
		{"base context not first", "agent-identity.json", AgentIdentityV1, "/@context", `["https://agentid.dev/ns/v1", "https://www.w3.org/ns/credentials/v2"]`, "/@context/0"},
		{"validUntil not a dateTimeStamp", "agent-identity.json", AgentIdentityV1, "/validUntil", `"2027-02-27"`, "/validUntil"},
		{"scope without action", "agent-delegation.json", AgentDelegationV1, "/credentialSubject/scopes/0", `{"resource": "https://erp.example.com/api"}`, "/credentialSubject/scopes/0/action"},
		{"scope resource not a URL", "agent-delegation.json", AgentDelegationV1, "/credentialSubject/scopes/0/resource", `"invoices"`, "/credentialSubject/scopes/0/resource"},
		{"scope action with spaces", "agent-delegation.json", AgentDelegationV1, "/credentialSubject/scopes/0/action", `"pay invoices"`, "/credentialSubject/scopes/0/action"},
		{"scope constraints not an object", "agent-delegation.json", AgentDelegationV1, "/credentialSubject/scopes/0/constraints", `"max 500"`, "/credentialSubject/scopes/0/constraints"},
		{"scope unknown member", "agent-delegation.json", AgentDelegationV1, "/credentialSubject/scopes/0/extra", `true`, "/credentialSubject/scopes/0"},
		{"scopes empty", "agent-delegation.json", AgentDelegationV1, "/credentialSubject/scopes", `[]`, "/credentialSubject/scopes"},
		{"audience not URLs", "agent-delegation.json", AgentDelegationV1, "/credentialSubject/audience", `["erp"]`, "/credentialSubject/audience/0"},
		{"audience a string", "agent-delegation.json", AgentDelegationV1, "/credentialSubject/audience", `"https://erp.example.com"`, "/credentialSubject/audience"},
		{"delegator not a DID", "agent-delegation.json", AgentDelegationV1, "/credentialSubject/delegator", `"alice"`, "/credentialSubject/delegator"},
		{"consent not a compact JWS", "agent-delegation.json", AgentDelegationV1, "/evidence/0/consent", `"I agree"`, "/evidence/0/consent"},
		{"consent a JWS JSON object", "agent-delegation.json", AgentDelegationV1, "/evidence/0/consent", `{"payload": "x"}`, "/evidence/0/consent"},
		{"approver not a DID", "agent-delegation.json", AgentDelegationV1, "/evidence/0/approver", `"alice"`, "/evidence/0/approver"},
		{"no HumanApproval", "agent-delegation.json", AgentDelegationV1, "/evidence", `[{"type": "Other"}]`, "/evidence"},
		{"evidence entry without type", "agent-delegation.json", AgentDelegationV1, "/evidence", `[{"type": "HumanApproval", "approver": "did:key:z6Mk", "approvedAt": "2026-11-29T09:58:00Z", "consent": "a.b.c"}, {"id": "https://example.com"}]`, "/evidence/1/type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := load(t, tc.file)
			put(t, doc, tc.pointer, tc.value)
			err := Validate(tc.id, doc)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			if got := fieldPointers(t, err); !slices.Contains(got, tc.want) {
				t.Errorf("%s not reported; got %v (%v)", tc.want, got, err)
			}
		})
	}
}

func TestForCredential(t *testing.T) {
	doc := load(t, "agent-identity.json")

	// unknown schema: refused by name, nothing fetched (a fetch would fail
	// differently: there is no network, and the loader refuses all URLs)
	put(t, doc, "/credentialSchema", `{"id": "https://example.com/schemas/other.json", "type": "JsonSchema"}`)
	err := ForCredential(doc)
	if !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("want ErrUnknownSchema, got %v", err)
	}
	if got := fieldPointers(t, err); len(got) != 1 || got[0] != "/credentialSchema/id" {
		t.Errorf("pointers %v", got)
	}
	if err := Validate("https://example.com/schemas/other.json", doc); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("Validate with unknown id: %v", err)
	}

	put(t, doc, "/credentialSchema", `[{"id": "https://agentid.dev/schemas/agent-identity/v1.json", "type": "JsonSchema"},
		{"id": "https://example.com/schema-credential", "type": "JsonSchemaCredential"}]`)
	err = ForCredential(doc)
	if !errors.Is(err, ErrUnsupportedSchemaType) {
		t.Fatalf("want ErrUnsupportedSchemaType, got %v", err)
	}
	if got := fieldPointers(t, err); len(got) != 1 || got[0] != "/credentialSchema/1/type" {
		t.Errorf("pointers %v", got)
	}

	// a credential that fails its schema, through ForCredential
	doc = load(t, "agent-identity.json")
	put(t, doc, "/credentialSubject/hardwareBinding/assurance", `"maybe"`)
	err = ForCredential(doc)
	if !errors.Is(err, ErrInvalid) || !slices.Contains(fieldPointers(t, err), "/credentialSubject/hardwareBinding/assurance") {
		t.Errorf("ForCredential: %v", err)
	}

	// no credentialSchema: nothing claimed, nothing checked
	remove(t, doc, "/credentialSchema")
	if err := ForCredential(doc); err != nil {
		t.Errorf("no schema: %v", err)
	}
	put(t, doc, "/credentialSchema", `"https://agentid.dev/schemas/agent-identity/v1.json"`)
	if err := ForCredential(doc); !errors.Is(err, ErrInvalid) {
		t.Errorf("string credentialSchema: %v", err)
	}
	// a schema $id given by path is not a credentialSchema id
	put(t, doc, "/credentialSchema", `{"id": "agent-identity/v1.json", "type": "JsonSchema"}`)
	if err := ForCredential(doc); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("path as id: %v", err)
	}
}

func TestSchemaListing(t *testing.T) {
	list := List()
	if len(list) != 2 {
		t.Fatalf("List = %v", list)
	}
	for _, in := range list {
		b, ok := Schema(in.ID)
		if !ok {
			t.Fatalf("Schema(%s) missing", in.ID)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m["$id"] != in.ID || m["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $id %v $schema %v", in.Path, m["$id"], m["$schema"])
		}
		if b2, ok := Schema(in.Path); !ok || string(b2) != string(b) {
			t.Errorf("Schema(%s) by path", in.Path)
		}
		b[0] = 'X'
		if b3, _ := Schema(in.ID); b3[0] == 'X' {
			t.Error("Schema returns shared bytes")
		}
	}
	if _, ok := Schema("https://agentid.dev/schemas/nope/v1.json"); ok {
		t.Error("unknown schema found")
	}
}

func TestConcurrentValidation(t *testing.T) {
	doc := load(t, "agent-delegation.json")
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := Validate(AgentDelegationV1, doc); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestContextDocument(t *testing.T) {
	var ctx struct {
		Context map[string]any `json:"@context"`
	}
	if err := json.Unmarshal(Context(), &ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Context["@protected"] != true {
		t.Error("context is not @protected")
	}
	// terms of the credentials v2 context must not be redefined
	for _, reserved := range []string{"id", "type", "name", "description", "VerifiableCredential", "credentialSubject",
		"issuer", "validFrom", "validUntil", "evidence", "credentialSchema", "credentialStatus", "proof", "digestMultibase", "mediaType"} {
		if _, ok := ctx.Context[reserved]; ok {
			t.Errorf("context redefines %q", reserved)
		}
	}
	// every term is under https://agentid.dev/ns#
	for term, def := range ctx.Context {
		if strings.HasPrefix(term, "@") {
			continue
		}
		iri, _ := def.(string)
		if m, ok := def.(map[string]any); ok {
			iri, _ = m["@id"].(string)
		}
		if !strings.HasPrefix(iri, "https://agentid.dev/ns#") {
			t.Errorf("term %s maps to %q", term, iri)
		}
	}
	for _, term := range []string{"Agent", "AgentIdentityCredential", "AgentDelegationCredential", "HumanApproval", "TPM2",
		"operator", "principal", "software", "version", "model", "hardwareBinding", "assurance", "ekCertificateSha256",
		"attestedAt", "delegator", "purpose", "scopes", "action", "resource", "constraints", "audience",
		"approver", "approvedAt", "consent"} {
		if _, ok := ctx.Context[term]; !ok {
			t.Errorf("term %s undefined", term)
		}
	}
	c := Context()
	c[0] = 'X'
	if Context()[0] == 'X' {
		t.Error("Context returns shared bytes")
	}
}
