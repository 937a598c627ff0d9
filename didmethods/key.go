package didmethods

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/agentid/agentid/keys"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// did:key public key formats: the verification method types a did:key
// document can use (ResolveOptions.PublicKeyFormat).
//
// FormatMultikey (the default) follows did:key v0.9 and the W3C suites'
// resolver. FormatEd25519VerificationKey2020 / FormatX25519KeyAgreementKey2020
// follow the v0.7 spec's example. The others reproduce the 2022 did:key test
// vectors: FormatJsonWebKey2020 for every key type, the 2018/2019 suite types
// (publicKeyBase58) for Ed25519, X25519 and secp256k1, and P256Key2021 for
// P-256; in these formats an Ed25519 key always gets its derived X25519 key
// and an EC key is listed under keyAgreement too.
const (
	FormatMultikey                          = "Multikey"
	FormatJsonWebKey2020                    = "JsonWebKey2020"
	FormatEd25519VerificationKey2020        = "Ed25519VerificationKey2020"
	FormatX25519KeyAgreementKey2020         = "X25519KeyAgreementKey2020"
	FormatEd25519VerificationKey2018        = "Ed25519VerificationKey2018"
	FormatX25519KeyAgreementKey2019         = "X25519KeyAgreementKey2019"
	FormatEcdsaSecp256k1VerificationKey2019 = "EcdsaSecp256k1VerificationKey2019"
	FormatP256Key2021                       = "P256Key2021"
)

// JSON-LD contexts of DID documents and verification method types.
const (
	ContextDIDv1       = "https://www.w3.org/ns/did/v1"
	ContextMultikey    = "https://w3id.org/security/multikey/v1"
	ContextJWS2020     = "https://w3id.org/security/suites/jws-2020/v1"
	contextEd25519v18  = "https://w3id.org/security/suites/ed25519-2018/v1"
	contextX25519v19   = "https://w3id.org/security/suites/x25519-2019/v1"
	contextEd25519v20  = "https://w3id.org/security/suites/ed25519-2020/v1"
	contextX25519v20   = "https://w3id.org/security/suites/x25519-2020/v1"
	contextSecp256k1v1 = "https://w3id.org/security/suites/secp256k1-2019/v1"
	contextMultikey21  = "https://w3id.org/security/suites/multikey-2021/v1"
)

// typeContexts maps a verification method type to the context defining it.
var typeContexts = map[string]string{
	FormatMultikey:                          ContextMultikey,
	FormatJsonWebKey2020:                    ContextJWS2020,
	FormatEd25519VerificationKey2020:        contextEd25519v20,
	FormatX25519KeyAgreementKey2020:         contextX25519v20,
	FormatEd25519VerificationKey2018:        contextEd25519v18,
	FormatX25519KeyAgreementKey2019:         contextX25519v19,
	FormatEcdsaSecp256k1VerificationKey2019: contextSecp256k1v1,
	FormatP256Key2021:                       contextMultikey21,
}

// keyFormat describes how one publicKeyFormat writes a did:key document.
type keyFormat struct {
	// types maps each key type the format can express to its method type.
	types map[keys.KeyType]string
	// vectors2022 marks the formats of the 2022 test vectors: keyAgreement is
	// always present for Ed25519 (derived) and EC keys (the key itself).
	vectors2022 bool
}

var allKeyTypes = []keys.KeyType{keys.Ed25519, keys.X25519, keys.P256, keys.P384, keys.P521, keys.Secp256k1}

func sameType(t string) map[keys.KeyType]string {
	m := make(map[keys.KeyType]string, len(allKeyTypes))
	for _, k := range allKeyTypes {
		m[k] = t
	}
	return m
}

var (
	format2018 = keyFormat{types: map[keys.KeyType]string{
		keys.Ed25519: FormatEd25519VerificationKey2018,
		keys.X25519:  FormatX25519KeyAgreementKey2019,
	}, vectors2022: true}
	format2020 = keyFormat{types: map[keys.KeyType]string{
		keys.Ed25519: FormatEd25519VerificationKey2020,
		keys.X25519:  FormatX25519KeyAgreementKey2020,
	}}
	keyFormats = map[string]keyFormat{
		FormatMultikey:                   {types: sameType(FormatMultikey)},
		FormatJsonWebKey2020:             {types: sameType(FormatJsonWebKey2020), vectors2022: true},
		FormatEd25519VerificationKey2020: format2020,
		FormatX25519KeyAgreementKey2020:  format2020,
		FormatEd25519VerificationKey2018: format2018,
		FormatX25519KeyAgreementKey2019:  format2018,
		FormatEcdsaSecp256k1VerificationKey2019: {types: map[keys.KeyType]string{
			keys.Secp256k1: FormatEcdsaSecp256k1VerificationKey2019,
		}, vectors2022: true},
		FormatP256Key2021: {types: map[keys.KeyType]string{
			keys.P256: FormatP256Key2021,
		}, vectors2022: true},
	}
)

const (
	didKeyPrefix = "did:key:"
	// MaxDIDKeyLength bounds a did:key. The longest supported key (P-521,
	// 69 bytes with its header) takes 103 characters.
	MaxDIDKeyLength = 256
)

// CreateKey returns the did:key of a public key: "did:key:" and the key's
// Multikey (base58btc multicodec) encoding. pub is an ed25519.PublicKey, an
// *ecdsa.PublicKey on P-256, P-384 or P-521, an *ecdh.PublicKey on X25519 or
// a *secp256k1.PublicKey.
func CreateKey(pub crypto.PublicKey) (string, error) {
	mb, err := keys.EncodeMultikey(pub)
	if err != nil {
		return "", fmt.Errorf("create did:key: %w", err)
	}
	return didKeyPrefix + mb, nil
}

// ParseDIDKey decodes the public key of a did:key without building its
// document. Errors are *Error with the did:key error codes.
func ParseDIDKey(did string) (keys.KeyType, crypto.PublicKey, error) {
	typ, pub, _, err := parseDIDKey(did)
	return typ, pub, err
}

func parseDIDKey(did string) (keys.KeyType, crypto.PublicKey, string, error) {
	if len(did) > MaxDIDKeyLength {
		return "", nil, "", newError(CodeInvalidDID, did, fmt.Errorf("did:key is %d characters, more than %d", len(did), MaxDIDKeyLength))
	}
	mb, ok := strings.CutPrefix(did, didKeyPrefix)
	if !ok {
		return "", nil, "", newError(CodeInvalidDID, did, errors.New(`a did:key begins with "did:key:"`))
	}
	// The v0.7 spec allows "did:key:<version>:<mb>"; a versioned form would
	// be a second DID string for the same key (and controller comparisons
	// are by string), so only the unversioned v0.9 form is accepted.
	if strings.Contains(mb, ":") {
		return "", nil, "", newError(CodeInvalidDID, did, errors.New("did:key has more than one method-specific segment"))
	}
	if mb == "" || mb[0] != 'z' {
		return "", nil, "", newError(CodeInvalidDID, did, errors.New(`did:key identifier must be base58btc multibase (prefix "z")`))
	}
	typ, pub, err := decodeMultikey(mb)
	if err != nil {
		return "", nil, "", newError(keyErrorCode(err), did, err)
	}
	return typ, pub, mb, nil
}

// keyErrorCode maps the keys package's sentinel errors to did:key codes.
func keyErrorCode(err error) string {
	switch {
	case errors.Is(err, keys.ErrInvalidPublicKeyLength):
		return CodeInvalidPublicKeyLength
	case errors.Is(err, keys.ErrInvalidPublicKey):
		return CodeInvalidPublicKey
	case errors.Is(err, keys.ErrUnsupportedKeyType):
		return CodeUnsupportedPublicKeyType
	}
	return CodeInvalidDID
}

// KeyResolver resolves did:key DIDs (W3C CCG did:key v0.9) for Ed25519,
// X25519, P-256, P-384, P-521 and secp256k1 keys. It does no I/O; its
// results never change, and a Cache keeps them until evicted.
type KeyResolver struct{}

// Resolve expands a did:key into its DID document.
func (KeyResolver) Resolve(_ context.Context, did string, opts ResolveOptions) (*Resolution, error) {
	typ, pub, mb, err := parseDIDKey(did)
	if err != nil {
		return nil, err
	}
	doc, err := keyDocument(did, mb, typ, pub, opts)
	if err != nil {
		return nil, err
	}
	return newResolution(doc, freshness{kind: freshImmutable}), nil
}

// keyDocument builds the document of a decoded did:key.
func keyDocument(did, mb string, typ keys.KeyType, pub crypto.PublicKey, opts ResolveOptions) (*Document, error) {
	name := opts.PublicKeyFormat
	if name == "" {
		name = FormatMultikey
	}
	f, ok := keyFormats[name]
	if !ok {
		return nil, newError(CodeUnsupportedPublicKeyType, did, fmt.Errorf("publicKeyFormat %q is not supported", name))
	}
	vm, err := keyMethod(did, mb, f, typ, pub, opts)
	if err != nil {
		return nil, err
	}
	doc := &Document{ID: did, VerificationMethod: []VerificationMethod{vm}}
	ref := func(id string) []VerificationRef { return []VerificationRef{{ID: id}} }
	if typ == keys.X25519 {
		doc.KeyAgreement = ref(vm.ID)
	} else {
		doc.Authentication = ref(vm.ID)
		doc.AssertionMethod = ref(vm.ID)
		doc.CapabilityDelegation = ref(vm.ID)
		doc.CapabilityInvocation = ref(vm.ID)
		switch {
		case typ == keys.Ed25519 && (f.vectors2022 || opts.EnableEncryptionKeyDerivation):
			xpub, err := keys.X25519FromEd25519(pub.(ed25519.PublicKey))
			if err != nil {
				return nil, newError(CodeInvalidPublicKey, did, err)
			}
			xmb, err := keys.EncodeMultikey(xpub)
			if err != nil {
				return nil, newError(CodeInternalError, did, err)
			}
			xvm, err := keyMethod(did, xmb, f, keys.X25519, xpub, opts)
			if err != nil {
				return nil, err
			}
			doc.VerificationMethod = append(doc.VerificationMethod, xvm)
			doc.KeyAgreement = ref(xvm.ID)
		case typ != keys.Ed25519 && f.vectors2022:
			doc.KeyAgreement = ref(vm.ID)
		}
	}
	// Room for the DID context and one per method type, allocated once.
	doc.Context = append(make(Context, 0, 1+len(doc.VerificationMethod)), ContextDIDv1)
	seen := map[string]bool{}
	for _, m := range doc.VerificationMethod {
		if c := typeContexts[m.Type]; c != "" && !seen[c] {
			seen[c] = true
			doc.Context = append(doc.Context, c)
		}
	}
	return doc, nil
}

// stableSignatureTypes and stableEncryptionTypes are the verification method
// types the did:key spec allows, for signature and for encryption (X25519)
// methods, when experimental public key types are not enabled.
var (
	stableSignatureTypes  = map[string]bool{FormatMultikey: true, FormatJsonWebKey2020: true, FormatEd25519VerificationKey2020: true}
	stableEncryptionTypes = map[string]bool{FormatMultikey: true, FormatJsonWebKey2020: true, FormatX25519KeyAgreementKey2020: true}
)

// keyMethod builds the verification method "did#mb" of a key in format f.
func keyMethod(did, mb string, f keyFormat, typ keys.KeyType, pub crypto.PublicKey, opts ResolveOptions) (VerificationMethod, error) {
	vmType, ok := f.types[typ]
	if !ok {
		return VerificationMethod{}, newError(CodeInvalidPublicKeyType, did, fmt.Errorf("publicKeyFormat cannot express a %s key", typ))
	}
	if opts.RefuseExperimentalPublicKeyTypes {
		stable := stableSignatureTypes
		if typ == keys.X25519 {
			stable = stableEncryptionTypes
		}
		if !stable[vmType] {
			return VerificationMethod{}, newError(CodeInvalidPublicKeyType, did,
				fmt.Errorf("%s is an experimental public key type for a %s key and experimental types are not enabled", vmType, typ))
		}
	}
	vm := VerificationMethod{ID: did + "#" + mb, Type: vmType, Controller: did}
	switch vmType {
	case FormatMultikey, FormatEd25519VerificationKey2020, FormatX25519KeyAgreementKey2020:
		vm.PublicKeyMultibase = mb
	case FormatJsonWebKey2020:
		j, err := keys.PublicJWK(pub)
		if err != nil {
			return VerificationMethod{}, newError(CodeInternalError, did, err)
		}
		vm.PublicKeyJWK = &j
	default:
		raw, err := compactKey(pub)
		if err == nil {
			vm.PublicKeyBase58, err = encodeBase58(raw)
		}
		if err != nil {
			return VerificationMethod{}, newError(CodeInternalError, did, err)
		}
	}
	return vm, nil
}

// compactKey returns the raw public key bytes that did:key and the
// publicKeyBase58 suites use: 32 bytes for Ed25519 and X25519, the SEC 1
// compressed point for EC keys.
func compactKey(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return append([]byte(nil), k...), nil
	case *ecdh.PublicKey:
		return k.Bytes(), nil
	case *secp256k1.PublicKey:
		return k.SerializeCompressed(), nil
	case *ecdsa.PublicKey:
		u, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("ecdsa public key: %w", err)
		}
		size := (len(u) - 1) / 2
		out := make([]byte, 1+size)
		out[0] = 2 | u[len(u)-1]&1
		copy(out[1:], u[1:1+size])
		return out, nil
	}
	return nil, fmt.Errorf("%w: %T", keys.ErrUnsupportedKeyType, pub)
}
