package statuslist

import (
	"encoding/base64"
	"fmt"
)

// Status is a Status Type of the IETF Token Status List: the value a
// Referenced Token has in the list (0 to 255).
type Status uint8

// Status Types registered by draft-ietf-oauth-status-list. 0x03 and 0x0C to
// 0x0F are reserved for application-specific use.
const (
	// StatusValid: the token is valid, correct or legal.
	StatusValid Status = 0x00
	// StatusInvalid: the token is revoked, annulled, taken back, recalled
	// or cancelled.
	StatusInvalid Status = 0x01
	// StatusSuspended: the token is temporarily invalid.
	StatusSuspended Status = 0x02
)

// String names the registered values and prints others in hexadecimal.
func (s Status) String() string {
	switch s {
	case StatusValid:
		return "VALID"
	case StatusInvalid:
		return "INVALID"
	case StatusSuspended:
		return "SUSPENDED"
	}
	return fmt.Sprintf("0x%02X", uint8(s))
}

// TokenList is an IETF Token Status List: a byte array of `bits`-bit
// statuses (1, 2, 4 or 8), packed from the least significant bit of each
// byte: status 0 is the lowest bits of byte 0. Note that this is the
// opposite of the W3C Bitstring order. A TokenList is not safe for
// concurrent use.
type TokenList struct {
	data []byte
	bits int
}

// NewTokenList returns a list of at least size statuses, all VALID, with
// bits bits each. The list is ceil(size*bits/8) bytes, so Len may exceed
// size by up to 8/bits-1.
func NewTokenList(size, bits int, opts ...Option) (*TokenList, error) {
	o := newOptions(opts)
	if err := checkBits(bits); err != nil {
		return nil, fmt.Errorf("new token status list: %w", err)
	}
	if size < 1 {
		return nil, fmt.Errorf("new token status list: %w: size %d", ErrListLength, size)
	}
	n := (size*bits + 7) / 8
	if size > o.maxDecoded*8/bits {
		return nil, fmt.Errorf("new token status list: %w: %d statuses of %d bits exceed %d bytes", ErrTooLarge, size, bits, o.maxDecoded)
	}
	return &TokenList{data: make([]byte, n), bits: bits}, nil
}

func checkBits(bits int) error {
	switch bits {
	case 1, 2, 4, 8:
		return nil
	}
	return fmt.Errorf("%w: bits %d, want 1, 2, 4 or 8", ErrMalformed, bits)
}

// Len is the number of statuses the list holds: valid indexes are 0 to
// Len()-1.
func (l *TokenList) Len() int { return len(l.data) * 8 / l.bits }

// Bits is the number of bits per status.
func (l *TokenList) Bits() int { return l.bits }

// Bytes returns a copy of the uncompressed byte array.
func (l *TokenList) Bytes() []byte { return append([]byte(nil), l.data...) }

// Get returns the status at index.
func (l *TokenList) Get(index int) (Status, error) {
	if index < 0 || index >= l.Len() {
		return 0, fmt.Errorf("token status list get: %w: index %d, list has %d statuses", ErrRange, index, l.Len())
	}
	per := 8 / l.bits
	shift := (index % per) * l.bits
	return Status(l.data[index/per]>>shift) & Status(1<<l.bits-1), nil
}

// Set stores status, which must fit in bits bits, at index.
func (l *TokenList) Set(index int, status Status) error {
	if index < 0 || index >= l.Len() {
		return fmt.Errorf("token status list set: %w: index %d, list has %d statuses", ErrRange, index, l.Len())
	}
	if int(status) >= 1<<l.bits {
		return fmt.Errorf("token status list set: %w: status %d does not fit in %d bits", ErrRange, status, l.bits)
	}
	per := 8 / l.bits
	shift := (index % per) * l.bits
	mask := byte(1<<l.bits-1) << shift
	i := index / per
	l.data[i] = l.data[i]&^mask | byte(status)<<shift
	return nil
}

// Encode returns lst: base64url without padding of the byte array
// compressed with DEFLATE in the ZLIB format at the best level, as the
// draft recommends.
func (l *TokenList) Encode() (string, error) {
	z, err := compress(l.data, false)
	if err != nil {
		return "", fmt.Errorf("encode token status list: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(z), nil
}

// Claim returns the status_list claim for the list.
func (l *TokenList) Claim() (StatusListClaim, error) {
	lst, err := l.Encode()
	if err != nil {
		return StatusListClaim{}, err
	}
	return StatusListClaim{Bits: l.bits, Lst: lst}, nil
}

// DecodeTokenList decodes lst, base64url (no padding) of a ZLIB stream,
// into a list of bits-bit statuses. Not base64url, not ZLIB, a bad
// checksum, truncated input or bytes after the stream fail with
// ErrMalformed; an empty list with ErrListLength; output over
// DefaultMaxDecodedSize (or WithMaxDecodedSize) with ErrTooLarge, after
// reading no more than that. WithMinEntries sets a minimum number of
// statuses (default: one).
func DecodeTokenList(lst string, bits int, opts ...Option) (*TokenList, error) {
	o := options{minEntries: 1, maxDecoded: DefaultMaxDecodedSize}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkBits(bits); err != nil {
		return nil, fmt.Errorf("decode token status list: %w", err)
	}
	if lst == "" {
		return nil, fmt.Errorf("decode token status list: %w: empty lst", ErrMalformed)
	}
	if len(lst) > maxEncodedLen(o.maxDecoded) {
		return nil, fmt.Errorf("decode token status list: %w: lst of %d characters", ErrTooLarge, len(lst))
	}
	z, err := decodeBase64URL(lst)
	if err != nil {
		return nil, fmt.Errorf("decode token status list: %w", err)
	}
	data, err := inflateZlib(z, o.maxDecoded)
	if err != nil {
		return nil, fmt.Errorf("decode token status list: %w", err)
	}
	l := &TokenList{data: data, bits: bits}
	if l.Len() < o.minEntries {
		return nil, fmt.Errorf("decode token status list: %w: %d statuses, the minimum is %d", ErrListLength, l.Len(), o.minEntries)
	}
	return l, nil
}

// StatusListClaim is the status_list claim of a status list token (the
// draft's StatusList structure in JSON).
type StatusListClaim struct {
	// Bits per status: 1, 2, 4 or 8.
	Bits int `json:"bits"`
	// Lst is the compressed, base64url-encoded list.
	Lst string `json:"lst"`
	// AggregationURI optionally points at the Status List Aggregation.
	AggregationURI string `json:"aggregation_uri,omitempty"`
}

// Decode decodes the claim's list.
func (c StatusListClaim) Decode(opts ...Option) (*TokenList, error) {
	return DecodeTokenList(c.Lst, c.Bits, opts...)
}
