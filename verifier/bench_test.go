package verifier

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/keys"
)

// The benchmarks below put each verification next to the bare signature
// verifications it contains, in the same run, so that the pipeline's
// overhead reads as a ratio that does not depend on the machine:
//
//	go test -run '^$' -bench . -benchmem ./verifier/
//
// The verify sub-benchmarks also report verified/s (one goroutine) and the
// 50th and 99th percentile of one verification's time.
//
// BenchmarkSDJWTPresentation/verify against .../signatures-only is the
// cost of a whole SD-JWT VC presentation verification (parse, issuer key
// from did:key, issuer JWS, disclosures, validity, KB-JWT, sd_hash, nonce,
// aud, trust, result) over the issuer's and the KB-JWT's ES256 verifies.

// latencies records each operation's time and reports the rate and the
// 50th and 99th percentiles.
type latencies []time.Duration

func (l *latencies) time(f func()) {
	start := time.Now()
	f()
	*l = append(*l, time.Since(start))
}

func (l latencies) report(b *testing.B, unit string) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	var total time.Duration
	for _, d := range l {
		total += d
	}
	b.ReportMetric(float64(len(l))/total.Seconds(), unit)
	b.ReportMetric(float64(l[len(l)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(l[len(l)*99/100].Microseconds()), "p99-µs")
}

func benchParty(b *testing.B, typ keys.KeyType) party {
	b.Helper()
	k, did, vm := testkeys.New(b, typ)
	return party{key: k, did: did, vm: vm}
}

// benchSDJWTPresentation is an SD-JWT VC by iss about holder, presented
// with two of its three disclosures and a KB-JWT for nonce "n-1" and
// audience "https://rp.example".
func benchSDJWTPresentation(b *testing.B, iss, holder party) string {
	b.Helper()
	s, err := sdjwt.IssueVC(ctx, iss.key, sdjwt.VC{
		Issuer: iss.did, KeyID: iss.vm, Type: "https://agentid.dev/vct/agent-identity/v1",
		Claims:    map[string]any{"sub": holder.did, "name": "invoice-bot", "operator": iss.did, "principal": "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"},
		HolderKey: holder.key.Public(), IssuedAt: time.Now().Add(-time.Hour), Expiry: time.Now().Add(24 * time.Hour),
	}, sdjwt.IssueOptions{Disclose: []string{"/name", "/operator", "/principal"}})
	if err != nil {
		b.Fatal(err)
	}
	p, err := sdjwt.Present(ctx, s, sdjwt.PresentOptions{Disclose: []string{"/name", "/principal"},
		KeyBinding: &sdjwt.KeyBinding{Signer: holder.key, Audience: "https://rp.example", Nonce: "n-1", IssuedAt: time.Now()}})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// es256Input splits a compact JWS into its signing input's SHA-256 and its
// r‖s signature.
func es256Input(b *testing.B, jws string) (digest []byte, r, s *big.Int) {
	b.Helper()
	i := strings.LastIndexByte(jws, '.')
	sig, err := base64.RawURLEncoding.DecodeString(jws[i+1:])
	if err != nil || len(sig) != 64 {
		b.Fatalf("ES256 signature: %v (%d bytes)", err, len(sig))
	}
	d := sha256.Sum256([]byte(jws[:i]))
	return d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
}

func BenchmarkSDJWTPresentation(b *testing.B) {
	iss, holder := benchParty(b, keys.P256), benchParty(b, keys.P256)
	pres := benchSDJWTPresentation(b, iss, holder)
	v := New()
	opts := Options{Challenge: "n-1", Domain: "https://rp.example"}
	if res := v.VerifyPresentation(ctx, pres, opts); !res.Verified {
		b.Fatalf("not verified: %s", dump(res))
	}
	b.Run("verify", func(b *testing.B) { timedVerify(b, func() *Result { return v.VerifyPresentation(ctx, pres, opts) }) })
	// The two ES256 verifications the presentation needs: the issuer's JWS
	// and the KB-JWT, each hashing its own signing input.
	parsed, err := sdjwt.ParseCompact(pres, sdjwt.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	issPub := iss.key.Public().(*ecdsa.PublicKey)
	holderPub := holder.key.Public().(*ecdsa.PublicKey)
	signatures := func() {
		d1, r1, s1 := es256Input(b, parsed.IssuerJWT)
		d2, r2, s2 := es256Input(b, parsed.KeyBindingJWT)
		if !ecdsa.Verify(issPub, d1, r1, s1) || !ecdsa.Verify(holderPub, d2, r2, s2) {
			b.Fatal("signature does not verify")
		}
	}
	b.Run("signatures-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			signatures()
		}
	})
	// ratio alternates the two in one loop, so that a busy machine slows
	// both alike, and reports verify's time over the signatures' time.
	b.Run("ratio", func(b *testing.B) {
		var tVerify, tSigs time.Duration
		for b.Loop() {
			start := time.Now()
			if res := v.VerifyPresentation(ctx, pres, opts); !res.Verified {
				b.Fatal("not verified")
			}
			mid := time.Now()
			signatures()
			tVerify += mid.Sub(start)
			tSigs += time.Since(mid)
		}
		b.ReportMetric(float64(tVerify)/float64(tSigs), "verify/signatures")
		b.ReportMetric(float64(tVerify.Nanoseconds())/float64(b.N), "verify-ns/op")
		b.ReportMetric(float64(tSigs.Nanoseconds())/float64(b.N), "signatures-ns/op")
	})
}

// benchDIPresentation is an eddsa-rdfc-2022 AgentIdentityCredential by an
// Ed25519 issuer about agent, inside a VC 2.0 presentation with agent's
// eddsa-rdfc-2022 authentication proof for challenge "c-1".
func benchDIPresentation(b *testing.B, iss, agent party) (vc, vp map[string]any) {
	b.Helper()
	raw, err := os.ReadFile("../schemas/testdata/agent-identity.json")
	if err != nil {
		b.Fatal(err)
	}
	cred, err := credential.DecodeObject(raw)
	if err != nil {
		b.Fatal(err)
	}
	cred["issuer"] = iss.did
	cred["credentialSubject"].(map[string]any)["id"] = agent.did
	delete(cred, "credentialStatus")
	cred["validFrom"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cred["validUntil"] = time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	vc, err = dataintegrity.Sign(ctx, cred, iss.key, dataintegrity.ProofOptions{
		Cryptosuite: dataintegrity.EdDSARDFC2022, VerificationMethod: iss.vm, Created: time.Now().Add(-time.Minute),
	})
	if err != nil {
		b.Fatal(err)
	}
	doc := map[string]any{
		"@context":             []any{"https://www.w3.org/ns/credentials/v2"},
		"type":                 []any{"VerifiablePresentation"},
		"holder":               agent.did,
		"verifiableCredential": []any{vc},
	}
	vp, err = dataintegrity.Sign(ctx, doc, agent.key, dataintegrity.ProofOptions{
		Cryptosuite: dataintegrity.EdDSARDFC2022, VerificationMethod: agent.vm, ProofPurpose: dataintegrity.PurposeAuthentication,
		Challenge: "c-1", Domain: []string{"https://rp.example"}, Created: time.Now(),
	})
	if err != nil {
		b.Fatal(err)
	}
	return vc, vp
}

// ed25519Verifies is the signature part of two eddsa-rdfc-2022 proofs: two
// Ed25519 verifications of a 64-byte message (proof hash ‖ document hash).
func ed25519Verifies(b *testing.B, p1, p2 party) {
	msg := make([]byte, 64)
	sig1, err := p1.key.Sign(ctx, msg)
	if err != nil {
		b.Fatal(err)
	}
	sig2, err := p2.key.Sign(ctx, msg)
	if err != nil {
		b.Fatal(err)
	}
	pub1, pub2 := p1.key.Public().(ed25519.PublicKey), p2.key.Public().(ed25519.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub1, msg, sig1) || !ed25519.Verify(pub2, msg, sig2) {
			b.Fatal("signature does not verify")
		}
	}
}

func BenchmarkDataIntegrityPresentation(b *testing.B) {
	iss, agent := benchParty(b, keys.Ed25519), benchParty(b, keys.Ed25519)
	_, vp := benchDIPresentation(b, iss, agent)
	opts := Options{Challenge: "c-1", Domain: "https://rp.example"}
	// verify checks everything every time; verify-repeated lets the
	// verifier remember the embedded credential (WithVerifiedCache), as
	// when an agent presents the same credential in a new presentation on
	// every call: the presentation's proof is verified each time.
	for _, bc := range []struct {
		name string
		v    *Verifier
	}{{"verify", New(WithVerifiedCache(0))}, {"verify-repeated", New()}} {
		if res := bc.v.VerifyPresentation(ctx, vp, opts); !res.Verified {
			b.Fatalf("not verified: %s", dump(res))
		}
		b.Run(bc.name, func(b *testing.B) { timedVerify(b, func() *Result { return bc.v.VerifyPresentation(ctx, vp, opts) }) })
	}
	b.Run("signatures-only", func(b *testing.B) { ed25519Verifies(b, iss, agent) })
}

func BenchmarkDataIntegrityCredential(b *testing.B) {
	iss, agent := benchParty(b, keys.Ed25519), benchParty(b, keys.Ed25519)
	vc, _ := benchDIPresentation(b, iss, agent)
	// verify checks everything every time; verify-repeated is the same
	// credential again with the verifier's memory of credentials that
	// passed (WithVerifiedCache): validity, status and trust only.
	for _, bc := range []struct {
		name string
		v    *Verifier
	}{{"verify", New(WithVerifiedCache(0))}, {"verify-repeated", New()}} {
		if res := bc.v.VerifyCredential(ctx, vc, Options{}); !res.Verified {
			b.Fatalf("not verified: %s", dump(res))
		}
		b.Run(bc.name, func(b *testing.B) {
			timedVerify(b, func() *Result { return bc.v.VerifyCredential(ctx, vc, Options{}) })
		})
	}
}

// timedVerify runs verify in the benchmark loop, failing on a result that
// does not verify, and reports verifications per second and p50/p99.
func timedVerify(b *testing.B, verify func() *Result) {
	b.ReportAllocs()
	var lat latencies
	for b.Loop() {
		lat.time(func() {
			if !verify().Verified {
				b.Fatal("not verified")
			}
		})
	}
	lat.report(b, "verified/s")
}
