package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/schemas"
)

// Formats reported in CredentialFacts and PresentationFacts.
const (
	FormatLDPVC  = "ldp_vc"
	FormatLDPVP  = "ldp_vp"
	FormatSDJWT  = "dc+sd-jwt"
	FormatJWTVC  = "jwt_vc"
	maxProblemFE = 10 // field errors quoted in one problem message
)

// verifyEmbedded runs the credential checks on a credential secured by an
// embedded proof, and returns what it learned about it. purpose overrides
// the expected proof purpose (assertionMethod when empty).
func (v *Verifier) verifyEmbedded(ctx context.Context, r *recorder, doc map[string]any, purpose string) *CredentialFacts {
	c := credential.NewCredential(doc)
	facts := embeddedFacts(c)
	issuer, _ := c.Issuer()

	// A credential seen before with the same content, purpose and
	// self-certifying proof keys passed the document-only checks then and
	// passes them now (WithVerifiedCache).
	var key [32]byte
	remember := v.verified != nil && allOn(r, documentChecks...) && rememberable(c.Proofs())
	if remember {
		key, remember = documentDigest(purpose, doc)
	}
	if remember {
		if schemaOK, ok := v.verified.get(key); ok {
			for _, check := range documentChecks {
				r.pass(check)
			}
			v.policyKnown(ctx, r, c, schemaOK, func() { v.verified.put(key, true) })
			return facts
		}
	}

	errs, warns := len(r.res.Errors), len(r.res.Warnings)
	if !v.structure(r, c) {
		return facts
	}
	if !v.jsonLD(ctx, r, c) {
		return facts
	}
	controllers := v.embeddedProofs(ctx, r, doc, c.Proofs(), purpose, "credential")
	v.issuerController(r, issuer, controllers)
	if remember && len(controllers) > 0 && len(r.res.Errors) == errs && len(r.res.Warnings) == warns {
		v.verified.put(key, false)
		v.policyKnown(ctx, r, c, false, func() { v.verified.put(key, true) })
		return facts
	}
	v.policy(ctx, r, c)
	return facts
}

// documentChecks are the checks whose outcome depends on nothing but the
// credential's content (and self-certifying keys): what WithVerifiedCache
// remembers.
var documentChecks = []Check{CheckStructure, CheckContext, CheckProof, CheckIssuerController}

// policyKnown is policy for a credential that passed the document checks:
// the schema check is skipped when schemaOK says it passed before, and
// schemaPassed is called when it runs and passes without a warning.
func (v *Verifier) policyKnown(ctx context.Context, r *recorder, c *credential.Credential, schemaOK bool, schemaPassed func()) {
	v.policyWith(ctx, r, c, func() {
		if schemaOK {
			r.pass(CheckSchema)
			return
		}
		errs, warns := len(r.res.Errors), len(r.res.Warnings)
		v.schema(r, c)
		if r.on(CheckSchema) && len(r.res.Errors) == errs && len(r.res.Warnings) == warns {
			schemaPassed()
		}
	})
}

// policy runs the checks that do not depend on how the credential is
// secured: validity, schema, status and issuer trust.
func (v *Verifier) policy(ctx context.Context, r *recorder, c *credential.Credential) {
	v.policyWith(ctx, r, c, func() { v.schema(r, c) })
}

// policyWith is policy with schemaStep as its schema check.
func (v *Verifier) policyWith(ctx context.Context, r *recorder, c *credential.Credential, schemaStep func()) {
	issuer, _ := c.Issuer()
	nb, hasNB := c.NotBefore()
	na, hasNA := c.NotAfter()
	v.validity(r, nb, hasNB, na, hasNA)
	schemaStep()
	var entries []StatusEntry
	for _, s := range c.Status() {
		kind, _ := s["type"].(string)
		entries = append(entries, StatusEntry{Kind: kind, Entry: s})
	}
	v.checkStatus(ctx, r, issuer, entries)
	v.trust(ctx, r, issuer, c.Types())
}

// structure is the structure check: the VC Data Model rules on the JSON.
func (v *Verifier) structure(r *recorder, d interface{ Validate() error }) bool {
	if !r.on(CheckStructure) {
		return true
	}
	if err := d.Validate(); err != nil {
		r.fail(CheckStructure, CodeInvalidStructure, describeValidation(err))
		return false
	}
	r.pass(CheckStructure)
	return true
}

// jsonLD is the context check: JSON-LD expansion in safe mode with the
// offline contexts. A document whose terms are not all defined has no
// well-defined meaning to sign, so nothing further is checked.
func (v *Verifier) jsonLD(ctx context.Context, r *recorder, d credential.Document) bool {
	if !r.on(CheckContext) {
		return true
	}
	if err := credential.ValidateJSONLD(ctx, d, nil); err != nil {
		r.fail(CheckContext, CodeInvalidContext, describeValidation(err))
		return false
	}
	r.pass(CheckContext)
	return true
}

// embeddedProofs is the proof check of an embedded proof (set) and returns
// the controllers of the verification methods of the proofs, as their DID
// documents state them (empty when no proof key could be resolved).
func (v *Verifier) embeddedProofs(ctx context.Context, r *recorder, doc map[string]any, proofs []map[string]any, purpose, what string) []string {
	if !r.on(CheckProof) && !r.on(CheckIssuerController) && !r.on(CheckHolderBinding) {
		return nil
	}
	if len(proofs) == 0 {
		r.fail(CheckProof, CodeNoProof, "the "+what+" has no proof")
		return nil
	}
	legacy := 0
	for _, p := range proofs {
		if t, _ := p["type"].(string); IsLegacyProofType(t) {
			legacy++
		}
	}
	if legacy > 0 {
		if legacy != len(proofs) {
			r.fail(CheckProof, CodeUnsupportedProofType, "a proof set mixing Data Integrity and legacy proof types is not supported")
			return nil
		}
		if v.legacy == nil {
			t, _ := proofs[0]["type"].(string)
			r.fail(CheckProof, CodeUnsupportedProofType, errNoLegacy("a "+t+" proof"))
			return nil
		}
		if purpose == "" {
			purpose = dataintegrity.PurposeAssertionMethod
		}
		controllers, err := v.legacy.VerifyProofs(ctx, doc, purpose)
		if err != nil {
			classifyLegacyError(r, err)
			return controllers
		}
		r.pass(CheckProof)
		return controllers
	}
	res, err := dataintegrity.Verify(ctx, doc, dataintegrity.VerifyOptions{
		Resolver:     v.resolver,
		ProofPurpose: purpose,
		Now:          v.now,
		Skew:         v.skew,
	})
	var controllers []string
	if res != nil {
		for _, p := range res.Proofs {
			if p.Controller != "" {
				controllers = append(controllers, p.Controller)
			}
			if p.Err != nil {
				r.fail(CheckProof, CodeInvalidProof, fmt.Sprintf("proof %d (%s %s): %v", p.Index, p.Type, p.Cryptosuite, p.Err))
			}
		}
	}
	switch {
	case err != nil && (res == nil || len(res.Proofs) == 0):
		r.fail(CheckProof, CodeInvalidProof, "verifying proofs: "+err.Error())
	case err != nil || res == nil || !res.Verified:
		// the failing proofs are reported above
	default:
		r.pass(CheckProof)
	}
	return controllers
}

// issuerController is the issuerController check: every proof key is
// controlled by the issuer. It needs the controllers that proof
// verification found; without any (no key resolved), the proof check has
// already failed and this one cannot run.
func (v *Verifier) issuerController(r *recorder, issuer string, controllers []string) {
	if len(controllers) == 0 {
		return
	}
	for _, c := range controllers {
		if c != issuer {
			r.fail(CheckIssuerController, CodeControllerMismatch, fmt.Sprintf(
				"the proof key is controlled by %s, not by the issuer %s", c, issuer))
			return
		}
	}
	r.pass(CheckIssuerController)
}

// validity is the validity check: now, give or take the skew, is inside the
// validity period.
func (v *Verifier) validity(r *recorder, notBefore time.Time, hasNB bool, notAfter time.Time, hasNA bool) {
	if !r.on(CheckValidity) {
		return
	}
	now := v.now()
	ok := true
	if hasNB && now.Add(v.skew).Before(notBefore) {
		ok = false
		r.fail(CheckValidity, CodeNotYetValid, "not yet valid: valid from "+notBefore.UTC().Format(time.RFC3339))
	}
	if hasNA && now.Add(-v.skew).After(notAfter) {
		ok = false
		r.fail(CheckValidity, CodeExpired, "expired at "+notAfter.UTC().Format(time.RFC3339))
	}
	if ok {
		r.pass(CheckValidity)
	}
}

// schema is the schema check: the credential conforms to the embedded JSON
// Schemas its credentialSchema names; without credentialSchema there is
// nothing to check and the check passes.
func (v *Verifier) schema(r *recorder, c *credential.Credential) {
	if !r.on(CheckSchema) {
		return
	}
	if err := schemas.ForCredential(c.Map()); err != nil {
		code := CodeSchemaViolation
		if errors.Is(err, schemas.ErrUnknownSchema) || errors.Is(err, schemas.ErrUnsupportedSchemaType) {
			code = CodeUnknownSchema
		}
		r.fail(CheckSchema, code, describeSchema(err))
		return
	}
	r.pass(CheckSchema)
}

// embeddedFacts reads the facts of a credential, whatever its validity.
func embeddedFacts(c *credential.Credential) *CredentialFacts {
	f := &CredentialFacts{Format: FormatLDPVC, ID: c.ID(), Types: c.Types()}
	f.Issuer, _ = c.Issuer()
	if subs := c.Subjects(); len(subs) > 0 {
		f.Subject, _ = subs[0]["id"].(string)
		f.subject = subs[0]
	}
	f.parent = parentOf(f.subject, c.Map()["evidence"])
	if t, ok := c.NotBefore(); ok {
		f.ValidFrom = &t
	}
	if t, ok := c.NotAfter(); ok {
		f.ValidUntil = &t
	}
	return f
}

// subjectIDs are the ids of a credential's subjects.
func subjectIDs(c *credential.Credential) []string {
	var ids []string
	for _, s := range c.Subjects() {
		if id, _ := s["id"].(string); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// describeValidation renders a *credential.ValidationError's field errors
// (or any other error) as one message.
func describeValidation(err error) string {
	var verr *credential.ValidationError
	if !errors.As(err, &verr) || len(verr.Errors) == 0 {
		return err.Error()
	}
	parts := make([]string, 0, len(verr.Errors))
	for i, fe := range verr.Errors {
		if i == maxProblemFE {
			parts = append(parts, fmt.Sprintf("and %d more", len(verr.Errors)-i))
			break
		}
		parts = append(parts, fe.String())
	}
	msg := strings.Join(parts, "; ")
	if verr.Err != nil && !strings.Contains(msg, verr.Err.Error()) {
		msg += " (" + verr.Err.Error() + ")"
	}
	return msg
}

// describeSchema renders a *schemas.ValidationError the same way.
func describeSchema(err error) string {
	var verr *schemas.ValidationError
	if !errors.As(err, &verr) || len(verr.Errors) == 0 {
		return err.Error()
	}
	parts := make([]string, 0, len(verr.Errors))
	for i, fe := range verr.Errors {
		if i == maxProblemFE {
			parts = append(parts, fmt.Sprintf("and %d more", len(verr.Errors)-i))
			break
		}
		p := fe.Pointer
		if p == "" {
			p = "(document)"
		}
		parts = append(parts, p+": "+fe.Reason)
	}
	return "schema " + verr.SchemaID + ": " + strings.Join(parts, "; ")
}

// stringList reads a JSON string or array of strings.
func stringList(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return t
	}
	return nil
}

// jsonString renders v as compact JSON for messages.
func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
