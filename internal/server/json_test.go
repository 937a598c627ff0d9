package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/delegation"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/verifier"
)

// tricky are strings encoding/json escapes in every way it has.
var tricky = []string{
	"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>", "\b\f\n\r\t\x00\x01\x1f\x7f",
	"é€😀", "line\u2028para\u2029", "bad \xff utf-8 \xc3", "\ufffd", "~0~1",
}

// sampleResponses are verify answers built by hand to reach every member
// and escape, and by verifying real credentials and presentations.
func sampleResponses(t *testing.T) []*verifyResponse {
	t.Helper()
	now := time.Date(2026, 11, 30, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	utc := now.UTC()
	claims := map[string]any{
		"id": "did:key:z", "n": json.Number("12345678901234567890"), "f": json.Number("-0.5e-3"), "t": true, "no": false,
		"null": nil, "list": []any{}, "nil-list": []any(nil), "obj": map[string]any{}, "nil-obj": map[string]any(nil),
		"nested":       map[string]any{"z": []any{1e0 == 1, "x", json.Number("0"), map[string]any{"<": ">"}}, "a": "&"},
		"empty-number": json.Number(""),
	}
	for i, s := range tricky {
		claims["k"+s] = s
		claims[strings.Repeat("k", i)] = []any{s}
	}
	many := map[string]any{}
	for i := range 40 {
		many[strings.Repeat("m", 40-i)] = i%2 == 0
	}
	var out []*verifyResponse
	for _, s := range tricky {
		res := &verifier.Result{
			Verified: s == "", Checks: []verifier.Check{verifier.CheckProof, verifier.Check(s)},
			Warnings: []verifier.Problem{{Check: verifier.CheckStatus, Code: s, Message: s, Credential: s}},
			Errors:   []verifier.Problem{{Check: verifier.Check(s), Message: "m"}, {}},
			Credential: &verifier.CredentialFacts{Format: s, ID: s, Types: []string{s, "T"}, Issuer: s, Subject: s,
				ValidFrom: &now, ValidUntil: &utc, Holder: s, Claims: claims, Disclosed: []string{s}},
			Presentation: &verifier.PresentationFacts{Format: s, ID: s, Holder: s},
			Credentials: []verifier.CredentialFacts{{Format: "ldp_vc"}, {Format: s, Claims: many, Types: []string{}},
				{Format: "x", Claims: map[string]any{}, Disclosed: []string{}}},
		}
		agent := &verifier.Agent{ID: s, Issuer: s, Principal: s, Name: s, Assurance: s,
			Delegation: &verifier.DelegationFacts{Credential: s, Issuer: s, Delegator: s,
				Scopes:   []delegation.Scope{{Action: s, Resource: s, Constraints: map[string]any{"max": json.Number("5"), s: []any{s}}}, {}},
				Audience: []string{s}, ValidUntil: &utc, ChainLength: len(s), Granted: []delegation.Scope{{Action: "a", Resource: "r"}}},
			Credentials: []string{s}, Types: []string{s}, Claims: []map[string]any{claims, nil, {}}}
		out = append(out, &verifyResponse{Result: res, Agent: agent}, &verifyResponse{Result: res})
	}
	out = append(out,
		&verifyResponse{Result: &verifier.Result{}},
		&verifyResponse{Result: &verifier.Result{Checks: []verifier.Check{}, Warnings: []verifier.Problem{}, Errors: []verifier.Problem{}}, Agent: &verifier.Agent{}},
		&verifyResponse{Result: &verifier.Result{Verified: true}, Agent: &verifier.Agent{Delegation: &verifier.DelegationFacts{}}},
		&verifyResponse{Result: &verifier.Result{Verified: true}, Agent: &verifier.Agent{Delegation: &verifier.DelegationFacts{Scopes: []delegation.Scope{}}}},
	)

	// Real verifications: a credential, a presentation, an SD-JWT VC
	// presentation, and failures.
	iss, agent := newKeyParty(t, keys.Ed25519), newKeyParty(t, keys.P256)
	vc := signVC(t, identityVC(t, iss.did, agent.did, nil), iss)
	vp := signVP(t, agent, "c-1", "https://erp.example.com", vc)
	sd := presentSDJWT(t, issueSDJWTVC(t, iss, agent), agent, "n", "https://erp.example.com")
	v := verifier.New(verifier.WithTrustedIssuers(iss.did))
	ctx := context.Background()
	for _, res := range []*verifier.Result{
		v.VerifyCredential(ctx, vc, verifier.Options{}),
		v.VerifyPresentation(ctx, vp, verifier.Options{Challenge: "c-1", Domain: "https://erp.example.com"}),
		v.VerifyPresentation(ctx, vp, verifier.Options{Challenge: "other"}),
		v.VerifyPresentation(ctx, sd, verifier.Options{Challenge: "n", Domain: "https://erp.example.com"}),
		v.VerifyCredential(ctx, map[string]any{"a": 1}, verifier.Options{}),
		v.VerifyCredential(ctx, "not.a.jwt", verifier.Options{}),
	} {
		out = append(out, &verifyResponse{Result: res, Agent: res.Agent}, &verifyResponse{Result: res})
	}
	return out
}

// TestAppendVerifyResponseMatchesMarshal: the verify endpoints answer with
// the very bytes gin's c.JSON (encoding/json) would write.
func TestAppendVerifyResponseMatchesMarshal(t *testing.T) {
	for i, out := range sampleResponses(t) {
		want, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendVerifyResponse(nil, out)
		if !ok {
			t.Fatalf("response %d: appendVerifyResponse declined %s", i, want)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("response %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestAppendVerifyResponseDeclines: what encoding/json would refuse or
// might write otherwise is left to it.
func TestAppendVerifyResponseDeclines(t *testing.T) {
	bad := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, out := range []*verifyResponse{
		{},
		{Result: &verifier.Result{Credential: &verifier.CredentialFacts{ValidFrom: &bad}}},
		{Result: &verifier.Result{Credential: &verifier.CredentialFacts{Claims: map[string]any{"n": json.Number("1x")}}}},
		{Result: &verifier.Result{Credential: &verifier.CredentialFacts{Claims: map[string]any{"f": 1.5}}}},
		{Result: &verifier.Result{}, Agent: &verifier.Agent{Claims: []map[string]any{{"i": 1}}}},
		{Result: &verifier.Result{}, Agent: &verifier.Agent{Delegation: &verifier.DelegationFacts{Scopes: []delegation.Scope{{Constraints: map[string]any{"s": []string{}}}}}}},
	} {
		if got, ok := appendVerifyResponse(nil, out); ok {
			t.Errorf("appendVerifyResponse wrote %s", got)
		}
	}
}

// TestWriteVerifyResponse: the answer carries gin's status, content type
// and bytes, and falls back to c.JSON for what appendVerifyResponse
// declines.
func TestWriteVerifyResponse(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	for _, out := range append(sampleResponses(t)[:3],
		&verifyResponse{Result: &verifier.Result{Credential: &verifier.CredentialFacts{Claims: map[string]any{"f": 1.5}}}}) {
		for _, status := range []int{http.StatusOK, http.StatusBadRequest} {
			want := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(want)
			c.JSON(status, out)
			got := httptest.NewRecorder()
			c, _ = gin.CreateTestContext(got)
			writeVerifyResponse(c, status, out)
			if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) || got.Body.String() != want.Body.String() {
				t.Fatalf("got %d %v %s\nwant %d %v %s", got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
			}
		}
	}
}

// TestAppendVerifyResponseKnowsEveryField fails when a field is added to
// what a verify answer holds: appendVerifyResponse must learn it (and
// sampleResponses reach it) before the answer can carry it.
func TestAppendVerifyResponseKnowsEveryField(t *testing.T) {
	known := map[reflect.Type][]string{
		reflect.TypeFor[verifyResponse]():             {"Result", "Agent"},
		reflect.TypeFor[verifier.Result]():            {"Verified", "Checks", "Warnings", "Errors", "Credential", "Presentation", "Credentials", "Agent"},
		reflect.TypeFor[verifier.Problem]():           {"Check", "Code", "Message", "Credential"},
		reflect.TypeFor[verifier.CredentialFacts]():   {"Format", "ID", "Types", "Issuer", "Subject", "ValidFrom", "ValidUntil", "Holder", "Claims", "Disclosed"},
		reflect.TypeFor[verifier.PresentationFacts](): {"Format", "ID", "Holder"},
		reflect.TypeFor[verifier.Agent]():             {"ID", "Issuer", "Principal", "Name", "Assurance", "Delegation", "Credentials", "Types", "Claims"},
		reflect.TypeFor[verifier.DelegationFacts]():   {"Credential", "Issuer", "Delegator", "Scopes", "Audience", "ValidUntil", "ChainLength", "Granted"},
		reflect.TypeFor[delegation.Scope]():           {"Action", "Resource", "Constraints"},
	}
	for typ, want := range known {
		var got []string
		for f := range typ.Fields() {
			if f.IsExported() {
				got = append(got, f.Name)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v has fields %v; appendVerifyResponse writes %v", typ, got, want)
		}
	}
}

// FuzzAppendJSONValue: any document DecodeObject reads is written as
// encoding/json writes it.
func FuzzAppendJSONValue(f *testing.F) {
	for _, s := range tricky {
		raw, _ := json.Marshal(map[string]any{s: s, "a": []any{s, 1, true, nil, map[string]any{s: 1.5}}})
		f.Add(raw)
	}
	f.Add([]byte(`{"n":-0.0e+00,"big":123456789012345678901234567890,"s":"\u2028\ud800"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := credential.DecodeObject(data)
		if err != nil {
			return
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendJSONValue(nil, m)
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("appendJSONValue(%q) = %s, %v; want %s", data, got, ok, want)
		}
	})
}

// BenchmarkVerifyResponseJSON compares appendVerifyResponse with
// encoding/json on the answer to a verified identity credential.
//
//	go test -run '^$' -bench VerifyResponseJSON -benchmem ./internal/server/
func BenchmarkVerifyResponseJSON(b *testing.B) {
	iss, agent := newKeyParty(b, keys.Ed25519), newKeyParty(b, keys.P256)
	vc := signVC(b, identityVC(b, iss.did, agent.did, nil), iss)
	res := verifier.New(verifier.WithTrustedIssuers(iss.did)).VerifyCredential(context.Background(), vc, verifier.Options{})
	if !res.Verified {
		b.Fatalf("not verified: %v", res.Errors)
	}
	out := &verifyResponse{Result: res, Agent: res.Agent}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = appendVerifyResponse(buf[:0], out)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
