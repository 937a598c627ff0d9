package statuslist

import (
	"bytes"
	"testing"
)

// FuzzDecodeBitstring feeds arbitrary encodedList strings and status sizes
// to Decode: it must never panic, and whatever decodes must re-encode to
// the same bits.
func FuzzDecodeBitstring(f *testing.F) {
	for _, s := range []string{
		"uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA",
		"uH4sIAAAAAAAAA-3OQREAAAQAMJqrppkMXu7clmBdAQAAAAAAAAAAAADAM3kdAAAAAGArBx7VyDsAQAAA",
		"H4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA",
		"uH4sIAAAAAAAA_2JkYAQEAAD__w",
		"u", "", "z", "uAAAA",
	} {
		for _, size := range []uint8{1, 2, 8} {
			f.Add(s, size, false)
			f.Add(s, size, true)
		}
	}
	f.Fuzz(func(t *testing.T, encoded string, size uint8, small bool) {
		statusSize := int(size%MaxStatusSize) + 1
		opts := []Option{WithMaxDecodedSize(1 << 20)}
		if small {
			opts = append(opts, WithMinEntries(1))
		}
		b, err := Decode(encoded, statusSize, opts...)
		if err != nil {
			return
		}
		if b.Len() < 1 || b.Len()*statusSize > len(b.data)*8 {
			t.Fatalf("Len %d with %d bytes of %d-bit entries", b.Len(), len(b.data), statusSize)
		}
		// Every entry reads; the last one is in range, the next is not.
		if _, err := b.Get(b.Len() - 1); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(b.Len()); err == nil {
			t.Fatal("Get past the end succeeded")
		}
		again, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		b2, err := Decode(again, statusSize, opts...)
		if err != nil {
			t.Fatalf("re-encoded list does not decode: %v", err)
		}
		if !bytes.Equal(b.data, b2.data) || b.Len() != b2.Len() {
			t.Fatal("round trip changed the bits")
		}
	})
}

// FuzzDecodeTokenStatusList does the same for Token Status List lst
// strings.
func FuzzDecodeTokenStatusList(f *testing.F) {
	for _, s := range []string{
		"eNrbuRgAAhcBXQ",
		"eNo76fITAAPfAgc",
		"eNrt3AENwCAMAEGogklACtKQPg9LugC9k_ACvreiogEAAKkeCQAAAAAAAAAAAAAAAAAAAIBylgQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAXG9IAAAAAAAAAPwsJAAAAAAAAAAAAAAAvhsSAAAAAAAAAAAA7KpLAAAAAAAAAAAAAAAAAAAAAJsLCQAAAAAAAAAAADjelAAAAAAAAAAAKjDMAQAAAACAZC8L2AEb",
		"eJwDAAAAAAE", "", "eA", "eNo",
	} {
		for _, bits := range []uint8{0, 1, 2, 3} {
			f.Add(s, bits)
		}
	}
	f.Fuzz(func(t *testing.T, lst string, bitsSel uint8) {
		bits := []int{1, 2, 4, 8}[bitsSel%4]
		l, err := DecodeTokenList(lst, bits, WithMaxDecodedSize(1<<20))
		if err != nil {
			return
		}
		if l.Len() < 1 {
			t.Fatalf("decoded an empty list")
		}
		if _, err := l.Get(l.Len() - 1); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Get(l.Len()); err == nil {
			t.Fatal("Get past the end succeeded")
		}
		again, err := l.Encode()
		if err != nil {
			t.Fatal(err)
		}
		l2, err := DecodeTokenList(again, bits, WithMaxDecodedSize(1<<20))
		if err != nil {
			t.Fatalf("re-encoded list does not decode: %v", err)
		}
		if !bytes.Equal(l.data, l2.data) {
			t.Fatal("round trip changed the statuses")
		}
	})
}
