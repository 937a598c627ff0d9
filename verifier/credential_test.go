package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/statuslist"
	"github.com/agentid/agentid/keys"
)

var ctx = context.Background()

func TestDataIntegrityCredentialVerifies(t *testing.T) {
	for _, c := range []struct {
		typ   keys.KeyType
		suite string
	}{
		{keys.Ed25519, dataintegrity.EdDSARDFC2022},
		{keys.P256, dataintegrity.ECDSARDFC2019},
		{keys.P384, dataintegrity.ECDSARDFC2019},
	} {
		t.Run(string(c.typ), func(t *testing.T) {
			iss, agent := newParty(t, c.typ), newParty(t, keys.P256)
			vc := sign(t, identityCredential(t, iss.did, agent.did, false), iss, c.suite)
			res := newTestVerifier().VerifyCredential(ctx, vc, Options{})
			wantVerified(t, res, CheckStructure, CheckContext, CheckProof, CheckIssuerController,
				CheckValidity, CheckSchema, CheckStatus)
			// no trust list: a warning, not a pass
			if res.Passed(CheckTrustedIssuer) || !res.Warned(CheckTrustedIssuer) {
				t.Fatalf("trustedIssuer without a list: %s", dump(res))
			}
			f := res.Credential
			if f == nil || f.Issuer != iss.did || f.Subject != agent.did || f.Format != FormatLDPVC ||
				!slices.Contains(f.Types, "AgentIdentityCredential") || f.ValidUntil == nil {
				t.Fatalf("facts: %+v", f)
			}
			// The same credential as JSON bytes and as a JSON string.
			raw, _ := json.Marshal(vc)
			for _, in := range []any{raw, string(raw)} {
				if res := newTestVerifier().VerifyCredential(ctx, in, Options{}); !res.Verified {
					t.Fatalf("%T input: %s", in, dump(res))
				}
			}
		})
	}
}

func TestCredentialChecksFail(t *testing.T) {
	iss, other, agent := newParty(t, keys.Ed25519), newParty(t, keys.Ed25519), newParty(t, keys.P256)
	valid := sign(t, identityCredential(t, iss.did, agent.did, false), iss, dataintegrity.EdDSARDFC2022)

	tests := []struct {
		name  string
		doc   func(t *testing.T) map[string]any
		check Check
	}{
		{"malformed structure", func(t *testing.T) map[string]any {
			m := clone(t, valid)
			delete(m, "credentialSubject")
			return m
		}, CheckStructure},
		{"undefined term", func(t *testing.T) map[string]any {
			m := clone(t, valid)
			m["credentialSubject"].(map[string]any)["favouriteColour"] = "blue"
			return m
		}, CheckContext},
		{"tampered claim", func(t *testing.T) map[string]any {
			m := clone(t, valid)
			m["credentialSubject"].(map[string]any)["name"] = "payroll-bot"
			return m
		}, CheckProof},
		{"no proof", func(t *testing.T) map[string]any {
			m := clone(t, valid)
			delete(m, "proof")
			return m
		}, CheckProof},
		{"issuer is not the proof key's controller", func(t *testing.T) map[string]any {
			return sign(t, identityCredential(t, other.did, agent.did, false), iss, dataintegrity.EdDSARDFC2022)
		}, CheckIssuerController},
		{"expired", func(t *testing.T) map[string]any {
			m := identityCredential(t, iss.did, agent.did, false)
			m["validFrom"] = testNow.Add(-48 * time.Hour).Format(time.RFC3339)
			m["validUntil"] = testNow.Add(-2 * time.Minute).Format(time.RFC3339)
			return sign(t, m, iss, dataintegrity.EdDSARDFC2022)
		}, CheckValidity},
		{"not yet valid", func(t *testing.T) map[string]any {
			m := identityCredential(t, iss.did, agent.did, false)
			m["validFrom"] = testNow.Add(2 * time.Minute).Format(time.RFC3339)
			return sign(t, m, iss, dataintegrity.EdDSARDFC2022)
		}, CheckValidity},
		{"schema violation", func(t *testing.T) map[string]any {
			m := identityCredential(t, iss.did, agent.did, false)
			delete(m["credentialSubject"].(map[string]any), "operator")
			return sign(t, m, iss, dataintegrity.EdDSARDFC2022)
		}, CheckSchema},
		{"legacy proof type on a Data Integrity signature", func(t *testing.T) map[string]any {
			m := clone(t, valid)
			m["@context"] = append(m["@context"].([]any), "https://w3id.org/security/suites/ed25519-2020/v1")
			p := m["proof"].(map[string]any)
			p["type"] = "Ed25519Signature2020"
			delete(p, "cryptosuite")
			return m
		}, CheckProof},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := newTestVerifier().VerifyCredential(ctx, tc.doc(t), Options{})
			wantFailed(t, res, tc.check)
		})
	}

	// The failures that leave every other check passing fail alone.
	t.Run("exactly one check fails", func(t *testing.T) {
		for _, tc := range tests {
			switch tc.check {
			case CheckIssuerController, CheckValidity, CheckSchema:
				res := newTestVerifier().VerifyCredential(ctx, tc.doc(t), Options{})
				if got := errorChecks(res); !slices.Equal(got, []Check{tc.check}) {
					t.Errorf("%s: failed %v, want only %s", tc.name, got, tc.check)
				}
				if !res.Passed(CheckProof) {
					t.Errorf("%s: proof did not pass", tc.name)
				}
			}
		}
	})

	// Within the skew a just-expired credential still verifies; a skew of
	// zero makes it fail.
	t.Run("skew", func(t *testing.T) {
		m := identityCredential(t, iss.did, agent.did, false)
		m["validUntil"] = testNow.Add(-30 * time.Second).Format(time.RFC3339)
		vc := sign(t, m, iss, dataintegrity.EdDSARDFC2022)
		if res := newTestVerifier().VerifyCredential(ctx, vc, Options{}); !res.Verified {
			t.Fatalf("30 s past validUntil with the default skew: %s", dump(res))
		}
		wantFailed(t, newTestVerifier(WithSkew(0)).VerifyCredential(ctx, vc, Options{}), CheckValidity)
	})
}

func TestTrustedIssuers(t *testing.T) {
	iss, agent := newParty(t, keys.Ed25519), newParty(t, keys.P256)
	vc := sign(t, identityCredential(t, iss.did, agent.did, false), iss, dataintegrity.EdDSARDFC2022)

	res := newTestVerifier(WithTrustedIssuers("did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj")).VerifyCredential(ctx, vc, Options{})
	wantFailed(t, res, CheckTrustedIssuer)
	if got := errorChecks(res); !slices.Equal(got, []Check{CheckTrustedIssuer}) {
		t.Fatalf("failed %v, want only trustedIssuer", got)
	}

	res = newTestVerifier(WithTrustedIssuers(iss.did)).VerifyCredential(ctx, vc, Options{})
	wantVerified(t, res, CheckTrustedIssuer)
	if res.Warned(CheckTrustedIssuer) {
		t.Fatalf("warned although the issuer is trusted: %s", dump(res))
	}
}

// listChecker is a StatusChecker over real Bitstring Status Lists, keyed by
// the status list credential's URL, as the service's checker will be after
// it has fetched and verified the list credential.
type listChecker map[string]*statuslist.BitstringStatusList

func (lc listChecker) CheckStatus(_ context.Context, e StatusEntry) (StatusResult, error) {
	raw, err := json.Marshal(e.Entry)
	if err != nil {
		return StatusResult{}, err
	}
	var entry statuslist.BitstringStatusListEntry
	if err := json.Unmarshal(raw, &entry); err != nil {
		return StatusResult{}, err
	}
	list, ok := lc[entry.StatusListCredential]
	if !ok {
		return StatusResult{}, errors.New("status list " + entry.StatusListCredential + " not available")
	}
	res, err := statuslist.Check(&entry, list)
	if err != nil {
		return StatusResult{}, err
	}
	return StatusResult{Purpose: res.Purpose, Valid: res.Valid, Message: res.Message}, nil
}

// statusList builds a list credential's subject with the given indexes set.
func statusList(t *testing.T, id, issuer, purpose string, set ...int) *statuslist.BitstringStatusList {
	t.Helper()
	bs, err := statuslist.New(statuslist.MinEntries, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range set {
		if err := bs.Set(i, 1); err != nil {
			t.Fatal(err)
		}
	}
	cred, err := statuslist.NewCredential(statuslist.CredentialOptions{ID: id, Issuer: issuer, Purposes: []string{purpose}, List: bs})
	if err != nil {
		t.Fatal(err)
	}
	// through JSON, as a fetched list would arrive
	raw, _ := json.Marshal(cred)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	subj, err := statuslist.SubjectOf(m)
	if err != nil {
		t.Fatal(err)
	}
	return subj
}

func TestStatus(t *testing.T) {
	iss, agent := newParty(t, keys.Ed25519), newParty(t, keys.P256)
	// The example's entries: revocation index 94567 in /status/3,
	// suspension index 18823 in /status/4.
	vc := sign(t, identityCredential(t, iss.did, agent.did, true), iss, dataintegrity.EdDSARDFC2022)
	const revList, susList = "https://issuer.example.com/status/3", "https://issuer.example.com/status/4"

	t.Run("no checker: warning, not a pass", func(t *testing.T) {
		res := newTestVerifier().VerifyCredential(ctx, vc, Options{})
		wantVerified(t, res, CheckProof)
		if res.Passed(CheckStatus) || !res.Warned(CheckStatus) {
			t.Fatalf("status: %s", dump(res))
		}
	})
	t.Run("neither set", func(t *testing.T) {
		lc := listChecker{revList: statusList(t, revList, iss.did, "revocation", 94566, 94568),
			susList: statusList(t, susList, iss.did, "suspension")}
		res := newTestVerifier(WithStatusChecker(lc)).VerifyCredential(ctx, vc, Options{})
		wantVerified(t, res, CheckStatus)
		if res.Warned(CheckStatus) {
			t.Fatalf("warned: %s", dump(res))
		}
	})
	t.Run("revoked", func(t *testing.T) {
		lc := listChecker{revList: statusList(t, revList, iss.did, "revocation", 94567),
			susList: statusList(t, susList, iss.did, "suspension")}
		res := newTestVerifier(WithStatusChecker(lc)).VerifyCredential(ctx, vc, Options{})
		wantFailed(t, res, CheckStatus)
		if res.Errors[0].Code != CodeRevoked {
			t.Fatalf("code %q, want %q", res.Errors[0].Code, CodeRevoked)
		}
	})
	t.Run("suspended", func(t *testing.T) {
		lc := listChecker{revList: statusList(t, revList, iss.did, "revocation"),
			susList: statusList(t, susList, iss.did, "suspension", 18823)}
		res := newTestVerifier(WithStatusChecker(lc)).VerifyCredential(ctx, vc, Options{})
		wantFailed(t, res, CheckStatus)
		if res.Errors[0].Code != CodeSuspended {
			t.Fatalf("code %q, want %q", res.Errors[0].Code, CodeSuspended)
		}
	})
	t.Run("list unavailable fails closed", func(t *testing.T) {
		lc := listChecker{revList: statusList(t, revList, iss.did, "revocation")}
		res := newTestVerifier(WithStatusChecker(lc)).VerifyCredential(ctx, vc, Options{})
		wantFailed(t, res, CheckStatus)
		if res.Errors[0].Code != CodeStatusUnavailable {
			t.Fatalf("code %q, want %q", res.Errors[0].Code, CodeStatusUnavailable)
		}
	})
}

func TestSelectedChecks(t *testing.T) {
	iss, agent := newParty(t, keys.Ed25519), newParty(t, keys.P256)
	m := identityCredential(t, iss.did, agent.did, false)
	m["validUntil"] = testNow.Add(-time.Hour).Format(time.RFC3339)
	m["validFrom"] = testNow.Add(-2 * time.Hour).Format(time.RFC3339)
	expired := sign(t, m, iss, dataintegrity.EdDSARDFC2022)

	res := newTestVerifier().VerifyCredential(ctx, expired, Options{Checks: []Check{CheckProof, CheckIssuerController}})
	wantVerified(t, res, CheckProof, CheckIssuerController)
	if !slices.Equal(res.Checks, []Check{CheckProof, CheckIssuerController}) || len(res.Warnings) != 0 {
		t.Fatalf("checks %v warnings %v, want only the two selected", res.Checks, res.Warnings)
	}
	wantFailed(t, newTestVerifier().VerifyCredential(ctx, expired, Options{Checks: []Check{CheckValidity}}), CheckValidity)

	res = newTestVerifier().VerifyCredential(ctx, expired, Options{Checks: []Check{"sorcery"}})
	if res.Verified || len(res.Errors) != 1 || res.Errors[0].Code != CodeUnknownCheck {
		t.Fatalf("unknown check: %s", dump(res))
	}
}

func TestBadInputNeverPanics(t *testing.T) {
	v := newTestVerifier()
	for _, in := range []any{nil, 42, "", "   ", "{", "{}", []byte("[1,2]"), "not.a.jwt!", "a~b", map[string]any(nil),
		map[string]any{"@context": 7}, "eyJhbGciOiJFZERTQSJ9.e30.c2ln"} {
		res := v.VerifyCredential(ctx, in, Options{})
		if res == nil || res.Verified || len(res.Errors) == 0 {
			t.Errorf("%#v: %s", in, dump(res))
		}
		res = v.VerifyPresentation(ctx, in, Options{})
		if res == nil || res.Verified || len(res.Errors) == 0 {
			t.Errorf("presentation %#v: %s", in, dump(res))
		}
	}
}
