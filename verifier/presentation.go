package verifier

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
)

// verifyVP verifies a verifiable presentation with an embedded proof and the
// credentials it holds.
func (v *Verifier) verifyVP(ctx context.Context, r *recorder, doc map[string]any, opts Options) {
	p := credential.NewPresentation(doc)
	holder, _ := p.Holder()
	r.res.Presentation = &PresentationFacts{Format: FormatLDPVP, ID: p.ID(), Holder: holder}
	if !v.structure(r, p) {
		return
	}
	if !v.jsonLD(ctx, r, p) {
		return
	}
	purpose := opts.ProofPurpose
	if purpose == "" {
		purpose = dataintegrity.PurposeAuthentication
	}
	proofs := p.Proofs()
	controllers := v.embeddedProofs(ctx, r, doc, proofs, purpose, "presentation")
	v.proofChallengeDomain(r, proofs, opts)

	// The presenter: the controller of the presentation's proof key. The
	// holder, when named, must be that controller.
	presenter := ""
	if len(controllers) > 0 {
		presenter = controllers[0]
		for _, c := range controllers[1:] {
			if c != presenter {
				r.fail(CheckHolderBinding, CodeHolderMismatch, fmt.Sprintf("the presentation's proofs are by keys of different controllers (%s, %s)", presenter, c))
				presenter = ""
				break
			}
		}
	}
	if presenter != "" {
		if holder == "" {
			r.res.Presentation.Holder = presenter
		} else if holder != presenter {
			r.fail(CheckHolderBinding, CodeHolderMismatch, fmt.Sprintf("the holder is %s but the presentation is signed by a key of %s", holder, presenter))
		}
	}

	type held struct {
		r     *recorder
		facts *CredentialFacts
		bound []string // whom the credential is about: subject ids, or the cnf key's did:key
	}
	var all []held
	for i, pc := range p.VerifiableCredentials() {
		at := fmt.Sprintf("/verifiableCredential/%d", i)
		cr := r.within(at)
		var facts *CredentialFacts
		var bound []string
		switch {
		case pc.Embedded != nil:
			facts = v.verifyEmbedded(ctx, cr, pc.Embedded.Map(), "")
			bound = subjectIDs(pc.Embedded)
		default:
			facts, bound = v.verifyEnveloped(ctx, cr, pc.Enveloped)
		}
		if facts != nil {
			facts.at = at
			r.res.Credentials = append(r.res.Credentials, *facts)
		}
		all = append(all, held{cr, facts, bound})
	}
	// A parent delegation in a chain is about the agent that delegated
	// further, not the presenter: its binding is the chain's (its subject
	// is its child's delegator), which chainParents establishes.
	parents := chainParents(r.res.Credentials, presenter)
	for _, h := range all {
		if h.facts != nil && parents[h.facts.at] {
			r.pass(CheckHolderBinding)
			continue
		}
		v.holderBinding(h.r, presenter, h.bound)
	}
}

// proofChallengeDomain runs the challenge and domain checks on the
// presentation's proofs. The values are signed with the proof, so a proof
// that verified carries them as its signer wrote them.
func (v *Verifier) proofChallengeDomain(r *recorder, proofs []map[string]any, opts Options) {
	if len(proofs) == 0 {
		return
	}
	if opts.Challenge == "" {
		r.warn(CheckChallenge, CodeChallengeNotChecked, "no expected challenge was given: the proof's challenge was not checked, so a replayed presentation would pass")
	} else {
		ok := true
		for i, p := range proofs {
			if got, _ := p["challenge"].(string); got != opts.Challenge {
				ok = false
				r.fail(CheckChallenge, CodeChallengeMismatch, fmt.Sprintf("proof %d has challenge %q, expected %q", i, got, opts.Challenge))
			}
		}
		if ok {
			r.pass(CheckChallenge)
		}
	}
	if opts.Domain == "" {
		r.warn(CheckDomain, CodeDomainNotChecked, "no expected domain was given: the proof's domain was not checked")
		return
	}
	ok := true
	for i, p := range proofs {
		if got := stringList(p["domain"]); !slices.Contains(got, opts.Domain) {
			ok = false
			r.fail(CheckDomain, CodeDomainMismatch, fmt.Sprintf("proof %d has domain %s, expected %q", i, jsonString(p["domain"]), opts.Domain))
		}
	}
	if ok {
		r.pass(CheckDomain)
	}
}

// holderBinding checks that the presenter is whom a credential is about.
func (v *Verifier) holderBinding(r *recorder, presenter string, bound []string) {
	if !r.on(CheckHolderBinding) || presenter == "" {
		return // no presenter: the proof check already failed
	}
	if slices.Contains(bound, presenter) {
		r.pass(CheckHolderBinding)
		return
	}
	if len(bound) == 0 {
		r.fail(CheckHolderBinding, CodeHolderMismatch, "the credential names no subject id, so it cannot be bound to the presenter "+presenter)
		return
	}
	r.fail(CheckHolderBinding, CodeHolderMismatch, fmt.Sprintf(
		"the presentation is signed by a key of %s, but the credential is about %s", presenter, strings.Join(bound, ", ")))
}

// verifyEnveloped verifies an EnvelopedVerifiableCredential: an SD-JWT VC
// (media type application/dc+sd-jwt or vc+sd-jwt) or a VC-JWT. It returns
// the facts and the did:key of the SD-JWT's cnf key, whom the credential is
// bound to.
func (v *Verifier) verifyEnveloped(ctx context.Context, r *recorder, dataURL string) (*CredentialFacts, []string) {
	u, err := credential.ParseDataURL(dataURL)
	if err != nil {
		r.fail(CheckStructure, CodeMalformed, "enveloped credential: "+err.Error())
		return nil, nil
	}
	compact := strings.TrimSpace(string(u.Data))
	switch u.MediaType {
	case "application/dc+sd-jwt", "application/vc+sd-jwt":
		facts := v.verifySDJWT(ctx, r, compact, Options{}, false)
		if facts.Holder == "" {
			return facts, nil
		}
		return facts, []string{facts.Holder}
	case "application/vc+jwt", "application/jwt", "application/vc-ld+jwt":
		return v.verifySDJWTOrJWT(ctx, r, compact, Options{}, false), nil
	}
	r.fail(CheckStructure, CodeMalformed, fmt.Sprintf("enveloped credential of media type %q is not supported", u.MediaType))
	return nil, nil
}
