package didmethods

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/agentid/agentid/internal/testvectors"
	"github.com/agentid/agentid/keys"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// vectorsDir is shared/vectors/did-key beside the checkout (or under
// $AGENTID_VECTORS).
func vectorsDir(t testing.TB) string {
	t.Helper()
	return testvectors.Path(t, "did-key")
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// jsonValue turns v into the generic JSON value it marshals to.
func jsonValue(t testing.TB, v any) any {
	t.Helper()
	data, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

// assertSameJSON compares got and want as parsed JSON values (every member,
// array order significant, object member order not).
func assertSameJSON(t testing.TB, got any, want json.RawMessage) {
	t.Helper()
	g, w := jsonValue(t, got), jsonValue(t, want)
	if !reflect.DeepEqual(g, w) {
		gj, _ := json.MarshalIndent(g, "", "  ")
		wj, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("JSON differs\n got: %s\nwant: %s", gj, wj)
	}
}

// firstMethodType is the type of the first verification method of a vector
// document: the publicKeyFormat that produced it.
func firstMethodType(t testing.TB, doc json.RawMessage) string {
	t.Helper()
	var d struct {
		VerificationMethod []struct {
			Type string `json:"type"`
		} `json:"verificationMethod"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || len(d.VerificationMethod) == 0 {
		t.Fatalf("vector document without verification method: %v", err)
	}
	return d.VerificationMethod[0].Type
}

// keyPair is a key pair of the 2022 did:key vectors.
type keyPair struct {
	ID               string    `json:"id"`
	Type             string    `json:"type"`
	Controller       string    `json:"controller"`
	PublicKeyBase58  string    `json:"publicKeyBase58"`
	PrivateKeyBase58 string    `json:"privateKeyBase58"`
	PublicKeyJwk     *keys.JWK `json:"publicKeyJwk"`
	PrivateKeyJwk    *keys.JWK `json:"privateKeyJwk"`
}

// specVector is one entry of the 2022 did:key vector files.
type specVector struct {
	Seed                string          `json:"seed"`
	VerificationKeyPair *keyPair        `json:"verificationKeyPair"`
	VerificationMethod  *keyPair        `json:"verificationMethod"`
	KeyAgreementKeyPair *keyPair        `json:"keyAgreementKeyPair"`
	DIDDocument         json.RawMessage `json:"didDocument"`
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mustB58(t testing.TB, s string) []byte {
	t.Helper()
	raw, err := decodeBase58(s)
	if err != nil {
		t.Fatalf("base58 %q: %v", s, err)
	}
	return raw
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return raw
}

// checkDocument resolves did in the format of the vector's document and
// compares the two.
func checkDocument(t *testing.T, did string, want json.RawMessage) {
	t.Helper()
	format := firstMethodType(t, want)
	res, err := KeyResolver{}.Resolve(context.Background(), did, ResolveOptions{PublicKeyFormat: format})
	if err != nil {
		t.Fatalf("resolve with %s: %v", format, err)
	}
	assertSameJSON(t, res.Document, want)
}

// checkDIDOf asserts that the did:key of pub is did.
func checkDIDOf(t *testing.T, pub crypto.PublicKey, did string) {
	t.Helper()
	got, err := CreateKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if got != did {
		t.Errorf("key gives %s, want %s", got, did)
	}
}

// runVectors runs check on each entry and logs how many passed.
func runVectors[V any](t *testing.T, file string, entries map[string]V, check func(t *testing.T, did string, v V)) {
	t.Helper()
	if len(entries) == 0 {
		t.Fatalf("%s: no entries", file)
	}
	pass := 0
	for _, did := range sortedKeys(entries) {
		if t.Run(did, func(t *testing.T) { check(t, did, entries[did]) }) {
			pass++
		}
	}
	t.Logf("%s: %d/%d entries pass", file, pass, len(entries))
}

func TestVectorsMultikeyDocuments(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vectorsDir(t), "multikey-documents", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no multikey documents: %v", err)
	}
	reg := NewDefaultRegistry(WithDialCheck(refuseAll))
	type vector struct {
		DID         string          `json:"did"`
		DIDDocument json.RawMessage `json:"didDocument"`
		Deref       struct {
			URL      string          `json:"url"`
			Document json.RawMessage `json:"document"`
		} `json:"dereferencedVerificationMethod"`
	}
	entries := map[string]vector{}
	for _, f := range files {
		var v vector
		readJSON(t, f, &v)
		entries[v.DID] = v
	}
	runVectors(t, "multikey-documents", entries, func(t *testing.T, did string, v vector) {
		ctx := context.Background()
		// The default options, directly and through the registry's cache.
		for _, r := range []Resolver{KeyResolver{}, reg, reg} {
			res, err := r.Resolve(ctx, did, ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, res.Document, v.DIDDocument)
		}
		vm, err := reg.Dereference(ctx, v.Deref.URL, ResolveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		assertSameJSON(t, vm, v.Deref.Document)
	})
}

func TestVectorsEd25519X25519(t *testing.T) {
	var entries map[string]specVector
	readJSON(t, filepath.Join(vectorsDir(t), "ed25519-x25519.json"), &entries)
	runVectors(t, "ed25519-x25519.json", entries, func(t *testing.T, did string, v specVector) {
		checkDocument(t, did, v.DIDDocument)

		seed, err := hex.DecodeString(v.Seed)
		if err != nil || len(seed) != ed25519.SeedSize {
			t.Fatalf("seed %q: %v", v.Seed, err)
		}
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		checkDIDOf(t, pub, did)
		xpub, err := keys.X25519FromEd25519(pub)
		if err != nil {
			t.Fatal(err)
		}

		vk, ka := v.VerificationKeyPair, v.KeyAgreementKeyPair
		if vk.PublicKeyBase58 != "" {
			if !bytes.Equal(mustB58(t, vk.PublicKeyBase58), pub) {
				t.Error("verificationKeyPair.publicKeyBase58 is not the seed's public key")
			}
		}
		if vk.PrivateKeyJwk != nil {
			if !bytes.Equal(mustB64(t, vk.PrivateKeyJwk.D), seed) {
				t.Error("privateKeyJwk.d is not the seed")
			}
			if j, _ := keys.PublicJWK(pub); j != *vk.PublicKeyJwk {
				t.Errorf("public JWK %+v, want %+v", j, *vk.PublicKeyJwk)
			}
		}
		// The derived X25519 key, and the X25519 private key that goes with it.
		var xPublic, xPrivate []byte
		if ka.PublicKeyBase58 != "" {
			xPublic, xPrivate = mustB58(t, ka.PublicKeyBase58), mustB58(t, ka.PrivateKeyBase58)
		} else {
			xPublic, xPrivate = mustB64(t, ka.PublicKeyJwk.X), mustB64(t, ka.PrivateKeyJwk.D)
		}
		if !bytes.Equal(xPublic, xpub.Bytes()) {
			t.Error("keyAgreementKeyPair public key is not the X25519 key derived from the Ed25519 key")
		}
		priv, err := ecdh.X25519().NewPrivateKey(xPrivate)
		if err != nil {
			t.Fatal(err)
		}
		if !priv.PublicKey().Equal(xpub) {
			t.Error("keyAgreementKeyPair private key does not match the derived public key")
		}
		if xmb, _ := keys.EncodeMultikey(xpub); ka.ID != "#"+xmb && ka.ID != did+"#"+xmb {
			t.Errorf("keyAgreementKeyPair.id %s, derived key is %s", ka.ID, xmb)
		}
	})
}

func TestVectorsNISTCurves(t *testing.T) {
	var entries map[string]specVector
	readJSON(t, filepath.Join(vectorsDir(t), "nist-curves.json"), &entries)
	curves := map[string]struct {
		curve ecdh.Curve
		typ   keys.KeyType
	}{
		"P-256": {ecdh.P256(), keys.P256},
		"P-384": {ecdh.P384(), keys.P384},
		"P-521": {ecdh.P521(), keys.P521},
	}
	runVectors(t, "nist-curves.json", entries, func(t *testing.T, did string, v specVector) {
		checkDocument(t, did, v.DIDDocument)

		vm := v.VerificationMethod
		var d []byte
		c := curves["P-256"]
		if vm.PrivateKeyJwk != nil {
			d = mustB64(t, vm.PrivateKeyJwk.D)
			c = curves[vm.PrivateKeyJwk.Crv]
		} else {
			d = mustB58(t, vm.PrivateKeyBase58)
		}
		priv, err := c.curve.NewPrivateKey(d)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := keys.ParsePublicKey(c.typ, priv.PublicKey().Bytes())
		if err != nil {
			t.Fatal(err)
		}
		checkDIDOf(t, pub, did)
		if vm.PublicKeyJwk != nil {
			if j, _ := keys.PublicJWK(pub); j != *vm.PublicKeyJwk {
				t.Errorf("public JWK %+v, want %+v", j, *vm.PublicKeyJwk)
			}
		}
		if vm.PublicKeyBase58 != "" {
			if raw, _ := compactKey(pub); !bytes.Equal(mustB58(t, vm.PublicKeyBase58), raw) {
				t.Error("publicKeyBase58 is not the compressed public key")
			}
		}
	})
}

func TestVectorsSecp256k1(t *testing.T) {
	var entries map[string]specVector
	readJSON(t, filepath.Join(vectorsDir(t), "secp256k1.json"), &entries)
	runVectors(t, "secp256k1.json", entries, func(t *testing.T, did string, v specVector) {
		checkDocument(t, did, v.DIDDocument)

		kp := v.VerificationKeyPair
		var d []byte
		if v.Seed != "" {
			var err error
			if d, err = hex.DecodeString(v.Seed); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mustB58(t, kp.PrivateKeyBase58), d) {
				t.Error("privateKeyBase58 is not the seed")
			}
		} else {
			d = mustB64(t, kp.PrivateKeyJwk.D)
		}
		pub := secp256k1.PrivKeyFromBytes(d).PubKey()
		checkDIDOf(t, pub, did)
		if kp.PublicKeyBase58 != "" && !bytes.Equal(mustB58(t, kp.PublicKeyBase58), pub.SerializeCompressed()) {
			t.Error("publicKeyBase58 is not the compressed public key")
		}
		if kp.PublicKeyJwk != nil {
			if j, _ := keys.PublicJWK(pub); j != *kp.PublicKeyJwk {
				t.Errorf("public JWK %+v, want %+v", j, *kp.PublicKeyJwk)
			}
		}
	})
}

func TestVectorsX25519(t *testing.T) {
	var file struct {
		DIDDocument map[string]json.RawMessage `json:"didDocument"`
	}
	readJSON(t, filepath.Join(vectorsDir(t), "x25519.json"), &file)
	runVectors(t, "x25519.json", file.DIDDocument, func(t *testing.T, did string, doc json.RawMessage) {
		checkDocument(t, did, doc)
		typ, pub, err := ParseDIDKey(did)
		if err != nil || typ != keys.X25519 {
			t.Fatalf("ParseDIDKey: %v, %v", typ, err)
		}
		// The default (Multikey) document lists the key under keyAgreement only.
		res, err := KeyResolver{}.Resolve(context.Background(), did, ResolveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d := res.Document
		if len(d.KeyAgreement) != 1 || d.Authentication != nil || d.AssertionMethod != nil || d.CapabilityInvocation != nil || d.CapabilityDelegation != nil {
			t.Errorf("X25519 relationships: %+v", d)
		}
		got, err := d.VerificationMethod[0].PublicKey()
		if err != nil || !got.(*ecdh.PublicKey).Equal(pub) {
			t.Errorf("Multikey method key: %v", err)
		}
	})
}

// The did:key spec's own example DID (v0.7 §Create) in its 2020 format.
func TestSpecExampleEd25519VerificationKey2020(t *testing.T) {
	const did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	const vm = did + "#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	const ka = did + "#z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p"
	want := `{
	  "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/ed25519-2020/v1", "https://w3id.org/security/suites/x25519-2020/v1"],
	  "id": "` + did + `",
	  "verificationMethod": [
	    {"id": "` + vm + `", "type": "Ed25519VerificationKey2020", "controller": "` + did + `", "publicKeyMultibase": "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"},
	    {"id": "` + ka + `", "type": "X25519KeyAgreementKey2020", "controller": "` + did + `", "publicKeyMultibase": "z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p"}
	  ],
	  "authentication": ["` + vm + `"], "assertionMethod": ["` + vm + `"],
	  "capabilityDelegation": ["` + vm + `"], "capabilityInvocation": ["` + vm + `"],
	  "keyAgreement": ["` + ka + `"]
	}`
	res, err := KeyResolver{}.Resolve(context.Background(), did, ResolveOptions{PublicKeyFormat: FormatEd25519VerificationKey2020, EnableEncryptionKeyDerivation: true})
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, res.Document, json.RawMessage(want))
}
