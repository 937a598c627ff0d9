package dataintegrity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/testvectors"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-varint"
)

// Multicodec codes of private keys (multicodec table: ed25519-priv,
// p256-priv, p384-priv).
const (
	codecEd25519Priv = 0x1300
	codecP256Priv    = 0x1306
	codecP384Priv    = 0x1307
)

// decodeSecretMultikey decodes a Multikey secret key (base58btc multibase,
// multicodec varint header, raw key) as the W3C vectors carry them.
func decodeSecretMultikey(s string) (crypto.PrivateKey, error) {
	enc, data, err := multibase.Decode(s)
	if err != nil || enc != multibase.Base58BTC {
		return nil, fmt.Errorf("secret multikey: not base58btc: %v", err)
	}
	code, n, err := varint.FromUvarint(data)
	if err != nil {
		return nil, fmt.Errorf("secret multikey: %w", err)
	}
	raw := data[n:]
	switch code {
	case codecEd25519Priv:
		if len(raw) != ed25519.SeedSize {
			return nil, fmt.Errorf("ed25519 seed is %d bytes", len(raw))
		}
		return ed25519.NewKeyFromSeed(raw), nil
	case codecP256Priv:
		return ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	case codecP384Priv:
		return ecdsa.ParseRawPrivateKey(elliptic.P384(), raw)
	}
	return nil, fmt.Errorf("secret multikey: unsupported multicodec 0x%x", code)
}

// keyPair is a vector key pair file.
type keyPair struct {
	PublicKeyMultibase  string `json:"publicKeyMultibase"`
	PrivateKeyMultibase string `json:"privateKeyMultibase"`
	SecretKeyMultibase  string `json:"secretKeyMultibase"`
}

// signerFor loads a vector key pair as a keys.Signer and checks that its
// public key is the pair's publicKeyMultibase. It returns the signer and
// its did:key verification method.
func signerFor(t testing.TB, kp keyPair) (keys.Signer, string) {
	t.Helper()
	secret := kp.SecretKeyMultibase
	if secret == "" {
		secret = kp.PrivateKeyMultibase
	}
	priv, err := decodeSecretMultikey(secret)
	if err != nil {
		t.Fatal(err)
	}
	s, err := software.FromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keys.EncodeMultikey(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	if pub != kp.PublicKeyMultibase {
		t.Fatalf("secret key derives %s, pair says %s", pub, kp.PublicKeyMultibase)
	}
	return s, "did:key:" + pub + "#" + pub
}

func vectorPath(t testing.TB, elem ...string) string {
	t.Helper()
	return testvectors.Path(t, elem...)
}

func readJSON(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func readKeyPair(t testing.TB, path string) keyPair {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kp keyPair
	if err := json.Unmarshal(data, &kp); err != nil {
		t.Fatal(err)
	}
	return kp
}

func readText(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func readHex(t testing.TB, path string) string {
	t.Helper()
	return strings.ToLower(strings.TrimSpace(readText(t, path)))
}

// clone deep-copies a JSON value through encoding/json.
func clone(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func registry() *didmethods.Registry { return didmethods.NewDefaultRegistry() }
