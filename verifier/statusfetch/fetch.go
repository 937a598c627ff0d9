package statusfetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// newClient builds the HTTP client every fetch goes through. Its transport
// dials only addresses the policy allows and never uses a proxy (a proxy
// would dial for us, past the policy); its redirect rule re-applies the URL
// rule to every hop.
func (c *Checker) newClient() *http.Client {
	c.dialer = net.Dialer{Timeout: c.timeout, KeepAlive: 30 * time.Second}
	tlsConfig := c.tls
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	tlsConfig.MinVersion = max(tlsConfig.MinVersion, tls.VersionTLS12)
	if c.transport != nil {
		return &http.Client{Transport: c.transport, CheckRedirect: c.checkRedirect}
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            c.dialContext,
			TLSClientConfig:        tlsConfig,
			TLSHandshakeTimeout:    c.timeout,
			ResponseHeaderTimeout:  c.timeout,
			MaxResponseHeaderBytes: 64 << 10,
			MaxIdleConns:           32,
			MaxIdleConnsPerHost:    4,
			IdleConnTimeout:        60 * time.Second,
			ForceAttemptHTTP2:      true,
		},
		CheckRedirect: c.checkRedirect,
	}
}

// checkURL is the URL rule: an absolute https URL, or http to a loopback
// host when WithInsecureLoopback allows it. No user information.
func (c *Checker) checkURL(u *url.URL) error {
	if u.User != nil {
		return fmt.Errorf("%w: %s carries user information", ErrInsecureURL, u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("%w: %q has no host", ErrInsecureURL, u.Redacted())
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if c.insecureLoopback && isLoopbackHost(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrInsecureURL, u.Redacted())
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkRedirect follows at most maxRedirects hops, each to a URL that
// passes the URL rule. (Its addresses pass the policy when dialled.)
func (c *Checker) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.maxRedirects {
		return fmt.Errorf("%w: more than %d", ErrTooManyRedirects, c.maxRedirects)
	}
	return c.checkURL(req.URL)
}

// dialContext resolves the host itself and dials only the addresses the
// policy allows, so that what is checked is what is connected to (a DNS
// answer that changes between a check and the dial cannot slip past).
func (c *Checker) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if err := c.policy.Check(ctx, host, nil); err != nil {
		return nil, fmt.Errorf("dial %s: %w: %w", host, ErrAddressRefused, err)
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else if ips, err = net.DefaultResolver.LookupIP(ctx, "ip", host); err != nil {
		return nil, fmt.Errorf("dial %s: %w", host, err)
	}
	var errs []error
	for _, ip := range ips {
		if c.insecureLoopback && strings.EqualFold(host, "localhost") && !ip.IsLoopback() {
			continue
		}
		if err := c.policy.Check(ctx, host, ip); err != nil {
			errs = append(errs, fmt.Errorf("dial %s (%s): %w: %w", host, ip, ErrAddressRefused, err))
			continue
		}
		conn, err := c.dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
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

// response is what a fetch brought back.
type response struct {
	notModified bool
	body        []byte
	header      http.Header
}

// accept is the Accept header per kind.
var accept = map[string]string{
	KindBitstring:       "application/vc+ld+json, application/vc+json;q=0.9, application/ld+json;q=0.8, application/json;q=0.7",
	KindTokenStatusList: "application/statuslist+jwt",
}

// fetch GETs rawURL, conditionally when prev holds validators.
func (c *Checker) fetch(ctx context.Context, kind, rawURL string, prev *cachedList) (*response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w: %w", rawURL, ErrInvalidEntry, err)
	}
	if c.transport == nil {
		if err := c.checkURL(u); err != nil {
			return nil, fmt.Errorf("status list: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w: %w", rawURL, ErrInvalidEntry, err)
	}
	req.Header.Set("Accept", accept[kind])
	if prev != nil {
		if prev.etag != "" {
			req.Header.Set("If-None-Match", prev.etag)
		}
		if prev.lastModified != "" {
			req.Header.Set("If-Modified-Since", prev.lastModified)
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", rawURL, transportError(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotModified && prev != nil:
		return &response{notModified: true, header: resp.Header}, nil
	default:
		return nil, fmt.Errorf("status %s: %w: %s", rawURL, ErrHTTPStatus, resp.Status)
	}
	if resp.ContentLength > c.maxBytes {
		return nil, fmt.Errorf("status %s: %w: Content-Length %d, limit %d", rawURL, ErrTooLarge, resp.ContentLength, c.maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	c.bytes.Add(uint64(len(body)))
	if err != nil {
		return nil, fmt.Errorf("status %s: reading the body: %w", rawURL, transportError(err))
	}
	if int64(len(body)) > c.maxBytes {
		return nil, fmt.Errorf("status %s: %w: more than %d bytes", rawURL, ErrTooLarge, c.maxBytes)
	}
	return &response{body: body, header: resp.Header}, nil
}

// transportError names a failed request: refused by the policy or the URL
// rule, too many redirects, timed out, or unreachable.
func transportError(err error) error {
	for _, named := range []error{ErrAddressRefused, ErrInsecureURL, ErrTooManyRedirects} {
		if errors.Is(err, named) {
			return err
		}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

// refresh fetches (or revalidates) the list at url and verifies a new one.
func (c *Checker) refresh(ctx context.Context, kind, url, issuer string, prev *cachedList) (*cachedList, error) {
	resp, err := c.fetch(ctx, kind, url, prev)
	if err != nil {
		return nil, err
	}
	now := c.now()
	if resp.notModified {
		c.notModified.Add(1)
		l := *prev
		l.fetchedAt = now
		l.freshFor = c.freshness(l.ttl, resp.header)
		if v := resp.header.Get("ETag"); v != "" {
			l.etag = v
		}
		if v := resp.header.Get("Last-Modified"); v != "" {
			l.lastModified = v
		}
		c.log.DebugContext(ctx, "status list revalidated", "url", url, "fresh_for", l.freshFor)
		return &l, nil
	}
	c.fetches.Add(1)
	var l *cachedList
	switch kind {
	case KindBitstring:
		l, err = c.verifyBitstring(ctx, url, issuer, resp.body)
	default:
		l, err = c.verifyToken(ctx, url, issuer, resp.body)
	}
	if err != nil {
		return nil, err
	}
	l.kind, l.url, l.fetchedAt = kind, url, now
	l.etag, l.lastModified = resp.header.Get("ETag"), resp.header.Get("Last-Modified")
	l.freshFor = c.freshness(l.ttl, resp.header)
	c.log.DebugContext(ctx, "status list fetched", "url", url, "bytes", len(resp.body), "issuer", l.issuer, "fresh_for", l.freshFor)
	return l, nil
}
