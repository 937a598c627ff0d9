package tpm_test

import (
	"context"
	"testing"

	"github.com/agentid/agentid/keys/tpm"
	"github.com/agentid/agentid/keys/tpm/tpmtest"
)

// benchEach runs f on the simulator and on a fresh swtpm.
func benchEach(b *testing.B, f func(b *testing.B, tp *tpm.TPM)) {
	b.Run("sim", func(b *testing.B) { f(b, tpmtest.Simulator(b)) })
	b.Run("swtpm", func(b *testing.B) {
		tp, err := tpm.Open(tpmtest.Swtpm(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tp.Close() })
		f(b, tp)
	})
}

// BenchmarkSign is the latency of one ES256 signature by a loaded TPM key
// (SHA-256 in Go, TPM2_Sign in the TPM).
func BenchmarkSign(b *testing.B) {
	benchEach(b, func(b *testing.B, tp *tpm.TPM) {
		ctx := context.Background()
		k, err := tp.CreateKey(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		defer k.Close()
		msg := []byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9")
		b.ResetTimer()
		for b.Loop() {
			if _, err := k.Sign(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAttest is the cost of producing evidence: EK, EK certificate
// lookup, AK, TPM2_Certify.
func BenchmarkAttest(b *testing.B) {
	benchEach(b, func(b *testing.B, tp *tpm.TPM) {
		ctx := context.Background()
		k, err := tp.CreateKey(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		defer k.Close()
		nonce := make([]byte, 32)
		b.ResetTimer()
		for b.Loop() {
			if _, err := tp.Attest(ctx, k, nonce); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCreateKey is the cost of a new agent key (SRK, TPM2_Create,
// TPM2_Load).
func BenchmarkCreateKey(b *testing.B) {
	benchEach(b, func(b *testing.B, tp *tpm.TPM) {
		ctx := context.Background()
		for b.Loop() {
			k, err := tp.CreateKey(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			_ = k.Close()
		}
	})
}

// BenchmarkActivate is the agent's half of an activation round trip: the
// challenge is made once in software, and each iteration makes the EK and
// the AK again and runs TPM2_ActivateCredential.
func BenchmarkActivate(b *testing.B) {
	benchEach(b, func(b *testing.B, tp *tpm.TPM) {
		ctx := context.Background()
		k, err := tp.CreateKey(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		defer k.Close()
		a, err := tp.Attest(ctx, k, []byte("nonce"))
		if err != nil {
			b.Fatal(err)
		}
		ch := challenge(b, a.Evidence, a.AKName(), []byte("0123456789abcdef"))
		b.ResetTimer()
		for b.Loop() {
			if _, err := a.Activate(ctx, ch); err != nil {
				b.Fatal(err)
			}
		}
	})
}
