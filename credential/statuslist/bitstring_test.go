package statuslist

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/testvectors"
)

// generatedVector is one file of vectors/bitstring-status-list/generated.
type generatedVector struct {
	Length      int    `json:"length"`
	SetIndexes  []int  `json:"setIndexes"`
	GzipLength  int    `json:"gzipLength"`
	EncodedList string `json:"encodedList"`
}

func TestGeneratedVectors(t *testing.T) {
	files, err := filepath.Glob(testvectors.Path(t, "bitstring-status-list", "generated", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated vectors: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var v generatedVector
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			got, err := Decode(v.EncodedList, 1)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Len() != v.Length {
				t.Fatalf("Len %d, want %d", got.Len(), v.Length)
			}
			gz, _ := base64.RawURLEncoding.DecodeString(v.EncodedList[1:])
			if len(gz) != v.GzipLength {
				t.Errorf("gzip length %d, vector says %d", len(gz), v.GzipLength)
			}
			want := expectedBits(v.Length, v.SetIndexes)
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatal("decoded bits differ from setIndexes")
			}
			for _, i := range v.SetIndexes {
				if s, _ := got.Get(i); s != 1 {
					t.Errorf("index %d not set", i)
				}
			}
			// Our encoding of the same set decodes to the same bits.
			mine, err := New(v.Length, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range v.SetIndexes {
				if err := mine.Set(i, 1); err != nil {
					t.Fatal(err)
				}
			}
			enc, err := mine.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(enc, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.Bytes(), want) {
				t.Fatal("our encoding decodes to other bits")
			}
		})
	}
}

// expectedBits builds a bitstring by hand, independently of Set: index i
// is bit 7-(i%8) of byte i/8.
func expectedBits(length int, set []int) []byte {
	b := make([]byte, length/8)
	for _, i := range set {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return b
}

func TestSpecExamples(t *testing.T) {
	dir := testvectors.Path(t, "bitstring-status-list", "spec-examples")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no spec examples: %v", err)
	}
	var entries, lists int
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var vc map[string]any
		if err := json.Unmarshal(raw, &vc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		// Entries: one object or an array of them.
		var statuses []any
		switch cs := vc["credentialStatus"].(type) {
		case map[string]any:
			statuses = []any{cs}
		case []any:
			statuses = cs
		}
		for _, s := range statuses {
			b, _ := json.Marshal(s)
			var e BitstringStatusListEntry
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("%s: %v", filepath.Base(file), err)
			}
			if err := e.Validate(); err != nil {
				t.Errorf("%s: entry %s: %v", filepath.Base(file), e.ID, err)
			}
			entries++
		}
		if _, ok := vc["credentialSubject"].(map[string]any)["encodedList"]; ok {
			subject, err := SubjectOf(vc)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(file), err)
			}
			list, err := Decode(subject.EncodedList, 1)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(file), err)
			}
			if list.Len() != MinEntries || !bytes.Equal(list.Bytes(), make([]byte, MinEntries/8)) {
				t.Errorf("%s: want %d zero bits", filepath.Base(file), MinEntries)
			}
			// The example entry for this list checks out as unrevoked.
			entry := &BitstringStatusListEntry{
				ID: "https://example.com/credentials/status/3#94567", Type: EntryType,
				StatusPurpose: PurposeRevocation, StatusListIndex: "94567",
				StatusListCredential: "https://example.com/credentials/status/3",
			}
			res, err := Check(entry, subject)
			if err != nil || !res.Valid || res.Status != 0 || res.Message != "unset" {
				t.Errorf("%s: Check = %+v, %v", filepath.Base(file), res, err)
			}
			lists++
		}
	}
	if entries != 3 || lists != 2 {
		t.Errorf("checked %d entries and %d lists, want 3 and 2", entries, lists)
	}
	t.Logf("spec examples: %d entries, %d status list credentials", entries, lists)
}

func TestBitOrder(t *testing.T) {
	b, err := New(MinEntries, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 9, MinEntries - 1} {
		if err := b.Set(i, 1); err != nil {
			t.Fatal(err)
		}
	}
	d := b.Bytes()
	if d[0] != 0x80 || d[1] != 0x40 || d[len(d)-1] != 0x01 {
		t.Fatalf("bytes %02x %02x … %02x, want 80 40 … 01", d[0], d[1], d[len(d)-1])
	}
	if err := b.Set(0, 0); err != nil {
		t.Fatal(err)
	}
	if b.Bytes()[0] != 0 {
		t.Fatal("Set 0 did not clear")
	}
}

func TestMultiBitEntries(t *testing.T) {
	for size := 1; size <= MaxStatusSize; size++ {
		b, err := New(MinEntries, size)
		if err != nil {
			t.Fatal(err)
		}
		if b.Len() != MinEntries || len(b.Bytes()) != (MinEntries*size+7)/8 {
			t.Fatalf("size %d: Len %d, %d bytes", size, b.Len(), len(b.Bytes()))
		}
		// Write a pattern, then check every value and the neighbours.
		max := uint(1)<<size - 1
		idx := []int{0, 1, 2, 3, 7, 8, 1000, MinEntries - 2, MinEntries - 1}
		for k, i := range idx {
			if err := b.Set(i, uint(k+1)&max); err != nil {
				t.Fatal(err)
			}
		}
		enc, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(enc, size)
		if err != nil {
			t.Fatal(err)
		}
		for k, i := range idx {
			if v, _ := d.Get(i); v != uint(k+1)&max {
				t.Errorf("size %d index %d = %d, want %d", size, i, v, uint(k+1)&max)
			}
		}
		if v, _ := d.Get(500); v != 0 {
			t.Errorf("size %d: untouched entry = %d", size, v)
		}
		if err := b.Set(5, max+1); !errors.Is(err, ErrRange) {
			t.Errorf("size %d: value %d accepted: %v", size, max+1, err)
		}
	}
	// Two-bit layout: entry 0 is the two top bits of byte 0, MSB first.
	b, _ := New(MinEntries, 2)
	_ = b.Set(0, 2)
	_ = b.Set(3, 1)
	if got := b.Bytes()[0]; got != 0b10_00_00_01 {
		t.Fatalf("byte 0 = %08b", got)
	}
	// Three-bit entries straddle bytes: entry 2 is bits 6..8.
	b, _ = New(MinEntries, 3)
	_ = b.Set(2, 0b101)
	if got := b.Bytes()[:2]; got[0] != 0b00000010 || got[1] != 0b10000000 {
		t.Fatalf("bytes %08b %08b", got[0], got[1])
	}
}

func TestNewLimits(t *testing.T) {
	if _, err := New(MinEntries-1, 1); !errors.Is(err, ErrListLength) {
		t.Errorf("short list: %v", err)
	}
	if _, err := New(MinEntries/2, 2); !errors.Is(err, ErrListLength) {
		t.Errorf("16 KiB of 2-bit entries: %v", err)
	}
	for _, s := range []int{0, -1, 9} {
		if _, err := New(MinEntries, s); !errors.Is(err, ErrMalformed) {
			t.Errorf("statusSize %d: %v", s, err)
		}
	}
	if _, err := New(DefaultMaxDecodedSize*8+1, 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversize: %v", err)
	}
	if b, err := New(16, 1, WithMinEntries(16)); err != nil || b.Len() != 16 {
		t.Errorf("WithMinEntries: %v", err)
	}
	b, _ := New(MinEntries, 1)
	for _, i := range []int{-1, MinEntries} {
		if _, err := b.Get(i); !errors.Is(err, ErrRange) {
			t.Errorf("Get(%d): %v", i, err)
		}
		if err := b.Set(i, 1); !errors.Is(err, ErrRange) {
			t.Errorf("Set(%d): %v", i, err)
		}
	}
}

// gzipOf compresses data for the negative tests.
func gzipOf(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(data)
	_ = w.Close()
	return buf.Bytes()
}

func TestDecodeRejects(t *testing.T) {
	valid := "u" + base64.RawURLEncoding.EncodeToString(gzipOf(t, make([]byte, MinEntries/8)))
	gz := gzipOf(t, make([]byte, MinEntries/8))
	cases := []struct {
		name, in string
		size     int
		want     error
	}{
		{"empty", "", 1, ErrMalformed},
		{"prefix only", "u", 1, ErrMalformed},
		{"base58btc prefix", "z" + valid[1:], 1, ErrMalformed},
		{"padded base64url prefix", "U" + valid[1:] + "==", 1, ErrMalformed},
		{"base64 prefix", "m" + base64.RawStdEncoding.EncodeToString(gz), 1, ErrMalformed},
		{"not base64url", "uH4sI!!!!", 1, ErrMalformed},
		{"padding", valid + "=", 1, ErrMalformed},
		{"line break", valid[:20] + "\n" + valid[20:], 1, ErrMalformed},
		{"not gzip", "u" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 64)), 1, ErrMalformed},
		{"truncated", "u" + base64.RawURLEncoding.EncodeToString(gz[:len(gz)-6]), 1, ErrMalformed},
		{"bad checksum", "u" + base64.RawURLEncoding.EncodeToString(flip(gz, len(gz)-5)), 1, ErrMalformed},
		{"trailing garbage", "u" + base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), gz...), 1, 2, 3)), 1, ErrMalformed},
		{"too short", "u" + base64.RawURLEncoding.EncodeToString(gzipOf(t, make([]byte, MinEntries/8-1))), 1, ErrListLength},
		{"too short for 2-bit entries", valid, 2, ErrListLength},
		{"statusSize 0", valid, 0, ErrMalformed},
		{"statusSize 9", valid, 9, ErrMalformed},
		{"legacy when strict", valid[1:], 1, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opts []Option
			if c.name == "legacy when strict" {
				opts = append(opts, StrictMultibase())
			}
			if _, err := Decode(c.in, c.size, opts...); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	// The legacy StatusList2021 form (no multibase prefix) is accepted by
	// default.
	if b, err := Decode(valid[1:], 1); err != nil || b.Len() != MinEntries {
		t.Fatalf("legacy form: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xff
	return c
}

func TestGzipBomb(t *testing.T) {
	// 256 MiB of zeros compresses to about 256 KiB; the decoder must stop
	// at the 16 MiB cap, quickly, without allocating the rest.
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zeros := make([]byte, 1<<20)
	for range 256 {
		_, _ = w.Write(zeros)
	}
	_ = w.Close()
	bomb := "u" + base64.RawURLEncoding.EncodeToString(buf.Bytes())
	t.Logf("bomb: %d bytes of gzip for 256 MiB", buf.Len())

	start := time.Now()
	_, err := Decode(bomb, 1)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
	t.Logf("refused in %s", time.Since(start))

	// A smaller cap refuses a legitimate list that exceeds it.
	if _, err := Decode(bomb, 1, WithMaxDecodedSize(MinEntries/8)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("small cap: %v", err)
	}
	// Encoded text longer than any list under the cap is refused unread.
	huge := "u" + strings.Repeat("A", maxEncodedLen(DefaultMaxDecodedSize)+1)
	if _, err := Decode(huge, 1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge input: %v", err)
	}
}

func TestRoundTripOnePercent(t *testing.T) {
	b := onePercentList(t)
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "uH4sI") {
		t.Fatalf("encodedList %.10s…", enc)
	}
	d, err := Decode(enc, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Bytes(), b.Bytes()) {
		t.Fatal("round trip changed bits")
	}
	t.Logf("131072 entries, 1%% set: encodedList %d characters", len(enc))
}

// onePercentList is a minimum-size list with every 100th entry set.
func onePercentList(t testing.TB) *Bitstring {
	b, err := New(MinEntries, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < MinEntries; i += 100 {
		_ = b.Set(i, 1)
	}
	return b
}
