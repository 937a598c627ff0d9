package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/agentid/agentid/keys/internal/securefile"
)

// Encryption at rest.
//
// Software private keys are stored encrypted under a key-encryption key (KEK):
// 32 random bytes that live outside the database, in the AGENTID_KEK
// environment variable or in a 0600 file next to the data. Someone who copies
// the database without the KEK learns public keys only.
//
// The KEK itself never encrypts anything. HKDF-SHA256 (RFC 5869) derives
// independent keys from it, one per purpose, named by the HKDF info string:
//
//	"agentid/v1/key-blob/aes-256-gcm"  the AES-256 key that seals key blobs
//	"agentid/v1/kek-id"                a 4-byte public fingerprint of the KEK
//
// so a future use of the KEK (another blob kind, a MAC) gets its own key by
// adding an info string, without ever reusing the blob key.
//
// A key blob (format version 1) is
//
//	offset  size  field
//	0       1     version, 0x01
//	1       4     KEK fingerprint (the "agentid/v1/kek-id" derivation)
//	5       12    AES-GCM nonce, random per blob
//	17      n+16  AES-256-GCM ciphertext of the n-byte plaintext, then the tag
//
// The additional authenticated data binds the blob to where it is stored: the
// 5-byte header, then the key URI and the key type, each preceded by its
// length as a big-endian uint16. A blob copied to another key URI, relabelled
// with another key type, or edited in any byte therefore fails to decrypt. The
// fingerprint is checked before decryption so that a wrong KEK gives
// ErrWrongKEK rather than a generic authentication failure.

// KEKEnv is the environment variable LoadKEK's caller reads the KEK from.
const KEKEnv = "AGENTID_KEK"

// KEKSize is the size of a key-encryption key in bytes.
const KEKSize = 32

const (
	blobVersion1   = 0x01
	kekIDSize      = 4
	gcmNonceSize   = 12
	gcmTagSize     = 16
	blobHeaderSize = 1 + kekIDSize
	// blobOverhead is the number of bytes a version 1 blob adds to its
	// plaintext.
	blobOverhead = blobHeaderSize + gcmNonceSize + gcmTagSize

	hkdfInfoBlobKey = "agentid/v1/key-blob/aes-256-gcm"
	hkdfInfoKEKID   = "agentid/v1/kek-id"
	blobAADLabel    = "agentid key blob"
)

// Errors of the KEK and of key blobs.
var (
	// ErrInvalidKEK is a KEK that does not parse or has the wrong size.
	ErrInvalidKEK = errors.New("invalid key-encryption key")
	// ErrWrongKEK is a blob sealed under another KEK than the one given.
	ErrWrongKEK = errors.New("encrypted under another key-encryption key")
	// ErrKeyBlobCorrupt is a blob that fails authentication: it was altered,
	// truncated, or moved to another key URI or key type.
	ErrKeyBlobCorrupt = errors.New("key blob does not authenticate")
	// ErrUnsupportedBlobVersion is a blob whose format version this build
	// does not read.
	ErrUnsupportedBlobVersion = errors.New("unsupported key blob version")
	// ErrInsecureFileMode is a secret file or directory that group or others
	// may access. The error message says which chmod fixes it.
	ErrInsecureFileMode = securefile.ErrInsecureMode
)

// KEK is a key-encryption key. Its bytes cannot be printed, logged or
// marshalled: fmt verbs, slog and encoding/json show only its public
// fingerprint (ID). A KEK is safe for concurrent use.
type KEK struct {
	blobKey [32]byte
	id      [kekIDSize]byte
	// secret is kept only to write a newly generated KEK to its file.
	secret [KEKSize]byte
}

// NewKEK returns a new random key-encryption key from crypto/rand.
func NewKEK() (*KEK, error) {
	var secret [KEKSize]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, fmt.Errorf("generate key-encryption key: %w", err)
	}
	return newKEK(secret)
}

func newKEK(secret [KEKSize]byte) (*KEK, error) {
	k := &KEK{secret: secret}
	blobKey, err := hkdf.Key(sha256.New, secret[:], nil, hkdfInfoBlobKey, len(k.blobKey))
	if err != nil {
		return nil, fmt.Errorf("derive key-blob key: %w", err)
	}
	id, err := hkdf.Key(sha256.New, secret[:], nil, hkdfInfoKEKID, kekIDSize)
	if err != nil {
		return nil, fmt.Errorf("derive key-encryption key id: %w", err)
	}
	copy(k.blobKey[:], blobKey)
	copy(k.id[:], id)
	clear(blobKey)
	return k, nil
}

// ParseKEK parses a KEK written in base64, standard or URL alphabet, padded or
// not, surrounded by optional white space. It must decode to exactly 32
// bytes. The error never repeats the input.
func ParseKEK(s string) (*KEK, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrInvalidKEK)
	}
	defer clear(raw)
	if len(raw) != KEKSize {
		return nil, fmt.Errorf("%w: decodes to %d bytes, want %d (generate one with: head -c 32 /dev/urandom | base64)", ErrInvalidKEK, len(raw), KEKSize)
	}
	var secret [KEKSize]byte
	copy(secret[:], raw)
	return newKEK(secret)
}

// maxKEKFileSize bounds what LoadKEK reads: a KEK file is one base64 line.
const maxKEKFileSize = 1024

// LoadKEK finds the server's key-encryption key, in this order:
//
//  1. envValue, the value of AGENTID_KEK (KEKEnv), when it is not empty;
//  2. the file at filePath, when it exists; it must have mode 0600 (no access
//     for group or others) or LoadKEK fails, saying to chmod 600;
//  3. otherwise a new random KEK, written to filePath with mode 0600 (parent
//     directories are created with mode 0700). generated is then true, and
//     the caller should log a warning: losing that file loses every key
//     encrypted under it, so it must be backed up.
//
// Writing never replaces an existing file; when another process creates
// filePath first, LoadKEK reads the KEK that process wrote.
func LoadKEK(envValue, filePath string) (kek *KEK, generated bool, err error) {
	if envValue != "" {
		if kek, err = ParseKEK(envValue); err != nil {
			return nil, false, fmt.Errorf("key-encryption key from %s: %w", KEKEnv, err)
		}
		return kek, false, nil
	}
	if filePath == "" {
		return nil, false, fmt.Errorf("load key-encryption key: %s is not set and no KEK file path was given", KEKEnv)
	}
	kek, err = readKEKFile(filePath)
	if err == nil {
		return kek, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	kek, err = NewKEK()
	if err != nil {
		return nil, false, err
	}
	if err := securefile.PrivateDir(filepath.Dir(filePath)); err != nil {
		return nil, false, fmt.Errorf("write key-encryption key: %w", err)
	}
	line := base64.RawURLEncoding.EncodeToString(kek.secret[:]) + "\n"
	if err := securefile.WriteNew(filePath, []byte(line)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process won the race: use its KEK, not ours.
			kek, err = readKEKFile(filePath)
			return kek, false, err
		}
		return nil, false, fmt.Errorf("write key-encryption key: %w", err)
	}
	return kek, true, nil
}

func readKEKFile(path string) (*KEK, error) {
	data, err := securefile.ReadPrivate(path, maxKEKFileSize)
	if err != nil {
		return nil, fmt.Errorf("read key-encryption key file: %w", err)
	}
	defer clear(data)
	kek, err := ParseKEK(string(data))
	if err != nil {
		return nil, fmt.Errorf("key-encryption key file %s: %w", path, err)
	}
	return kek, nil
}

// The methods from here to MarshalText have value receivers so that a
// dereferenced KEK is redacted as well as a *KEK (fmt prints "<nil>" for a nil
// *KEK).

// ID is the KEK's public fingerprint in hex (8 characters). It is stored in
// every blob the KEK seals and is safe to log: it is an HKDF output and
// reveals nothing about the KEK.
func (k KEK) ID() string { return hex.EncodeToString(k.id[:]) }

// String returns "KEK(<id>)", never the key.
func (k KEK) String() string { return "KEK(" + k.ID() + ")" }

// GoString is String, so that %#v does not print the key's fields.
func (k KEK) GoString() string { return k.String() }

// Format prints String for every fmt verb, so that no verb (%x, %d, %+v…)
// falls through to printing the struct's bytes.
func (k KEK) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue makes slog log the KEK as its fingerprint only.
func (k KEK) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kek_id", k.ID()))
}

// MarshalJSON refuses: a KEK is never serialized.
func (KEK) MarshalJSON() ([]byte, error) {
	return nil, errors.New("a key-encryption key cannot be marshalled to JSON")
}

// MarshalText refuses: a KEK is never serialized.
func (KEK) MarshalText() ([]byte, error) {
	return nil, errors.New("a key-encryption key cannot be marshalled to text")
}

// aead returns AES-256-GCM under the blob key. NewGCMWithRandomNonce draws a
// fresh 96-bit nonce from crypto/rand for every Seal and prefixes it to the
// ciphertext, so a caller cannot reuse a nonce by mistake.
func (k *KEK) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.blobKey[:])
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("aes-gcm: %w", err)
	}
	return aead, nil
}

// blobAAD is the additional data that binds a blob to its header, key URI and
// key type.
func blobAAD(header []byte, uri string, typ KeyType) ([]byte, error) {
	if len(uri) > 0xffff || len(typ) > 0xffff {
		return nil, fmt.Errorf("key URI or type too long for a key blob")
	}
	aad := make([]byte, 0, len(blobAADLabel)+len(header)+4+len(uri)+len(typ))
	aad = append(aad, blobAADLabel...)
	aad = append(aad, header...)
	aad = binary.BigEndian.AppendUint16(aad, uint16(len(uri)))
	aad = append(aad, uri...)
	aad = binary.BigEndian.AppendUint16(aad, uint16(len(typ)))
	aad = append(aad, typ...)
	return aad, nil
}

// SealKeyBlob encrypts plaintext (a private key) for storage under the key URI
// uri with key type typ, in the version 1 blob format described above. The
// same uri and typ must be given to OpenKeyBlob.
func (k *KEK) SealKeyBlob(uri string, typ KeyType, plaintext []byte) ([]byte, error) {
	header := append([]byte{blobVersion1}, k.id[:]...)
	aad, err := blobAAD(header, uri, typ)
	if err != nil {
		return nil, fmt.Errorf("seal key blob for %s: %w", uri, err)
	}
	aead, err := k.aead()
	if err != nil {
		return nil, fmt.Errorf("seal key blob for %s: %w", uri, err)
	}
	blob := make([]byte, 0, len(plaintext)+blobOverhead)
	blob = append(blob, header...)
	return aead.Seal(blob, nil, plaintext, aad), nil
}

// OpenKeyBlob decrypts a blob that SealKeyBlob made for uri and typ. It fails
// with ErrWrongKEK when the blob names another KEK, ErrUnsupportedBlobVersion
// for an unknown format, and ErrKeyBlobCorrupt when authentication fails (the
// blob was altered or belongs to another key URI or type). The caller should
// clear the returned plaintext when done with it.
func (k *KEK) OpenKeyBlob(uri string, typ KeyType, blob []byte) ([]byte, error) {
	if len(blob) == 0 {
		return nil, fmt.Errorf("open key blob of %s: %w: empty", uri, ErrKeyBlobCorrupt)
	}
	if blob[0] != blobVersion1 {
		return nil, fmt.Errorf("open key blob of %s: %w: %d", uri, ErrUnsupportedBlobVersion, blob[0])
	}
	if len(blob) < blobOverhead {
		return nil, fmt.Errorf("open key blob of %s: %w: %d bytes is too short", uri, ErrKeyBlobCorrupt, len(blob))
	}
	header := blob[:blobHeaderSize]
	if got := header[1:]; string(got) != string(k.id[:]) {
		return nil, fmt.Errorf("open key blob of %s: %w (blob KEK %x, this KEK %s)", uri, ErrWrongKEK, got, k.ID())
	}
	aad, err := blobAAD(header, uri, typ)
	if err != nil {
		return nil, fmt.Errorf("open key blob of %s: %w", uri, err)
	}
	aead, err := k.aead()
	if err != nil {
		return nil, fmt.Errorf("open key blob of %s: %w", uri, err)
	}
	plaintext, err := aead.Open(nil, nil, blob[blobHeaderSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("open key blob of %s: %w: altered, or stored under another key URI or type", uri, ErrKeyBlobCorrupt)
	}
	return plaintext, nil
}
