package verifier

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
)

// countingResolver resolves did:key and counts the resolutions: a
// credential whose proof is verified resolves its key; one answered from
// the verified cache does not.
type countingResolver struct{ n atomic.Int64 }

func (c *countingResolver) Resolve(ctx context.Context, did string, opts didmethods.ResolveOptions) (*didmethods.Resolution, error) {
	c.n.Add(1)
	return didmethods.KeyResolver{}.Resolve(ctx, did, opts)
}

func TestVerifiedCacheRemembersOnlyWhatTheDocumentDecides(t *testing.T) {
	iss, agent := newParty(t, keys.Ed25519), newParty(t, keys.P256)
	vc := sign(t, identityCredential(t, iss.did, agent.did, false), iss, dataintegrity.EdDSARDFC2022)

	t.Run("a repeated credential is not verified again, and passes the same checks", func(t *testing.T) {
		res := &countingResolver{}
		v := newTestVerifier(WithResolver(res), WithTrustedIssuers(iss.did))
		first := v.VerifyCredential(ctx, clone(t, vc), Options{})
		wantVerified(t, first, CheckStructure, CheckContext, CheckProof, CheckIssuerController, CheckSchema, CheckValidity, CheckTrustedIssuer)
		resolved := res.n.Load()
		if resolved == 0 {
			t.Fatal("the first verification resolved no key")
		}
		second := v.VerifyCredential(ctx, clone(t, vc), Options{})
		wantVerified(t, second, CheckStructure, CheckContext, CheckProof, CheckIssuerController, CheckSchema, CheckValidity, CheckTrustedIssuer)
		if res.n.Load() != resolved {
			t.Fatalf("the repeated credential was resolved again (%d resolutions, want %d)", res.n.Load(), resolved)
		}
		if a, b := jsonOf(t, first), jsonOf(t, second); a != b {
			t.Fatalf("answers differ:\nfirst  %s\nsecond %s", a, b)
		}
	})

	t.Run("a changed credential is a miss and fails", func(t *testing.T) {
		v := newTestVerifier()
		wantVerified(t, v.VerifyCredential(ctx, clone(t, vc), Options{}), CheckProof)
		tampered := clone(t, vc)
		tampered["credentialSubject"].(map[string]any)["name"] = "someone-else"
		wantFailed(t, v.VerifyCredential(ctx, tampered, Options{}), CheckProof)
		moved := clone(t, vc)
		moved["validUntil"] = testNow.Add(48 * time.Hour).Format(time.RFC3339)
		wantFailed(t, v.VerifyCredential(ctx, moved, Options{}), CheckProof)
	})

	t.Run("another proof purpose is a miss", func(t *testing.T) {
		v := newTestVerifier()
		wantVerified(t, v.VerifyCredential(ctx, clone(t, vc), Options{}), CheckProof)
		wantFailed(t, v.VerifyCredential(ctx, clone(t, vc), Options{ProofPurpose: dataintegrity.PurposeAuthentication}), CheckProof)
	})

	t.Run("validity is checked every time", func(t *testing.T) {
		now := testNow
		v := New(WithClock(func() time.Time { return now }))
		wantVerified(t, v.VerifyCredential(ctx, clone(t, vc), Options{}), CheckValidity)
		now = testNow.Add(72 * time.Hour)
		wantFailed(t, v.VerifyCredential(ctx, clone(t, vc), Options{}), CheckValidity)
	})

	t.Run("status is checked every time", func(t *testing.T) {
		withStatus := sign(t, identityCredential(t, iss.did, agent.did, true), iss, dataintegrity.EdDSARDFC2022)
		var revoked atomic.Bool
		checker := StatusCheckerFunc(func(ctx context.Context, e StatusEntry) (StatusResult, error) {
			purpose, _ := e.Entry["statusPurpose"].(string)
			return StatusResult{Purpose: purpose, Valid: purpose != "revocation" || !revoked.Load()}, nil
		})
		v := newTestVerifier(WithStatusChecker(checker))
		wantVerified(t, v.VerifyCredential(ctx, clone(t, withStatus), Options{}), CheckStatus)
		revoked.Store(true)
		wantFailed(t, v.VerifyCredential(ctx, clone(t, withStatus), Options{}), CheckStatus)
	})

	t.Run("trust is decided by each call's policy", func(t *testing.T) {
		v := newTestVerifier(WithTrustedIssuers(iss.did))
		wantVerified(t, v.VerifyCredential(ctx, clone(t, vc), Options{}), CheckTrustedIssuer)
		other := newParty(t, keys.Ed25519)
		res := v.VerifyCredential(ctx, clone(t, vc), Options{Trust: &TrustPolicy{Issuers: map[string][]string{AnyType: {other.did}}}})
		wantFailed(t, res, CheckTrustedIssuer)
	})

	t.Run("a failure is not remembered", func(t *testing.T) {
		res := &countingResolver{}
		v := newTestVerifier(WithResolver(res))
		bad := clone(t, vc)
		bad["proof"].(map[string]any)["proofValue"] = "z" + bad["proof"].(map[string]any)["proofValue"].(string)[2:] + "1"
		wantFailed(t, v.VerifyCredential(ctx, bad, Options{}), CheckProof)
		n := res.n.Load()
		wantFailed(t, v.VerifyCredential(ctx, clone(t, bad), Options{}), CheckProof)
		if res.n.Load() == n {
			t.Fatal("a credential that failed was not verified again")
		}
	})

	t.Run("a subset of checks neither uses nor fills the memory", func(t *testing.T) {
		res := &countingResolver{}
		v := newTestVerifier(WithResolver(res))
		wantVerified(t, v.VerifyCredential(ctx, clone(t, vc), Options{Checks: []Check{CheckProof, CheckValidity}}), CheckProof)
		n := res.n.Load()
		wantVerified(t, v.VerifyCredential(ctx, clone(t, vc), Options{}), CheckProof)
		if res.n.Load() == n {
			t.Fatal("a credential checked only in part was remembered as passing every document check")
		}
	})

	t.Run("size 0 remembers nothing", func(t *testing.T) {
		res := &countingResolver{}
		v := newTestVerifier(WithResolver(res), WithVerifiedCache(0))
		wantVerified(t, v.VerifyCredential(ctx, clone(t, vc), Options{}), CheckProof)
		n := res.n.Load()
		wantVerified(t, v.VerifyCredential(ctx, clone(t, vc), Options{}), CheckProof)
		if res.n.Load() == n {
			t.Fatal("verified from memory with the memory off")
		}
	})

	t.Run("the least recently used credential is forgotten first", func(t *testing.T) {
		other := sign(t, identityCredential(t, iss.did, newParty(t, keys.P256).did, false), iss, dataintegrity.EdDSARDFC2022)
		res := &countingResolver{}
		v := newTestVerifier(WithResolver(res), WithVerifiedCache(1))
		for range 2 {
			for _, doc := range []map[string]any{vc, other} {
				n := res.n.Load()
				wantVerified(t, v.VerifyCredential(ctx, clone(t, doc), Options{}), CheckProof)
				if res.n.Load() == n {
					t.Fatal("with room for one credential, alternating two was answered from memory")
				}
			}
		}
	})
}

func TestRememberable(t *testing.T) {
	ok := map[string]any{"type": "DataIntegrityProof", "verificationMethod": "did:key:z6Mk#z6Mk"}
	for _, tc := range []struct {
		name   string
		proofs []map[string]any
		want   bool
	}{
		{"did:key Data Integrity", []map[string]any{ok}, true},
		{"did:jwk", []map[string]any{{"type": "DataIntegrityProof", "verificationMethod": "did:jwk:eyJ#0"}}, true},
		{"no proof", nil, false},
		{"did:web keys can change", []map[string]any{{"type": "DataIntegrityProof", "verificationMethod": "did:web:example.com#k"}}, false},
		{"proof expiry", []map[string]any{{"type": "DataIntegrityProof", "verificationMethod": "did:key:z6Mk#z6Mk", "expires": "2030-01-01T00:00:00Z"}}, false},
		{"legacy proof", []map[string]any{{"type": "Ed25519Signature2020", "verificationMethod": "did:key:z6Mk#z6Mk"}}, false},
		{"one of two proofs by did:web", []map[string]any{ok, {"type": "DataIntegrityProof", "verificationMethod": "did:web:example.com#k"}}, false},
	} {
		if got := rememberable(tc.proofs); got != tc.want {
			t.Errorf("%s: rememberable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDocumentDigestSeparatesDocuments(t *testing.T) {
	pairs := [][2]map[string]any{
		{{"a": "bc"}, {"ab": "c"}},
		{{"a": []any{"a", "b"}}, {"a": []any{"ab"}}},
		{{"a": json.Number("1")}, {"a": "1"}},
		{{"a": json.Number("1")}, {"a": float64(1)}},
		{{"a": json.Number("1.0")}, {"a": json.Number("1")}},
		{{"a": nil}, {"a": false}},
		{{"a": false}, {"a": true}},
		{{"a": map[string]any{}}, {"a": []any{}}},
		{{"a": map[string]any{"b": "c"}}, {"a": map[string]any{}, "b": "c"}},
		{{"a": []any{[]any{}, []any{"x"}}}, {"a": []any{[]any{"x"}, []any{}}}},
		{{"a": float64(0)}, {"a": math0Neg()}},
	}
	for i, p := range pairs {
		a, okA := documentDigest("assertionMethod", p[0])
		b, okB := documentDigest("assertionMethod", p[1])
		if !okA || !okB {
			t.Fatalf("pair %d: not digestible", i)
		}
		if a == b {
			t.Errorf("pair %d: %v and %v share a digest", i, p[0], p[1])
		}
	}
	doc := map[string]any{"b": "2", "a": []any{"1", json.Number("3")}}
	same := map[string]any{"a": []any{"1", json.Number("3")}, "b": "2"}
	x, _ := documentDigest("assertionMethod", doc)
	y, _ := documentDigest("assertionMethod", same)
	if x != y {
		t.Error("the same document (members in another order) has two digests")
	}
	z, _ := documentDigest("authentication", doc)
	if x == z {
		t.Error("two purposes share a digest")
	}
	if _, ok := documentDigest("", map[string]any{"a": 1}); ok {
		t.Error("an int (not produced by JSON decoding) was digested")
	}
}

// The digest is SHA-256 over a tagged encoding (tag byte, 8-byte length or
// value, then the bytes; object members sorted), which the digester
// buffers: built here by hand, for a document with a string longer than the
// buffer and more members than the sort's stack space, after a digest that
// failed midway on the same pooled digester.
func TestDocumentDigestEncoding(t *testing.T) {
	long := strings.Repeat("x", 3000)
	doc := map[string]any{"long": long, "n": json.Number("12"), "f": 1.5, "t": true, "z": nil, "l": []any{"a"}}
	for i := range 20 {
		doc[fmt.Sprintf("k%02d", i)] = "v"
	}
	var want []byte
	tag := func(b byte, n uint64) { want = binary.BigEndian.AppendUint64(append(want, b), n) }
	str := func(s string) { tag('s', uint64(len(s))); want = append(want, s...) }
	str("assertionMethod")
	tag('o', uint64(len(doc)))
	names := slices.Sorted(maps.Keys(doc))
	for _, k := range names {
		str(k)
		switch v := doc[k].(type) {
		case string:
			str(v)
		case json.Number:
			tag('n', uint64(len(v)))
			want = append(want, v...)
		case float64:
			tag('f', math.Float64bits(v))
		case bool:
			tag('b', 1)
		case nil:
			tag('z', 0)
		case []any:
			tag('a', 1)
			str("a")
		}
	}
	if _, ok := documentDigest("assertionMethod", map[string]any{"a": strings.Repeat("y", 2000), "b": 1}); ok {
		t.Fatal("an int was digested")
	}
	got, ok := documentDigest("assertionMethod", doc)
	if !ok || got != sha256.Sum256(want) {
		t.Fatalf("digest %x (%v), want %x", got, ok, sha256.Sum256(want))
	}
}

func math0Neg() float64 {
	z := 0.0
	return -z
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
