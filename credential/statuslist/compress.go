package statuslist

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultMaxDecodedSize caps the decompressed size of a status list: 16 MiB,
// that is 134,217,728 one-bit entries, a thousand times the minimum
// Bitstring Status List. Decoders read at most this many bytes (plus one, to
// notice the excess) whatever the compressed input claims.
const DefaultMaxDecodedSize = 16 << 20

// maxEncodedLen is the longest base64url text that can hold a compressed
// form of maxDecoded bytes: incompressible data grows by at most 5 bytes per
// 16 KiB stored block in DEFLATE, plus the GZIP or ZLIB framing. Anything
// longer is refused before it is decoded.
func maxEncodedLen(maxDecoded int) int {
	return base64.RawURLEncoding.EncodedLen(maxDecoded+maxDecoded/1024+1024) + 1
}

// decodeBase64URL decodes unpadded base64url strictly: no padding, no line
// breaks (which encoding/base64 would otherwise skip), no stray bits in the
// last character.
func decodeBase64URL(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: line break in base64url", ErrMalformed)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: base64url: %w", ErrMalformed, err)
	}
	return b, nil
}

// gunzip decompresses one or more GZIP members (RFC 1952), refusing output
// over maxDecoded bytes and any bytes after the last member.
func gunzip(compressed []byte, maxDecoded int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip header: %w", ErrMalformed, err)
	}
	out, err := readCapped(zr, maxDecoded)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return out, nil
}

// inflateZlib decompresses one ZLIB stream (RFC 1950) and checks that
// nothing follows it.
func inflateZlib(compressed []byte, maxDecoded int) ([]byte, error) {
	br := bytes.NewReader(compressed)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: zlib header: %w", ErrMalformed, err)
	}
	out, err := readCapped(zr, maxDecoded)
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	// bytes.Reader is an io.ByteReader, so flate reads no further than the
	// end of the DEFLATE data and zlib then reads exactly the Adler-32.
	if br.Len() != 0 {
		return nil, fmt.Errorf("%w: zlib: %d bytes after the end of the stream", ErrMalformed, br.Len())
	}
	return out, nil
}

// readCapped reads r to the end, or fails once more than maxDecoded bytes
// have come out. It closes r (which, for the gzip and zlib readers, only
// releases the decompressor).
func readCapped(r io.ReadCloser, maxDecoded int) ([]byte, error) {
	defer r.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, int64(maxDecoded)+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated: %w", ErrMalformed, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if n > int64(maxDecoded) {
		return nil, fmt.Errorf("%w: decompresses to more than %d bytes", ErrTooLarge, maxDecoded)
	}
	return buf.Bytes(), nil
}

// compress compresses data at the best level into GZIP (gz true) or ZLIB.
func compress(data []byte, gz bool) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	if gz {
		w, err = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	} else {
		w, err = zlib.NewWriterLevel(&buf, zlib.BestCompression)
	}
	if err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	return buf.Bytes(), nil
}
