package didmethods

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/testvectors"
	"github.com/agentid/agentid/keys"
)

// knownCodes are the codes a resolution error may carry.
var knownCodes = map[string]bool{
	CodeInvalidDID: true, CodeNotFound: true, CodeMethodNotSupported: true,
	CodeInvalidPublicKey: true, CodeInvalidPublicKeyLength: true, CodeInvalidPublicKeyType: true,
	CodeUnsupportedPublicKeyType: true, CodeInternalError: true,
}

// vectorDIDs returns every DID of the did:key vector files.
func vectorDIDs(f *testing.F) []string {
	dir := testvectors.Path(f, "did-key")
	var out []string
	for _, name := range []string{"ed25519-x25519.json", "nist-curves.json", "secp256k1.json"} {
		var m map[string]json.RawMessage
		if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil && json.Unmarshal(data, &m) == nil {
			for did := range m {
				out = append(out, did)
			}
		}
	}
	var x struct {
		DIDDocument map[string]json.RawMessage `json:"didDocument"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, "x25519.json")); err == nil && json.Unmarshal(data, &x) == nil {
		for did := range x.DIDDocument {
			out = append(out, did)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "multikey-documents", "*.json"))
	for _, file := range files {
		var v struct {
			DID string `json:"did"`
		}
		if data, err := os.ReadFile(file); err == nil && json.Unmarshal(data, &v) == nil {
			out = append(out, v.DID)
		}
	}
	if len(out) == 0 {
		f.Log("did:key vectors not found: seeding with built-in DIDs only")
	}
	return out
}

var allFormats = []string{FormatMultikey, FormatJsonWebKey2020, FormatEd25519VerificationKey2020, FormatX25519KeyAgreementKey2020,
	FormatEd25519VerificationKey2018, FormatX25519KeyAgreementKey2019, FormatEcdsaSecp256k1VerificationKey2019, FormatP256Key2021}

func FuzzParseDIDKey(f *testing.F) {
	for _, did := range vectorDIDs(f) {
		f.Add(did)
	}
	for _, s := range []string{"", "did:key:", "did:key:z", "did:key:abc", "did:key:z0OIl", "did:key:1:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
		"did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp#x", "did:key:z1111", "did:key:zQ3s", "did:key:zDnae", "did:key:z82L", "did:key:z2J9"} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, did string) {
		typ, pub, perr := ParseDIDKey(did)
		res, err := KeyResolver{}.Resolve(ctx, did, ResolveOptions{})
		if (perr == nil) != (err == nil) {
			t.Fatalf("ParseDIDKey error %v, Resolve error %v", perr, err)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !knownCodes[e.Code] || e.Code != ErrorCode(perr) {
				t.Fatalf("error %v (parse: %v)", err, perr)
			}
			if res != nil {
				t.Fatal("result with an error")
			}
			return
		}
		if !strings.HasPrefix(did, "did:key:z") || len(did) > MaxDIDKeyLength {
			t.Fatalf("accepted %q", did)
		}
		doc := res.Document
		if doc == nil || doc.ID != did || len(doc.VerificationMethod) != 1 {
			t.Fatalf("document %+v", doc)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatal(err)
		}
		// Round trip: the method's key gives the same DID and key type.
		back, err := doc.VerificationMethod[0].PublicKey()
		if err != nil {
			t.Fatalf("method key: %v", err)
		}
		if again, err := CreateKey(back); err != nil || again != did {
			t.Fatalf("round trip %q → %q (%v)", did, again, err)
		}
		if typ2, _ := keys.PublicKeyType(back); typ2 != typ || !equalKeys(pub, back) {
			t.Fatalf("key type %s, parsed %s", typ2, typ)
		}
		// Every format either refuses the key type or round-trips too.
		for _, format := range allFormats {
			r, err := KeyResolver{}.Resolve(ctx, did, ResolveOptions{PublicKeyFormat: format, EnableEncryptionKeyDerivation: true})
			if err != nil {
				if ErrorCode(err) != CodeInvalidPublicKeyType {
					t.Fatalf("%s: %v", format, err)
				}
				continue
			}
			for _, vm := range r.Document.VerificationMethod {
				k, err := vm.PublicKey()
				if err != nil {
					t.Fatalf("%s: %s: %v", format, vm.ID, err)
				}
				if d, _ := CreateKey(k); vm.ID != did+"#"+strings.TrimPrefix(d, "did:key:") {
					t.Fatalf("%s: method id %s for key %s", format, vm.ID, d)
				}
			}
		}
	})
}

func FuzzRegistryResolve(f *testing.F) {
	for _, did := range vectorDIDs(f) {
		f.Add(did)
	}
	for _, s := range []string{specJWKP256, specJWKX25519, "did:web:example.com", "did:web:example.com%3A8443:user:alice",
		"did:web:localhost", "did:web:127.0.0.1", "did:example:123", "did:jwk:e30", "did:", "did:a:b%41", "did:key:z6Mk#frag"} {
		f.Add(s)
	}
	var lookups atomic.Int64
	check := func(_ context.Context, _ string, ip net.IP) error {
		if ip != nil {
			lookups.Add(1) // a name was looked up: the network was used
		}
		return errors.New("network is off while fuzzing")
	}
	reg := NewDefaultRegistry(WithDialCheck(check), WithTimeout(time.Second), WithCacheSize(64))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, did string) {
		res, err := reg.Resolve(ctx, did, ResolveOptions{})
		if lookups.Load() != 0 {
			t.Fatal("did:web resolution went past the dial check")
		}
		if err != nil {
			if !knownCodes[ErrorCode(err)] || res != nil {
				t.Fatalf("error %v, result %v", err, res)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		if strings.HasPrefix(did, "did:web:") {
			t.Fatalf("did:web resolved with the network off: %q", did)
		}
		if res.Document == nil || res.Document.ID != did {
			t.Fatalf("document %+v for %q", res.Document, did)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatal(err)
		}
		for _, vm := range res.Document.VerificationMethod {
			if _, err := vm.PublicKey(); err != nil {
				t.Fatalf("%s: %v", vm.ID, err)
			}
			if _, err := reg.Dereference(ctx, vm.ID, ResolveOptions{}); err != nil {
				t.Fatalf("dereference %s: %v", vm.ID, err)
			}
		}
	})
}

func BenchmarkResolveKey(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct{ name, did string }{
		{"Ed25519", "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"},
		{"P-256", "did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := (KeyResolver{}).Resolve(ctx, c.did, ResolveOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/cached", func(b *testing.B) {
			reg := NewDefaultRegistry()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reg.Resolve(ctx, c.did, ResolveOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCreateKey(b *testing.B) {
	for typ, pub := range randomKeys(b) {
		if typ != keys.Ed25519 && typ != keys.P256 {
			continue
		}
		b.Run(string(typ), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CreateKey(pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzDocumentJSON feeds hostile did:web documents to the Document parser:
// parsing never panics, and what parses re-marshals to a fixed point that
// Clone preserves.
func FuzzDocumentJSON(f *testing.F) {
	doc, _ := webDoc(f, "did:web:example.com")
	f.Add([]byte(doc))
	f.Add([]byte(`{"@context":"https://www.w3.org/ns/did/v1","id":"did:web:example.com","controller":["a","b"],"keyAgreement":[{"id":"#x","type":"X25519KeyAgreementKey2019","controller":"c","publicKeyBase58":"4Dy8E9UaZscuPUf2GLxV44RCNL7oxmEXXkgWXaug1WKV"}]}`))
	f.Add([]byte(`{"id":"x","verificationMethod":[{"id":"#1","type":"EcdsaSecp256k1VerificationKey2019","publicKeyBase58":"23o6Sau8NxxzXcgSc3PLcNxrzrZpbLeBn1izfv3jbKhuv"}],"service":[{"id":"#s","type":"T","serviceEndpoint":"https://x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Document
		if json.Unmarshal(data, &d) != nil {
			return
		}
		for _, rel := range []Relationship{Authentication, AssertionMethod, KeyAgreement, CapabilityInvocation, CapabilityDelegation} {
			for _, ref := range d.Relationship(rel) {
				d.Authorizes(rel, ref.MethodID())
				d.VerificationMethodByID(ref.MethodID())
				if ref.Embedded != nil {
					_, _ = ref.Embedded.PublicKey() // must not panic
				}
			}
		}
		for i := range d.VerificationMethod {
			_, _ = d.VerificationMethod[i].PublicKey() // must not panic
		}
		first, err := json.Marshal(&d)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var again Document
		if err := json.Unmarshal(first, &again); err != nil {
			t.Fatalf("re-parse %s: %v", first, err)
		}
		second, _ := json.Marshal(&again)
		clone, _ := json.Marshal(d.Clone())
		if string(first) != string(second) || string(first) != string(clone) {
			t.Fatalf("not a fixed point:\n%s\n%s\n%s", first, second, clone)
		}
	})
}
