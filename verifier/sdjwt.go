package verifier

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/legacy"
	"github.com/agentid/agentid/credential/sdjwt"
)

// verifySDJWTOrJWT verifies a compact credential: an SD-JWT VC when it has
// "~" separators, else a VC-JWT (through LegacyVerifier). presentation makes
// a KB-JWT mandatory.
func (v *Verifier) verifySDJWTOrJWT(ctx context.Context, r *recorder, compact string, opts Options, presentation bool) *CredentialFacts {
	if strings.Contains(compact, "~") {
		return v.verifySDJWT(ctx, r, compact, opts, presentation)
	}
	if !looksLikeJWT(compact) {
		r.fail(CheckStructure, CodeMalformed, "input is neither a JSON object, an SD-JWT nor a JWT")
		return nil
	}
	facts := &CredentialFacts{Format: FormatJWTVC}
	if v.legacy == nil {
		r.pass(CheckStructure)
		r.fail(CheckProof, CodeUnsupportedProofType, errNoLegacy("a VC-JWT"))
		return facts
	}
	vc, controller, err := v.legacy.VerifyJWT(ctx, compact)
	if err != nil {
		if errors.Is(err, legacy.ErrMalformedJWT) {
			r.fail(CheckStructure, CodeMalformed, "VC-JWT: "+err.Error())
		} else {
			classifyLegacyError(r, err)
		}
		return facts
	}
	r.pass(CheckProof)
	c := credential.NewCredential(vc)
	facts = embeddedFacts(c)
	facts.Format = FormatJWTVC
	if !v.structure(r, c) {
		return facts
	}
	issuer, _ := c.Issuer()
	if controller != "" {
		v.issuerController(r, issuer, []string{controller})
	}
	v.policy(ctx, r, c)
	if presentation {
		r.fail(CheckHolderBinding, CodeKeyBindingMissing, "a bare VC-JWT carries no proof of possession by its holder")
	}
	return facts
}

// verifySDJWT verifies an SD-JWT VC, with its KB-JWT when there is one.
//
// credential/sdjwt stops at the first failure, so to name each check it is
// run in two steps: first sdjwt.Verify on the SD-JWT without its KB-JWT
// (structure, issuer key, signature and disclosures, validity), then, when
// that passed and a KB-JWT is present, sdjwt.VerifyKeyBinding on the whole
// presentation against that result (holder binding, challenge, domain),
// where any failure can only come from the KB-JWT. The issuer's signature
// is verified once.
func (v *Verifier) verifySDJWT(ctx context.Context, r *recorder, compact string, opts Options, presentation bool) *CredentialFacts {
	facts := &CredentialFacts{Format: FormatSDJWT}
	parsed, err := sdjwt.ParseCompact(compact, sdjwt.Limits{})
	if err != nil {
		r.fail(CheckStructure, CodeMalformed, "SD-JWT: "+err.Error())
		return facts
	}
	keyFound := false
	base := sdjwt.DIDIssuerKeys(v.resolver)
	keyFunc := func(ctx context.Context, iss, kid string) (crypto.PublicKey, error) {
		pub, err := base(ctx, iss, kid)
		keyFound = err == nil
		return pub, err
	}
	vopts := sdjwt.VerifyOptions{
		IssuerKeys: keyFunc,
		VC:         true,
		Now:        v.now,
		ClockSkew:  v.skew,
	}
	if v.skew == 0 {
		vopts.ClockSkew = -1 // sdjwt reads 0 as its default
	}
	// The SD-JWT without its KB-JWT: compact up to and including its last
	// "~" (what Compact.String gives for the parts without the KB-JWT).
	issued := compact[:len(compact)-len(parsed.KeyBindingJWT)]
	res, err := sdjwt.Verify(ctx, issued, vopts)
	if res != nil {
		fillSDJWTFacts(facts, res)
	}
	if err != nil {
		classifySDJWTError(r, err, keyFound)
		return facts
	}
	r.pass(CheckStructure)
	r.pass(CheckIssuerController) // DIDIssuerKeys: kid is a DID URL of iss, and iss controls it
	r.pass(CheckProof)
	r.pass(CheckValidity)

	requireKB := presentation || opts.RequireKeyBinding
	switch {
	case parsed.KeyBindingJWT != "":
		kopts := vopts
		kopts.Nonce, kopts.Audience = opts.Challenge, opts.Domain
		// The issuer's part is verified (res); only the KB-JWT is left.
		if _, err := sdjwt.VerifyKeyBinding(compact, res, kopts); err != nil {
			classifyKBError(r, err, opts)
		} else {
			r.pass(CheckHolderBinding)
			expectOrWarn(r, CheckChallenge, opts.Challenge, CodeChallengeNotChecked, "KB-JWT nonce")
			expectOrWarn(r, CheckDomain, opts.Domain, CodeDomainNotChecked, "KB-JWT aud")
		}
	case requireKB:
		r.fail(CheckHolderBinding, CodeKeyBindingMissing, "key binding required: the SD-JWT has no KB-JWT")
	}

	if res.Status != nil {
		v.checkStatus(ctx, r, res.Issuer, []StatusEntry{{Kind: StatusTokenList, Entry: res.Status}})
	} else {
		v.checkStatus(ctx, r, res.Issuer, nil)
	}
	v.trust(ctx, r, res.Issuer, []string{res.Type})
	return facts
}

// expectOrWarn passes check c when the caller gave an expected value (which
// the verification just matched), and warns that it was not checked when
// the caller gave none.
func expectOrWarn(r *recorder, c Check, expected, code, what string) {
	if expected == "" {
		r.warn(c, code, "no expected "+string(c)+" was given: "+what+" not checked, so a replayed presentation would pass")
		return
	}
	r.pass(c)
}

// classifySDJWTError names the check behind a failure of the issuer part.
// keyFound says whether the issuer key was found: the failures sdjwt.Verify
// reports after that come from the signature, the disclosures or the
// validity period.
func classifySDJWTError(r *recorder, err error, keyFound bool) {
	msg := err.Error()
	switch {
	case errors.Is(err, sdjwt.ErrKeyIDMismatch):
		r.pass(CheckStructure)
		r.fail(CheckIssuerController, CodeControllerMismatch, msg)
	case errors.Is(err, sdjwt.ErrIssuerKey), errors.Is(err, sdjwt.ErrKeyNotAuthorized), errors.Is(err, sdjwt.ErrUnsupportedAlgorithm):
		r.pass(CheckStructure)
		r.fail(CheckProof, CodeInvalidProof, msg)
	case !keyFound:
		r.fail(CheckStructure, CodeMalformed, msg)
	case errors.Is(err, sdjwt.ErrExpired):
		passIssuerPart(r)
		r.fail(CheckValidity, CodeExpired, msg)
	case errors.Is(err, sdjwt.ErrNotYetValid), errors.Is(err, sdjwt.ErrIssuedInFuture):
		passIssuerPart(r)
		r.fail(CheckValidity, CodeNotYetValid, msg)
	case errors.Is(err, sdjwt.ErrMissingClaim):
		// after the signature: a signed SD-JWT VC without vct, or a date
		// claim that is not a number
		r.pass(CheckIssuerController)
		r.pass(CheckProof)
		r.fail(CheckStructure, CodeInvalidStructure, msg)
	default:
		// the signature, a disclosure or the way disclosures fit the JWT
		r.pass(CheckStructure)
		r.pass(CheckIssuerController)
		r.fail(CheckProof, CodeInvalidProof, msg)
	}
}

func passIssuerPart(r *recorder) {
	r.pass(CheckStructure)
	r.pass(CheckIssuerController)
	r.pass(CheckProof)
}

// classifyKBError names the check behind a KB-JWT failure. sdjwt checks the
// KB-JWT's signature, sd_hash and iat before its nonce, and the nonce before
// aud.
func classifyKBError(r *recorder, err error, opts Options) {
	msg := err.Error()
	switch {
	case errors.Is(err, sdjwt.ErrKBNonce):
		r.pass(CheckHolderBinding)
		r.fail(CheckChallenge, CodeChallengeMismatch, fmt.Sprintf("%s: expected %q", msg, opts.Challenge))
	case errors.Is(err, sdjwt.ErrKBAudience):
		r.pass(CheckHolderBinding)
		expectOrWarn(r, CheckChallenge, opts.Challenge, CodeChallengeNotChecked, "KB-JWT nonce")
		r.fail(CheckDomain, CodeDomainMismatch, fmt.Sprintf("%s: expected %q", msg, opts.Domain))
	default:
		r.fail(CheckHolderBinding, CodeInvalidKeyBinding, msg)
	}
}

// fillSDJWTFacts copies what a verified SD-JWT says into facts.
func fillSDJWTFacts(f *CredentialFacts, res *sdjwt.Result) {
	f.Issuer = res.Issuer
	if res.Type != "" {
		f.Types = []string{res.Type}
	}
	f.ID, _ = res.Claims["jti"].(string)
	f.Subject, _ = res.Claims["sub"].(string)
	if !res.NotBefore.IsZero() {
		t := res.NotBefore
		f.ValidFrom = &t
	} else if !res.IssuedAt.IsZero() {
		t := res.IssuedAt
		f.ValidFrom = &t
	}
	if !res.Expiry.IsZero() {
		t := res.Expiry
		f.ValidUntil = &t
	}
	if did, err := res.HolderDID(); err == nil {
		f.Holder = did
	}
	f.Claims = res.Claims
	f.Disclosed = res.Disclosed
	f.subject = res.Claims
	f.parent = parentOf(res.Claims, res.Claims["evidence"])
}
