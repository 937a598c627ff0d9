package credential

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/jsonld"
)

func TestIsURL(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"https://example.com/credentials/1", true},
		{"http://127.0.0.1:8080/status/1#5", true},
		{"did:example:123", true},
		{"did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj", true},
		{"did:web:issuer.example.com:orgs:acme", true},
		{"urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33", true},
		{"data:application/vc+jwt,eyJ", true},
		{"https://例え.jp/パス", true},
		{"mailto:someone@example.com", true},
		{"", false},
		{"fake-issuer", false},
		{"z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj", false},
		{"/relative/path", false},
		{"https ://not-a-url/x", false},
		{"https://exa mple.com", false},
		{"https:", false},
		{"https:/path-only", false},
		{"https://", false},
		{"1http://example.com", false},
		{"did:", false},
		{"did:example", false},
		{"did:Example:123", false},
		{"urn:uuid", false},
		{"https://example.com/%zz", false},
		{"https://example.com/a<b", false},
		{"https://example.com/\x00", false},
	}
	for _, tc := range tests {
		if got := IsURL(tc.in); got != tc.want {
			t.Errorf("IsURL(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseDateTimeStamp(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 in UTC, or "" for an error
	}{
		{"2023-02-26T01:02:58Z", "2023-02-26T01:02:58Z"},
		{"2023-02-26T01:02:58.447Z", "2023-02-26T01:02:58.447Z"},
		{"2023-02-25T19:10:39-06:00", "2023-02-26T01:10:39Z"},
		{"2023-02-25T19:10:39+14:00", "2023-02-25T05:10:39Z"},
		{"2023-12-31T24:00:00Z", "2024-01-01T00:00:00Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"4023-02-26T01:02:58.447Z", "4023-02-26T01:02:58.447Z"},
		{"12023-02-26T01:02:58Z", "12023-02-26T01:02:58Z"},
		{"2023-02-26T01:02:58.1234567891234Z", "2023-02-26T01:02:58.123456789Z"},
		{"2023-02-26T01:02:58", ""},
		{"2023-02-26t01:02:58Z", ""},
		{"2023-02-26 01:02:58Z", ""},
		{"2023-02-29T00:00:00Z", ""},
		{"1900-02-29T00:00:00Z", ""},
		{"2023-13-01T00:00:00Z", ""},
		{"2023-00-01T00:00:00Z", ""},
		{"2023-01-00T00:00:00Z", ""},
		{"2023-01-01T25:00:00Z", ""},
		{"2023-01-01T24:00:01Z", ""},
		{"2023-01-01T24:00:00.5Z", ""},
		{"2023-01-01T00:60:00Z", ""},
		{"2023-01-01T00:00:60Z", ""},
		{"2023-01-01T00:00:00.Z", ""},
		{"2023-01-01T00:00:00+14:01", ""},
		{"2023-01-01T00:00:00+15:00", ""},
		{"2023-01-01T00:00:00+0100", ""},
		{"02023-01-01T00:00:00Z", ""},
		{"223-01-01T00:00:00Z", ""},
		{"Sat 25 Feb 2023 07:16:31 PM CST", ""},
		{"1234567890-01-01T00:00:00Z", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := ParseDateTimeStamp(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseDateTimeStamp(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDateTimeStamp(%q): %v", tc.in, err)
			continue
		}
		if s := got.Format(time.RFC3339Nano); s != tc.want {
			t.Errorf("ParseDateTimeStamp(%q) = %s, want %s", tc.in, s, tc.want)
		}
	}
	// dateTime (VC 1.1): the zone is optional and defaults to UTC
	if got, err := ParseDateTime("2020-01-01T19:23:24"); err != nil || !got.Equal(time.Date(2020, 1, 1, 19, 23, 24, 0, time.UTC)) {
		t.Errorf("ParseDateTime without zone = %v, %v", got, err)
	}
	if _, err := ParseDateTimeStamp("2020-01-01T19:23:24"); err == nil {
		t.Error("dateTimeStamp accepted a value without zone")
	}
}

func TestParseDataURL(t *testing.T) {
	d, err := ParseDataURL("data:application/vc+jwt,eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
	if err != nil || d.MediaType != "application/vc+jwt" || string(d.Data) != "eyJhbGciOiJFUzI1NiJ9.e30.c2ln" || d.Base64 {
		t.Errorf("plain: %+v %v", d, err)
	}
	d, err = ParseDataURL("data:application/json;base64,eyJhIjoxfQ==")
	if err != nil || string(d.Data) != `{"a":1}` || !d.Base64 {
		t.Errorf("base64: %+v %v", d, err)
	}
	d, err = ParseDataURL("data:application/vc-ld+jwt;base64url,abc.def.ghi")
	if err != nil || string(d.Data) != "abc.def.ghi" {
		t.Errorf("base64url flag: %+v %v", d, err)
	} else if _, ok := d.Params["base64url"]; !ok {
		t.Errorf("base64url flag not kept: %+v", d.Params)
	}
	d, err = ParseDataURL("data:,hello%20world")
	if err != nil || string(d.Data) != "hello world" || d.MediaType != "" {
		t.Errorf("no media type: %+v %v", d, err)
	}
	for _, bad := range []string{
		"eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
		"https://example.com/vc",
		"data:application/vc+jwt",
		"data:notamediatype,x",
		"data:application/json;base64,@@@",
		"data:text/plain,%zz",
		"data:text/plain;;x,y",
	} {
		if _, err := ParseDataURL(bad); err == nil {
			t.Errorf("ParseDataURL(%q) accepted", bad)
		}
	}
}

func TestDecodeObject(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		pointer string // where the error is reported; "-" for success
	}{
		{"object", `{"a": [1, {"b": null}]}`, "-"},
		{"white space around", " \n{}\t ", "-"},
		{"not JSON", `{"a": }`, "/a"},
		{"truncated", `{"a": [1, 2`, "/a"},
		{"array", `[]`, ""},
		{"string", `"x"`, ""},
		{"empty", ``, ""},
		{"trailing data", `{} {}`, ""},
		{"duplicate key", `{"a": 1, "b": {"c": 1, "c": 2}}`, "/b/c"},
		{"duplicate key needing escapes", `{"a/b": {"~": 1, "~": 2}}`, "/a~1b/~0"},
		{"invalid UTF-8", "{\"a\": \"\xff\"}", ""},
		{"at the depth limit", strings.Repeat(`{"a":`, MaxDepth-1) + `{}` + strings.Repeat(`}`, MaxDepth-1), "-"},
		{"too deep", strings.Repeat(`{"a":`, MaxDepth) + `{}` + strings.Repeat(`}`, MaxDepth), strings.Repeat("/a", MaxDepth)},
		{"deep but within the limit", strings.Repeat(`[`, MaxDepth-1) + strings.Repeat(`]`, MaxDepth-1), "-"},
		{"too large", `{"a": "` + strings.Repeat("x", MaxDocumentBytes) + `"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if tc.name == "deep but within the limit" {
				in = `{"a":` + strings.Repeat(`[`, MaxDepth-1) + strings.Repeat(`]`, MaxDepth-1) + `}`
			}
			_, err := DecodeObject([]byte(in))
			if tc.pointer == "-" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			got := pointers(t, err)
			if len(got) != 1 || got[0] != tc.pointer {
				t.Fatalf("got %v (%v), want one problem at %q", got, err, tc.pointer)
			}
		})
	}
}

func TestDecodeKeepsNumbers(t *testing.T) {
	m, err := DecodeObject([]byte(`{"big": 12345678901234567890123, "f": 0.1, "e": 1e400}`))
	if err != nil {
		t.Fatal(err)
	}
	c := NewCredential(m)
	out, _ := c.MarshalJSON()
	want := `{"big":12345678901234567890123,"e":1e400,"f":0.1}`
	if string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}

func TestAccessors(t *testing.T) {
	c, err := ParseCredential([]byte(baseVC))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() != V2 || c.Version().String() != "2.0" {
		t.Errorf("Version = %v", c.Version())
	}
	if c.ID() != "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33" {
		t.Errorf("ID = %q", c.ID())
	}
	if got := c.Types(); len(got) != 2 || !c.HasType("ExampleCredential") || c.HasType("Other") {
		t.Errorf("Types = %v", got)
	}
	if id, obj := c.Issuer(); id != "did:example:issuer" || obj != nil {
		t.Errorf("Issuer = %q %v", id, obj)
	}
	from, ok1 := c.ValidFrom()
	until, ok2 := c.ValidUntil()
	if !ok1 || !ok2 || !from.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || until.Year() != 2027 {
		t.Errorf("validity = %v %v %v %v", from, ok1, until, ok2)
	}
	if nb, ok := c.NotBefore(); !ok || !nb.Equal(from) {
		t.Errorf("NotBefore = %v", nb)
	}
	if _, ok := c.IssuanceDate(); ok {
		t.Error("IssuanceDate on a 2.0 credential without one")
	}
	if len(c.Subjects()) != 1 || c.Subjects()[0]["id"] != "did:example:subject" {
		t.Errorf("Subjects = %v", c.Subjects())
	}
	if len(c.Status()) != 1 || len(c.Schemas()) != 1 || len(c.Proofs()) != 1 || len(c.Evidence()) != 1 ||
		len(c.TermsOfUse()) != 1 || len(c.RefreshServices()) != 1 || len(c.RelatedResources()) != 2 {
		t.Error("entry accessors miscount")
	}
	if len(c.Contexts()) != 2 {
		t.Errorf("Contexts = %v", c.Contexts())
	}
	clone := c.Clone()
	clone.Map()["id"] = "urn:uuid:other"
	clone.Subjects()[0]["id"] = "did:example:other"
	if c.ID() == "urn:uuid:other" || c.Subjects()[0]["id"] != "did:example:subject" {
		t.Error("Clone shares state")
	}

	v1, err := ParseCredential([]byte(baseV1))
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version() != V1 {
		t.Errorf("Version = %v", v1.Version())
	}
	if id, obj := v1.Issuer(); id != "did:example:issuer" || obj["name"] != "Issuer" {
		t.Errorf("Issuer = %q %v", id, obj)
	}
	if nb, ok := v1.NotBefore(); !ok || nb.Year() != 2020 {
		t.Errorf("NotBefore = %v %v", nb, ok)
	}
	if na, ok := v1.NotAfter(); !ok || na.Year() != 2030 {
		t.Errorf("NotAfter = %v %v", na, ok)
	}

	p, err := ParsePresentation([]byte(basePresentation))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := p.Holder(); !strings.HasPrefix(id, "did:key:") {
		t.Errorf("Holder = %q", id)
	}
	vcs := p.VerifiableCredentials()
	if len(vcs) != 2 || vcs[0].Embedded == nil || vcs[0].Enveloped != "" || vcs[1].Embedded != nil ||
		!strings.HasPrefix(vcs[1].Enveloped, "data:application/vc+jwt,") {
		t.Errorf("VerifiableCredentials = %+v", vcs)
	}
	if len(p.Proofs()) != 1 || !p.HasType(TypeVerifiablePresentation) || p.ID() == "" || p.Version() != V2 {
		t.Error("presentation accessors")
	}
	env, err := ParseEnvelope(p.Map()["verifiableCredential"].([]any)[1].(map[string]any))
	if err != nil || env.Type != TypeEnvelopedVerifiableCredential || env.Data.MediaType != "application/vc+jwt" {
		t.Errorf("ParseEnvelope = %+v %v", env, err)
	}
}

func TestParseEnvelope(t *testing.T) {
	ok := `{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "EnvelopedVerifiablePresentation", "id": "data:application/vp+jwt,a.b.c"}`
	env, err := ParseEnvelope(apply(t, ok))
	if err != nil || env.Type != TypeEnvelopedVerifiablePresentation || string(env.Data.Data) != "a.b.c" {
		t.Fatalf("%+v %v", env, err)
	}
	for name, tc := range map[string]struct {
		edits []edit
		want  string
	}{
		"no context":  {[]edit{del("/@context")}, "/@context"},
		"no type":     {[]edit{del("/type")}, "/type"},
		"other type":  {[]edit{set("/type", `"VerifiableCredential"`)}, "/type"},
		"no id":       {[]edit{del("/id")}, "/id"},
		"id not data": {[]edit{set("/id", `"a.b.c"`)}, "/id"},
		"id null":     {[]edit{set("/id", `null`)}, "/id"},
		"id number":   {[]edit{set("/id", `1`)}, "/id"},
	} {
		_, err := ParseEnvelope(apply(t, ok, tc.edits...))
		if got := pointers(t, err); len(got) == 0 || got[0] != tc.want {
			t.Errorf("%s: got %v, want %s", name, got, tc.want)
		}
	}
}

func TestValidateJSONLD(t *testing.T) {
	c := NewCredential(apply(t, baseVC))
	var seen map[string]any
	stub := func(_ context.Context, doc map[string]any) error {
		seen = doc
		doc["mutated"] = true
		return nil
	}
	if err := ValidateJSONLD(context.Background(), c, stub); err != nil {
		t.Fatal(err)
	}
	if seen == nil || c.Map()["mutated"] != nil {
		t.Error("the expander must get a copy of the document")
	}

	refuse := func(context.Context, map[string]any) error {
		return fmt.Errorf("jsonld: expand: %w: VerifiableCredential", jsonld.ErrProtectedTermRedefinition)
	}
	err := ValidateJSONLD(context.Background(), c, refuse)
	if !errors.Is(err, jsonld.ErrProtectedTermRedefinition) {
		t.Fatalf("cause lost: %v", err)
	}
	if got := pointers(t, err); len(got) != 1 || got[0] != "/@context" {
		t.Errorf("pointers = %v", got)
	}

	other := errors.New("boom")
	err = ValidateJSONLD(context.Background(), c, func(context.Context, map[string]any) error { return other })
	if !errors.Is(err, other) || pointers(t, err)[0] != "" {
		t.Errorf("generic error: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = ValidateJSONLD(ctx, c, func(ctx context.Context, _ map[string]any) error { return ctx.Err() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	var verr *ValidationError
	if errors.As(err, &verr) {
		t.Error("a cancelled context is not a validation error")
	}

	// the real expander: a protected term redefined inline
	redef := NewCredential(apply(t, baseVC, set("/@context/1", `{"VerifiableCredential": "https://example.org/#Bad"}`)))
	if err := redef.Validate(); err != nil {
		t.Fatalf("data model: %v", err)
	}
	if err := ValidateJSONLD(context.Background(), redef, nil); !errors.Is(err, jsonld.ErrProtectedTermRedefinition) {
		t.Errorf("DefaultExpander: %v", err)
	}
	if err := ValidateJSONLD(context.Background(), NewPresentation(apply(t, basePresentation)), nil); err != nil {
		t.Errorf("DefaultExpander on a valid presentation: %v", err)
	}
}
