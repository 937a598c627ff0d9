package statusfetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/statuslist"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/netguard"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

var ctx = context.Background()

// party is an issuer: a software key, its did:key and verification method.
type party struct {
	key *software.Key
	did string
	vm  string
}

func newParty(t testing.TB, typ keys.KeyType) party {
	t.Helper()
	k, did, vm := testkeys.New(t, typ)
	return party{key: k, did: did, vm: vm}
}

// resolver resolves did:key, offline.
func resolver() didmethods.Resolver {
	reg := didmethods.NewRegistry()
	reg.Register("key", didmethods.KeyResolver{})
	return reg
}

// loopbackPolicy allows 127.0.0.0/8, where httptest servers listen: the
// honest way to let tests fetch from loopback, the way an operator would
// with --fetch-allow.
func loopbackPolicy() *netguard.Policy {
	return netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
}

// newChecker is a Checker for the test servers: loopback allowed by the
// policy, plain http to loopback allowed.
func newChecker(t testing.TB, opts ...Option) *Checker {
	t.Helper()
	c, err := New(resolver(), append([]Option{WithPolicy(loopbackPolicy()), WithInsecureLoopback(true)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// listServer is an httptest server that serves one status list (whatever
// body the test sets) at every path, with an ETag, answering
// If-None-Match with 304, and counting what it did.
type listServer struct {
	*httptest.Server

	mu           sync.Mutex
	body         []byte
	status       int // 0: serve the body
	cacheControl string
	delay        time.Duration
	chunked      bool

	requests, oks, notModified, bytes atomic.Int64
}

func newListServer(t testing.TB) *listServer {
	s := &listServer{}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

// URL of the list: the statusListCredential or uri.
func (s *listServer) listURL() string { return s.URL + "/status/1" }

func (s *listServer) set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

func (s *listServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	body, status, cc, delay, chunked := s.body, s.status, s.cacheControl, s.delay, s.chunked
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		http.Error(w, "boom", status)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	if r.Header.Get("If-None-Match") == etag {
		s.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.oks.Add(1)
	if chunked {
		// no Content-Length: the size limit must hold while reading
		half := len(body) / 2
		n, _ := w.Write(body[:half])
		w.(http.Flusher).Flush()
		m, _ := w.Write(body[half:])
		s.bytes.Add(int64(n + m))
		return
	}
	n, _ := w.Write(body)
	s.bytes.Add(int64(n))
}

// listOptions describe a Bitstring Status List credential to sign.
type listOptions struct {
	id, issuer string
	purpose    string
	set        []int
	validFrom  time.Time
	validUntil time.Time
	ttl        time.Duration
	// edit changes the unsigned credential before it is signed.
	edit func(map[string]any)
}

// listCredential is an unsigned BitstringStatusListCredential as decoded
// JSON, valid from an hour ago for a day unless o says otherwise.
func listCredential(t testing.TB, o listOptions) map[string]any {
	t.Helper()
	bs, err := statuslist.New(statuslist.MinEntries, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range o.set {
		if err := bs.Set(i, 1); err != nil {
			t.Fatal(err)
		}
	}
	if o.purpose == "" {
		o.purpose = statuslist.PurposeRevocation
	}
	if o.validFrom.IsZero() {
		o.validFrom = time.Now().Add(-time.Hour)
	}
	if o.validUntil.IsZero() {
		o.validUntil = time.Now().Add(24 * time.Hour)
	}
	vc, err := statuslist.NewCredential(statuslist.CredentialOptions{
		ID: o.id, Issuer: o.issuer, Purposes: []string{o.purpose}, List: bs,
		ValidFrom: o.validFrom, ValidUntil: o.validUntil, TTL: o.ttl,
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.edit != nil {
		o.edit(vc)
	}
	return vc
}

// signList signs a list credential with p's key (assertionMethod,
// eddsa-rdfc-2022 for Ed25519) and returns it as JSON.
func signList(t testing.TB, vc map[string]any, p party) []byte {
	t.Helper()
	signed, err := dataintegrity.Sign(ctx, vc, p.key, dataintegrity.ProofOptions{
		VerificationMethod: p.vm, Created: time.Now().Add(-time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return mustJSON(t, signed)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bitstringEntry is a BitstringStatusListEntry into url at index.
func bitstringEntry(url, purpose string, index int) map[string]any {
	return map[string]any{
		"id":                   url + "#" + itoa(index),
		"type":                 "BitstringStatusListEntry",
		"statusPurpose":        purpose,
		"statusListIndex":      itoa(index),
		"statusListCredential": url,
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// tokenOptions describe a status list token to sign.
type tokenOptions struct {
	sub      string
	kid      string
	statuses map[int]statuslist.Status
	bits     int
	exp      time.Time
	ttl      time.Duration
	noKid    bool
}

// signToken makes a status list token signed by p.
func signToken(t testing.TB, p party, o tokenOptions) []byte {
	t.Helper()
	if o.bits == 0 {
		o.bits = 2
	}
	if o.kid == "" && !o.noKid {
		o.kid = p.vm
	}
	l, err := statuslist.NewTokenList(1024, o.bits)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range o.statuses {
		if err := l.Set(i, s); err != nil {
			t.Fatal(err)
		}
	}
	claim, err := l.Claim()
	if err != nil {
		t.Fatal(err)
	}
	if o.exp.IsZero() {
		o.exp = time.Now().Add(time.Hour)
	}
	iat := time.Now().Add(-time.Minute)
	if !o.exp.After(iat) {
		iat = o.exp.Add(-time.Hour)
	}
	tok, err := statuslist.SignToken(ctx, p.key, o.kid, statuslist.TokenClaims{
		Subject: o.sub, IssuedAt: iat, ExpiresAt: o.exp, TTL: o.ttl, StatusList: claim,
	})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(tok)
}

// tokenEntry is an SD-JWT VC status claim pointing at idx in uri.
func tokenEntry(uri string, idx int) map[string]any {
	return map[string]any{"status_list": map[string]any{"idx": idx, "uri": uri}}
}

// clock is a settable clock for staleness tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
