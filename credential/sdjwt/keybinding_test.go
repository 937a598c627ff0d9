package sdjwt

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
)

func TestVerifyKeyBindingAfterVerify(t *testing.T) {
	ctx := context.Background()
	reg := didmethods.NewDefaultRegistry()
	issuer, holder := genKey(t, keys.P256), genKey(t, keys.P256)
	did, kid := didKey(t, issuer)
	issue := func() string {
		s, err := IssueVC(ctx, issuer, VC{Issuer: did, KeyID: kid, Type: "urn:t", Claims: benchClaims(), HolderKey: holder.Public()}, IssueOptions{Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	issued := issue()
	present := func(s string, signer keys.Signer, disclose ...string) string {
		p, err := Present(ctx, s, PresentOptions{Disclose: disclose, KeyBinding: &KeyBinding{Signer: signer, Audience: "https://rp", Nonce: "n", IssuedAt: testNow}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	opts := VerifyOptions{Resolver: reg, VC: true, Now: clock, Audience: "https://rp", Nonce: "n"}
	issuerPart := func(p string) *Result {
		c, err := ParseCompact(p, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		c.KeyBindingJWT = ""
		r, err := Verify(ctx, c.String(), VerifyOptions{Resolver: reg, VC: true, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	p := present(issued, holder, "/claim1", "/claim2")
	whole, err := Verify(ctx, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := issuerPart(p)
	kb, err := VerifyKeyBinding(p, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if kb != r.KeyBinding || kb.Nonce != "n" || kb.Audience != "https://rp" || kb.SDHash != whole.KeyBinding.SDHash {
		t.Fatalf("key binding %+v, Verify says %+v", kb, whole.KeyBinding)
	}

	for name, tc := range map[string]struct {
		presentation string
		r            *Result
		opts         VerifyOptions
		want         error
	}{
		"nonce":                    {p, issuerPart(p), VerifyOptions{Nonce: "other", Now: clock}, ErrKBNonce},
		"audience":                 {p, issuerPart(p), VerifyOptions{Audience: "https://evil", Now: clock}, ErrKBAudience},
		"signed by another key":    {present(issued, genKey(t, keys.P256), "/claim1"), issuerPart(present(issued, holder, "/claim1")), opts, ErrKBInvalidSignature},
		"no KB-JWT":                {strings.TrimSuffix(p, p[strings.LastIndexByte(p, '~')+1:]), issuerPart(p), opts, ErrKeyBindingRequired},
		"result of other SD-JWT":   {p, issuerPart(present(issue(), holder, "/claim1", "/claim2")), opts, ErrNotVerified},
		"result with other claims": {p, issuerPart(present(issued, holder, "/claim1")), opts, ErrNotVerified},
		"no result":                {p, nil, opts, ErrNotVerified},
		"result not from Verify":   {p, &Result{}, opts, ErrNotVerified},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := VerifyKeyBinding(tc.presentation, tc.r, tc.opts); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.r != nil && tc.r.KeyBinding != nil {
				t.Fatal("a failed key binding was set on the result")
			}
		})
	}
}
