package legacy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
)

const (
	ctxEd2020 = "https://w3id.org/security/suites/ed25519-2020/v1"
	ctxJWS    = "https://w3id.org/security/suites/jws-2020/v1"
	ctxEd2018 = "https://w3id.org/security/suites/ed25519-2018/v1"
)

func w3cVector(t *testing.T) map[string]any {
	return readVector(t, "eddsa", "TestVectors", "Ed25519Signature2020", "signedEdSig.json")
}

func TestW3CEd25519Signature2020Vector(t *testing.T) {
	ctx := context.Background()
	doc := w3cVector(t)

	res, err := VerifyProofs(ctx, doc, Options{Resolver: registry(), SkipControllerCheck: true})
	if err != nil {
		t.Fatalf("vector: %v", err)
	}
	if len(res.Proofs) != 1 || res.Proofs[0].Controller != "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2" ||
		res.Proofs[0].Created != time.Date(2023, 2, 24, 23, 36, 38, 0, time.UTC) || res.Signer != "https://vc.example/issuers/5678" {
		t.Fatalf("result: %+v", res)
	}

	// The issuer is a URL, not the key's controller.
	if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry()}); !errors.Is(err, ErrControllerMismatch) {
		t.Fatalf("controller check on: %v", err)
	}

	tampered := clone(t, doc)
	tampered["credentialSubject"].(map[string]any)["alumniOf"] = "The School of Forgery"
	if _, err := VerifyProofs(ctx, tampered, Options{Resolver: registry(), SkipControllerCheck: true}); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("tampered claim: %v", err)
	}

	tampered = clone(t, doc)
	pv := tampered["proof"].(map[string]any)["proofValue"].(string)
	tampered["proof"].(map[string]any)["proofValue"] = pv[:10] + "A" + pv[11:]
	if pv[10] == 'A' {
		tampered["proof"].(map[string]any)["proofValue"] = pv[:10] + "B" + pv[11:]
	}
	if _, err := VerifyProofs(ctx, tampered, Options{Resolver: registry(), SkipControllerCheck: true}); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("tampered proofValue: %v", err)
	}

	if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry(), SkipControllerCheck: true, ProofPurpose: PurposeAuthentication}); !errors.Is(err, ErrProofPurpose) {
		t.Fatalf("wrong purpose: %v", err)
	}

	// Changing the proof's purpose breaks the signature over the proof options.
	tampered = clone(t, doc)
	tampered["proof"].(map[string]any)["proofPurpose"] = PurposeAuthentication
	if _, err := VerifyProofs(ctx, tampered, Options{Resolver: registry(), SkipControllerCheck: true, ProofPurpose: PurposeAuthentication}); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("rewritten purpose: %v", err)
	}

	// An unsigned member added to the proof.
	tampered = clone(t, doc)
	tampered["proof"].(map[string]any)["expires"] = "2020-01-01T00:00:00Z"
	if _, err := VerifyProofs(ctx, tampered, Options{Resolver: registry(), SkipControllerCheck: true}); !errors.Is(err, ErrUnsignedProofMember) {
		t.Fatalf("unsigned member: %v", err)
	}

	// An undefined term (which aries alone would drop from the signature).
	tampered = clone(t, doc)
	tampered["@context"] = []any{"https://www.w3.org/ns/credentials/v2", "https://w3id.org/security/suites/ed25519-2020/v1"}
	if _, err := VerifyProofs(ctx, tampered, Options{Resolver: registry(), SkipControllerCheck: true}); !errors.Is(err, ErrJSONLD) {
		t.Fatalf("undefined term: %v", err)
	}

	// The created date lies after "now".
	if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry(), SkipControllerCheck: true,
		Now: time.Date(2023, 2, 24, 23, 0, 0, 0, time.UTC)}); !errors.Is(err, ErrCreatedInFuture) {
		t.Fatalf("created in the future: %v", err)
	}
	// validFrom 2023-01-01 lies after "now".
	if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry(), SkipControllerCheck: true,
		Now: time.Date(2022, 12, 1, 0, 0, 0, 0, time.UTC)}); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("not yet valid: %v", err)
	}
	// The proof's challenge and domain, when expected.
	if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry(), SkipControllerCheck: true, Challenge: "abc"}); !errors.Is(err, ErrChallenge) {
		t.Fatalf("challenge: %v", err)
	}
	if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry(), SkipControllerCheck: true, Domain: "example.com"}); !errors.Is(err, ErrDomain) {
		t.Fatalf("domain: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		proofType string
		keyType   keys.KeyType
		suiteCtx  string
	}{
		{"Ed25519Signature2020", TypeEd25519Signature2020, keys.Ed25519, ctxEd2020},
		{"JsonWebSignature2020/P-256", TypeJsonWebSignature2020, keys.P256, ctxJWS},
		{"JsonWebSignature2020/P-384", TypeJsonWebSignature2020, keys.P384, ctxJWS},
		{"JsonWebSignature2020/Ed25519", TypeJsonWebSignature2020, keys.Ed25519, ctxJWS},
		{"Ed25519Signature2018", TypeEd25519Signature2018, keys.Ed25519, ctxEd2018}, // VC 1.1 defines it itself
	}
	for _, tc := range cases {
		for _, version := range []string{"1.1", "2.0"} {
			t.Run(tc.name+"/VC"+version, func(t *testing.T) {
				k := newKey(t, tc.keyType)
				suiteCtx := tc.suiteCtx
				if tc.proofType == TypeEd25519Signature2018 {
					suiteCtx = "" // the VC 1.1 context defines it (protected)
				}
				unsigned := vc11(k.did, suiteCtx)
				if version == "2.0" {
					unsigned = vc20(k.did, tc.suiteCtx)
				}
				doc := signLD(t, unsigned, tc.proofType, k, signOpts{})
				res, err := VerifyProofs(ctx, doc, Options{Resolver: registry()})
				if err != nil {
					t.Fatalf("verify: %v\n%v", err, doc)
				}
				if got := res.Proofs[0]; got.Type != tc.proofType || got.Controller != k.did || got.VerificationMethod != k.vm || got.ProofPurpose != PurposeAssertionMethod {
					t.Fatalf("result: %+v", got)
				}

				tampered := clone(t, doc)
				tampered["credentialSubject"].(map[string]any)["degree"] = "PhD"
				if _, err := VerifyProofs(ctx, tampered, Options{Resolver: registry()}); !errors.Is(err, ErrInvalidSignature) {
					t.Fatalf("tampered: %v", err)
				}
				if version == "1.1" {
					// No @vocab: aries alone would drop this claim from the
					// canonical form and accept it unsigned.
					added := clone(t, doc)
					added["unsignedClaim"] = "forged"
					if _, err := VerifyProofs(ctx, added, Options{Resolver: registry()}); !errors.Is(err, ErrJSONLD) {
						t.Fatalf("undefined term: %v", err)
					}
				}
			})
		}
	}
}

func TestPolicy(t *testing.T) {
	ctx := context.Background()
	k := newKey(t, keys.Ed25519)

	t.Run("expired", func(t *testing.T) {
		c := vc11(k.did, ctxEd2020)
		c["issuanceDate"] = "2020-01-01T00:00:00Z"
		c["expirationDate"] = "2021-01-01T00:00:00Z"
		doc := signLD(t, c, TypeEd25519Signature2020, k, signOpts{created: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
		if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry()}); !errors.Is(err, ErrExpired) {
			t.Fatalf("expired: %v", err)
		}
		// Within the skew it still verifies.
		if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry(), Now: time.Date(2021, 1, 1, 0, 4, 0, 0, time.UTC)}); err != nil {
			t.Fatalf("within skew: %v", err)
		}
	})
	t.Run("expired VC 2.0", func(t *testing.T) {
		c := vc20(k.did, ctxEd2020)
		c["validUntil"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		doc := signLD(t, c, TypeEd25519Signature2020, k, signOpts{})
		if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry()}); !errors.Is(err, ErrExpired) {
			t.Fatalf("expired: %v", err)
		}
	})
	t.Run("issuer is not the controller", func(t *testing.T) {
		other := newKey(t, keys.Ed25519)
		doc := signLD(t, vc11(other.did, ctxEd2020), TypeEd25519Signature2020, k, signOpts{})
		if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry()}); !errors.Is(err, ErrControllerMismatch) {
			t.Fatalf("issuer != controller: %v", err)
		}
	})
	t.Run("created in the future", func(t *testing.T) {
		doc := signLD(t, vc11(k.did, ctxEd2020), TypeEd25519Signature2020, k, signOpts{created: time.Now().Add(time.Hour).UTC().Truncate(time.Second)})
		if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry()}); !errors.Is(err, ErrCreatedInFuture) {
			t.Fatalf("future: %v", err)
		}
	})
	t.Run("keyAgreement method", func(t *testing.T) {
		// The X25519 key derived from an Ed25519 did:key is listed under
		// keyAgreement only.
		derive := didmethods.ResolverFunc(func(ctx context.Context, did string, _ didmethods.ResolveOptions) (*didmethods.Resolution, error) {
			return registry().Resolve(ctx, did, didmethods.ResolveOptions{EnableEncryptionKeyDerivation: true})
		})
		res, err := derive.Resolve(ctx, k.did, didmethods.ResolveOptions{})
		if err != nil || len(res.Document.KeyAgreement) == 0 {
			t.Fatalf("resolve: %v", err)
		}
		xvm := res.Document.KeyAgreement[0].ID
		if xvm == "" || xvm[0] == '#' {
			xvm = k.did + xvm
		}
		doc := signLD(t, vc11(k.did, ctxEd2020), TypeEd25519Signature2020, k, signOpts{vm: xvm})
		if _, err := VerifyProofs(ctx, doc, Options{Resolver: derive}); !errors.Is(err, ErrNotAuthorized) {
			t.Fatalf("keyAgreement: %v", err)
		}
	})
	t.Run("method only under authentication", func(t *testing.T) {
		onlyAuth := didmethods.ResolverFunc(func(ctx context.Context, did string, o didmethods.ResolveOptions) (*didmethods.Resolution, error) {
			res, err := registry().Resolve(ctx, did, o)
			if err == nil {
				res.Document.AssertionMethod = nil
			}
			return res, err
		})
		doc := signLD(t, vc11(k.did, ctxEd2020), TypeEd25519Signature2020, k, signOpts{})
		if _, err := VerifyProofs(ctx, doc, Options{Resolver: onlyAuth}); !errors.Is(err, ErrNotAuthorized) {
			t.Fatalf("not authorized: %v", err)
		}
		if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry()}); err != nil {
			t.Fatalf("control: %v", err)
		}
	})
	t.Run("proof set", func(t *testing.T) {
		k2 := newKey(t, keys.P256)
		c := vc11(k.did, ctxEd2020)
		c["@context"] = append(c["@context"].([]any), ctxJWS)
		one := signLD(t, c, TypeEd25519Signature2020, k, signOpts{})
		// A second proof by a key that is not the issuer's.
		both := signLD(t, one, TypeJsonWebSignature2020, k2, signOpts{})
		if _, ok := both["proof"].([]any); !ok {
			t.Fatalf("not a proof set: %v", both["proof"])
		}
		res, err := VerifyProofs(ctx, both, Options{Resolver: registry()})
		if !errors.Is(err, ErrControllerMismatch) || len(res.Proofs) != 2 || res.Proofs[0].Err != nil || res.Proofs[1].Err == nil {
			t.Fatalf("proof set: %v %+v", err, res)
		}
		if _, err := VerifyProofs(ctx, both, Options{Resolver: registry(), SkipControllerCheck: true}); err != nil {
			t.Fatalf("proof set, controller check off: %v", err)
		}
	})
	t.Run("unknown proof type", func(t *testing.T) {
		doc := signLD(t, vc11(k.did, ctxEd2020), TypeEd25519Signature2020, k, signOpts{})
		proofOf(doc)["type"] = "DataIntegrityProof"
		if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry()}); !errors.Is(err, ErrUnsupportedProofType) {
			t.Fatalf("unknown type: %v", err)
		}
		if IsLegacyProofType("DataIntegrityProof") || !IsLegacyProofType(TypeJsonWebSignature2020) {
			t.Fatal("IsLegacyProofType")
		}
	})
	t.Run("no proof, no resolver", func(t *testing.T) {
		if _, err := VerifyProofs(ctx, vc11(k.did, ctxEd2020), Options{Resolver: registry()}); !errors.Is(err, ErrNoProof) {
			t.Fatalf("no proof: %v", err)
		}
		if _, err := VerifyProofs(ctx, vc11(k.did, ctxEd2020), Options{}); !errors.Is(err, ErrNoResolver) {
			t.Fatalf("no resolver: %v", err)
		}
	})
	t.Run("jws alg does not fit the key", func(t *testing.T) {
		k2 := newKey(t, keys.P256)
		doc := signLD(t, vc11(k2.did, ctxJWS), TypeJsonWebSignature2020, k2, signOpts{})
		p := proofOf(doc)
		// Header {"alg":"ES384","b64":false,"crit":["b64"]} with the same signature.
		sig := p["jws"].(string)
		p["jws"] = "eyJhbGciOiJFUzM4NCIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19" + sig[strings.Index(sig, ".."):]
		if _, err := VerifyProofs(ctx, doc, Options{Resolver: registry()}); !errors.Is(err, ErrAlgorithmNotAllowed) {
			t.Fatalf("alg mismatch: %v", err)
		}
	})
}

func TestPresentation(t *testing.T) {
	ctx := context.Background()
	issuer := newKey(t, keys.Ed25519)
	holder := newKey(t, keys.P256)
	vc := signLD(t, vc11(issuer.did, ctxEd2020), TypeEd25519Signature2020, issuer, signOpts{})

	for _, version := range []string{"1.1", "2.0"} {
		t.Run("VP"+version, func(t *testing.T) {
			vp := map[string]any{
				"@context":             []any{"https://www.w3.org/2018/credentials/v1", ctxJWS},
				"type":                 []any{"VerifiablePresentation"},
				"holder":               holder.did,
				"verifiableCredential": []any{vc},
			}
			if version == "2.0" {
				vp["@context"] = []any{"https://www.w3.org/ns/credentials/v2", ctxJWS}
			}
			signed := signLD(t, vp, TypeJsonWebSignature2020, holder, signOpts{purpose: PurposeAuthentication, challenge: "c-123", domain: "verifier.example"})
			res, err := VerifyProofs(ctx, signed, Options{Resolver: registry(), Challenge: "c-123", Domain: "verifier.example"})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !res.Presentation || res.Signer != holder.did {
				t.Fatalf("result: %+v", res)
			}
			if _, err := VerifyProofs(ctx, signed, Options{Resolver: registry(), Challenge: "other"}); !errors.Is(err, ErrChallenge) {
				t.Fatalf("challenge: %v", err)
			}
			tampered := clone(t, signed)
			proofOf(tampered)["challenge"] = "other"
			if _, err := VerifyProofs(ctx, tampered, Options{Resolver: registry(), Challenge: "other"}); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("rewritten challenge: %v", err)
			}
			tampered = clone(t, signed)
			tampered["holder"] = issuer.did
			if _, err := VerifyProofs(ctx, tampered, Options{Resolver: registry()}); !errors.Is(err, ErrControllerMismatch) {
				t.Fatalf("holder: %v", err)
			}
		})
	}
}

// proofOf returns the (first) proof of doc, which aries writes as an array.
func proofOf(doc map[string]any) map[string]any {
	switch p := doc["proof"].(type) {
	case map[string]any:
		return p
	case []any:
		return p[0].(map[string]any)
	}
	return nil
}
