package statuslist

import "testing"

func BenchmarkBitstringEncode(b *testing.B) {
	l := onePercentList(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBitstringDecode(b *testing.B) {
	enc, _ := onePercentList(b).Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBitstringGet(b *testing.B) {
	l := onePercentList(b)
	i := 0
	for b.Loop() {
		_, _ = l.Get(i)
		i = (i + 7919) % MinEntries
	}
}

func BenchmarkBitstringSet(b *testing.B) {
	l := onePercentList(b)
	i := 0
	for b.Loop() {
		_ = l.Set(i, 1)
		i = (i + 7919) % MinEntries
	}
}

func BenchmarkBitstringGet4(b *testing.B) {
	l, _ := New(MinEntries, 4)
	i := 0
	for b.Loop() {
		_, _ = l.Get(i)
		i = (i + 7919) % MinEntries
	}
}

// tokenOnePercent is a 131,072-status, 1-bit token list with 1% INVALID.
func tokenOnePercent(b *testing.B) *TokenList {
	l, _ := NewTokenList(MinEntries, 1)
	for i := 0; i < MinEntries; i += 100 {
		_ = l.Set(i, StatusInvalid)
	}
	return l
}

func BenchmarkTokenListEncode(b *testing.B) {
	l := tokenOnePercent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenListDecode(b *testing.B) {
	lst, _ := tokenOnePercent(b).Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTokenList(lst, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenListGetSet(b *testing.B) {
	l := tokenOnePercent(b)
	i := 0
	for b.Loop() {
		_ = l.Set(i, StatusSuspended&1)
		_, _ = l.Get(i)
		i = (i + 7919) % MinEntries
	}
}

func BenchmarkRandomIndex(b *testing.B) {
	for b.Loop() {
		if _, err := RandomIndex(nil, MinEntries, nil); err != nil {
			b.Fatal(err)
		}
	}
}
