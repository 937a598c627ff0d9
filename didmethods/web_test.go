package didmethods

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentid/agentid/keys"
)

func TestWebDocumentURL(t *testing.T) {
	for did, want := range map[string]string{
		"did:web:w3c-ccg.github.io":                     "https://w3c-ccg.github.io/.well-known/did.json",
		"did:web:w3c-ccg.github.io:user:alice":          "https://w3c-ccg.github.io/user/alice/did.json",
		"did:web:example.com%3A3000:user:alice":         "https://example.com:3000/user/alice/did.json",
		"did:web:example.com%3a8443":                    "https://example.com:8443/.well-known/did.json",
		"did:web:issuer.example.com:orgs:acme":          "https://issuer.example.com/orgs/acme/did.json",
		"did:web:example.com:a%20b":                     "https://example.com/a%20b/did.json",
		"did:web:localhost%3A8080":                      "https://localhost:8080/.well-known/did.json",
		"did:web:xn--bcher-kva.example:users:b.o_b-1.2": "https://xn--bcher-kva.example/users/b.o_b-1.2/did.json",
	} {
		got, err := WebDocumentURL(did)
		if err != nil || got != want {
			t.Errorf("WebDocumentURL(%s) = %s, %v; want %s", did, got, err, want)
		}
	}
	for _, did := range []string{
		"did:web:",
		"did:web:127.0.0.1",               // IP addresses are not allowed
		"did:web:127.0.0.1%3A8080",        // nor with a port
		"did:web:[::1]",                   // nor IPv6 (and brackets are not idchars)
		"did:web:exa_mple.com",            // not a host name
		"did:web:-example.com",            // label begins with a hyphen
		"did:web:example..com",            // empty label
		"did:web:example.com%2Fevil",      // host with a slash
		"did:web:user%40example.com",      // userinfo
		"did:web:example.com%3A0",         // port 0
		"did:web:example.com%3A65536",     // port out of range
		"did:web:example.com%3A08080",     // leading zero
		"did:web:example.com%3Ahttp",      // port not a number
		"did:web:example.com::alice",      // empty path segment
		"did:web:example.com:..:etc",      // dot segment
		"did:web:example.com:a%2Fb",       // slash in a segment
		"did:web:example.com:a%00b",       // control character
		"did:web:example.com:",            // trailing colon
		"did:web:example.com#key-1",       // a DID URL
		"did:web:example.com/path",        // a path
		"did:key:z6MkiTBz1ymuepAQ4HEHYSF", // another method
		"did:web:" + strings.Repeat("a", MaxDIDWebLength),
	} {
		if u, err := WebDocumentURL(did); err == nil || ErrorCode(err) != CodeInvalidDID {
			t.Errorf("WebDocumentURL(%q) = %s, %v; want invalidDid", did, u, err)
		}
	}
}

// webDoc is a did:web document for did with a relative and an absolute
// method id.
func webDoc(t testing.TB, did string) (string, ed25519.PublicKey) {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	j, err := keys.PublicJWK(pub)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{
	  "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1", {"@vocab": "https://example.com/#"}],
	  "id": %[1]q,
	  "controller": %[1]q,
	  "verificationMethod": [
	    {"id": "#key-1", "type": "JsonWebKey2020", "controller": %[1]q, "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": %[2]q}},
	    {"id": "%[1]s#key-2", "type": "Multikey", "controller": %[1]q, "publicKeyMultibase": "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"}
	  ],
	  "assertionMethod": ["#key-1", {"id": "%[1]s#key-3", "type": "Multikey", "controller": %[1]q, "publicKeyMultibase": "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"}],
	  "authentication": ["%[1]s#key-2"],
	  "service": [{"id": "#svc", "type": ["LinkedDomains"], "serviceEndpoint": {"origins": ["https://example.com"]}}]
	}`, did, j.X), pub
}

// hostPort returns the %3A-encoded host:port of a test server for a did:web.
func hostPort(t testing.TB, srv *httptest.Server, host string) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return host + "%3A" + u.Port()
}

func TestWebResolveTLS(t *testing.T) {
	var did string
	var doc string
	var gotAccept atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAccept.Store(r.Header.Get("Accept"))
		if r.URL.Path != "/user/alice/did.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/did+json")
		w.Header().Set("Cache-Control", "public, max-age=120")
		fmt.Fprint(w, doc)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-certificate case below
	srv.StartTLS()
	defer srv.Close()
	// The test certificate is for example.com (and 127.0.0.1): the client
	// trusts it and dials the server for any address.
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		},
	}}
	did = "did:web:" + hostPort(t, srv, "example.com") + ":user:alice"
	var pub ed25519.PublicKey
	doc, pub = webDoc(t, did)

	r := NewWebResolver(WithHTTPClient(client))
	res, err := r.Resolve(context.Background(), did, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := gotAccept.Load().(string); a != "application/did+json, application/json" {
		t.Errorf("Accept %q", a)
	}
	d := res.Document
	if d.ID != did || len(d.VerificationMethod) != 2 || len(d.Context) != 3 || len(d.Service) != 1 {
		t.Fatalf("document %+v", d)
	}
	if res.ResolutionMetadata.ContentType != ContentTypeDIDLDJSON || res.freshness.kind != freshMaxAge || res.freshness.maxAge != 120*time.Second {
		t.Errorf("metadata %+v freshness %+v", res.ResolutionMetadata, res.freshness)
	}
	vm, ok := d.VerificationMethodByID(did + "#key-1")
	if !ok {
		t.Fatal("#key-1 not found by absolute id")
	}
	if k, err := vm.PublicKey(); err != nil || !pub.Equal(k) {
		t.Errorf("key-1: %v", err)
	}
	if _, ok := d.VerificationMethodByID("#key-3"); !ok {
		t.Error("embedded #key-3 not found")
	}
	if _, ok := d.VerificationMethodByID("did:web:other.example#key-1"); ok {
		t.Error("a method of another DID was found")
	}
	for _, c := range []struct {
		rel  Relationship
		id   string
		want bool
	}{
		{AssertionMethod, did + "#key-1", true},
		{AssertionMethod, "#key-1", true},
		{AssertionMethod, "#key-3", true},
		{AssertionMethod, "#key-2", false},
		{Authentication, "#key-2", true},
		{Authentication, "#key-1", false},
		{KeyAgreement, "#key-1", false},
		{Relationship("bogus"), "#key-1", false},
	} {
		if got := d.Authorizes(c.rel, c.id); got != c.want {
			t.Errorf("Authorizes(%s, %s) = %v", c.rel, c.id, got)
		}
	}
	// The registry dereferences a relative method id to an absolute one.
	reg := NewRegistry()
	reg.Register("web", r)
	vmDoc, err := reg.Dereference(context.Background(), did+"#key-1", ResolveOptions{})
	if err != nil || vmDoc.ID != did+"#key-1" || vmDoc.Context != ContextJWS2020 {
		t.Errorf("Dereference: %+v, %v", vmDoc, err)
	}
	if _, err := reg.Dereference(context.Background(), did+"#nope", ResolveOptions{}); ErrorCode(err) != CodeNotFound {
		t.Errorf("missing fragment: %v", err)
	}
	if _, err := reg.Dereference(context.Background(), did, ResolveOptions{}); ErrorCode(err) != CodeInvalidDIDURL {
		t.Errorf("no fragment: %v", err)
	}
	if _, err := reg.Dereference(context.Background(), did+"/path#key-1", ResolveOptions{}); ErrorCode(err) != CodeInvalidDIDURL {
		t.Errorf("path: %v", err)
	}

	// Without the custom client the resolver's own transport does not trust
	// the test certificate (and cannot resolve example.com here): the
	// failure is an internal error with its cause.
	if _, err := NewWebResolver(WithTimeout(time.Second)).Resolve(context.Background(), "did:web:"+hostPort(t, srv, "localhost"), ResolveOptions{}); ErrorCode(err) != CodeInternalError {
		t.Errorf("untrusted certificate: %v", err)
	}
}

// loopbackServer serves handler on 127.0.0.1 over plain HTTP and counts
// requests.
func loopbackServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func serveDoc(doc *string, cacheControl string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/did.json" {
			http.NotFound(w, r)
			return
		}
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		fmt.Fprint(w, *doc)
	}
}

func TestWebResolveLoopback(t *testing.T) {
	var doc string
	srv, n := loopbackServer(t, serveDoc(&doc, ""))
	ctx := context.Background()
	for _, host := range []string{"127.0.0.1", "localhost"} {
		did := "did:web:" + hostPort(t, srv, host)
		doc, _ = webDoc(t, did)
		res, err := NewWebResolver(WithInsecureLoopback(true)).Resolve(ctx, did, ResolveOptions{})
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		if res.Document.ID != did || res.freshness.kind != freshUnknown {
			t.Errorf("%s: %+v", host, res)
		}
	}
	// Without the option: an IP literal is not a did:web host, and
	// localhost is fetched over HTTPS, which the plain server cannot answer.
	before := n.Load()
	if _, err := NewWebResolver().Resolve(ctx, "did:web:"+hostPort(t, srv, "127.0.0.1"), ResolveOptions{}); ErrorCode(err) != CodeInvalidDID {
		t.Errorf("IP host without the option: %v", err)
	}
	if _, err := NewWebResolver(WithTimeout(2*time.Second)).Resolve(ctx, "did:web:"+hostPort(t, srv, "localhost"), ResolveOptions{}); ErrorCode(err) != CodeInternalError {
		t.Errorf("plain HTTP without the option: %v", err)
	}
	if n.Load() != before {
		t.Error("a plain HTTP request was made without the insecure-loopback option")
	}
	// The option does not open plain HTTP to other hosts.
	if u, err := webURL("did:web:example.com", true); err != nil || u.Scheme != "https" {
		t.Errorf("example.com with the option: %v, %v", u, err)
	}
}

func TestWebResolveFailures(t *testing.T) {
	ctx := context.Background()
	big := strings.Repeat(" ", 2048)
	var slowDone = make(chan struct{})
	defer close(slowDone)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		opts    []WebOption
		code    string
		is      error
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, nil, CodeNotFound, nil},
		{"410", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }, nil, CodeNotFound, nil},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, nil, CodeInternalError, nil},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html></html>") }, nil, CodeInternalError, nil},
		{"JSON with trailing data", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"id":"x"} {}`) }, nil, CodeInternalError, nil},
		{"id mismatch", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"@context":"https://www.w3.org/ns/did/v1","id":"did:web:evil.example"}`)
		}, nil, CodeNotFound, nil},
		{"oversize with Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			fmt.Fprint(w, big)
		}, []WebOption{WithMaxBytes(1024)}, CodeInternalError, ErrResponseTooLarge},
		{"oversize chunked", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, big[:1000])
			w.(http.Flusher).Flush()
			fmt.Fprint(w, big[1000:])
		}, []WebOption{WithMaxBytes(1024)}, CodeInternalError, ErrResponseTooLarge},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			case <-slowDone:
			}
		}, []WebOption{WithTimeout(150 * time.Millisecond)}, CodeInternalError, context.DeadlineExceeded},
		{"private key published", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"id":"did:web:%s","assertionMethod":[{"id":"#k","type":"JsonWebKey2020","controller":"x","publicKeyJwk":{"kty":"OKP","crv":"Ed25519","x":"AA","d":"AA"}}]}`, strings.ReplaceAll(r.Host, ":", "%3A"))
		}, nil, CodeInternalError, nil},
		{"redirect to another host over plain HTTP", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://example.invalid/did.json", http.StatusFound)
		}, nil, CodeInternalError, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := loopbackServer(t, c.handler)
			did := "did:web:" + hostPort(t, srv, "127.0.0.1")
			start := time.Now()
			res, err := NewWebResolver(append([]WebOption{WithInsecureLoopback(true)}, c.opts...)...).Resolve(ctx, did, ResolveOptions{})
			if err == nil || res != nil {
				t.Fatalf("resolved: %+v", res)
			}
			if ErrorCode(err) != c.code {
				t.Errorf("code %s, want %s (%v)", ErrorCode(err), c.code, err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			// Every failure that lies with the web server is marked so, and
			// a missing document is not.
			if upstream := errors.Is(err, ErrUpstream); upstream != (c.code == CodeInternalError) {
				t.Errorf("errors.Is(err, ErrUpstream) = %v for %s (%v)", upstream, c.code, err)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func TestWebRedirectWithinLoopback(t *testing.T) {
	var doc string
	target, _ := loopbackServer(t, serveDoc(&doc, ""))
	front, _ := loopbackServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusMovedPermanently)
	})
	did := "did:web:" + hostPort(t, front, "127.0.0.1")
	doc, _ = webDoc(t, did)
	if _, err := NewWebResolver(WithInsecureLoopback(true)).Resolve(context.Background(), did, ResolveOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestWebDialCheck(t *testing.T) {
	var doc string
	srv, n := loopbackServer(t, serveDoc(&doc, ""))
	did := "did:web:" + hostPort(t, srv, "localhost")
	doc, _ = webDoc(t, did)
	type call struct {
		host string
		ip   string
	}
	var mu sync.Mutex
	var calls []call
	refuseLoopback := func(_ context.Context, host string, ip net.IP) error {
		mu.Lock()
		calls = append(calls, call{host, ip.String()})
		mu.Unlock()
		if ip != nil && (ip.IsLoopback() || ip.IsPrivate()) {
			return errors.New("private address")
		}
		return nil
	}
	_, err := NewWebResolver(WithInsecureLoopback(true), WithDialCheck(refuseLoopback)).Resolve(context.Background(), did, ResolveOptions{})
	if ErrorCode(err) != CodeInternalError || !errors.Is(err, ErrAddressRefused) {
		t.Fatalf("dial to loopback: %v", err)
	}
	if n.Load() != 0 {
		t.Error("the server was reached")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) < 2 || calls[0] != (call{"localhost", "<nil>"}) || calls[1].host != "localhost" || !net.ParseIP(calls[1].ip).IsLoopback() {
		t.Errorf("dial check calls %v", calls)
	}
	// The same server, allowed: the check sees the address and lets it be.
	allow := func(context.Context, string, net.IP) error { return nil }
	if _, err := NewWebResolver(WithInsecureLoopback(true), WithDialCheck(allow)).Resolve(context.Background(), did, ResolveOptions{}); err != nil {
		t.Errorf("allowed dial: %v", err)
	}
	// Refusing the name refuses before any lookup.
	_, err = NewWebResolver(WithDialCheck(refuseAll)).Resolve(context.Background(), "did:web:does-not-exist.invalid", ResolveOptions{})
	if !errors.Is(err, ErrAddressRefused) {
		t.Errorf("refused name: %v", err)
	}
}

func TestCacheControlFreshness(t *testing.T) {
	for _, c := range []struct {
		header []string
		want   freshness
	}{
		{nil, freshness{kind: freshUnknown}},
		{[]string{"public"}, freshness{kind: freshUnknown}},
		{[]string{"max-age=60"}, freshness{kind: freshMaxAge, maxAge: time.Minute}},
		{[]string{"public, Max-Age=\"30\""}, freshness{kind: freshMaxAge, maxAge: 30 * time.Second}},
		{[]string{"max-age=0"}, freshness{kind: freshMaxAge}},
		{[]string{"max-age=60", "no-store"}, freshness{kind: freshNoStore}},
		{[]string{"no-cache, max-age=60"}, freshness{kind: freshNoStore}},
		{[]string{"max-age=-1"}, freshness{kind: freshNoStore}},
		{[]string{"max-age=abc"}, freshness{kind: freshNoStore}},
		{[]string{"max-age=99999999999"}, freshness{kind: freshMaxAge, maxAge: 24 * time.Hour}},
	} {
		if got := cacheControlFreshness(c.header); got != c.want {
			t.Errorf("%q: %+v, want %+v", c.header, got, c.want)
		}
	}
}
