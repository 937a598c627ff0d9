package legacy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/jsonvalue"
	"github.com/agentid/agentid/keys"
)

// MaxJWTBytes bounds the size of a token VerifyJWT reads.
const MaxJWTBytes = credential.MaxDocumentBytes

// JWT formats.
const (
	// FormatVCJWT is the VC Data Model 1.1 JWT encoding: the credential in a
	// "vc" claim (or the presentation in "vp"), typ JWT or absent.
	FormatVCJWT = "vc-jwt"
	// FormatVCJOSE is VC-JOSE (Securing VCs using JOSE and COSE): typ
	// "vc+jwt" or "vp+jwt", the payload is the credential or presentation.
	FormatVCJOSE = "vc+jwt"
)

// allowedAlgorithms is the JWS alg allow-list. Never "none", never HMAC.
var allowedAlgorithms = map[string]bool{
	string(keys.EdDSA): true,
	string(keys.ES256): true,
	string(keys.ES384): true,
}

// JWTOptions configure VerifyJWT.
type JWTOptions struct {
	// Resolver resolves the DID of the kid. Required.
	Resolver didmethods.Resolver
	// Now is the time of verification; zero means time.Now().
	Now time.Time
	// Skew is the clock skew allowed for exp, nbf, iat and the validity
	// period; zero means DefaultSkew, a negative value none.
	Skew time.Duration
	// Audience, when set, must be the token's aud (or one of them).
	Audience string
	// Nonce, when set, must be the token's nonce.
	Nonce string
}

// JWTResult is a verified token.
type JWTResult struct {
	// Format is FormatVCJWT or FormatVCJOSE.
	Format string
	// Algorithm is the JWS alg.
	Algorithm string
	// KeyID is the kid, the DID URL of the verification method.
	KeyID string
	// Issuer is the DID that signed: the credential's issuer, or the
	// presentation's holder.
	Issuer string
	// Header and Claims are the decoded JOSE header and payload.
	Header map[string]any
	Claims map[string]any
	// Credential is the credential the token carries, with the JWT claims
	// applied as VC 1.1 §6.3.1 describes (issuer, id, issuanceDate,
	// expirationDate, credentialSubject.id); nil for a presentation.
	Credential map[string]any
	// Presentation is the presentation the token carries (holder and id
	// from iss and jti); nil for a credential.
	Presentation map[string]any
}

// VerifyJWT verifies a VC-JWT (VC Data Model 1.1) or VC-JOSE vc+jwt / vp+jwt
// compact JWS:
//
//   - alg is EdDSA, ES256 or ES384 and fits the key; no crit header;
//   - kid is a DID URL whose DID is the issuer (iss, or the credential's
//     issuer / presentation's holder for VC-JOSE), resolved with the
//     Resolver, and authorized for assertionMethod (credential) or
//     authentication (presentation) by its DID document; the method's
//     controller is that DID;
//   - the signature verifies over the signing input (keys.Verify);
//   - exp, nbf and iat hold at Now within the skew, as do the validity dates
//     of the credential;
//   - iss, sub, jti, nbf and exp agree with the credential they carry.
func VerifyJWT(ctx context.Context, token string, opts JWTOptions) (*JWTResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Resolver == nil {
		return nil, ErrNoResolver
	}
	if len(token) > MaxJWTBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedJWT, MaxJWTBytes)
	}
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: not a compact JWS (%d parts)", ErrMalformedJWT, len(parts))
	}
	header, err := decodeSegment(parts[0], "header")
	if err != nil {
		return nil, err
	}
	payload, err := decodeSegment(parts[1], "payload")
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("%w: signature is not base64url", ErrMalformedJWT)
	}

	res := &JWTResult{Header: header, Claims: payload}
	res.Algorithm, _ = header["alg"].(string)
	if !allowedAlgorithms[res.Algorithm] {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithmNotAllowed, header["alg"])
	}
	if _, ok := header["crit"]; ok {
		return nil, fmt.Errorf("%w: crit", ErrUnsupportedHeader)
	}
	typ, _ := header["typ"].(string)
	if _, ok := header["typ"]; ok && typ == "" {
		return nil, fmt.Errorf("%w: typ is not a string", ErrUnsupportedHeader)
	}
	presentation := false
	switch strings.ToLower(strings.TrimPrefix(typ, "application/")) {
	case "", "jwt":
		res.Format = FormatVCJWT
		_, isVP := payload["vp"]
		_, isVC := payload["vc"]
		if isVP == isVC {
			return nil, fmt.Errorf("%w: payload must have exactly one of vc and vp", ErrMalformedJWT)
		}
		presentation = isVP
	case "vc+jwt", "vp+jwt":
		res.Format = FormatVCJOSE
		presentation = strings.EqualFold(strings.TrimPrefix(typ, "application/"), "vp+jwt")
		if cty, ok := header["cty"]; ok && cty != map[bool]string{false: "vc", true: "vp"}[presentation] {
			return nil, fmt.Errorf("%w: cty %v with typ %s", ErrUnsupportedHeader, cty, typ)
		}
		if _, ok := payload["vc"]; ok {
			return nil, fmt.Errorf("%w: vc+jwt payload with a vc claim", ErrMalformedJWT)
		}
		if _, ok := payload["vp"]; ok {
			return nil, fmt.Errorf("%w: vc+jwt payload with a vp claim", ErrMalformedJWT)
		}
	default:
		return nil, fmt.Errorf("%w: typ %q", ErrUnsupportedHeader, typ)
	}

	// The issuer that must control the key.
	iss, hasIss := payload["iss"].(string)
	if _, ok := payload["iss"]; ok && !hasIss {
		return nil, fmt.Errorf("%w: iss is not a string", ErrMalformedJWT)
	}
	if res.Format == FormatVCJOSE {
		var signer string
		if presentation {
			signer, _ = credential.NewPresentation(payload).Holder()
		} else {
			signer, _ = credential.NewCredential(payload).Issuer()
		}
		if hasIss && signer != "" && iss != signer {
			return nil, fmt.Errorf("%w: iss %q, issuer/holder %q", ErrClaimMismatch, iss, signer)
		}
		if !hasIss {
			iss = signer
		}
	}
	if iss == "" {
		return nil, fmt.Errorf("%w: no issuer (iss)", ErrMalformedJWT)
	}
	res.Issuer = iss

	// The key: kid, a DID URL of the issuer, authorized for the purpose.
	kid, _ := header["kid"].(string)
	if strings.HasPrefix(kid, "#") {
		kid = iss + kid
	}
	res.KeyID = kid
	did, _, _ := strings.Cut(kid, "#")
	if !strings.HasPrefix(kid, "did:") || !strings.Contains(kid, "#") {
		return nil, fmt.Errorf("%w: kid %q is not a DID URL", ErrVerificationMethod, header["kid"])
	}
	if did != iss {
		return nil, fmt.Errorf("%w: kid %q, iss %q", ErrKidNotIssuer, kid, iss)
	}
	rel := didmethods.AssertionMethod
	if presentation {
		rel = didmethods.Authentication
	}
	vm, controller, err := resolveMethod(ctx, opts.Resolver, kid, rel)
	if err != nil {
		return nil, err
	}
	if controller != iss {
		return nil, fmt.Errorf("%w: controller %q, iss %q", ErrControllerMismatch, controller, iss)
	}
	pub, err := vm.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerificationMethod, err)
	}
	if want, err := jwsAlgorithm(pub); err != nil {
		return nil, err
	} else if string(want) != res.Algorithm {
		return nil, fmt.Errorf("%w: alg %s, key needs %s", ErrKeyTypeMismatch, res.Algorithm, want)
	}
	if err := keys.Verify(pub, keys.Algorithm(res.Algorithm), []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}

	// Registered claims.
	now, skew := opts.Now, skewOf(opts.Skew)
	if now.IsZero() {
		now = time.Now()
	}
	exp, hasExp, err := numericDate(payload, "exp")
	if err != nil {
		return nil, err
	}
	nbf, hasNbf, err := numericDate(payload, "nbf")
	if err != nil {
		return nil, err
	}
	iat, hasIat, err := numericDate(payload, "iat")
	if err != nil {
		return nil, err
	}
	if hasExp && now.Add(-skew).After(exp) {
		return nil, fmt.Errorf("%w: exp %s", ErrExpired, exp.Format(time.RFC3339))
	}
	if hasNbf && now.Add(skew).Before(nbf) {
		return nil, fmt.Errorf("%w: nbf %s", ErrNotYetValid, nbf.Format(time.RFC3339))
	}
	if hasIat && now.Add(skew).Before(iat) {
		return nil, fmt.Errorf("%w: iat %s", ErrNotYetValid, iat.Format(time.RFC3339))
	}
	if opts.Audience != "" && !hasAudience(payload["aud"], opts.Audience) {
		return nil, fmt.Errorf("%w: aud does not name %q", ErrClaimMismatch, opts.Audience)
	}
	if opts.Nonce != "" && payload["nonce"] != opts.Nonce {
		return nil, fmt.Errorf("%w: nonce", ErrClaimMismatch)
	}

	// The document.
	var doc map[string]any
	if res.Format == FormatVCJOSE {
		doc = jsonvalue.CloneObject(payload)
	} else {
		claim := "vc"
		if presentation {
			claim = "vp"
		}
		m, ok := payload[claim].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s claim is not an object", ErrMalformedJWT, claim)
		}
		doc = jsonvalue.CloneObject(m)
		if err := applyClaims(doc, payload, presentation, exp, hasExp, nbf, hasNbf); err != nil {
			return nil, err
		}
	}
	if presentation {
		p := credential.NewPresentation(doc)
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidDocument, err)
		}
		if h, _ := p.Holder(); h != iss {
			return nil, fmt.Errorf("%w: holder %q, iss %q", ErrClaimMismatch, h, iss)
		}
		res.Presentation = doc
		return res, nil
	}
	c := credential.NewCredential(doc)
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDocument, err)
	}
	if is, _ := c.Issuer(); is != iss {
		return nil, fmt.Errorf("%w: issuer %q, iss %q", ErrClaimMismatch, is, iss)
	}
	if err := checkValidity(c, now, skew); err != nil {
		return nil, err
	}
	res.Credential = doc
	return res, nil
}

func decodeSegment(s, what string) (map[string]any, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64url", ErrMalformedJWT, what)
	}
	m, err := credential.DecodeObject(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformedJWT, what, err)
	}
	return m, nil
}

// numericDate reads a NumericDate claim (seconds since the epoch).
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var f float64
	switch n := v.(type) {
	case json.Number:
		x, err := n.Float64()
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%w: %s is not a number", ErrMalformedJWT, name)
		}
		f = x
	case float64:
		f = n
	default:
		return time.Time{}, false, fmt.Errorf("%w: %s is not a NumericDate", ErrMalformedJWT, name)
	}
	if math.IsNaN(f) || f < 0 || f > 253402300799 { // year 9999
		return time.Time{}, false, fmt.Errorf("%w: %s out of range", ErrMalformedJWT, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if x == want {
				return true
			}
		}
	}
	return false
}

// applyClaims turns the JWT claims into the properties of the credential
// (or presentation) they stand for, VC Data Model 1.1 §6.3.1: a property
// already present must agree with its claim, a missing one is set from it.
func applyClaims(doc, claims map[string]any, presentation bool, exp time.Time, hasExp bool, nbf time.Time, hasNbf bool) error {
	iss, _ := claims["iss"].(string)
	if presentation {
		if err := agree(doc, "holder", iss, idOf(doc["holder"])); err != nil {
			return err
		}
	} else {
		if err := agree(doc, "issuer", iss, idOf(doc["issuer"])); err != nil {
			return err
		}
	}
	if v, ok := claims["jti"]; ok {
		jti, _ := v.(string)
		if jti == "" {
			return fmt.Errorf("%w: jti is not a string", ErrMalformedJWT)
		}
		if err := agree(doc, "id", jti, idOf(doc["id"])); err != nil {
			return err
		}
	}
	if presentation {
		return nil
	}
	if v, ok := claims["sub"]; ok {
		sub, _ := v.(string)
		if sub == "" {
			return fmt.Errorf("%w: sub is not a string", ErrMalformedJWT)
		}
		subj, ok := doc["credentialSubject"].(map[string]any)
		if !ok {
			return fmt.Errorf("%w: sub given but credentialSubject is not one object", ErrClaimMismatch)
		}
		if err := agree(subj, "id", sub, idOf(subj["id"])); err != nil {
			return err
		}
	}
	if hasNbf {
		if err := agreeDate(doc, "issuanceDate", nbf); err != nil {
			return err
		}
	}
	if hasExp {
		if err := agreeDate(doc, "expirationDate", exp); err != nil {
			return err
		}
	}
	return nil
}

func idOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		s, _ := x["id"].(string)
		return s
	}
	return ""
}

func agree(doc map[string]any, prop, claim, current string) error {
	if _, ok := doc[prop]; !ok {
		doc[prop] = claim
		return nil
	}
	if current != claim {
		return fmt.Errorf("%w: %s %q, claim %q", ErrClaimMismatch, prop, current, claim)
	}
	return nil
}

func agreeDate(doc map[string]any, prop string, t time.Time) error {
	v, ok := doc[prop]
	if !ok {
		doc[prop] = t.UTC().Format(time.RFC3339)
		return nil
	}
	s, _ := v.(string)
	cur, err := credential.ParseDateTime(s)
	if err != nil || !cur.Truncate(time.Second).Equal(t.Truncate(time.Second)) {
		return fmt.Errorf("%w: %s %v does not match the JWT claim %s", ErrClaimMismatch, prop, v, t.Format(time.RFC3339))
	}
	return nil
}
