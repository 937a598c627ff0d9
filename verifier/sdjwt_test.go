package verifier

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/keys"
)

// Negative cases of the SD-JWT VC presentation path beside TestSDJWT's:
// each must fail the check that names it, however often the same issuer
// and holder keys were seen before (their parsed keys are cached).
func TestSDJWTPresentationNegatives(t *testing.T) {
	iss, holder := newParty(t, keys.P256), newParty(t, keys.P256)
	issued := issueSDJWT(t, iss, holder, testNow.Add(24*time.Hour))
	v := newTestVerifier()
	opts := Options{Challenge: "n-1", Domain: "https://rp.example"}
	good := present(t, issued, holder, []string{"/name", "/principal"}, "n-1", "https://rp.example")
	for range 2 { // the second time with warm caches
		res := v.VerifyPresentation(ctx, good, opts)
		wantVerified(t, res, CheckStructure, CheckProof, CheckIssuerController, CheckValidity, CheckHolderBinding, CheckChallenge, CheckDomain)
		if f := res.Credentials[0]; f.Holder != holder.did {
			t.Fatalf("holder %q, want %q", f.Holder, holder.did)
		}
	}
	parts := strings.Split(good, "~") // JWT, 2 disclosures, KB-JWT
	join := func(p []string) string { return strings.Join(p, "~") }
	with := func(i int, s string) string {
		p := append([]string(nil), parts...)
		p[i] = s
		return join(p)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	b64 := base64.RawURLEncoding

	t.Run("tampered disclosure", func(t *testing.T) {
		wantFailed(t, v.VerifyPresentation(ctx, with(1, flip(parts[1], 8)), opts), CheckProof)
	})
	t.Run("tampered issuer signature", func(t *testing.T) {
		wantFailed(t, v.VerifyPresentation(ctx, with(0, flip(parts[0], len(parts[0])-5)), opts), CheckProof)
	})
	t.Run("tampered KB-JWT signature", func(t *testing.T) {
		wantFailed(t, v.VerifyPresentation(ctx, with(3, flip(parts[3], len(parts[3])-5)), opts), CheckHolderBinding)
	})
	t.Run("disclosure dropped after key binding", func(t *testing.T) {
		p := append([]string{parts[0], parts[1]}, parts[3])
		wantFailed(t, v.VerifyPresentation(ctx, join(p), opts), CheckHolderBinding)
	})
	t.Run("KB-JWT of another presentation", func(t *testing.T) {
		other := strings.Split(present(t, issued, holder, []string{"/name"}, "n-1", "https://rp.example"), "~")
		wantFailed(t, v.VerifyPresentation(ctx, with(3, other[len(other)-1]), opts), CheckHolderBinding)
	})
	t.Run("KB-JWT by the holder of another credential", func(t *testing.T) {
		stranger := newParty(t, keys.P256)
		if !v.VerifyPresentation(ctx, present(t, issueSDJWT(t, iss, stranger, testNow.Add(time.Hour)), stranger, nil, "n-1", "https://rp.example"), opts).Verified {
			t.Fatal("the stranger's own credential does not verify")
		}
		wantFailed(t, v.VerifyPresentation(ctx, present(t, issued, stranger, []string{"/name"}, "n-1", "https://rp.example"), opts), CheckHolderBinding)
	})
	t.Run("wrong nonce and audience", func(t *testing.T) {
		wantFailed(t, v.VerifyPresentation(ctx, good, Options{Challenge: "n-2", Domain: "https://rp.example"}), CheckChallenge)
		wantFailed(t, v.VerifyPresentation(ctx, good, Options{Challenge: "n-1", Domain: "https://other.example"}), CheckDomain)
	})
	t.Run("malformed KB-JWT", func(t *testing.T) {
		wantFailed(t, v.VerifyPresentation(ctx, with(3, "not.a-jwt"), opts), CheckStructure)
		wantFailed(t, v.VerifyPresentation(ctx, with(3, "a.b.c!"), opts), CheckStructure)
	})
	t.Run("duplicate member in the issuer header", func(t *testing.T) {
		seg := strings.SplitN(parts[0], ".", 2)
		hdr, err := b64.DecodeString(seg[0])
		if err != nil {
			t.Fatal(err)
		}
		dup := strings.Replace(string(hdr), `"alg":"ES256"`, `"alg":"ES256","alg":"ES256"`, 1)
		res := v.VerifyPresentation(ctx, with(0, b64.EncodeToString([]byte(dup))+"."+seg[1]), opts)
		if res.Verified || !(res.Failed(CheckStructure) || res.Failed(CheckProof)) {
			t.Fatalf("duplicate header member: %s", dump(res))
		}
	})
	t.Run("duplicate member in a disclosure", func(t *testing.T) {
		d := b64.EncodeToString([]byte(`["salt","name",{"a":1,"a":2}]`))
		res := v.VerifyPresentation(ctx, with(1, d), opts)
		if res.Verified || !res.Failed(CheckProof) {
			t.Fatalf("duplicate disclosure member: %s", dump(res))
		}
	})
	t.Run("expired", func(t *testing.T) {
		old := present(t, issueSDJWT(t, iss, holder, testNow.Add(-10*time.Minute)), holder, []string{"/name"}, "n-1", "https://rp.example")
		wantFailed(t, v.VerifyPresentation(ctx, old, opts), CheckValidity)
	})
	t.Run("issuer key of another DID", func(t *testing.T) {
		other := newParty(t, keys.P256)
		s, err := sdjwt.IssueVC(ctx, other.key, sdjwt.VC{Issuer: iss.did, KeyID: iss.vm, Type: "x",
			Claims: map[string]any{"name": "x"}, HolderKey: holder.key.Public()}, sdjwt.IssueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantFailed(t, v.VerifyPresentation(ctx, present(t, s, holder, nil, "n-1", "https://rp.example"), opts), CheckProof)
	})
	// The good presentation still verifies after all of the above.
	wantVerified(t, v.VerifyPresentation(ctx, good, opts), CheckProof, CheckHolderBinding)
}
