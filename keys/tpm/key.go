package tpm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/agentid/agentid/keys"
)

// Scheme is the key URI scheme of TPM keys: "tpm:<device>?key=<name>".
const Scheme = "tpm"

// Errors of agent keys.
var (
	// ErrInvalidKeyName is a key name outside [A-Za-z0-9._-]{1,64} or
	// starting with a dot.
	ErrInvalidKeyName = errors.New("invalid TPM key name")
	// ErrKeyBlobFormat is a key blob that does not parse.
	ErrKeyBlobFormat = errors.New("malformed TPM key blob")
	// ErrWrongTPM is a key blob made under another TPM's storage root key
	// (or under this TPM before its owner hierarchy was cleared): no TPM but
	// the one that made it can load it.
	ErrWrongTPM = errors.New("key blob belongs to another TPM")
	// ErrDigestSize is a digest given to the crypto.Signer adapter that is
	// not a SHA-256 digest.
	ErrDigestSize = errors.New("digest is not SHA-256")
)

// keyBlobVersion is the version of the key blob format.
const keyBlobVersion = 1

// keyBlob is what a key store keeps for an agent key. The private area is
// encrypted by the TPM under the SRK; only that TPM can load it, so the blob
// needs no further protection to stay secret (it is still stored 0600).
type keyBlob struct {
	Version int `json:"version"`
	// Name is the key's name in its store.
	Name string `json:"name"`
	// Device is the TPM the key was created in, for information: the same
	// TPM may be reached by another path (/dev/tpm0, /dev/tpmrm0).
	Device string `json:"device"`
	// Parent is the TPM Name of the storage root key the key was created
	// under; a load under another SRK fails with ErrWrongTPM.
	Parent []byte `json:"parent"`
	// Public is the marshalled TPM2B_PUBLIC.
	Public []byte `json:"public"`
	// Private is the marshalled TPM2B_PRIVATE.
	Private []byte `json:"private"`
}

// maxKeyBlobSize bounds a key blob; real ones are well under 1 KiB.
const maxKeyBlobSize = 16 << 10

var keyNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`)

// CheckKeyName returns an error wrapping ErrInvalidKeyName unless name is 1
// to 64 characters of [A-Za-z0-9._-] not starting with a dot.
func CheckKeyName(name string) error {
	if !keyNamePattern.MatchString(name) {
		return fmt.Errorf("%w %q: use 1 to 64 of A-Z a-z 0-9 . _ -, not starting with a dot", ErrInvalidKeyName, name)
	}
	return nil
}

// Key is an agent key loaded in a TPM. It implements keys.Signer (ES256,
// JOSE r‖s signatures); CryptoSigner adapts it to crypto.Signer. Its
// private key never leaves the TPM; the Key holds a transient handle to it
// until Close. A Key is safe for concurrent use.
type Key struct {
	tpm     *TPM
	name    string
	blob    keyBlob
	pub     *ecdsa.PublicKey
	area    tpm2.TPMTPublic
	tpmName tpm2.TPM2BName

	mu     sync.Mutex // guards handle
	handle tpm2.TPMHandle
	closed bool
}

var _ keys.Signer = (*Key)(nil)

// CreateKey creates a new agent key in the TPM under the storage root key
// and returns it loaded. The key exists only as its blob: save it with Save
// (or keep Blob) to use it again after Close.
func (t *TPM) CreateKey(ctx context.Context, name string) (*Key, error) {
	if err := CheckKeyName(name); err != nil {
		return nil, err
	}
	tpm, release, err := t.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("create TPM key %s: %w", name, err)
	}
	defer release()
	p, err := srk(tpm)
	if err != nil {
		return nil, fmt.Errorf("create TPM key %s: %w", name, err)
	}
	defer releaseParent(tpm, p)
	created, err := tpm2.Create{
		ParentHandle: authNone(p.handle, p.name),
		InPublic:     tpm2.New2B(agentKeyTemplate()),
	}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("create TPM key %s: TPM2_Create: %w", name, err)
	}
	b := keyBlob{
		Version: keyBlobVersion,
		Name:    name,
		Device:  t.URI(),
		Parent:  p.name.Buffer,
		Public:  tpm2.Marshal(created.OutPublic),
		Private: tpm2.Marshal(created.OutPrivate),
	}
	k, err := t.load(tpm, p, b)
	if err != nil {
		return nil, fmt.Errorf("create TPM key %s: %w", name, err)
	}
	t.log.DebugContext(ctx, "TPM key created", "key", name)
	return k, nil
}

// LoadKeyBlob loads an agent key from its blob (as Blob returned it) under
// the given name.
func (t *TPM) LoadKeyBlob(ctx context.Context, name string, blob []byte) (*Key, error) {
	if err := CheckKeyName(name); err != nil {
		return nil, err
	}
	if len(blob) > maxKeyBlobSize {
		return nil, fmt.Errorf("load TPM key %s: %w: %d bytes", name, ErrKeyBlobFormat, len(blob))
	}
	var b keyBlob
	if err := json.Unmarshal(blob, &b); err != nil {
		return nil, fmt.Errorf("load TPM key %s: %w: %v", name, ErrKeyBlobFormat, err)
	}
	if b.Version != keyBlobVersion {
		return nil, fmt.Errorf("load TPM key %s: %w: version %d, want %d", name, ErrKeyBlobFormat, b.Version, keyBlobVersion)
	}
	b.Name = name
	tpm, release, err := t.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("load TPM key %s: %w", name, err)
	}
	defer release()
	p, err := srk(tpm)
	if err != nil {
		return nil, fmt.Errorf("load TPM key %s: %w", name, err)
	}
	defer releaseParent(tpm, p)
	if string(p.name.Buffer) != string(b.Parent) {
		return nil, fmt.Errorf("load TPM key %s: %w (made under storage root key %x, this TPM's is %x)", name, ErrWrongTPM, b.Parent, p.name.Buffer)
	}
	k, err := t.load(tpm, p, b)
	if err != nil {
		return nil, fmt.Errorf("load TPM key %s: %w", name, err)
	}
	t.log.DebugContext(ctx, "TPM key loaded", "key", name)
	return k, nil
}

// load parses a blob, checks that it is an agent key, and loads it under p.
func (t *TPM) load(tpm transport.TPM, p parent, b keyBlob) (*Key, error) {
	pub2b, err := tpm2.Unmarshal[tpm2.TPM2BPublic](b.Public)
	if err != nil {
		return nil, fmt.Errorf("%w: public area: %v", ErrKeyBlobFormat, err)
	}
	priv2b, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](b.Private)
	if err != nil {
		return nil, fmt.Errorf("%w: private area: %v", ErrKeyBlobFormat, err)
	}
	area, err := pub2b.Contents()
	if err != nil {
		return nil, fmt.Errorf("%w: public area: %v", ErrKeyBlobFormat, err)
	}
	if err := checkAgentKey(area); err != nil {
		return nil, err
	}
	pub, err := ecdsaPublic(area)
	if err != nil {
		return nil, err
	}
	loaded, err := tpm2.Load{
		ParentHandle: authNone(p.handle, p.name),
		InPrivate:    *priv2b,
		InPublic:     *pub2b,
	}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("TPM2_Load: %w", err)
	}
	return &Key{
		tpm: t, name: b.Name, blob: b, pub: pub, area: *area,
		tpmName: loaded.Name, handle: loaded.ObjectHandle,
	}, nil
}

// ecdsaPublic returns the public key of an ECC public area.
func ecdsaPublic(area *tpm2.TPMTPublic) (*ecdsa.PublicKey, error) {
	pk, err := tpm2.Pub(*area)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrKeyBlobFormat, err)
	}
	pub, ok := pk.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: public key is %T", ErrNotAgentKey, pk)
	}
	return pub, nil
}

// Name is the key's name in its store.
func (k *Key) Name() string { return k.name }

// URI implements keys.Signer: "tpm:<device>?key=<name>".
func (k *Key) URI() string { return KeyURI(k.tpm.URI(), k.name) }

// KeyType implements keys.Signer: keys.P256.
func (k *Key) KeyType() keys.KeyType { return keys.P256 }

// Algorithm implements keys.Signer: keys.ES256.
func (k *Key) Algorithm() keys.Algorithm { return keys.ES256 }

// Public implements keys.Signer: the *ecdsa.PublicKey.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// PublicArea is the key's TPMT_PUBLIC, as the TPM made it.
func (k *Key) PublicArea() tpm2.TPMTPublic { return k.area }

// TPMName is the key's TPM Name: nameAlg ‖ H(TPMT_PUBLIC), what TPM2_Certify
// reports for it.
func (k *Key) TPMName() []byte { return k.tpmName.Buffer }

// Blob is the key's blob (JSON: its public and TPM-encrypted private areas
// and the Name of its parent), for LoadKeyBlob.
func (k *Key) Blob() ([]byte, error) {
	data, err := json.Marshal(k.blob)
	if err != nil {
		return nil, fmt.Errorf("encode TPM key blob %s: %w", k.name, err)
	}
	return data, nil
}

// String formats the key as its URI.
func (k *Key) String() string { return "tpm key " + k.URI() }

// LogValue makes slog log the key as its URI.
func (k *Key) LogValue() slog.Value { return slog.StringValue(k.URI()) }

// Sign implements keys.Signer: it hashes message with SHA-256, has the TPM
// sign the digest (TPM2_Sign, ECDSA/SHA-256) and returns r‖s, 64 bytes.
func (k *Key) Sign(ctx context.Context, message []byte) ([]byte, error) {
	digest := sha256.Sum256(message)
	r, s, err := k.signDigest(ctx, digest[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// signDigest signs a SHA-256 digest and returns r and s.
func (k *Key) signDigest(ctx context.Context, digest []byte) (r, s *big.Int, err error) {
	tpm, release, err := k.tpm.acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("sign with %s: %w", k.URI(), err)
	}
	defer release()
	k.mu.Lock()
	h, closed := k.handle, k.closed
	k.mu.Unlock()
	if closed {
		return nil, nil, fmt.Errorf("sign with %s: %w", k.URI(), ErrClosed)
	}
	rsp, err := tpm2.Sign{
		KeyHandle:  authNone(h, k.tpmName),
		Digest:     tpm2.TPM2BDigest{Buffer: digest},
		InScheme:   tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(tpm)
	if err != nil {
		return nil, nil, fmt.Errorf("sign with %s: TPM2_Sign: %w", k.URI(), err)
	}
	ecc, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, nil, fmt.Errorf("sign with %s: TPM returned a %v signature: %w", k.URI(), rsp.Signature.SigAlg, err)
	}
	r = new(big.Int).SetBytes(ecc.SignatureR.Buffer)
	s = new(big.Int).SetBytes(ecc.SignatureS.Buffer)
	return r, s, nil
}

// handleFor returns the key's handle for a command sequence that holds the
// device.
func (k *Key) handleFor() (tpm2.TPMHandle, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0, fmt.Errorf("%s: %w", k.URI(), ErrClosed)
	}
	return k.handle, nil
}

// Close flushes the key from the TPM; its blob still loads it again.
// Close is idempotent.
func (k *Key) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	h := k.handle
	k.mu.Unlock()
	tpm, release, err := k.tpm.acquire(context.Background())
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return nil
		}
		return fmt.Errorf("close %s: %w", k.URI(), err)
	}
	defer release()
	if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(tpm); err != nil {
		return fmt.Errorf("close %s: flush: %w", k.URI(), err)
	}
	return nil
}

// CryptoSigner adapts the key to crypto.Signer, for libraries that want
// one (x509, TLS). Its Sign takes a SHA-256 digest (opts.HashFunc() must be
// crypto.SHA256) and returns an ASN.1 DER ECDSA signature; it runs under
// context.Background(), since crypto.Signer has no context.
func (k *Key) CryptoSigner() crypto.Signer { return cryptoSigner{k} }

type cryptoSigner struct{ k *Key }

func (c cryptoSigner) Public() crypto.PublicKey { return c.k.pub }

func (c cryptoSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || opts.HashFunc() != crypto.SHA256 || len(digest) != sha256.Size {
		return nil, fmt.Errorf("sign with %s: %w", c.k.URI(), ErrDigestSize)
	}
	r, s, err := c.k.signDigest(context.Background(), digest)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.Bytes()
}

// KeyURI returns the key URI of the key called name in the TPM at device:
// "tpm:<device>?key=<name>".
func KeyURI(device, name string) string {
	return Scheme + ":" + device + "?key=" + name
}

// ParseKeyURI splits a TPM key URI into its device string and key name.
// Errors wrap keys.ErrInvalidKeyURI.
func ParseKeyURI(uri string) (device, name string, err error) {
	scheme, rest, err := keys.ParseKeyURI(uri)
	if err != nil {
		return "", "", err
	}
	if scheme != Scheme {
		return "", "", fmt.Errorf("%w %q: scheme is not %s", keys.ErrInvalidKeyURI, uri, Scheme)
	}
	i := strings.LastIndex(rest, "?key=")
	if i < 0 {
		return "", "", fmt.Errorf("%w %q: want tpm:<device>?key=<name>", keys.ErrInvalidKeyURI, uri)
	}
	device, name = rest[:i], rest[i+len("?key="):]
	if _, err := canonicalDevice(device); err != nil {
		return "", "", fmt.Errorf("%w %q: %v", keys.ErrInvalidKeyURI, uri, err)
	}
	if err := CheckKeyName(name); err != nil {
		return "", "", fmt.Errorf("%w %q: %v", keys.ErrInvalidKeyURI, uri, err)
	}
	return device, name, nil
}
