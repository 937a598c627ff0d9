package verifier

import (
	"context"
	"encoding/base64"
	"testing"
)

// Input that is not a credential or presentation at all is never verified,
// whatever subset of checks was asked for: its structure failure is
// reported even when only "proof" was requested (the VC-API's usual
// options.checks), instead of a verification with no checks and no errors.
func TestUnreadableInputFailsAnyChecksSubset(t *testing.T) {
	ctx := context.Background()
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	jwt := func(header, payload string) string { return b64(header) + "." + b64(payload) + ".c2ln" }
	inputs := map[string]any{
		"garbage string":           "abc",
		"JSON array in a string":   "[1]",
		"JWT with no iss":          jwt(`{"alg":"ES256"}`, `{"vct":"x"}`),
		"JWT header not JSON":      jwt(`notjson`, `{"iss":"did:example:1"}`),
		"JWT payload not a object": jwt(`{"alg":"ES256","typ":"dc+sd-jwt"}`, `[1]`),
		"SD-JWT with no iss":       jwt(`{"alg":"ES256"}`, `{"vct":"x"}`) + "~",
		"SD-JWT header not JSON":   jwt(`notjson`, `{"iss":"did:example:1"}`) + "~",
		"unsupported input type":   42,
		"nil object":               map[string]any(nil),
	}
	subsets := [][]Check{{CheckProof}, {CheckValidity}, {CheckProof, CheckStatus}, {CheckHolderBinding, CheckChallenge}}
	v := newTestVerifier()
	for name, in := range inputs {
		for _, checks := range subsets {
			opts := Options{Checks: checks}
			for kind, res := range map[string]*Result{
				"credential":   v.VerifyCredential(ctx, in, opts),
				"presentation": v.VerifyPresentation(ctx, in, opts),
			} {
				if res.Verified {
					t.Fatalf("%s as a %s with checks %v: verified: %s", name, kind, checks, dump(res))
				}
				if !res.Failed(CheckStructure) {
					t.Fatalf("%s as a %s with checks %v: no structure error: %s", name, kind, checks, dump(res))
				}
				if res.Passed(CheckStructure) {
					t.Fatalf("%s as a %s: structure listed as passed: %s", name, kind, dump(res))
				}
			}
		}
	}
}
