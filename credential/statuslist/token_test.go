package statuslist

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"testing"
)

// The draft's two small examples (Section 4.1): statuses, byte array,
// compressed hex and lst.
var draftExamples = []struct {
	bits     int
	statuses []Status
	bytes    []byte
	zlibHex  string
	lst      string
}{
	{1, []Status{1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, []byte{0xb9, 0xa3}, "78dadbb918000217015d", "eNrbuRgAAhcBXQ"},
	{2, []Status{1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3}, []byte{0xc9, 0x44, 0xf9}, "78da3be9f2130003df0207", "eNo76fITAAPfAgc"},
}

func TestTokenDraftExamples(t *testing.T) {
	for _, ex := range draftExamples {
		t.Run(strconv.Itoa(ex.bits), func(t *testing.T) {
			l, err := DecodeTokenList(ex.lst, ex.bits)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(l.Bytes(), ex.bytes) {
				t.Fatalf("bytes %x, want %x", l.Bytes(), ex.bytes)
			}
			for i, want := range ex.statuses {
				if got, _ := l.Get(i); got != want {
					t.Errorf("status[%d] = %d, want %d", i, got, want)
				}
			}
			// Build it with Set and encode.
			mine, err := NewTokenList(len(ex.statuses), ex.bits)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range ex.statuses {
				if err := mine.Set(i, s); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(mine.Bytes(), ex.bytes) {
				t.Fatalf("Set built %x, want %x", mine.Bytes(), ex.bytes)
			}
			lst, err := mine.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeTokenList(lst, ex.bits)
			if err != nil || !bytes.Equal(back.Bytes(), ex.bytes) {
				t.Fatalf("round trip: %v", err)
			}
			// Go's compress/zlib does not reproduce the draft's bytes
			// (Python zlib level 9): Go's Close writes an empty stored
			// block (00 00 ff ff) before the final one. The lists are the
			// same; only the compressed form differs. Recorded, not
			// required.
			z, _ := base64.RawURLEncoding.DecodeString(lst)
			if lst != ex.lst {
				t.Logf("Go encodes %s (%x), the draft %s (%s): equal after decoding", lst, z, ex.lst, ex.zlibHex)
			} else if hex.EncodeToString(z) != ex.zlibHex {
				t.Errorf("compressed %x, want %s", z, ex.zlibHex)
			}
		})
	}
}

type draftVector struct {
	Bits     int            `json:"bits"`
	Size     int            `json:"size"`
	Statuses map[string]int `json:"statuses"`
	Lst      string         `json:"lst"`
}

func TestTokenDraftVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/token-status-list-draft-20.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []draftVector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vectors) != 4 {
		t.Fatalf("%d vectors", len(doc.Vectors))
	}
	for _, v := range doc.Vectors {
		t.Run(strconv.Itoa(v.Bits), func(t *testing.T) {
			l, err := DecodeTokenList(v.Lst, v.Bits)
			if err != nil {
				t.Fatal(err)
			}
			if l.Len() != v.Size {
				t.Fatalf("Len %d, want %d", l.Len(), v.Size)
			}
			// Independent expectation: status i at bits (i%per)*bits of
			// byte i/per.
			want := make([]byte, v.Size*v.Bits/8)
			per := 8 / v.Bits
			for k, s := range v.Statuses {
				i, _ := strconv.Atoi(k)
				want[i/per] |= byte(s) << ((i % per) * v.Bits)
			}
			if !bytes.Equal(l.Bytes(), want) {
				t.Fatal("decoded statuses differ from the draft's list")
			}
			for k, s := range v.Statuses {
				i, _ := strconv.Atoi(k)
				if got, _ := l.Get(i); int(got) != s {
					t.Errorf("status[%d] = %d, want %d", i, got, s)
				}
			}
			mine, _ := NewTokenList(v.Size, v.Bits)
			for k, s := range v.Statuses {
				i, _ := strconv.Atoi(k)
				if err := mine.Set(i, Status(s)); err != nil {
					t.Fatal(err)
				}
			}
			lst, _ := mine.Encode()
			back, err := DecodeTokenList(lst, v.Bits)
			if err != nil || !bytes.Equal(back.Bytes(), want) {
				t.Fatalf("round trip: %v", err)
			}
			if lst == v.Lst {
				t.Logf("bits %d: identical lst", v.Bits)
			} else {
				t.Logf("bits %d: lst differs from the draft's (%d vs %d chars); statuses equal", v.Bits, len(lst), len(v.Lst))
			}
		})
	}
}

func zlibOf(data []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, _ = w.Write(data)
	_ = w.Close()
	return buf.Bytes()
}

func TestTokenListRejects(t *testing.T) {
	z := zlibOf([]byte{1, 2, 3, 4})
	b64 := base64.RawURLEncoding.EncodeToString
	cases := []struct {
		name, lst string
		bits      int
		want      error
	}{
		{"empty", "", 1, ErrMalformed},
		{"bits 3", b64(z), 3, ErrMalformed},
		{"bits 0", b64(z), 0, ErrMalformed},
		{"bits 16", b64(z), 16, ErrMalformed},
		{"padding", base64.URLEncoding.EncodeToString(z), 1, ErrMalformed},
		{"std alphabet", "eNrbuRgAAhcBXQ+/", 1, ErrMalformed},
		{"gzip, not zlib", b64(gzipOf(t, []byte{1})), 1, ErrMalformed},
		{"truncated", b64(z[:len(z)-2]), 1, ErrMalformed},
		{"bad adler32", b64(flip(z, len(z)-1)), 1, ErrMalformed},
		{"trailing bytes", b64(append(append([]byte(nil), z...), 0)), 1, ErrMalformed},
		{"empty list", b64(zlibOf(nil)), 1, ErrListLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeTokenList(c.lst, c.bits); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	// Zlib bomb: 64 MiB of zeros against a 16 MiB cap.
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestSpeed)
	zeros := make([]byte, 1<<20)
	for range 64 {
		_, _ = w.Write(zeros)
	}
	_ = w.Close()
	if _, err := DecodeTokenList(b64(buf.Bytes()), 1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("bomb: %v", err)
	}

	l, _ := NewTokenList(16, 2)
	if l.Len() != 16 {
		t.Fatalf("Len %d", l.Len())
	}
	for _, i := range []int{-1, 16} {
		if _, err := l.Get(i); !errors.Is(err, ErrRange) {
			t.Errorf("Get(%d): %v", i, err)
		}
		if err := l.Set(i, 0); !errors.Is(err, ErrRange) {
			t.Errorf("Set(%d): %v", i, err)
		}
	}
	if err := l.Set(0, 4); !errors.Is(err, ErrRange) {
		t.Errorf("status 4 in 2 bits: %v", err)
	}
	if _, err := NewTokenList(0, 1); !errors.Is(err, ErrListLength) {
		t.Errorf("size 0: %v", err)
	}
	if _, err := NewTokenList(8, 5); !errors.Is(err, ErrMalformed) {
		t.Errorf("bits 5: %v", err)
	}
}

func TestTokenBitOrderDiffersFromW3C(t *testing.T) {
	tl, _ := NewTokenList(8, 1)
	_ = tl.Set(0, StatusInvalid)
	bs, _ := New(8, 1, WithMinEntries(8))
	_ = bs.Set(0, 1)
	if tl.Bytes()[0] != 0x01 || bs.Bytes()[0] != 0x80 {
		t.Fatalf("token %02x, bitstring %02x", tl.Bytes()[0], bs.Bytes()[0])
	}
	for s, want := range map[Status]string{0: "VALID", 1: "INVALID", 2: "SUSPENDED", 0x0c: "0x0C"} {
		if s.String() != want {
			t.Errorf("%d.String() = %s", s, s.String())
		}
	}
}
