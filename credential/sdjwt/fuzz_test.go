package sdjwt

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParseCompact(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJfc2QiOltdfQ.c2ln~")
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJfc2QiOltdfQ.c2ln~WyJzYWx0IiwibmFtZSIsInZhbHVlIl0~eyJhIjoxfQ.eyJiIjoyfQ.c2ln")
	f.Add("a.b.c~~")
	f.Add("~~~~")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCompact(s, Limits{MaxSize: 1 << 16, MaxDisclosures: 64})
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unnamed error: %v", err)
			}
			return
		}
		if got := c.String(); got != s {
			t.Fatalf("round trip: %q != %q", got, s)
		}
		if !strings.HasSuffix(c.SDHashInput(), "~") {
			t.Fatal("sd_hash input must end in ~")
		}
		if got := sdHashInput(s, c); got != c.SDHashInput() {
			t.Fatalf("sdHashInput %q != SDHashInput %q", got, c.SDHashInput())
		}
		// Whatever parses must go through the holder's and verifier's
		// processing without panicking.
		_, _, _, _ = parseForHolder(s, Limits{MaxSize: 1 << 16, MaxDisclosures: 64, MaxDepth: 16})
	})
}

func FuzzDecodeDisclosure(f *testing.F) {
	for _, s := range []string{
		"WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd",
		"WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0",
		b64.EncodeToString([]byte(`["s","_sd",1]`)),
		b64.EncodeToString([]byte(`[1,"n",1]`)),
		b64.EncodeToString([]byte(`["s","a",{"a":1,"a":2}]`)),
		b64.EncodeToString([]byte(`["s",[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeDisclosure(s)
		if err != nil {
			for _, want := range []error{ErrInvalidDisclosure, ErrReservedClaimName, ErrTooLarge} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("unnamed error: %v", err)
		}
		if d.Encoded != s || d.Digest() != Digest(s) {
			t.Fatal("disclosure does not keep its encoding")
		}
		// Re-encoding the decoded parts must decode to the same parts.
		var again *Disclosure
		if d.IsArrayElement {
			again, err = NewArrayElementDisclosure(d.Salt, d.Value)
		} else {
			again, err = NewDisclosure(d.Salt, d.Name, d.Value)
		}
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := DecodeDisclosure(again.Encoded)
		if err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		if back.Salt != d.Salt || back.Name != d.Name || back.IsArrayElement != d.IsArrayElement {
			t.Fatal("re-encoded disclosure differs")
		}
	})
}
