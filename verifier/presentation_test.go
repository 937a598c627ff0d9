package verifier

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/keys"
)

// issueSDJWT issues an SD-JWT VC by iss bound to holder's key, with every
// top-level claim disclosable.
func issueSDJWT(t *testing.T, iss, holder party, expiry time.Time) string {
	t.Helper()
	s, err := sdjwt.IssueVC(ctx, iss.key, sdjwt.VC{
		Issuer: iss.did, KeyID: iss.vm, Type: "https://agentid.dev/vct/agent-identity/v1",
		Claims:    map[string]any{"sub": holder.did, "name": "invoice-bot", "operator": iss.did, "principal": "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"},
		HolderKey: holder.key.Public(), IssuedAt: testNow.Add(-time.Hour), Expiry: expiry,
	}, sdjwt.IssueOptions{Disclose: []string{"/name", "/operator", "/principal"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func present(t *testing.T, s string, holder party, disclose []string, nonce, aud string) string {
	t.Helper()
	p, err := sdjwt.Present(ctx, s, sdjwt.PresentOptions{Disclose: disclose,
		KeyBinding: &sdjwt.KeyBinding{Signer: holder.key, Audience: aud, Nonce: nonce, IssuedAt: testNow}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSDJWT(t *testing.T) {
	iss, holder := newParty(t, keys.P256), newParty(t, keys.P256)
	issued := issueSDJWT(t, iss, holder, testNow.Add(24*time.Hour))
	v := newTestVerifier()

	t.Run("issued credential verifies", func(t *testing.T) {
		res := v.VerifyCredential(ctx, issued, Options{})
		wantVerified(t, res, CheckStructure, CheckProof, CheckIssuerController, CheckValidity)
		if res.Passed(CheckContext) || res.Passed(CheckHolderBinding) {
			t.Fatalf("context or holderBinding reported for a bare SD-JWT VC: %v", res.Checks)
		}
		f := res.Credential
		if f.Format != FormatSDJWT || f.Issuer != iss.did || f.Holder != holder.did || f.Subject != holder.did ||
			!slices.Equal(f.Disclosed, []string{"/name", "/operator", "/principal"}) {
			t.Fatalf("facts: %+v", f)
		}
	})
	t.Run("key binding required but absent", func(t *testing.T) {
		wantFailed(t, v.VerifyCredential(ctx, issued, Options{RequireKeyBinding: true}), CheckHolderBinding)
	})
	t.Run("presentation discloses only what was chosen", func(t *testing.T) {
		p := present(t, issued, holder, []string{"/name"}, "n-123", "https://erp.example.com")
		res := v.VerifyPresentation(ctx, p, Options{Challenge: "n-123", Domain: "https://erp.example.com"})
		wantVerified(t, res, CheckProof, CheckIssuerController, CheckValidity, CheckHolderBinding, CheckChallenge, CheckDomain)
		f := res.Credentials[0]
		if !slices.Equal(f.Disclosed, []string{"/name"}) || f.Claims["name"] != "invoice-bot" || f.Claims["principal"] != nil {
			t.Fatalf("disclosed %v claims %v", f.Disclosed, f.Claims)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		// change one character of the issuer-signed payload
		parts := strings.SplitN(issued, ".", 3)
		payload := []byte(parts[1])
		payload[10] ^= 1
		tampered := parts[0] + "." + string(payload) + "." + parts[2]
		res := v.VerifyCredential(ctx, tampered, Options{})
		if res.Verified || !(res.Failed(CheckProof) || res.Failed(CheckStructure)) {
			t.Fatalf("tampered payload: %s", dump(res))
		}
		// a disclosure from another credential
		other := issueSDJWT(t, iss, holder, testNow.Add(time.Hour))
		d := strings.Split(other, "~")[1]
		wantFailed(t, v.VerifyCredential(ctx, issued+d+"~", Options{}), CheckProof)
	})
	t.Run("nonce mismatch", func(t *testing.T) {
		p := present(t, issued, holder, []string{"/name"}, "n-123", "https://erp.example.com")
		res := v.VerifyPresentation(ctx, p, Options{Challenge: "n-999", Domain: "https://erp.example.com"})
		wantFailed(t, res, CheckChallenge)
		if !res.Passed(CheckHolderBinding) || !res.Passed(CheckProof) {
			t.Fatalf("signature checks should pass: %s", dump(res))
		}
	})
	t.Run("audience mismatch", func(t *testing.T) {
		p := present(t, issued, holder, []string{"/name"}, "n-123", "https://erp.example.com")
		wantFailed(t, v.VerifyPresentation(ctx, p, Options{Challenge: "n-123", Domain: "https://evil.example"}), CheckDomain)
	})
	t.Run("KB-JWT by another key", func(t *testing.T) {
		p := present(t, issued, newParty(t, keys.P256), []string{"/name"}, "n-123", "https://erp.example.com")
		wantFailed(t, v.VerifyPresentation(ctx, p, Options{Challenge: "n-123", Domain: "https://erp.example.com"}), CheckHolderBinding)
	})
	t.Run("presentation without KB-JWT", func(t *testing.T) {
		wantFailed(t, v.VerifyPresentation(ctx, issued, Options{Challenge: "n", Domain: "d"}), CheckHolderBinding)
	})
	t.Run("expired", func(t *testing.T) {
		old := issueSDJWT(t, iss, holder, testNow.Add(-10*time.Minute))
		res := v.VerifyCredential(ctx, old, Options{})
		wantFailed(t, res, CheckValidity)
		if !res.Passed(CheckProof) {
			t.Fatalf("proof should pass: %s", dump(res))
		}
	})
	t.Run("kid of another DID", func(t *testing.T) {
		other := newParty(t, keys.P256)
		s, err := sdjwt.IssueVC(ctx, other.key, sdjwt.VC{Issuer: iss.did, KeyID: other.vm, Type: "x",
			Claims: map[string]any{"name": "x"}}, sdjwt.IssueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantFailed(t, v.VerifyCredential(ctx, s, Options{}), CheckIssuerController)
	})
}

// vp builds a VC 2.0 presentation of vcs by holder, signed with holder's
// key for challenge and domain.
func vp(t *testing.T, holder party, signer party, challenge, domain string, vcs ...map[string]any) map[string]any {
	t.Helper()
	list := make([]any, len(vcs))
	for i, c := range vcs {
		list[i] = c
	}
	doc := map[string]any{
		"@context":             []any{"https://www.w3.org/ns/credentials/v2"},
		"type":                 []any{"VerifiablePresentation"},
		"holder":               holder.did,
		"verifiableCredential": list,
	}
	out, err := dataintegrity.Sign(ctx, doc, signer.key, dataintegrity.ProofOptions{
		VerificationMethod: signer.vm, ProofPurpose: dataintegrity.PurposeAuthentication,
		Challenge: challenge, Domain: []string{domain}, Created: testNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDataIntegrityPresentation(t *testing.T) {
	iss, agent := newParty(t, keys.Ed25519), newParty(t, keys.P256)
	vc := sign(t, identityCredential(t, iss.did, agent.did, false), iss, dataintegrity.EdDSARDFC2022)
	v := newTestVerifier()
	opts := Options{Challenge: "c-1", Domain: "https://erp.example.com"}

	t.Run("verifies", func(t *testing.T) {
		res := v.VerifyPresentation(ctx, vp(t, agent, agent, "c-1", "https://erp.example.com", vc), opts)
		wantVerified(t, res, CheckStructure, CheckContext, CheckProof, CheckIssuerController, CheckValidity,
			CheckSchema, CheckHolderBinding, CheckChallenge, CheckDomain)
		if res.Presentation.Holder != agent.did || len(res.Credentials) != 1 || res.Credentials[0].Subject != agent.did {
			t.Fatalf("facts: %+v %+v", res.Presentation, res.Credentials)
		}
	})
	t.Run("wrong challenge", func(t *testing.T) {
		res := v.VerifyPresentation(ctx, vp(t, agent, agent, "c-2", "https://erp.example.com", vc), opts)
		wantFailed(t, res, CheckChallenge)
		if got := errorChecks(res); !slices.Equal(got, []Check{CheckChallenge}) {
			t.Fatalf("failed %v, want only challenge", got)
		}
	})
	t.Run("wrong domain", func(t *testing.T) {
		wantFailed(t, v.VerifyPresentation(ctx, vp(t, agent, agent, "c-1", "https://evil.example", vc), opts), CheckDomain)
	})
	t.Run("no expected challenge: warnings", func(t *testing.T) {
		res := v.VerifyPresentation(ctx, vp(t, agent, agent, "c-1", "https://erp.example.com", vc), Options{})
		wantVerified(t, res, CheckProof, CheckHolderBinding)
		if !res.Warned(CheckChallenge) || !res.Warned(CheckDomain) || res.Passed(CheckChallenge) {
			t.Fatalf("challenge/domain without expectations: %s", dump(res))
		}
	})
	t.Run("signed by a key that is not the subject", func(t *testing.T) {
		stranger := newParty(t, keys.P256)
		res := v.VerifyPresentation(ctx, vp(t, stranger, stranger, "c-1", "https://erp.example.com", vc), opts)
		wantFailed(t, res, CheckHolderBinding)
		if got := errorChecks(res); !slices.Equal(got, []Check{CheckHolderBinding}) {
			t.Fatalf("failed %v, want only holderBinding", got)
		}
		if res.Errors[0].Credential != "/verifiableCredential/0" {
			t.Fatalf("problem not attributed to the credential: %+v", res.Errors[0])
		}
	})
	t.Run("holder is not the signer", func(t *testing.T) {
		stranger := newParty(t, keys.P256)
		wantFailed(t, v.VerifyPresentation(ctx, vp(t, agent, stranger, "c-1", "https://erp.example.com", vc), opts), CheckHolderBinding)
	})
	t.Run("tampered embedded credential", func(t *testing.T) {
		bad := clone(t, vc)
		bad["credentialSubject"].(map[string]any)["name"] = "payroll-bot"
		res := v.VerifyPresentation(ctx, vp(t, agent, agent, "c-1", "https://erp.example.com", bad), opts)
		wantFailed(t, res, CheckProof)
		if res.Errors[0].Credential != "/verifiableCredential/0" {
			t.Fatalf("problem not attributed to the credential: %+v", res.Errors[0])
		}
	})
	t.Run("tampered presentation", func(t *testing.T) {
		p := vp(t, agent, agent, "c-1", "https://erp.example.com", vc)
		p["id"] = "urn:uuid:0b2c5d1e-0000-4000-8000-000000000000"
		wantFailed(t, v.VerifyPresentation(ctx, p, opts), CheckProof)
	})
	t.Run("credential proof purpose is not authentication", func(t *testing.T) {
		// A credential is not a presentation: its assertionMethod proof
		// does not authenticate anyone.
		res := v.VerifyPresentation(ctx, vc, opts)
		if res.Verified {
			t.Fatalf("a credential verified as a presentation: %s", dump(res))
		}
	})
}
