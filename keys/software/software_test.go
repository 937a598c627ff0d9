package software_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

var signingTypes = []keys.KeyType{keys.Ed25519, keys.P256, keys.P384, keys.P521}

func mustGenerate(t testing.TB, typ keys.KeyType) *software.Key {
	t.Helper()
	k, err := software.Generate(typ)
	if err != nil {
		t.Fatalf("Generate(%s): %v", typ, err)
	}
	return k
}

// privateBytes returns the raw private key bytes of k: the Ed25519 seed and
// the 64-byte expanded form, or the ECDSA scalar.
func privateBytes(t *testing.T, k *software.Key) [][]byte {
	t.Helper()
	d, err := base64.RawURLEncoding.DecodeString(k.PrivateJWK().D)
	if err != nil || len(d) == 0 {
		t.Fatalf("private JWK d: %v", err)
	}
	out := [][]byte{d}
	if k.KeyType() == keys.Ed25519 {
		out = append(out, ed25519.NewKeyFromSeed(d))
	}
	return out
}

// leakForms are the encodings under which private bytes could show up.
func leakForms(secret []byte) []string {
	return []string{
		string(secret),
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret),
		base64.RawStdEncoding.EncodeToString(secret),
		base64.RawURLEncoding.EncodeToString(secret),
		fmt.Sprint(secret),
	}
}

func assertNoLeak(t *testing.T, k *software.Key, what string, out []byte) {
	t.Helper()
	for _, secret := range privateBytes(t, k) {
		for _, form := range leakForms(secret) {
			if bytes.Contains(out, []byte(form)) {
				t.Fatalf("%s leaks the private key (as %q):\n%s", what, form, out)
			}
		}
	}
}

func mustVerify(t *testing.T, s keys.Signer, pub any) {
	t.Helper()
	msg := []byte("message " + s.URI())
	sig, err := s.Sign(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Verify(pub, s.Algorithm(), msg, sig); err != nil {
		t.Fatalf("signature of %s does not verify: %v", s.URI(), err)
	}
}

var uriPattern = regexp.MustCompile(`^software:[a-z2-7]{26}$`)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range signingTypes {
		k := mustGenerate(t, typ)
		if k.KeyType() != typ {
			t.Errorf("KeyType() = %s, want %s", k.KeyType(), typ)
		}
		if !uriPattern.MatchString(k.URI()) {
			t.Errorf("URI %q does not match %s", k.URI(), uriPattern)
		}
		if seen[k.URI()] {
			t.Errorf("URI %s repeated", k.URI())
		}
		seen[k.URI()] = true
		got, err := keys.PublicKeyType(k.Public())
		if err != nil || got != typ {
			t.Errorf("public key type %s, %v; want %s", got, err, typ)
		}
		mustVerify(t, k, k.Public())
		if !k.CryptoSigner().Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
			t.Error("CryptoSigner has another public key")
		}
	}
	for _, typ := range []keys.KeyType{keys.X25519, keys.Secp256k1, "rsa", ""} {
		if _, err := software.Generate(typ); !errors.Is(err, keys.ErrUnsupportedKeyType) {
			t.Errorf("Generate(%q): err = %v, want ErrUnsupportedKeyType", typ, err)
		}
	}
}

func TestFromPrivateKey(t *testing.T) {
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := software.FromPrivateKey(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Public().(ed25519.PublicKey).Equal(edPriv.Public()) {
		t.Error("FromPrivateKey changed the public key")
	}
	// An Ed25519 key whose stored public half belongs to another seed.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged := append(append(ed25519.PrivateKey(nil), edPriv[:32]...), other[32:]...)
	if _, err := software.FromPrivateKey(forged); !errors.Is(err, software.ErrPrivateKeyMismatch) {
		t.Errorf("mismatched ed25519 halves: err = %v, want ErrPrivateKeyMismatch", err)
	}

	ecPriv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err = software.FromPrivateKey(ecPriv)
	if err != nil || k.KeyType() != keys.P384 || !ecPriv.PublicKey.Equal(k.Public()) {
		t.Fatalf("FromPrivateKey(P-384) = %v, %v", k, err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	secp, _ := secp256k1.GeneratePrivateKey()
	for _, priv := range []any{p224, secp, "key", nil} {
		if _, err := software.FromPrivateKey(priv); !errors.Is(err, keys.ErrUnsupportedKeyType) {
			t.Errorf("FromPrivateKey(%T): err = %v, want ErrUnsupportedKeyType", priv, err)
		}
	}
}

func TestPrivateJWK(t *testing.T) {
	for _, typ := range signingTypes {
		t.Run(string(typ), func(t *testing.T) {
			k := mustGenerate(t, typ)
			j := k.PrivateJWK()
			pubJWK, err := keys.SignerJWK(k)
			if err != nil {
				t.Fatal(err)
			}
			if j.D == "" || j.Public() != pubJWK {
				t.Fatalf("PrivateJWK = public %+v with d set %v; want public part %+v", j.Public(), j.D != "", pubJWK)
			}
			back, err := software.FromPrivateJWK(j)
			if err != nil {
				t.Fatal(err)
			}
			if back.URI() == k.URI() {
				t.Error("FromPrivateJWK reused the id")
			}
			mustVerify(t, back, k.Public())

			// d of another key with this key's x and y.
			other := mustGenerate(t, typ).PrivateJWK()
			mixed := j
			mixed.D = other.D
			if _, err := software.FromPrivateJWK(mixed); !errors.Is(err, software.ErrPrivateKeyMismatch) {
				t.Errorf("foreign d: err = %v, want ErrPrivateKeyMismatch", err)
			}
			mixed = j
			mixed.X = other.X
			if _, err := software.FromPrivateJWK(mixed); err == nil {
				t.Error("foreign x accepted")
			}

			wrongAlg := j
			wrongAlg.Alg = "ES384"
			if typ == keys.P384 {
				wrongAlg.Alg = "ES256"
			}
			if _, err := software.FromPrivateJWK(wrongAlg); !errors.Is(err, keys.ErrAlgorithmMismatch) {
				t.Errorf("alg %s: err = %v, want ErrAlgorithmMismatch", wrongAlg.Alg, err)
			}
			noAlg := j
			noAlg.Alg, noAlg.Kid = "", ""
			if _, err := software.FromPrivateJWK(noAlg); err != nil {
				t.Errorf("JWK without alg and kid: %v", err)
			}

			for name, d := range map[string]string{
				"missing":  "",
				"not b64":  "!!!",
				"too long": j.D + "AAAA",
				"short":    j.D[:8],
			} {
				bad := j
				bad.D = d
				if _, err := software.FromPrivateJWK(bad); err == nil {
					t.Errorf("d %s accepted", name)
				}
			}
		})
	}
	// An EC scalar of zero is not a key.
	j := mustGenerate(t, keys.P256).PrivateJWK()
	j.D = base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	if _, err := software.FromPrivateJWK(j); err == nil {
		t.Error("zero scalar accepted")
	}
	// Key-agreement keys are not signing keys.
	xj := keys.JWK{Kty: "OKP", Crv: "X25519", X: base64.RawURLEncoding.EncodeToString(make([]byte, 32)), D: "AAAA"}
	if _, err := software.FromPrivateJWK(xj); !errors.Is(err, keys.ErrUnsupportedKeyType) {
		t.Errorf("X25519 JWK: err = %v, want ErrUnsupportedKeyType", err)
	}
}

func TestPrivateJWKFile(t *testing.T) {
	dir := t.TempDir()
	for _, typ := range signingTypes {
		t.Run(string(typ), func(t *testing.T) {
			k := mustGenerate(t, typ)
			path := filepath.Join(dir, string(typ)+".jwk")
			if err := software.WritePrivateJWKFile(path, k); err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("mode = %04o, want 0600", info.Mode().Perm())
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var j keys.JWK
			if err := json.Unmarshal(data, &j); err != nil {
				t.Fatal(err)
			}
			tp, _ := j.Thumbprint()
			if j.D == "" || j.Kid != tp || j.Alg != string(k.Algorithm()) {
				t.Errorf("file JWK has d %v, kid %q (thumbprint %q), alg %q", j.D != "", j.Kid, tp, j.Alg)
			}

			// Never overwrite, and say which file.
			err = software.WritePrivateJWKFile(path, mustGenerate(t, typ))
			if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), path) {
				t.Errorf("second write: err = %v, want fs.ErrExist naming %s", err, path)
			}
			if again, _ := os.ReadFile(path); !bytes.Equal(again, data) {
				t.Error("the refused write changed the file")
			}

			back, err := software.ReadPrivateJWKFile(path)
			if err != nil {
				t.Fatal(err)
			}
			mustVerify(t, back, k.Public())

			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = software.ReadPrivateJWKFile(path)
			if !errors.Is(err, keys.ErrInsecureFileMode) || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("0644 file: err = %v, want ErrInsecureFileMode saying chmod 600", err)
			}
		})
	}

	if _, err := software.ReadPrivateJWKFile(filepath.Join(dir, "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent file: err = %v, want fs.ErrNotExist", err)
	}
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("secret-looking-garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := software.ReadPrivateJWKFile(garbage)
	if err == nil || strings.Contains(err.Error(), "secret-looking") {
		t.Errorf("garbage file: err = %v; want an error that does not quote the file", err)
	}
}

func TestRedaction(t *testing.T) {
	for _, typ := range signingTypes {
		t.Run(string(typ), func(t *testing.T) {
			k := mustGenerate(t, typ)
			var out bytes.Buffer
			values := []any{k, *k, k.CryptoSigner(), struct{ K *software.Key }{k}, struct{ K software.Key }{*k}, []any{k}, map[string]any{"k": k}}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v"} {
				for _, v := range values {
					fmt.Fprintf(&out, verb+"\n", v)
				}
			}
			fmt.Fprintln(&out, k, *k)
			if !strings.Contains(out.String(), k.URI()) || !strings.Contains(out.String(), string(typ)) {
				t.Errorf("formatted key does not show its type and URI:\n%s", out.String())
			}
			assertNoLeak(t, k, "fmt", out.Bytes())

			var logs bytes.Buffer
			for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
				slog.New(h).Info("key", "key", k, "value", *k, "signer", k.CryptoSigner(), "any", any(k))
			}
			if !strings.Contains(logs.String(), k.URI()) {
				t.Errorf("log does not show the URI:\n%s", logs.String())
			}
			assertNoLeak(t, k, "slog", logs.Bytes())

			for _, v := range []any{k, *k, struct{ K *software.Key }{k}, struct{ K software.Key }{*k}} {
				data, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				assertNoLeak(t, k, "json.Marshal", data)
				if !bytes.Contains(data, []byte(k.URI())) || !bytes.Contains(data, []byte(`"publicKeyJwk"`)) {
					t.Errorf("json.Marshal = %s; want the URI and public JWK", data)
				}
			}

			// The explicit export does contain it (so the checks above can fail).
			data, _ := json.Marshal(k.PrivateJWK())
			if !bytes.Contains(data, []byte(base64.RawURLEncoding.EncodeToString(privateBytes(t, k)[0]))) {
				t.Fatal("leak check is blind: the private JWK does not contain d")
			}
		})
	}
}
