package statusfetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/statuslist"
	"github.com/agentid/agentid/keys"
)

// wantErr asserts that err wraps the named error.
func wantErr(t *testing.T, err, named error) {
	t.Helper()
	if !errors.Is(err, named) {
		t.Fatalf("error %v, want %v", err, named)
	}
}

// revocationServer serves iss's revocation list with the given indexes set.
func revocationServer(t *testing.T, iss party, set ...int) *listServer {
	t.Helper()
	s := newListServer(t)
	s.set(signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did, set: set}), iss))
	return s
}

func TestBitstringValidAndRevoked(t *testing.T) {
	iss := newParty(t, keys.Ed25519)
	s := revocationServer(t, iss, 7)
	c := newChecker(t)

	res, err := c.Check(ctx, Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid || res.Purpose != "revocation" || res.Status != 0 || res.List != s.listURL() {
		t.Fatalf("index 0: %+v, want valid", res)
	}
	res, err = c.Check(ctx, Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 7)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid || res.Purpose != "revocation" || res.Status != 1 || res.Message != "set" {
		t.Fatalf("index 7: %+v, want revoked", res)
	}
	// Both answers came from one download.
	if got := s.requests.Load(); got != 1 {
		t.Fatalf("%d requests, want 1", got)
	}
	if st := c.Stats(); st.Fetches != 1 || st.Hits != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// With staleness 0 every check revalidates: a flip at the issuer is seen
// by the very next check, and an unchanged list costs a 304, no body.
func TestStalenessZeroSeesChangeAtOnce(t *testing.T) {
	iss := newParty(t, keys.Ed25519)
	s := revocationServer(t, iss)
	c := newChecker(t, WithStaleness(0))
	e := Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 3)}

	for i := range 2 {
		if res, err := c.Check(ctx, e); err != nil || !res.Valid {
			t.Fatalf("check %d: %+v %v, want valid", i, res, err)
		}
	}
	if s.oks.Load() != 1 || s.notModified.Load() != 1 {
		t.Fatalf("200s %d, 304s %d; want 1 and 1", s.oks.Load(), s.notModified.Load())
	}
	bytesBefore := s.bytes.Load()

	s.set(signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did, set: []int{3}}), iss))
	res, err := c.Check(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid {
		t.Fatalf("after the flip: %+v, want revoked", res)
	}
	if s.bytes.Load() == bytesBefore {
		t.Fatal("the changed list was not downloaded")
	}
}

// With a staleness bound the cached list answers without a request until
// the bound passes; then it is revalidated with its ETag (a 304, no body)
// or replaced when it changed.
func TestStalenessBoundUsesCacheThenRevalidates(t *testing.T) {
	iss := newParty(t, keys.Ed25519)
	s := revocationServer(t, iss)
	clk := &clock{now: time.Now()}
	c := newChecker(t, WithStaleness(60*time.Second), WithClock(clk.Now))
	e := Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 3)}

	check := func(wantValid bool) {
		t.Helper()
		res, err := c.Check(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if res.Valid != wantValid {
			t.Fatalf("valid %v, want %v", res.Valid, wantValid)
		}
	}
	check(true)
	bytesAfterFirst := s.bytes.Load()
	clk.advance(30 * time.Second)
	check(true)
	if s.requests.Load() != 1 {
		t.Fatalf("%d requests within the bound, want 1", s.requests.Load())
	}

	// Past the bound, unchanged: a conditional request, 304, no body.
	clk.advance(31 * time.Second)
	check(true)
	if s.requests.Load() != 2 || s.notModified.Load() != 1 || s.bytes.Load() != bytesAfterFirst {
		t.Fatalf("requests %d, 304s %d, bytes %d (were %d)", s.requests.Load(), s.notModified.Load(), s.bytes.Load(), bytesAfterFirst)
	}
	if st := c.Stats(); st.NotModified != 1 || st.Fetches != 1 {
		t.Fatalf("stats %+v", st)
	}

	// The issuer revokes. Within the bound the cached list still answers
	// (the bound is what a remote verifier promises); after it, the change
	// is seen.
	s.set(signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did, set: []int{3}}), iss))
	clk.advance(59 * time.Second)
	check(true)
	if s.requests.Load() != 2 {
		t.Fatalf("%d requests, want 2", s.requests.Load())
	}
	clk.advance(2 * time.Second)
	check(false)
	if s.requests.Load() != 3 || s.oks.Load() != 2 {
		t.Fatalf("requests %d, 200s %d; want 3 and 2", s.requests.Load(), s.oks.Load())
	}
}

// The list's ttl and the response's Cache-Control lower the staleness
// bound; they never raise it.
func TestFreshnessHints(t *testing.T) {
	iss := newParty(t, keys.Ed25519)
	s := newListServer(t)
	s.set(signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did, ttl: 10 * time.Second}), iss))
	clk := &clock{now: time.Now()}
	c := newChecker(t, WithStaleness(time.Minute), WithClock(clk.Now))
	e := Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 3)}
	if _, err := c.Check(ctx, e); err != nil {
		t.Fatal(err)
	}
	clk.advance(11 * time.Second)
	if _, err := c.Check(ctx, e); err != nil {
		t.Fatal(err)
	}
	if s.requests.Load() != 2 {
		t.Fatalf("ttl 10 s: %d requests after 11 s, want 2", s.requests.Load())
	}

	s.mu.Lock()
	s.cacheControl = "no-cache"
	s.mu.Unlock()
	clk.advance(11 * time.Second)
	for range 3 {
		if _, err := c.Check(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// The response with the new header is a 304 whose no-cache makes every
	// later check revalidate too.
	if s.requests.Load() != 5 {
		t.Fatalf("no-cache: %d requests, want 5", s.requests.Load())
	}

	if got := c.freshness(0, http.Header{"Cache-Control": {"public, max-age=5"}}); got != 5*time.Second {
		t.Fatalf("max-age=5: %v", got)
	}
	if got := c.freshness(0, http.Header{"Cache-Control": {"max-age=600"}}); got != time.Minute {
		t.Fatalf("max-age=600 with a 60 s bound: %v", got)
	}
}

func TestFailsClosed(t *testing.T) {
	iss, other := newParty(t, keys.Ed25519), newParty(t, keys.Ed25519)

	tests := []struct {
		name  string
		setup func(t *testing.T, s *listServer) []Option
		entry func(url string) map[string]any
		want  error
	}{
		{"server error", func(t *testing.T, s *listServer) []Option {
			s.status = http.StatusInternalServerError
			return nil
		}, nil, ErrHTTPStatus},
		{"not found", func(t *testing.T, s *listServer) []Option {
			s.status = http.StatusNotFound
			return nil
		}, nil, ErrHTTPStatus},
		{"unsigned", func(t *testing.T, s *listServer) []Option {
			s.body = mustJSON(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did}))
			return nil
		}, nil, ErrUnsigned},
		{"list of another issuer", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: other.did, set: []int{1}}), other)
			return nil
		}, nil, ErrWrongIssuer},
		{"issuer's list signed by another key", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did}), other)
			return nil
		}, nil, ErrWrongIssuer},
		{"tampered: bit flipped after signing", func(t *testing.T, s *listServer) []Option {
			signed := listCredential(t, listOptions{id: s.listURL(), issuer: iss.did})
			body := signList(t, signed, iss)
			flipped := listCredential(t, listOptions{id: s.listURL(), issuer: iss.did, set: []int{3}})
			oldList := signed["credentialSubject"].(map[string]any)["encodedList"].(string)
			newList := flipped["credentialSubject"].(map[string]any)["encodedList"].(string)
			s.body = []byte(strings.Replace(string(body), oldList, newList, 1))
			return nil
		}, nil, ErrBadSignature},
		{"oversize (Content-Length)", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did}), iss)
			return []Option{WithMaxBytes(256)}
		}, nil, ErrTooLarge},
		{"oversize (chunked)", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did}), iss)
			s.chunked = true
			return []Option{WithMaxBytes(256)}
		}, nil, ErrTooLarge},
		{"not JSON", func(t *testing.T, s *listServer) []Option {
			s.body = []byte("<html>maintenance</html>")
			return nil
		}, nil, ErrMalformedList},
		{"undecodable list, signed", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did, edit: func(m map[string]any) {
				m["credentialSubject"].(map[string]any)["encodedList"] = "u" + base64.RawURLEncoding.EncodeToString([]byte("not gzip"))
			}}), iss)
			return nil
		}, nil, ErrMalformedList},
		{"another list of the issuer served at this URL", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.URL + "/status/2", issuer: iss.did}), iss)
			return nil
		}, nil, ErrListMismatch},
		{"expired list", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did,
				validFrom: time.Now().Add(-48 * time.Hour), validUntil: time.Now().Add(-2 * time.Hour)}), iss)
			return nil
		}, nil, ErrListNotValid},
		{"list not yet valid", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did,
				validFrom: time.Now().Add(2 * time.Hour), validUntil: time.Now().Add(48 * time.Hour)}), iss)
			return nil
		}, nil, ErrListNotValid},
		{"purpose mismatch", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did}), iss)
			return nil
		}, func(url string) map[string]any { return bitstringEntry(url, "suspension", 3) }, ErrPurposeMismatch},
		{"index out of range", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did}), iss)
			return nil
		}, func(url string) map[string]any { return bitstringEntry(url, "revocation", statuslist.MinEntries) }, ErrIndexOutOfRange},
		{"timeout", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did}), iss)
			s.delay = 2 * time.Second
			return []Option{WithTimeout(100 * time.Millisecond)}
		}, nil, ErrTimeout},
		{"loopback refused by the default policy", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did}), iss)
			return []Option{WithPolicy(nil)}
		}, nil, ErrAddressRefused},
		{"plain http without the loopback exception", func(t *testing.T, s *listServer) []Option {
			s.body = signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did}), iss)
			return []Option{WithInsecureLoopback(false)}
		}, nil, ErrInsecureURL},
		{"malformed entry", func(t *testing.T, s *listServer) []Option { return nil },
			func(url string) map[string]any {
				e := bitstringEntry(url, "revocation", 3)
				e["statusListIndex"] = "03"
				return e
			}, ErrInvalidEntry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newListServer(t)
			s.mu.Lock()
			opts := tc.setup(t, s)
			s.mu.Unlock()
			c := newChecker(t, opts...)
			entry := bitstringEntry(s.listURL(), "revocation", 3)
			if tc.entry != nil {
				entry = tc.entry(s.listURL())
			}
			res, err := c.Check(ctx, Entry{Kind: KindBitstring, Issuer: iss.did, Entry: entry})
			if err == nil {
				t.Fatalf("no error, result %+v", res)
			}
			wantErr(t, err, tc.want)
			if res != (Result{}) {
				t.Fatalf("a result with the error: %+v", res)
			}
			if tc.want == ErrAddressRefused && s.requests.Load() != 0 {
				t.Fatalf("the refused server got %d requests", s.requests.Load())
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		s := revocationServer(t, iss)
		url := s.listURL()
		s.Close()
		_, err := newChecker(t).Check(ctx, Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(url, "revocation", 3)})
		wantErr(t, err, ErrUnreachable)
	})

	// A list fetched and cached for one issuer does not answer for another
	// issuer's credential that points at the same URL.
	t.Run("cached list of another issuer", func(t *testing.T) {
		s := revocationServer(t, iss)
		c := newChecker(t)
		if _, err := c.Check(ctx, Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 3)}); err != nil {
			t.Fatal(err)
		}
		_, err := c.Check(ctx, Entry{Kind: KindBitstring, Issuer: other.did, Entry: bitstringEntry(s.listURL(), "revocation", 3)})
		wantErr(t, err, ErrWrongIssuer)
	})

	// Once the list cannot be had, a stale copy is not used instead.
	t.Run("stale copy not used when the server fails", func(t *testing.T) {
		s := revocationServer(t, iss)
		c := newChecker(t, WithStaleness(0))
		e := Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 3)}
		if _, err := c.Check(ctx, e); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		s.status = http.StatusServiceUnavailable
		s.mu.Unlock()
		_, err := c.Check(ctx, e)
		wantErr(t, err, ErrHTTPStatus)
	})

	t.Run("unknown kind and missing issuer", func(t *testing.T) {
		c := newChecker(t)
		_, err := c.Check(ctx, Entry{Kind: "StatusList2021Entry", Issuer: iss.did, Entry: map[string]any{}})
		wantErr(t, err, ErrUnsupportedKind)
		_, err = c.Check(ctx, Entry{Kind: KindBitstring, Entry: bitstringEntry("https://example.com/s", "revocation", 1)})
		wantErr(t, err, ErrInvalidEntry)
	})
}

// Redirects are followed a bounded number of times, and each hop passes
// the URL rule and the address policy again.
func TestRedirects(t *testing.T) {
	iss := newParty(t, keys.Ed25519)
	target := revocationServer(t, iss)
	hop := func(to string) *httptest.Server {
		s := httptest.NewServer(http.RedirectHandler(to, http.StatusFound))
		t.Cleanup(s.Close)
		return s
	}
	entry := func(url string) Entry {
		// The list's id is the target URL; the entry names where the
		// redirect chain starts, so id and URL differ unless the list
		// moved on purpose. Point the entry at the target itself to see
		// the redirect hops only.
		return Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(url, "revocation", 3)}
	}

	t.Run("followed, then the list must still be the one named", func(t *testing.T) {
		one := hop(target.listURL())
		_, err := newChecker(t).Check(ctx, entry(one.URL+"/status/1"))
		wantErr(t, err, ErrListMismatch) // the list says it is target's, not one's
		if target.requests.Load() != 1 {
			t.Fatalf("target got %d requests, want 1", target.requests.Load())
		}
	})
	t.Run("too many", func(t *testing.T) {
		a := hop(target.listURL())
		b := hop(a.URL)
		cc := hop(b.URL)
		_, err := newChecker(t, WithMaxRedirects(2)).Check(ctx, entry(cc.URL+"/x"))
		wantErr(t, err, ErrTooManyRedirects)
	})
	t.Run("to a private address", func(t *testing.T) {
		r := hop("http://10.11.12.13/status/1")
		_, err := newChecker(t).Check(ctx, entry(r.URL+"/x"))
		wantErr(t, err, ErrInsecureURL) // plain http to a non-loopback host
		r2 := hop("https://10.11.12.13/status/1")
		_, err = newChecker(t).Check(ctx, entry(r2.URL+"/x"))
		wantErr(t, err, ErrAddressRefused)
	})
}

// Over https, with the test server's certificate as the only root.
func TestHTTPS(t *testing.T) {
	iss := newParty(t, keys.Ed25519)
	s := &listServer{}
	s.Server = httptest.NewUnstartedServer(s)
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	s.StartTLS()
	t.Cleanup(s.Close)
	s.set(signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did, set: []int{3}}), iss))
	roots := x509.NewCertPool()
	roots.AddCert(s.Certificate())
	c := newChecker(t, WithInsecureLoopback(false), WithTLSConfig(&tls.Config{RootCAs: roots}))
	res, err := c.Check(ctx, Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 3)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid {
		t.Fatalf("%+v, want revoked", res)
	}
	// Without the root the handshake fails: unreachable, not accepted.
	_, err = newChecker(t, WithInsecureLoopback(false)).Check(ctx, Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 3)})
	wantErr(t, err, ErrUnreachable)
}

func TestTokenStatusList(t *testing.T) {
	iss, other := newParty(t, keys.P256), newParty(t, keys.P256)
	s := newListServer(t)
	s.set(signToken(t, iss, tokenOptions{sub: s.listURL(), statuses: map[int]statuslist.Status{
		5: statuslist.StatusInvalid, 6: statuslist.StatusSuspended, 7: 3}}))
	c := newChecker(t, WithStaleness(0))
	check := func(idx int) (Result, error) {
		return c.Check(ctx, Entry{Kind: KindTokenStatusList, Issuer: iss.did, Entry: tokenEntry(s.listURL(), idx)})
	}
	for _, tc := range []struct {
		idx     int
		valid   bool
		purpose string
	}{
		{4, true, "revocation"},
		{5, false, "revocation"},
		{6, false, "suspension"},
		{7, false, "0x03"},
	} {
		res, err := check(tc.idx)
		if err != nil {
			t.Fatalf("idx %d: %v", tc.idx, err)
		}
		if res.Valid != tc.valid || res.Purpose != tc.purpose {
			t.Fatalf("idx %d: %+v, want valid %v purpose %s", tc.idx, res, tc.valid, tc.purpose)
		}
	}
	if s.oks.Load() != 1 || s.notModified.Load() != 3 {
		t.Fatalf("200s %d, 304s %d; want 1 and 3", s.oks.Load(), s.notModified.Load())
	}
	// The issuer flips index 4; with staleness 0 the next check sees it.
	s.set(signToken(t, iss, tokenOptions{sub: s.listURL(), statuses: map[int]statuslist.Status{4: statuslist.StatusInvalid}}))
	if res, err := check(4); err != nil || res.Valid {
		t.Fatalf("after the flip: %+v %v, want revoked", res, err)
	}
	_, err := check(4096)
	wantErr(t, err, ErrIndexOutOfRange)

	unsigned := func(sub string) []byte {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"statuslist+jwt"}`))
		p := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"` + sub + `","iat":1700000000,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`))
		return []byte(h + "." + p + ".")
	}
	for _, tc := range []struct {
		name string
		body func(url string) []byte
		want error
	}{
		{"unsigned", unsigned, ErrUnsigned},
		{"signed by another key under the issuer's kid", func(url string) []byte {
			return signToken(t, other, tokenOptions{sub: url, kid: iss.vm})
		}, ErrBadSignature},
		{"another issuer's token", func(url string) []byte {
			return signToken(t, other, tokenOptions{sub: url})
		}, ErrWrongIssuer},
		{"no kid", func(url string) []byte {
			return signToken(t, iss, tokenOptions{sub: url, noKid: true})
		}, ErrSignerKey},
		{"sub is another list", func(url string) []byte {
			return signToken(t, iss, tokenOptions{sub: url + "/other"})
		}, ErrListMismatch},
		{"expired", func(url string) []byte {
			return signToken(t, iss, tokenOptions{sub: url, exp: time.Now().Add(-10 * time.Minute)})
		}, ErrListNotValid},
		{"not a JWT", func(string) []byte { return []byte("{}") }, ErrMalformedList},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newListServer(t)
			s.set(tc.body(s.listURL()))
			_, err := newChecker(t).Check(ctx, Entry{Kind: KindTokenStatusList, Issuer: iss.did, Entry: tokenEntry(s.listURL(), 1)})
			wantErr(t, err, tc.want)
		})
	}
}

// Concurrent checks on a cold cache share one fetch.
func TestConcurrentChecksShareOneFetch(t *testing.T) {
	iss := newParty(t, keys.Ed25519)
	s := revocationServer(t, iss, 9)
	s.delay = 100 * time.Millisecond
	c := newChecker(t)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			res, err := c.Check(ctx, Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 8+i%2)})
			if err == nil && res.Valid != (i%2 == 0) {
				err = errors.New("wrong status")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := s.requests.Load(); got != 1 {
		t.Fatalf("%d requests, want 1", got)
	}
}

func TestLRU(t *testing.T) {
	c := newLRU(2, 100)
	l := func(cost int64) *cachedList { return &cachedList{cost: cost} }
	a, b, d := cacheKey{"k", "a"}, cacheKey{"k", "b"}, cacheKey{"k", "d"}
	c.put(a, l(10))
	c.put(b, l(10))
	c.get(a) // a is now the most recent
	c.put(d, l(10))
	if c.get(b) != nil || c.get(a) == nil || c.get(d) == nil {
		t.Fatal("b should have been evicted, a and d kept")
	}
	c.put(b, l(95)) // over the byte budget with the others: they go
	if c.len() != 1 || c.get(b) == nil {
		t.Fatalf("len %d, want only b", c.len())
	}
	c.put(a, l(101)) // larger than the budget: not kept
	if c.get(a) != nil {
		t.Fatal("an oversize list was cached")
	}
	if c.bytes != 95 {
		t.Fatalf("bytes %d, want 95", c.bytes)
	}
}

func TestNewNeedsResolver(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Fatal("New without a resolver succeeded")
	}
}

// BenchmarkCheckWarmCache is the cost of one status check once the list
// is cached and fresh: no network, no signature check, only the entry's
// parsing and one read from the decoded list.
func BenchmarkCheckWarmCache(b *testing.B) {
	iss := newParty(b, keys.Ed25519)
	s := newListServer(b)
	s.set(signList(b, listCredential(b, listOptions{id: s.listURL(), issuer: iss.did, set: []int{42}}), iss))
	c := newChecker(b, WithStaleness(time.Hour))
	e := Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 42)}
	if _, err := c.Check(ctx, e); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Check(ctx, e)
		if err != nil || res.Valid {
			b.Fatal(res, err)
		}
	}
	if s.requests.Load() != 1 {
		b.Fatalf("%d requests, want 1", s.requests.Load())
	}
}

// BenchmarkCheckWarmCacheToken is the same for a Token Status List.
func BenchmarkCheckWarmCacheToken(b *testing.B) {
	iss := newParty(b, keys.P256)
	s := newListServer(b)
	s.set(signToken(b, iss, tokenOptions{sub: s.listURL(), statuses: map[int]statuslist.Status{42: statuslist.StatusInvalid}}))
	c := newChecker(b, WithStaleness(time.Hour))
	e := Entry{Kind: KindTokenStatusList, Issuer: iss.did, Entry: tokenEntry(s.listURL(), 42)}
	if _, err := c.Check(ctx, e); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Check(ctx, e)
		if err != nil || res.Valid {
			b.Fatal(res, err)
		}
	}
}

// A Revalidator that knows the list answers for it without a request while
// it says unchanged; when it says changed the list is fetched again (and
// the change seen), when it does not know the request is made as usual,
// and when it fails the check fails closed.
func TestRevalidator(t *testing.T) {
	iss := newParty(t, keys.Ed25519)
	s := revocationServer(t, iss)
	var (
		mu                sync.Mutex
		unchanged, known  = true, true
		failWith          error
		calls             int
		lastURL, lastETag string
	)
	c := newChecker(t, WithStaleness(0), WithRevalidator(func(_ context.Context, url, etag string) (bool, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		lastURL, lastETag = url, etag
		return unchanged, known, failWith
	}))
	set := func(u, k bool, err error) {
		mu.Lock()
		defer mu.Unlock()
		unchanged, known, failWith = u, k, err
	}
	e := Entry{Kind: KindBitstring, Issuer: iss.did, Entry: bitstringEntry(s.listURL(), "revocation", 3)}

	// The first check has nothing to revalidate: it fetches.
	if res, err := c.Check(ctx, e); err != nil || !res.Valid {
		t.Fatalf("first check: %+v %v", res, err)
	}
	if calls != 0 || s.requests.Load() != 1 {
		t.Fatalf("first check: %d revalidations, %d requests; want 0 and 1", calls, s.requests.Load())
	}
	// Unchanged: no request.
	for i := range 3 {
		if res, err := c.Check(ctx, e); err != nil || !res.Valid {
			t.Fatalf("check %d: %+v %v", i, res, err)
		}
	}
	if calls != 3 || s.requests.Load() != 1 || lastURL != s.listURL() || lastETag == "" {
		t.Fatalf("%d revalidations of %q with %q, %d requests; want 3, the list, its ETag, 1", calls, lastURL, lastETag, s.requests.Load())
	}
	if st := c.Stats(); st.NotModified != 3 || st.Fetches != 1 {
		t.Fatalf("stats %+v", st)
	}

	// The list changes and the revalidator says so: fetched, change seen.
	s.set(signList(t, listCredential(t, listOptions{id: s.listURL(), issuer: iss.did, set: []int{3}}), iss))
	set(false, true, nil)
	if res, err := c.Check(ctx, e); err != nil || res.Valid {
		t.Fatalf("after the change: %+v %v, want revoked", res, err)
	}
	if s.oks.Load() != 2 {
		t.Fatalf("%d downloads, want 2", s.oks.Load())
	}

	// A revalidator that does not know: the usual conditional request.
	set(false, false, nil)
	if res, err := c.Check(ctx, e); err != nil || res.Valid {
		t.Fatalf("unknown: %+v %v, want revoked", res, err)
	}
	if s.notModified.Load() != 1 || s.oks.Load() != 2 {
		t.Fatalf("unknown: 304s %d, 200s %d; want 1 and 2", s.notModified.Load(), s.oks.Load())
	}

	// A revalidator that fails: closed, even though the list is cached.
	set(true, true, errors.New("database gone"))
	requests := s.requests.Load()
	if _, err := c.Check(ctx, e); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("failing revalidator: %v, want ErrUnreachable", err)
	}
	if s.requests.Load() != requests {
		t.Fatal("a failing revalidator was answered by a request")
	}
}
