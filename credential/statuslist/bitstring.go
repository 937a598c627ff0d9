package statuslist

import (
	"fmt"
	"strings"

	"github.com/multiformats/go-multibase"
)

// MinEntries is the smallest Bitstring Status List the specification
// allows: 131,072 entries (16 KiB of one-bit entries). It gives every
// holder a crowd of at least that size to hide in.
const MinEntries = 131072

// MaxStatusSize is the largest statusSize this package handles. The
// specification sets no upper bound (and lets processors support only 1);
// eight bits keep an entry inside two bytes and a status inside a uint8,
// like the IETF Token Status List.
const MaxStatusSize = 8

// legacyGzipPrefix is base64url of the GZIP magic and the DEFLATE method
// byte (1f 8b 08): how a StatusList2021 encodedList without a multibase
// prefix begins.
const legacyGzipPrefix = "H4sI"

// Bitstring is a W3C Bitstring Status List: Len entries of StatusSize bits
// each, entry 0 in the most significant bits of the first byte. A Bitstring
// is not safe for concurrent use; the zero value is not usable (use New or
// Decode).
type Bitstring struct {
	data       []byte
	entries    int
	statusSize int
}

// options configures New and Decode.
type options struct {
	minEntries int
	maxDecoded int
	strict     bool
}

func newOptions(opts []Option) options {
	o := options{minEntries: MinEntries, maxDecoded: DefaultMaxDecodedSize}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Option adjusts New, Decode and Check.
type Option func(*options)

// WithMinEntries sets the smallest acceptable number of entries (at least
// 1). The specification uses 131,072 "unless a different lower bound is
// established by a specific ecosystem specification"; agentid keeps the
// default in production and lowers it only in tests. A list below 131,072
// one-bit entries (16 KiB) does not conform to Bitstring Status List 1.0.
func WithMinEntries(n int) Option {
	return func(o *options) {
		o.minEntries = max(n, 1)
	}
}

// WithMaxDecodedSize sets the largest decompressed list, in bytes, that
// Decode and Check accept (default DefaultMaxDecodedSize), and the largest
// list New creates.
func WithMaxDecodedSize(n int) Option {
	return func(o *options) {
		o.maxDecoded = max(n, 1)
	}
}

// StrictMultibase makes Decode refuse the legacy encodedList form without a
// multibase prefix (see Decode).
func StrictMultibase() Option {
	return func(o *options) { o.strict = true }
}

// New returns a list of the given number of entries, all 0, with statusSize
// bits per entry (1 to MaxStatusSize). entries must be at least MinEntries
// (or the WithMinEntries bound) and fit in the decoded-size limit. The list
// occupies ceil(entries*statusSize/8) bytes; after an Encode-Decode round
// trip, Len counts every whole entry those bytes hold.
func New(entries, statusSize int, opts ...Option) (*Bitstring, error) {
	o := newOptions(opts)
	if err := checkStatusSize(statusSize); err != nil {
		return nil, err
	}
	if entries < o.minEntries {
		return nil, fmt.Errorf("new bitstring: %w: %d entries, the minimum is %d", ErrListLength, entries, o.minEntries)
	}
	if entries > o.maxDecoded*8/statusSize {
		return nil, fmt.Errorf("new bitstring: %w: %d entries of %d bits exceed %d bytes", ErrTooLarge, entries, statusSize, o.maxDecoded)
	}
	return &Bitstring{
		data:       make([]byte, (entries*statusSize+7)/8),
		entries:    entries,
		statusSize: statusSize,
	}, nil
}

func checkStatusSize(statusSize int) error {
	if statusSize < 1 || statusSize > MaxStatusSize {
		return fmt.Errorf("%w: statusSize %d, want 1 to %d", ErrMalformed, statusSize, MaxStatusSize)
	}
	return nil
}

// Len is the number of entries: valid indexes are 0 to Len()-1.
func (b *Bitstring) Len() int { return b.entries }

// StatusSize is the number of bits per entry.
func (b *Bitstring) StatusSize() int { return b.statusSize }

// Bytes returns a copy of the uncompressed bitstring.
func (b *Bitstring) Bytes() []byte { return append([]byte(nil), b.data...) }

// Get returns the status of entry index: bit index*statusSize and the
// statusSize-1 bits after it, the first of them the most significant bit of
// the value.
func (b *Bitstring) Get(index int) (uint, error) {
	if index < 0 || index >= b.entries {
		return 0, fmt.Errorf("bitstring get: %w: index %d, list has %d entries", ErrRange, index, b.entries)
	}
	if b.statusSize == 1 {
		return uint(b.data[index>>3]>>(7-index&7)) & 1, nil
	}
	pos := index * b.statusSize
	shift := 16 - pos&7 - b.statusSize
	return uint(b.window(pos>>3)>>shift) & (1<<b.statusSize - 1), nil
}

// Set stores value, which must be below 2^statusSize, in entry index.
func (b *Bitstring) Set(index int, value uint) error {
	if index < 0 || index >= b.entries {
		return fmt.Errorf("bitstring set: %w: index %d, list has %d entries", ErrRange, index, b.entries)
	}
	if value >= 1<<b.statusSize {
		return fmt.Errorf("bitstring set: %w: value %d does not fit in %d bits", ErrRange, value, b.statusSize)
	}
	if b.statusSize == 1 {
		mask := byte(1) << (7 - index&7)
		if value == 1 {
			b.data[index>>3] |= mask
		} else {
			b.data[index>>3] &^= mask
		}
		return nil
	}
	pos := index * b.statusSize
	shift := 16 - pos&7 - b.statusSize
	i := pos >> 3
	w := b.window(i)
	w = w&^(uint16(1<<b.statusSize-1)<<shift) | uint16(value)<<shift
	b.data[i] = byte(w >> 8)
	if i+1 < len(b.data) {
		b.data[i+1] = byte(w)
	}
	return nil
}

// window reads bytes i and i+1 (0 past the end) big-endian.
func (b *Bitstring) window(i int) uint16 {
	w := uint16(b.data[i]) << 8
	if i+1 < len(b.data) {
		w |= uint16(b.data[i+1])
	}
	return w
}

// Encode returns the encodedList: "u" (multibase base64url, no padding)
// followed by base64url of the GZIP-compressed bitstring. GZIP output is
// not canonical, so compare lists by their decoded bits, never by this
// string.
func (b *Bitstring) Encode() (string, error) {
	gz, err := compress(b.data, true)
	if err != nil {
		return "", fmt.Errorf("encode bitstring: %w", err)
	}
	s, err := multibase.Encode(multibase.Base64url, gz)
	if err != nil {
		return "", fmt.Errorf("encode bitstring: %w", err)
	}
	return s, nil
}

// Decode expands an encodedList into a list of statusSize-bit entries.
//
// The specification's form is multibase base64url without padding (prefix
// "u") of GZIP. Unless StrictMultibase is given, Decode also accepts the
// legacy form of VC 1.1 StatusList2021 lists: base64url of GZIP without a
// multibase prefix (it begins "H4sI"). Every other multibase prefix is
// refused.
//
// The decoded list must hold at least MinEntries entries (or the
// WithMinEntries bound): ErrListLength otherwise. Input that is not base64url,
// not GZIP, truncated, or followed by stray bytes fails with ErrMalformed;
// input that would decompress to more than DefaultMaxDecodedSize (or the
// WithMaxDecodedSize bound) fails with ErrTooLarge, after reading no more
// than that.
func Decode(encodedList string, statusSize int, opts ...Option) (*Bitstring, error) {
	o := newOptions(opts)
	if err := checkStatusSize(statusSize); err != nil {
		return nil, fmt.Errorf("decode bitstring: %w", err)
	}
	var payload string
	switch {
	case encodedList == "":
		return nil, fmt.Errorf("decode bitstring: %w: empty encodedList", ErrMalformed)
	case encodedList[0] == byte(multibase.Base64url):
		payload = encodedList[1:]
	case !o.strict && strings.HasPrefix(encodedList, legacyGzipPrefix):
		payload = encodedList
	default:
		return nil, fmt.Errorf("decode bitstring: %w: encodedList must start with the multibase prefix %q (base64url), got %q",
			ErrMalformed, multibase.Base64url, encodedList[:1])
	}
	if len(payload) > maxEncodedLen(o.maxDecoded) {
		return nil, fmt.Errorf("decode bitstring: %w: encodedList of %d characters", ErrTooLarge, len(encodedList))
	}
	gz, err := decodeBase64URL(payload)
	if err != nil {
		return nil, fmt.Errorf("decode bitstring: %w", err)
	}
	data, err := gunzip(gz, o.maxDecoded)
	if err != nil {
		return nil, fmt.Errorf("decode bitstring: %w", err)
	}
	entries := len(data) * 8 / statusSize
	if entries < o.minEntries {
		return nil, fmt.Errorf("decode bitstring: %w: %d entries of %d bits, the minimum is %d",
			ErrListLength, entries, statusSize, o.minEntries)
	}
	return &Bitstring{data: data, entries: entries, statusSize: statusSize}, nil
}
