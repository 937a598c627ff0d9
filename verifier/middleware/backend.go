package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentid/agentid/verifier"
)

// local verifies in process.
type local struct {
	v  *verifier.Verifier
	ch *verifier.Challenges
}

func (l *local) challenge(ctx context.Context, domain string) (*verifier.IssuedChallenge, error) {
	return l.ch.Issue(ctx, domain)
}

// verify refuses a challenge this service did not issue, or issued for
// another domain, before spending a verification on it; then verifies and
// settles (consumes) the challenge.
func (l *local) verify(ctx context.Context, p *presentation, challenge string, req verifyRequest) (*verifier.Result, error) {
	use, err := l.ch.Lookup(ctx, challenge)
	if err != nil {
		return nil, err
	}
	if !use.Issued() {
		return rejected(verifier.CheckChallenge, CodeUnknownChallenge, "the challenge was not issued by this service, or has been forgotten: ask for a new one"), nil
	}
	if d := use.Domain(); d != req.domain {
		return rejected(verifier.CheckDomain, verifier.CodeDomainMismatch, fmt.Sprintf("the challenge was issued for domain %q, not %q", d, req.domain)), nil
	}
	res := l.v.VerifyPresentation(ctx, p.input(), verifier.Options{Challenge: challenge, Domain: req.domain,
		Scopes: req.scopes, Trust: req.trust})
	if err := l.ch.Settle(ctx, use, res); err != nil {
		return nil, err
	}
	return res, nil
}

// rejected is a Result failing one check.
func rejected(c verifier.Check, code, msg string) *verifier.Result {
	return &verifier.Result{Checks: []verifier.Check{}, Warnings: []verifier.Problem{},
		Errors: []verifier.Problem{{Check: c, Code: code, Message: msg}}}
}

// Limits of the remote client.
const (
	// DefaultRemoteTimeout is the timeout of the default remote client.
	DefaultRemoteTimeout = 10 * time.Second
	// maxRemoteResponse bounds what is read of a server's answer.
	maxRemoteResponse = 4 << 20
)

// ErrRemote is an agentid server that did not answer as its contract says.
var ErrRemote = errors.New("remote verifier")

// remote verifies through an agentid server's REST API.
type remote struct {
	base   string
	client *http.Client
	// issued are the challenges this process handed out, by key: only
	// presentations answering one are forwarded.
	issued *verifier.MemoryChallengeStore
	purge  sync.Mutex
	last   time.Time
}

func newRemote(baseURL string, client *http.Client) (*remote, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: remote base URL %q must be an http(s) URL", ErrNoVerifier, baseURL)
	}
	if client == nil {
		client = &http.Client{Timeout: DefaultRemoteTimeout}
	}
	return &remote{base: strings.TrimSuffix(baseURL, "/"), client: client, issued: verifier.NewMemoryChallengeStore(0)}, nil
}

// post sends body as JSON to path and decodes a JSON answer into out when
// the status is one of ok.
func (r *remote) post(ctx context.Context, path, relyingParty string, body any, out any, ok ...int) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Relying-Party", relyingParty)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: POST %s: %w", ErrRemote, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteResponse))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%w: POST %s: reading the answer: %w", ErrRemote, path, err)
	}
	good := false
	for _, s := range ok {
		good = good || resp.StatusCode == s
	}
	if !good {
		return resp.StatusCode, fmt.Errorf("%w: POST %s: status %d: %.200s", ErrRemote, path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return resp.StatusCode, fmt.Errorf("%w: POST %s: %w", ErrRemote, path, err)
	}
	return resp.StatusCode, nil
}

// challenge asks POST /challenges for a challenge bound to domain and
// remembers it.
func (r *remote) challenge(ctx context.Context, domain string) (*verifier.IssuedChallenge, error) {
	var ch verifier.IssuedChallenge
	if _, err := r.post(ctx, "/challenges", domain, map[string]string{"domain": domain}, &ch, http.StatusOK, http.StatusCreated); err != nil {
		return nil, err
	}
	now := time.Now()
	if ch.Value == "" || !ch.Expires.After(now) {
		return nil, fmt.Errorf("%w: POST /challenges answered without a challenge or with one already expired", ErrRemote)
	}
	r.maybePurge(ctx, now)
	err := r.issued.CreateChallenge(ctx, &verifier.ChallengeRecord{Key: verifier.ChallengeKey(ch.Value), Domain: domain, CreatedAt: now, ExpiresAt: ch.Expires})
	if err != nil {
		return nil, err
	}
	return &ch, nil
}

func (r *remote) maybePurge(ctx context.Context, now time.Time) {
	r.purge.Lock()
	defer r.purge.Unlock()
	if now.Sub(r.last) < time.Minute {
		return
	}
	r.last = now
	_, _ = r.issued.DeleteChallengesExpiredBefore(ctx, now)
}

// verify forwards a presentation answering a challenge this process handed
// out, and consumes the challenge here too when the server verified it.
func (r *remote) verify(ctx context.Context, p *presentation, challenge string, req verifyRequest) (*verifier.Result, error) {
	key := verifier.ChallengeKey(challenge)
	rec, err := r.issued.ChallengeByKey(ctx, key)
	now := time.Now()
	switch {
	case errors.Is(err, verifier.ErrChallengeNotFound):
		return rejected(verifier.CheckChallenge, CodeUnknownChallenge, "the challenge was not handed out by this service, or has been forgotten: ask for a new one"), nil
	case err != nil:
		return nil, err
	case rec.UsedAt != nil:
		return rejected(verifier.CheckChallenge, verifier.CodeChallengeReplayed, "the challenge has been used already: the presentation is a replay"), nil
	case !rec.ExpiresAt.After(now):
		return rejected(verifier.CheckChallenge, verifier.CodeChallengeExpired, "the challenge has expired"), nil
	case rec.Domain != req.domain:
		return rejected(verifier.CheckDomain, verifier.CodeDomainMismatch, fmt.Sprintf("the challenge was issued for domain %q, not %q", rec.Domain, req.domain)), nil
	}
	var vp any = p.compact
	if p.compact == "" {
		vp = json.RawMessage(p.raw)
	}
	body := map[string]any{
		"verifiablePresentation": vp,
		"options":                map[string]string{"challenge": challenge, "domain": req.domain},
	}
	if len(req.scopes) > 0 {
		// The server decides the first scope with its chain; the others
		// are checked here on the delegation it reports (authorize).
		body["options"].(map[string]string)["action"] = req.scopes[0].Action
		body["options"].(map[string]string)["resource"] = req.scopes[0].Resource
	}
	var res verifier.Result
	if _, err := r.post(ctx, "/presentations/verify", req.domain, body, &res, http.StatusOK, http.StatusBadRequest); err != nil {
		return nil, err
	}
	if res.Verified && len(res.Errors) > 0 {
		return nil, fmt.Errorf("%w: verified with errors", ErrRemote)
	}
	if res.Verified && res.Presentation == nil {
		// a 400 problem document decodes to verified false; a 200 must say
		// what it verified
		return nil, fmt.Errorf("%w: verified without a presentation", ErrRemote)
	}
	// A 400 problem document (a malformed request) has errors naming
	// fields, not checks: keep only the errors that name a check.
	res.Errors = slices.DeleteFunc(res.Errors, func(p verifier.Problem) bool { return p.Check == "" })
	if !res.Verified && len(res.Errors) == 0 {
		res.Errors = append(res.Errors, verifier.Problem{Check: verifier.CheckStructure, Code: verifier.CodeMalformed, Message: "the verifier refused the request"})
	}
	if res.Verified {
		ok, err := r.issued.ConsumeChallenge(ctx, key, now)
		if err != nil {
			return nil, err
		}
		if !ok {
			return rejected(verifier.CheckChallenge, verifier.CodeChallengeReplayed, "the challenge has been used already: the presentation is a replay"), nil
		}
	}
	return &res, nil
}
