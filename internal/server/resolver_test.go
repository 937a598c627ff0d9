package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store/storetest"
)

// TestResolveEndpointReproducesMultikeyVectors resolves every DID of the
// W3C suites' Multikey documents through the HTTP endpoint and compares the
// result with the vector as JSON values.
func TestResolveEndpointReproducesMultikeyVectors(t *testing.T) {
	h := newTestServer(t, storetest.SQLite(t)).Handler()
	files, err := filepath.Glob(filepath.Join(vectorsDir(t), "did-key", "multikey-documents", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no multikey vectors: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			DID         string          `json:"did"`
			DIDDocument json.RawMessage `json:"didDocument"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := do(t, h, "GET", "/1.0/identifiers/"+v.DID, nil)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", v.DID, r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "did-resolution") {
				t.Errorf("Content-Type %q", ct)
			}
			res := r.json(t)
			if res["@context"] != "https://w3id.org/did-resolution/v1" {
				t.Errorf("@context %v", res["@context"])
			}
			var want any
			_ = json.Unmarshal(v.DIDDocument, &want)
			if !reflect.DeepEqual(res["didDocument"], want) {
				got, _ := json.MarshalIndent(res["didDocument"], "", " ")
				t.Fatalf("document differs from the vector:\n got %s\nwant %s", got, v.DIDDocument)
			}
			if _, ok := res["didResolutionMetadata"].(map[string]any); !ok {
				t.Error("no didResolutionMetadata")
			}
			if _, ok := res["didDocumentMetadata"].(map[string]any); !ok {
				t.Error("no didDocumentMetadata")
			}

			// The bare document when asked for it, and a percent-encoded DID.
			r = do(t, h, "GET", "/1.0/identifiers/"+url.PathEscape(strings.ReplaceAll(v.DID, ":", "%3A")), nil, "Accept", "application/did+json")
			if r.status != 200 || r.header.Get("Content-Type") != "application/did+json" {
				t.Fatalf("did+json: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
			}
			if doc := r.json(t); !reflect.DeepEqual(any(doc), want) {
				t.Fatalf("did+json document differs from the vector")
			}
		})
	}
}

// TestResolveEndpointErrors checks the DID resolution error codes and HTTP
// statuses of the Universal Resolver conventions.
func TestResolveEndpointErrors(t *testing.T) {
	h := newTestServer(t, storetest.SQLite(t)).Handler()
	ed := "did:key:z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b"
	cases := []struct {
		name, path, accept string
		status             int
		code               string
	}{
		{"not a DID", "/1.0/identifiers/hello", "", 400, "invalidDid"},
		{"did:key without z", "/1.0/identifiers/did:key:abc", "", 400, "invalidDid"},
		{"did:key bad base58", "/1.0/identifiers/did:key:z0OIl", "", 400, "invalidDid"},
		// Ed25519 multicodec with a 31-byte key.
		{"did:key short key", "/1.0/identifiers/did:key:z2DQUz8yxybcgY49o2TDENNPqPQBbVynuU6CcNCWtSMrwMx", "", 400, "invalidPublicKeyLength"},
		{"did:key ed25519-priv codec", "/1.0/identifiers/did:key:z3u2RDonZ81AFKiw8QCPKcsyg8Yy2MmYQNxfBn51SS2QmMiw", "", 400, "unsupportedPublicKeyType"},
		{"unknown method", "/1.0/identifiers/did:example:123456789abcdefghi", "", 501, "methodNotSupported"},
		{"unknown key format", "/1.0/identifiers/" + ed + "?publicKeyFormat=Bogus2099", "", 400, "unsupportedPublicKeyType"},
		{"bad option", "/1.0/identifiers/" + ed + "?enableEncryptionKeyDerivation=maybe", "", 400, "invalidOptions"},
		{"unacceptable representation", "/1.0/identifiers/" + ed, "text/html", 406, "representationNotSupported"},
		{"too long", "/1.0/identifiers/did:key:z" + strings.Repeat("a", 3000), "", 400, "invalidDid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.accept != "" {
				hdr = []string{"Accept", c.accept}
			}
			r := do(t, h, "GET", c.path, nil, hdr...)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			res := r.json(t)
			meta, _ := res["didResolutionMetadata"].(map[string]any)
			if meta["error"] != c.code {
				t.Fatalf("error %v, want %s: %s", meta["error"], c.code, r.body)
			}
			if msg, _ := meta["errorMessage"].(string); msg == "" {
				t.Error("no errorMessage")
			}
			if v, ok := res["didDocument"]; !ok || v != nil {
				t.Errorf("didDocument %v, want null", v)
			}
		})
	}
}

func TestResolveEndpointOptions(t *testing.T) {
	h := newTestServer(t, storetest.SQLite(t)).Handler()
	did := "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
	r := do(t, h, "GET", "/1.0/identifiers/"+did+"?enableEncryptionKeyDerivation=true", nil)
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	doc := r.json(t)["didDocument"].(map[string]any)
	ka, _ := doc["keyAgreement"].([]any)
	// The X25519 key the did:key spec derives from this Ed25519 key.
	if len(ka) != 1 || !strings.HasSuffix(ka[0].(string), "#z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW") {
		t.Fatalf("keyAgreement %v", ka)
	}
}

func TestNegotiate(t *testing.T) {
	cases := map[string]string{
		"": mediaResolutionResult,
		`application/ld+json;profile="https://w3id.org/did-resolution"`: mediaResolutionResult,
		"application/did+json":                               mediaDIDJSON,
		"application/did+ld+json":                            mediaDIDLDJSON,
		"text/html, application/did+json;q=0.5":              mediaDIDJSON,
		"application/did+json;q=0.2, application/json;q=0.9": mediaResolutionResult,
		"*/*":                      mediaResolutionResult,
		"text/html":                "",
		"application/did+json;q=0": "",
	}
	for accept, want := range cases {
		got, ok := negotiate(accept)
		if got != want || ok != (want != "") {
			t.Errorf("negotiate(%q) = %q, %v; want %q", accept, got, ok, want)
		}
	}
}

// TestResolveEndpointDIDWeb resolves did:web DIDs whose documents a loopback
// web server serves: the port's %3A reaches the resolver intact, a missing
// document is 404 notFound, and a failing web server is 502.
func TestResolveEndpointDIDWeb(t *testing.T) {
	mux := http.NewServeMux()
	web := httptest.NewServer(mux)
	defer web.Close()
	host := strings.Replace(strings.TrimPrefix(web.URL, "http://"), ":", "%3A", 1)
	did := "did:web:" + host + ":agents:alice"
	mux.HandleFunc("/agents/alice/did.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/did+json")
		fmt.Fprintf(w, `{"@context":["https://www.w3.org/ns/did/v1"],"id":%q}`, did)
	})
	mux.HandleFunc("/agents/broken/did.json", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	})
	reg := didmethods.NewDefaultRegistry(didmethods.WithInsecureLoopback(true))
	h := newTestServer(t, storetest.SQLite(t), WithResolver(reg)).Handler()

	r := do(t, h, "GET", "/1.0/identifiers/"+did, nil)
	if r.status != 200 {
		t.Fatalf("%s: %d %s", did, r.status, r.body)
	}
	if id := r.json(t)["didDocument"].(map[string]any)["id"]; id != did {
		t.Fatalf("document id %v", id)
	}
	for _, c := range []struct {
		did    string
		status int
		code   string
	}{
		{"did:web:" + host + ":agents:nobody", 404, "notFound"},
		{"did:web:" + host + ":agents:broken", 502, "internalError"},
	} {
		r := do(t, h, "GET", "/1.0/identifiers/"+c.did, nil)
		if r.status != c.status {
			t.Fatalf("%s: %d, want %d: %s", c.did, r.status, c.status, r.body)
		}
		if got := r.json(t)["didResolutionMetadata"].(map[string]any)["error"]; got != c.code {
			t.Fatalf("%s: error %v, want %s", c.did, got, c.code)
		}
	}
}

// TestResolveEndpointRefusesPrivateAddresses checks the default outbound
// policy: a did:web whose host resolves to loopback is not fetched, unless
// the range is allowed.
func TestResolveEndpointRefusesPrivateAddresses(t *testing.T) {
	web := httptest.NewTLSServer(http.NotFoundHandler())
	defer web.Close()
	port := web.URL[strings.LastIndex(web.URL, ":")+1:]
	did := "did:web:localhost%3A" + port

	r := do(t, newTestServer(t, storetest.SQLite(t)).Handler(), "GET", "/1.0/identifiers/"+did, nil)
	if r.status != http.StatusBadGateway {
		t.Fatalf("%d %s", r.status, r.body)
	}
	msg := r.json(t)["didResolutionMetadata"].(map[string]any)["errorMessage"].(string)
	if !strings.Contains(msg, "not allowed for outbound fetches") {
		t.Fatalf("not refused by the address policy: %s", msg)
	}

	// Allowed, the fetch is made (and fails on the test server's untrusted
	// certificate, not on the policy).
	h := newTestServer(t, storetest.SQLite(t), WithFetchAllow(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))).Handler()
	r = do(t, h, "GET", "/1.0/identifiers/"+did, nil)
	msg = r.json(t)["didResolutionMetadata"].(map[string]any)["errorMessage"].(string)
	if r.status != http.StatusBadGateway || strings.Contains(msg, "not allowed") || !strings.Contains(msg, "certificate") {
		t.Fatalf("allowed fetch: %d %s", r.status, msg)
	}
}

// encodeURIComponent encodes s as JavaScript's encodeURIComponent does for
// the characters of DIDs and DID URLs, as the W3C CCG did:key suite sends
// them.
func encodeURIComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// TestResolveEndpointDereferencesDIDURL dereferences DID URLs: the
// verification method comes back as didDocument with
// didDereferencingMetadata, whether the whole DID URL is percent-encoded
// (the did:key suite) or only its '#' is.
func TestResolveEndpointDereferencesDIDURL(t *testing.T) {
	h := newTestServer(t, storetest.SQLite(t)).Handler()
	did := "did:key:z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b"
	vmID := did + "#z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b"
	for _, path := range []string{
		"/1.0/identifiers/" + encodeURIComponent(vmID),
		"/1.0/identifiers/" + strings.Replace(vmID, "#", "%23", 1),
	} {
		r := do(t, h, "GET", path, nil, "Accept", `application/ld+json;profile="https://w3id.org/did-resolution"`)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "did-resolution") {
			t.Errorf("Content-Type %q", ct)
		}
		res := r.json(t)
		vm, _ := res["didDocument"].(map[string]any)
		if vm["id"] != vmID || vm["controller"] != did || vm["type"] != "Multikey" ||
			vm["@context"] != didmethods.ContextMultikey || vm["publicKeyMultibase"] == nil {
			t.Fatalf("%s: didDocument %v", path, vm)
		}
		if _, ok := res["didDereferencingMetadata"].(map[string]any); !ok {
			t.Errorf("%s: no didDereferencingMetadata: %s", path, r.body)
		}
		if _, ok := res["didDocumentMetadata"].(map[string]any); !ok || res["@context"] != didmethods.ResolutionContext {
			t.Errorf("%s: not a resolution result: %s", path, r.body)
		}
	}

	// A bare representation is the method document itself.
	r := do(t, h, "GET", "/1.0/identifiers/"+encodeURIComponent(vmID), nil, "Accept", "application/did+ld+json")
	if r.status != http.StatusOK || r.json(t)["id"] != vmID {
		t.Fatalf("bare: %d %s", r.status, r.body)
	}
}

// TestResolveEndpointDereferencingErrors checks the failures of DID URL
// dereferencing: non-2xx, the error code in didDereferencingMetadata.
func TestResolveEndpointDereferencingErrors(t *testing.T) {
	h := newTestServer(t, storetest.SQLite(t)).Handler()
	did := "did:key:z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b"
	sigVM := did + "#z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b"
	kaVM := did + "#z6LSfHfAMAopsuBxaBzvp51GXrPf38Az13j2fmwqadbwwrzJ"
	legacy := "?publicKeyFormat=Ed25519VerificationKey2018&enableExperimentalPublicKeyTypes=false"
	cases := []struct {
		name, didURL, query string
		status              int
		code                string
	}{
		{"path and query", did + "/^bar^/?query=`#z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b", "", 400, "invalidDidUrl"},
		{"no such method", did + "#nope", "", 404, "notFound"},
		{"invalid DID", "did:key:@#key-1", "", 400, "invalidDid"},
		{"signature method, experimental type", sigVM, legacy, 400, "invalidPublicKeyType"},
		{"encryption method, experimental type", kaVM, legacy, 400, "invalidPublicKeyType"},
		{"bad option", sigVM, "?enableExperimentalPublicKeyTypes=perhaps", 400, "invalidOptions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, h, "GET", "/1.0/identifiers/"+encodeURIComponent(c.didURL)+c.query, nil)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			res := r.json(t)
			meta, _ := res["didDereferencingMetadata"].(map[string]any)
			if meta["error"] != c.code {
				t.Fatalf("error %v, want %s: %s", meta["error"], c.code, r.body)
			}
			if _, ok := res["didDocument"]; !ok {
				t.Error("no didDocument member")
			}
		})
	}
}

// TestResolveEndpointExperimentalKeyTypes: the did:key spec's
// enableExperimentalPublicKeyTypes defaults to false, so a publicKeyFormat
// outside Multikey, JsonWebKey2020 and Ed25519VerificationKey2020 /
// X25519KeyAgreementKey2020 is invalidPublicKeyType unless enabled.
func TestResolveEndpointExperimentalKeyTypes(t *testing.T) {
	h := newTestServer(t, storetest.SQLite(t)).Handler()
	did := "did:key:z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b"
	for _, c := range []struct {
		query  string
		status int
		vmType string // of the first method, on success
	}{
		{"?publicKeyFormat=Ed25519VerificationKey2018", 400, ""},
		{"?publicKeyFormat=Ed25519VerificationKey2018&enableExperimentalPublicKeyTypes=false", 400, ""},
		{"?publicKeyFormat=Ed25519VerificationKey2018&enableExperimentalPublicKeyTypes=true", 200, "Ed25519VerificationKey2018"},
		{"?publicKeyFormat=JsonWebKey2020&enableExperimentalPublicKeyTypes=false", 200, "JsonWebKey2020"},
		{"?publicKeyFormat=Ed25519VerificationKey2020", 200, "Ed25519VerificationKey2020"},
	} {
		// Twice: a cached document must not bypass the check.
		for range 2 {
			r := do(t, h, "GET", "/1.0/identifiers/"+did+c.query, nil)
			if r.status != c.status {
				t.Fatalf("%s: %d, want %d: %s", c.query, r.status, c.status, r.body)
			}
			res := r.json(t)
			if c.status != 200 {
				if code := res["didResolutionMetadata"].(map[string]any)["error"]; code != "invalidPublicKeyType" {
					t.Fatalf("%s: error %v", c.query, code)
				}
				continue
			}
			vms := res["didDocument"].(map[string]any)["verificationMethod"].([]any)
			if typ := vms[0].(map[string]any)["type"]; typ != c.vmType {
				t.Fatalf("%s: type %v, want %s", c.query, typ, c.vmType)
			}
		}
	}
}
