package sdjwt

import (
	"context"
	"fmt"
	"testing"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
)

func benchClaims() map[string]any {
	c := map[string]any{}
	for i := range 10 {
		c[fmt.Sprintf("claim%d", i)] = fmt.Sprintf("value %d", i)
	}
	return c
}

func benchIssue(b *testing.B, typ keys.KeyType) (keys.Signer, keys.Signer, string) {
	issuer, holder := genKey(b, typ), genKey(b, typ)
	did, kid := didKey(b, issuer)
	issued, err := IssueVC(context.Background(), issuer, VC{Issuer: did, KeyID: kid, Type: "urn:t", Claims: benchClaims(), HolderKey: holder.Public()}, IssueOptions{Decoys: 2, Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	return issuer, holder, issued
}

func BenchmarkIssue(b *testing.B) {
	for _, typ := range []keys.KeyType{keys.P256, keys.Ed25519} {
		b.Run(string(typ), func(b *testing.B) {
			issuer, holder, _ := benchIssue(b, typ)
			did, kid := didKey(b, issuer)
			vc := VC{Issuer: did, KeyID: kid, Type: "urn:t", Claims: benchClaims(), HolderKey: holder.Public()}
			for b.Loop() {
				if _, err := IssueVC(context.Background(), issuer, vc, IssueOptions{Decoys: 2, Now: clock}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPresentKB(b *testing.B) {
	for _, typ := range []keys.KeyType{keys.P256, keys.Ed25519} {
		b.Run(string(typ), func(b *testing.B) {
			_, holder, issued := benchIssue(b, typ)
			opts := PresentOptions{Disclose: []string{"/claim1", "/claim3", "/claim5"}, KeyBinding: &KeyBinding{Signer: holder, Audience: "https://rp", Nonce: "n", IssuedAt: testNow}}
			for b.Loop() {
				if _, err := Present(context.Background(), issued, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyKB(b *testing.B) {
	reg := didmethods.NewDefaultRegistry()
	for _, typ := range []keys.KeyType{keys.P256, keys.Ed25519} {
		b.Run(string(typ), func(b *testing.B) {
			_, holder, issued := benchIssue(b, typ)
			pres, err := Present(context.Background(), issued, PresentOptions{Disclose: []string{"/claim1", "/claim3", "/claim5"}, KeyBinding: &KeyBinding{Signer: holder, Audience: "https://rp", Nonce: "n", IssuedAt: testNow}})
			if err != nil {
				b.Fatal(err)
			}
			opts := VerifyOptions{Resolver: reg, VC: true, RequireKeyBinding: true, Audience: "https://rp", Nonce: "n", Now: clock}
			for b.Loop() {
				if _, err := Verify(context.Background(), pres, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
