package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store/storetest"
)

// FuzzResolveEndpoint sends arbitrary DIDs, options and Accept headers to
// GET /1.0/identifiers/{did}. Whatever the input, the answer is a DID
// resolution result: 200 with a document whose id is the DID, or 4xx/501
// with an error code — never a 500, never a panic, never a network
// connection (did:web dials are refused).
func FuzzResolveEndpoint(f *testing.F) {
	for _, seed := range []struct{ did, query, accept string }{
		{"did:key:z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b", "", ""},
		{"did:key:zDnaepBuvsQ8cpsWrVKw8fbpGpvPeNSjVPTWoq6cRqaYzBKVP", "publicKeyFormat=JsonWebKey2020", "application/did+json"},
		{"did:key:z6LSeu9HkTHSfLLeUs2nnzUSNedgDUevfNQgQjQC23ZCit6F", "", ""},
		{"did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", "publicKeyFormat=EcdsaSecp256k1VerificationKey2019", ""},
		{"did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "enableEncryptionKeyDerivation=true", "application/did+ld+json"},
		{"did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoydHBUdFJNNEVVM3l6OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3NEk1TEtncmwyR3pIM25TRSJ9", "", ""},
		{"did:web:example.com", "", ""},
		{"did:web:localhost%3A8443:user:alice", "", ""},
		{"did%3Akey%3Az6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b", "", "text/html"},
		{"did%3Akey%3Az6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b%23z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b", "", ""},
		{"did:key:z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b%23nope", "publicKeyFormat=Ed25519VerificationKey2018", ""},
		{"did:key:z0OIl", "", ""},
		{"did:example:123", "", ""},
		{"", "", ""},
	} {
		f.Add(seed.did, seed.query, seed.accept)
	}
	refuse := func(context.Context, string, net.IP) error { return errors.New("no network in the fuzzer") }
	reg := didmethods.NewDefaultRegistry(didmethods.WithDialCheck(refuse))
	s, err := New(WithStore(storetest.SQLite(f)), WithLogger(discardLogger()), WithResolver(reg))
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, did, query, accept string) {
		u := &url.URL{Path: "/1.0/identifiers/" + did, RawPath: "/1.0/identifiers/" + did, RawQuery: query}
		req, err := http.NewRequest("GET", "http://agentid.test"+u.EscapedPath()+"?"+query, nil)
		if err != nil {
			return // not an HTTP request line a client could send
		}
		if accept != "" {
			if strings.ContainsAny(accept, "\r\n\x00") {
				return
			}
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented && rec.Code != http.StatusBadGateway {
			t.Fatalf("GET %s (Accept %q): %d %s", req.URL, accept, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusNotFound && !strings.Contains(rec.Header().Get("Content-Type"), "did-resolution") {
			return // the path did not reach the resolver route (e.g. a DID with '/')
		}
		if rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect {
			return // gin's trailing-slash redirect
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("GET %s: %d body is not a JSON object: %v: %q", req.URL, rec.Code, err, rec.Body)
		}
		if rec.Code == http.StatusOK {
			if _, isDeref := body["didDereferencingMetadata"]; isDeref {
				vm, _ := body["didDocument"].(map[string]any)
				if vm == nil || vm["id"] == nil || vm["controller"] == nil {
					t.Fatalf("200 without a verification method: %s", rec.Body)
				}
			} else if _, isRes := body["didResolutionMetadata"]; isRes {
				doc, _ := body["didDocument"].(map[string]any)
				if doc == nil || doc["id"] == nil {
					t.Fatalf("200 without a document: %s", rec.Body)
				}
			} else if body["id"] == nil {
				t.Fatalf("200 document without id: %s", rec.Body)
			}
			return
		}
		meta, _ := body["didResolutionMetadata"].(map[string]any)
		if m, ok := body["didDereferencingMetadata"].(map[string]any); ok {
			meta = m
		}
		if code, _ := meta["error"].(string); code == "" {
			t.Fatalf("GET %s: %d without an error code: %s", req.URL, rec.Code, rec.Body)
		}
	})
}
