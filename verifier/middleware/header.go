package middleware

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/verifier"
)

// typeBase prefixes the problem types of this package.
const typeBase = problem.TypeBase

// Checks of the middleware's policy, named in problem bodies beside the
// verifier's other checks; they are the verifier's own.
const (
	// CheckDelegation: a delegation grants the required scope to this
	// service, in force, its chain sound.
	CheckDelegation = verifier.CheckDelegation
	// CheckAssurance: the credentials show the required assurance.
	CheckAssurance = verifier.CheckAssurance
)

// Codes of the middleware's problems.
const (
	CodeNoDelegation          = verifier.CodeNoDelegation
	CodeScopeNotGranted       = verifier.CodeScopeNotGranted
	CodeAudienceMismatch      = verifier.CodeAudienceMismatch
	CodeDelegationExpired     = verifier.CodeDelegationExpired
	CodeInsufficientAssurance = verifier.CodeInsufficientAssurance
	CodeUnknownChallenge      = "unknownChallenge"
)

// Errors of reading a presentation or a challenge header.
var (
	// ErrMalformedPresentation is an Authorization: AgentID value that is
	// neither an SD-JWT presentation nor a base64url JSON presentation.
	ErrMalformedPresentation = errors.New("malformed AgentID presentation")
	// ErrMalformedChallenge is a WWW-Authenticate value without a usable
	// AgentID challenge.
	ErrMalformedChallenge = errors.New("malformed AgentID challenge")
)

// Challenge is the AgentID challenge of a WWW-Authenticate header.
type Challenge struct {
	// Value is the challenge: the KB-JWT nonce or the proof's challenge.
	Value string
	// Domain is the KB-JWT aud or the proof's domain.
	Domain string
	// Expires is when the challenge stops being accepted.
	Expires time.Time
	// Error, on a refused presentation, is why: invalid_request or
	// invalid_presentation.
	Error string
}

// formatChallenge renders c as a WWW-Authenticate value. Value is base64url
// and Domain was checked by checkDomain, so neither needs escaping.
func formatChallenge(c Challenge) string {
	s := fmt.Sprintf(`%s challenge="%s", domain="%s", expires="%s"`, Scheme, c.Value, c.Domain, c.Expires.UTC().Format(time.RFC3339))
	if c.Error != "" {
		s += fmt.Sprintf(`, error="%s"`, c.Error)
	}
	return s
}

// ParseChallenge reads the AgentID challenge of a WWW-Authenticate header
// value, for agents and tests. It reads the first AgentID challenge and its
// auth-params (quoted-strings with backslash escapes, or tokens); challenge
// and domain are required.
func ParseChallenge(header string) (*Challenge, error) {
	i := indexScheme(header)
	if i < 0 {
		return nil, fmt.Errorf("%w: no %s challenge in %q", ErrMalformedChallenge, Scheme, header)
	}
	params, err := parseParams(header[i+len(Scheme):])
	if err != nil {
		return nil, err
	}
	c := &Challenge{Value: params["challenge"], Domain: params["domain"], Error: params["error"]}
	if c.Value == "" || c.Domain == "" {
		return nil, fmt.Errorf("%w: challenge and domain are required", ErrMalformedChallenge)
	}
	if e := params["expires"]; e != "" {
		t, err := time.Parse(time.RFC3339, e)
		if err != nil {
			return nil, fmt.Errorf("%w: expires: %w", ErrMalformedChallenge, err)
		}
		c.Expires = t
	}
	return c, nil
}

// indexScheme finds the scheme name as a whole word, case-insensitively.
func indexScheme(h string) int {
	lower, want := strings.ToLower(h), strings.ToLower(Scheme)
	for off := 0; ; {
		i := strings.Index(lower[off:], want)
		if i < 0 {
			return -1
		}
		i += off
		end := i + len(want)
		before := i == 0 || lower[i-1] == ' ' || lower[i-1] == ','
		after := end == len(lower) || lower[end] == ' '
		if before && after {
			return i
		}
		off = end
	}
}

// parseParams reads `name="value", name=token, ...` up to the next scheme.
func parseParams(s string) (map[string]string, error) {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ,")
		eq := strings.IndexByte(s, '=')
		if s == "" || eq < 0 || strings.ContainsAny(s[:eq], " \t") {
			return out, nil // end, or the next challenge's scheme
		}
		name := strings.ToLower(s[:eq])
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("%w: unterminated quoted value of %s", ErrMalformedChallenge, name)
			}
			val, s = b.String(), s[i+1:]
		} else {
			end := strings.IndexAny(s, ", ")
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		if _, dup := out[name]; !dup {
			out[name] = val
		}
	}
}

// authorizationToken returns the credentials of the first Authorization
// header with the AgentID scheme; false when there is none.
func authorizationToken(values []string) (string, bool) {
	for _, v := range values {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if strings.EqualFold(scheme, Scheme) {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// EncodeVP encodes a JSON presentation for the Authorization header:
// base64url without padding.
func EncodeVP(vpJSON []byte) string { return base64.RawURLEncoding.EncodeToString(vpJSON) }

// AuthorizationValue is the Authorization header value carrying token (an
// SD-JWT presentation, or EncodeVP of a JSON presentation).
func AuthorizationValue(token string) string { return Scheme + " " + token }

// presentation is a parsed Authorization: AgentID token.
type presentation struct {
	// compact is an SD-JWT presentation; doc and raw a JSON one.
	compact string
	doc     map[string]any
	raw     []byte
}

// input is what verifier.VerifyPresentation takes.
func (p *presentation) input() any {
	if p.compact != "" {
		return p.compact
	}
	return p.doc
}

// parsePresentation reads the token: an SD-JWT when it has "~", else
// base64url JSON.
func parsePresentation(token string) (*presentation, error) {
	switch {
	case token == "":
		return nil, fmt.Errorf("%w: the %s credentials are empty", ErrMalformedPresentation, Scheme)
	case len(token) > MaxPresentationBytes:
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedPresentation, MaxPresentationBytes)
	case strings.Contains(token, "~"):
		c, err := sdjwt.ParseCompact(token, sdjwt.Limits{})
		if err != nil {
			return nil, fmt.Errorf("%w: SD-JWT: %w", ErrMalformedPresentation, err)
		}
		if c.KeyBindingJWT == "" {
			return nil, fmt.Errorf("%w: the SD-JWT has no KB-JWT, so it proves nothing about the presenter", ErrMalformedPresentation)
		}
		return &presentation{compact: token}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(token, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: neither an SD-JWT presentation nor base64url: %w", ErrMalformedPresentation, err)
	}
	doc, err := credential.DecodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: the decoded presentation is not a JSON object: %w", ErrMalformedPresentation, err)
	}
	return &presentation{doc: doc, raw: raw}, nil
}

// claimedChallenge is the challenge the presentation says it answers (not
// yet verified): the KB-JWT nonce, or the challenge of every proof.
func (p *presentation) claimedChallenge() (string, error) {
	if p.compact != "" {
		kb := p.compact[strings.LastIndexByte(p.compact, '~')+1:]
		parts := strings.Split(kb, ".")
		if len(parts) != 3 {
			return "", errors.New("the KB-JWT is not a compact JWS")
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return "", errors.New("the KB-JWT payload is not base64url")
		}
		var claims struct {
			Nonce string `json:"nonce"`
		}
		if err := json.Unmarshal(payload, &claims); err != nil || claims.Nonce == "" {
			return "", errors.New("the KB-JWT has no nonce: it must carry the challenge")
		}
		return claims.Nonce, nil
	}
	var proofs []any
	switch pr := p.doc["proof"].(type) {
	case map[string]any:
		proofs = []any{pr}
	case []any:
		proofs = pr
	}
	challenge := ""
	for _, pr := range proofs {
		m, _ := pr.(map[string]any)
		c, _ := m["challenge"].(string)
		if c == "" || (challenge != "" && c != challenge) {
			return "", errors.New("every proof of the presentation must carry the same challenge")
		}
		challenge = c
	}
	if challenge == "" {
		return "", errors.New("the presentation has no proof with a challenge")
	}
	return challenge, nil
}

// problemBody is an RFC 9457 problem whose errors name checks.
type problemBody struct {
	Type   string             `json:"type"`
	Title  string             `json:"title"`
	Status int                `json:"status"`
	Detail string             `json:"detail,omitempty"`
	Errors []verifier.Problem `json:"errors,omitempty"`
}

func writeProblem(w http.ResponseWriter, p *problemBody) {
	w.Header().Set("Content-Type", problem.ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
