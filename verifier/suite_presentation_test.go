package verifier

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
)

// A VC 2.0 presentation signed by another implementation (the W3C VC Data
// Model 2.0 suite, jsonld.js) verifies its proofs here: the embedded
// credential is a named graph in the canonical form both sides sign. The
// suite's holder is not its credential's subject, so holder binding still
// fails; the proofs (the presentation's and the credential's) pass.
func TestSuitePresentationProofVerifies(t *testing.T) {
	raw, err := os.ReadFile("../credential/jsonld/testdata/vc2-suite/presentation-holder-ok.signed.json")
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		VP      json.RawMessage `json:"verifiablePresentation"`
		Options struct {
			Challenge string `json:"challenge"`
			Domain    string `json:"domain"`
		} `json:"options"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	vp, err := credential.DecodeObject(req.VP)
	if err != nil {
		t.Fatal(err)
	}
	v := New(WithNow(time.Date(2026, 11, 30, 1, 35, 0, 0, time.UTC)))
	res := v.VerifyPresentation(context.Background(), vp, Options{Challenge: req.Options.Challenge, Domain: req.Options.Domain})
	for _, p := range res.Errors {
		if p.Check == CheckProof || p.Check == CheckContext || p.Check == CheckStructure {
			t.Fatalf("the suite's presentation fails %s: %+v", p.Check, res.Errors)
		}
	}
	if !slices.Contains(res.Checks, CheckProof) {
		t.Fatalf("proof not among the passed checks: %+v", res)
	}
	// A relying party that accepts presentations of others' credentials
	// leaves holderBinding out of the checks.
	var checks []Check
	for _, c := range AllChecks {
		if c != CheckHolderBinding {
			checks = append(checks, c)
		}
	}
	res = v.VerifyPresentation(context.Background(), vp, Options{Challenge: req.Options.Challenge, Domain: req.Options.Domain, Checks: checks})
	if !res.Verified {
		t.Fatalf("without holderBinding: %+v", res.Errors)
	}
}
