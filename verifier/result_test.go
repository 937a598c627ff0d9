package verifier

import "testing"

// TestCheckIndex: checkIndex numbers AllChecks in order, and nothing else.
func TestCheckIndex(t *testing.T) {
	if len(AllChecks) != numChecks {
		t.Fatalf("AllChecks has %d checks, numChecks is %d", len(AllChecks), numChecks)
	}
	for i, c := range AllChecks {
		if got := checkIndex(c); got != i {
			t.Errorf("checkIndex(%q) = %d, want %d", c, got, i)
		}
	}
	for _, c := range []Check{"", "Structure", "proof ", "unknown"} {
		if got := checkIndex(c); got != -1 {
			t.Errorf("checkIndex(%q) = %d, want -1", c, got)
		}
	}
}

// TestRecorderStates: a check passes only when it was asked for and never
// failed, anywhere; an unknown check is an error; a structure failure is
// recorded even when structure was not asked for.
func TestRecorderStates(t *testing.T) {
	r := newRecorder([]Check{CheckProof, CheckValidity, CheckStatus, "bogus"})
	r.pass(CheckProof)
	r.within("/verifiableCredential/0").pass(CheckValidity)
	r.within("/verifiableCredential/1").fail(CheckValidity, CodeExpired, "expired")
	r.pass(CheckValidity)
	r.pass(CheckSchema) // not asked for
	r.warn(CheckStatus, CodeStatusNotChecked, "not checked")
	r.warn(CheckSchema, CodeUnknownSchema, "not asked for")
	res := r.finish()
	if res.Verified {
		t.Fatal("verified with errors")
	}
	if len(res.Checks) != 1 || res.Checks[0] != CheckProof {
		t.Errorf("checks = %v, want [proof]", res.Checks)
	}
	if len(res.Errors) != 2 || res.Errors[0].Code != CodeUnknownCheck || res.Errors[1].Credential != "/verifiableCredential/1" {
		t.Errorf("errors = %+v", res.Errors)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Check != CheckStatus {
		t.Errorf("warnings = %+v", res.Warnings)
	}

	r = newRecorder([]Check{CheckProof})
	r.fail(CheckStructure, CodeMalformed, "not a credential")
	r.fail(CheckSchema, CodeSchemaViolation, "not asked for")
	if res := r.finish(); res.Verified || len(res.Errors) != 1 || res.Errors[0].Check != CheckStructure || len(res.Checks) != 0 {
		t.Errorf("result = %+v", res)
	}

	r = newRecorder(nil)
	for _, c := range AllChecks {
		r.pass(c)
	}
	if res := r.finish(); !res.Verified || len(res.Checks) != len(AllChecks) {
		t.Errorf("all passed: %+v", res)
	}
}
