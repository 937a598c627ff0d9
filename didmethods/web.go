package didmethods

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// did:web resolution defaults.
const (
	DefaultWebTimeout  = 5 * time.Second
	DefaultWebMaxBytes = 256 << 10
	// MaxDIDWebLength bounds a did:web.
	MaxDIDWebLength = 1024
	maxWebRedirects = 3
)

// Errors of did:web resolution, wrapped in the *Error it returns.
var (
	// ErrAddressRefused is a connection the dial check refused.
	ErrAddressRefused = errors.New("address refused by the dial check")
	// ErrUpstream marks a did:web failure that lies with the web server
	// that should serve the document (unreachable, refused, an error status,
	// an oversize or malformed document), as opposed to the DID or the
	// resolver itself. HTTP front ends answer it with 502 Bad Gateway.
	ErrUpstream = errors.New("did:web upstream failure")
	// ErrResponseTooLarge is a DID document larger than the size limit.
	ErrResponseTooLarge = errors.New("response exceeds the size limit")
)

// DialCheck decides whether did:web resolution may connect to host. It is
// called once with ip == nil before host is looked up in DNS (refuse names
// here to avoid even the lookup), then once for each address host resolves
// to; only addresses it accepts are dialled. A non-nil error refuses.
type DialCheck func(ctx context.Context, host string, ip net.IP) error

// WebOption configures a WebResolver (and NewDefaultRegistry).
type WebOption func(*WebResolver)

func (o WebOption) applyDefault(c *defaultConfig) { c.web = append(c.web, o) }

// WithHTTPClient makes the resolver use client as is. The resolver's own
// transport is then not used, so WithDialCheck has no effect and redirects
// follow the client's policy; the scheme rule, timeout and size limit still
// apply. Meant for tests and for callers with their own egress controls.
func WithHTTPClient(client *http.Client) WebOption {
	return func(w *WebResolver) { w.client = client }
}

// WithTimeout bounds each resolution, from dialling to the last byte of the
// body (default 5 s).
func WithTimeout(d time.Duration) WebOption {
	return func(w *WebResolver) {
		if d > 0 {
			w.timeout = d
		}
	}
}

// WithMaxBytes bounds the size of a DID document (default 256 KiB); a larger
// response is an error.
func WithMaxBytes(n int64) WebOption {
	return func(w *WebResolver) {
		if n > 0 {
			w.maxBytes = n
		}
	}
}

// WithInsecureLoopback allows plain http:// for a did:web whose host is a
// loopback address (127.0.0.0/8, ::1) or "localhost", and allows loopback IP
// literals as hosts. For tests and local development only.
func WithInsecureLoopback(allow bool) WebOption {
	return func(w *WebResolver) { w.insecureLoopback = allow }
}

// WithDialCheck sets the check every connection of the resolver's transport
// goes through (see DialCheck). The server uses it to refuse private and
// loopback ranges (SSRF).
func WithDialCheck(check DialCheck) WebOption {
	return func(w *WebResolver) { w.dialCheck = check }
}

// WebResolver resolves did:web DIDs (https://w3c-ccg.github.io/did-method-web/)
// by fetching the DID document over HTTPS. It is safe for concurrent use.
type WebResolver struct {
	client           *http.Client
	timeout          time.Duration
	maxBytes         int64
	insecureLoopback bool
	dialCheck        DialCheck
	dialer           net.Dialer
}

// NewWebResolver returns a did:web resolver.
func NewWebResolver(opts ...WebOption) *WebResolver {
	w := &WebResolver{timeout: DefaultWebTimeout, maxBytes: DefaultWebMaxBytes}
	for _, o := range opts {
		o(w)
	}
	if w.client == nil {
		w.dialer = net.Dialer{Timeout: w.timeout, KeepAlive: 30 * time.Second}
		w.client = &http.Client{
			Transport: &http.Transport{
				Proxy:                  nil, // a proxy would dial for us, past the dial check
				DialContext:            w.dialContext,
				TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout:    w.timeout,
				ResponseHeaderTimeout:  w.timeout,
				MaxResponseHeaderBytes: 64 << 10,
				MaxIdleConns:           16,
				IdleConnTimeout:        30 * time.Second,
				ForceAttemptHTTP2:      true,
			},
			CheckRedirect: w.checkRedirect,
		}
	}
	return w
}

// WebDocumentURL maps a did:web to the HTTPS URL of its DID document:
// did:web:example.com → https://example.com/.well-known/did.json,
// did:web:example.com:user:alice → https://example.com/user/alice/did.json,
// did:web:example.com%3A8443 → https://example.com:8443/.well-known/did.json.
func WebDocumentURL(did string) (string, error) {
	u, err := webURL(did, false)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// webURL maps a did:web to its document URL; with insecureLoopback a
// loopback host is fetched over plain http.
func webURL(did string, insecureLoopback bool) (*url.URL, error) {
	if len(did) > MaxDIDWebLength {
		return nil, newError(CodeInvalidDID, did, fmt.Errorf("did:web is %d characters, more than %d", len(did), MaxDIDWebLength))
	}
	method, id, err := SplitDID(did)
	if err != nil {
		return nil, newError(CodeInvalidDID, did, err)
	}
	if method != "web" {
		return nil, newError(CodeInvalidDID, did, errors.New(`a did:web begins with "did:web:"`))
	}
	segments := strings.Split(id, ":")
	hostport, err := url.PathUnescape(segments[0])
	if err != nil {
		return nil, newError(CodeInvalidDID, did, fmt.Errorf("did:web host: %w", err))
	}
	host, port := hostport, ""
	if strings.Contains(hostport, ":") {
		if host, port, err = net.SplitHostPort(hostport); err != nil {
			return nil, newError(CodeInvalidDID, did, fmt.Errorf("did:web host: %w", err))
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return nil, newError(CodeInvalidDID, did, fmt.Errorf("did:web port %q", port))
		}
	}
	loopback := false
	if ip := net.ParseIP(host); ip != nil {
		// The did:web spec forbids IP addresses; tests use loopback ones.
		if !insecureLoopback || !ip.IsLoopback() {
			return nil, newError(CodeInvalidDID, did, errors.New("did:web host is an IP address"))
		}
		loopback = true
	} else if err := checkHostname(host); err != nil {
		return nil, newError(CodeInvalidDID, did, err)
	} else {
		loopback = strings.EqualFold(host, "localhost")
	}
	path := "/.well-known/did.json"
	if len(segments) > 1 {
		parts := make([]string, 0, len(segments)-1)
		for _, s := range segments[1:] {
			p, err := url.PathUnescape(s)
			if err != nil || p == "" || p == "." || p == ".." || strings.ContainsAny(p, "/\\") || hasControl(p) {
				return nil, newError(CodeInvalidDID, did, fmt.Errorf("did:web path segment %q", s))
			}
			parts = append(parts, p)
		}
		path = "/" + strings.Join(parts, "/") + "/did.json"
	}
	scheme := "https"
	if insecureLoopback && loopback {
		scheme = "http"
	}
	return &url.URL{Scheme: scheme, Host: hostport, Path: path}, nil
}

// checkHostname accepts DNS names: dot-separated labels of letters, digits
// and inner hyphens, 1 to 63 characters each, 253 in all.
func checkHostname(h string) error {
	if h == "" || len(h) > 253 {
		return fmt.Errorf("did:web host %q is not a domain name", h)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("did:web host %q is not a domain name", h)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("did:web host %q is not a domain name", h)
			}
		}
	}
	return nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Resolve fetches and checks the DID document of a did:web.
func (w *WebResolver) Resolve(ctx context.Context, did string, _ ResolveOptions) (*Resolution, error) {
	u, err := webURL(did, w.insecureLoopback)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, newError(CodeInternalError, did, fmt.Errorf("did:web request: %w", err))
	}
	req.Header.Set("Accept", "application/did+json, application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, newError(CodeInternalError, did, fmt.Errorf("%w: did:web fetch: %w", ErrUpstream, err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusGone:
		return nil, newError(CodeNotFound, did, fmt.Errorf("GET %s: %s", u, resp.Status))
	default:
		return nil, newError(CodeInternalError, did, fmt.Errorf("%w: GET %s: %s", ErrUpstream, u, resp.Status))
	}
	if resp.ContentLength > w.maxBytes {
		return nil, newError(CodeInternalError, did, fmt.Errorf("%w: GET %s: %w: Content-Length %d, limit %d", ErrUpstream, u, ErrResponseTooLarge, resp.ContentLength, w.maxBytes))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, w.maxBytes+1))
	if err != nil {
		return nil, newError(CodeInternalError, did, fmt.Errorf("%w: GET %s: read body: %w", ErrUpstream, u, err))
	}
	if int64(len(body)) > w.maxBytes {
		return nil, newError(CodeInternalError, did, fmt.Errorf("%w: GET %s: %w of %d bytes", ErrUpstream, u, ErrResponseTooLarge, w.maxBytes))
	}
	var doc Document
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, newError(CodeInternalError, did, fmt.Errorf("%w: GET %s: DID document: %w", ErrUpstream, u, err))
	}
	if doc.ID != did {
		return nil, newError(CodeNotFound, did, fmt.Errorf("GET %s: the document is for %q, not this DID", u, truncate(doc.ID, maxErrorDIDLength)))
	}
	if id, ok := privateKeyMethod(&doc); ok {
		return nil, newError(CodeInternalError, did, fmt.Errorf("%w: GET %s: verification method %q publishes a private key", ErrUpstream, u, truncate(id, maxErrorDIDLength)))
	}
	res := newResolution(&doc, cacheControlFreshness(resp.Header.Values("Cache-Control")))
	if len(doc.Context) == 0 {
		res.ResolutionMetadata.ContentType = ContentTypeDIDJSON
	}
	return res, nil
}

// privateKeyMethod finds a verification method whose JWK has a private part.
func privateKeyMethod(d *Document) (string, bool) {
	for _, vm := range d.VerificationMethod {
		if vm.PublicKeyJWK != nil && vm.PublicKeyJWK.D != "" {
			return vm.ID, true
		}
	}
	for _, rel := range []Relationship{Authentication, AssertionMethod, KeyAgreement, CapabilityInvocation, CapabilityDelegation} {
		for _, ref := range d.Relationship(rel) {
			if ref.Embedded != nil && ref.Embedded.PublicKeyJWK != nil && ref.Embedded.PublicKeyJWK.D != "" {
				return ref.Embedded.ID, true
			}
		}
	}
	return "", false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// cacheControlFreshness reads the Cache-Control directives of a response:
// no-store and no-cache forbid reuse, max-age bounds it; without either the
// cache's default applies.
func cacheControlFreshness(values []string) freshness {
	f := freshness{kind: freshUnknown}
	for _, v := range values {
		for _, d := range strings.Split(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return freshness{kind: freshNoStore}
			case "max-age":
				secs, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(arg), `"`), 10, 64)
				if err != nil || secs < 0 {
					return freshness{kind: freshNoStore}
				}
				if secs > int64(24*time.Hour/time.Second) {
					secs = int64(24 * time.Hour / time.Second)
				}
				f = freshness{kind: freshMaxAge, maxAge: time.Duration(secs) * time.Second}
			}
		}
	}
	return f
}

// checkRedirect limits redirects and keeps them on HTTPS (or on plain HTTP
// to loopback, when allowed).
func (w *WebResolver) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxWebRedirects {
		return fmt.Errorf("more than %d redirects", maxWebRedirects)
	}
	switch {
	case req.URL.Scheme == "https":
	case req.URL.Scheme == "http" && w.insecureLoopback && isLoopbackHost(req.URL.Hostname()):
	default:
		return fmt.Errorf("redirect to %s refused", req.URL.Redacted())
	}
	return nil
}

// dialContext resolves the host itself, puts every address through the
// dial check, and dials only accepted addresses, so that the check sees
// the address actually connected to (no DNS rebinding between check and
// dial).
func (w *WebResolver) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if w.dialCheck != nil {
		if err := w.dialCheck(ctx, host, nil); err != nil {
			return nil, fmt.Errorf("dial %s: %w: %w", host, ErrAddressRefused, err)
		}
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		if ips, err = net.DefaultResolver.LookupIP(ctx, "ip", host); err != nil {
			return nil, fmt.Errorf("dial %s: %w", host, err)
		}
	}
	var errs []error
	for _, ip := range ips {
		if w.insecureLoopback && strings.EqualFold(host, "localhost") && !ip.IsLoopback() {
			continue
		}
		if w.dialCheck != nil {
			if err := w.dialCheck(ctx, host, ip); err != nil {
				errs = append(errs, fmt.Errorf("dial %s (%s): %w: %w", host, ip, ErrAddressRefused, err))
				continue
			}
		}
		conn, err := w.dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("dial %s: no usable address", host)
	}
	return nil, errors.Join(errs...)
}
