package sdjwt

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// HashSHA256 is the _sd_alg value for SHA-256, the only digest algorithm
// this package issues and accepts.
const HashSHA256 = "sha-256"

var b64 = base64.RawURLEncoding.Strict()

// Disclosure is one decoded disclosure: [salt, name, value] for an object
// property, or [salt, value] for an array element.
type Disclosure struct {
	// Encoded is the base64url form exactly as issued or presented; the
	// digest is computed over it.
	Encoded string
	// Salt is the disclosure's salt.
	Salt string
	// Name is the claim name of an object-property disclosure; empty for
	// an array element.
	Name string
	// IsArrayElement reports a two-element [salt, value] disclosure.
	IsArrayElement bool
	// Value is the disclosed value; JSON numbers are json.Number.
	Value any
}

// Digest is the base64url SHA-256 digest of the disclosure's encoded form:
// the value that stands for it in "_sd" or "...".
func (d *Disclosure) Digest() string { return Digest(d.Encoded) }

// Digest returns base64url(SHA-256(ASCII(encoded))), the digest of a
// disclosure (RFC 9901 §4.2.3) or of a presentation for sd_hash.
func Digest(encoded string) string {
	sum := sha256.Sum256([]byte(encoded))
	return b64.EncodeToString(sum[:])
}

// NewDisclosure makes the disclosure of the object property name with value,
// salted with salt. name must not be "_sd" or "...".
func NewDisclosure(salt, name string, value any) (*Disclosure, error) {
	return newDisclosure(salt, &name, value, encodeJSON)
}

// NewArrayElementDisclosure makes the disclosure of an array element.
func NewArrayElementDisclosure(salt string, value any) (*Disclosure, error) {
	return newDisclosure(salt, nil, value, encodeJSON)
}

func newDisclosure(salt string, name *string, value any, enc func(any) ([]byte, error)) (*Disclosure, error) {
	d := &Disclosure{Salt: salt, Value: value}
	arr := []any{salt}
	if name == nil {
		d.IsArrayElement = true
	} else {
		if *name == "_sd" || *name == "..." {
			return nil, fmt.Errorf("%w: %q", ErrReservedClaimName, *name)
		}
		d.Name = *name
		arr = append(arr, *name)
	}
	arr = append(arr, value)
	raw, err := enc(arr)
	if err != nil {
		return nil, fmt.Errorf("encode disclosure: %w", err)
	}
	d.Encoded = b64.EncodeToString(raw)
	return d, nil
}

// DecodeDisclosure parses a base64url disclosure with the default Limits.
func DecodeDisclosure(encoded string) (*Disclosure, error) {
	return decodeDisclosure(encoded, Limits{}.withDefaults())
}

func decodeDisclosure(encoded string, lim Limits) (*Disclosure, error) {
	if len(encoded) > lim.MaxSize {
		return nil, fmt.Errorf("%w: disclosure of %d bytes", ErrTooLarge, len(encoded))
	}
	raw, err := b64.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url: %v", ErrInvalidDisclosure, err)
	}
	var arr []any
	if err := decodeJSON(raw, lim.MaxDepth, &arr); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDisclosure, err)
	}
	d := &Disclosure{Encoded: encoded}
	switch len(arr) {
	case 2:
		d.IsArrayElement = true
		d.Value = arr[1]
	case 3:
		name, ok := arr[1].(string)
		if !ok {
			return nil, fmt.Errorf("%w: claim name is not a string", ErrInvalidDisclosure)
		}
		if name == "_sd" || name == "..." {
			return nil, fmt.Errorf("%w: %q", ErrReservedClaimName, name)
		}
		d.Name = name
		d.Value = arr[2]
	default:
		return nil, fmt.Errorf("%w: array of %d elements, want 2 or 3", ErrInvalidDisclosure, len(arr))
	}
	salt, ok := arr[0].(string)
	if !ok {
		return nil, fmt.Errorf("%w: salt is not a string", ErrInvalidDisclosure)
	}
	d.Salt = salt
	return d, nil
}
