package didmethods

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/agentid/agentid/internal/boundedcache"
	"github.com/agentid/agentid/keys"
)

// Every key type decodes through the cache to what keys.DecodeMultikey
// gives, on the first call and on cache hits.
func TestMultikeyCacheSameAsDecode(t *testing.T) {
	for typ, pub := range randomKeys(t) {
		mb, err := keys.EncodeMultikey(pub)
		if err != nil {
			t.Fatal(err)
		}
		wantTyp, want, err := keys.DecodeMultikey(mb)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			gotTyp, got, err := decodeMultikey(mb)
			if err != nil || gotTyp != wantTyp || gotTyp != typ || !equalKeys(got, want) {
				t.Fatalf("%s call %d: %s %v %v, want %s %v", typ, i, gotTyp, got, err, wantTyp, want)
			}
		}
		if _, ok := multikeys.Get(mb); !ok {
			t.Errorf("%s: not cached", typ)
		}
	}
}

// A caller that changes the key it got changes nothing for the next one.
func TestMultikeyCacheCopies(t *testing.T) {
	keysByType := randomKeys(t)
	ed := keysByType[keys.Ed25519].(ed25519.PublicKey)
	mb, _ := keys.EncodeMultikey(ed)
	_, a, _ := decodeMultikey(mb)
	_, b, _ := decodeMultikey(mb)
	a.(ed25519.PublicKey)[0] ^= 0xff
	b.(ed25519.PublicKey)[1] ^= 0xff
	if _, c, _ := decodeMultikey(mb); !ed.Equal(c) {
		t.Fatal("a caller's change to an Ed25519 key reached the cache")
	}

	p256 := keysByType[keys.P256].(*ecdsa.PublicKey)
	mb, _ = keys.EncodeMultikey(p256)
	_, a, _ = decodeMultikey(mb)
	_, b, _ = decodeMultikey(mb)
	if a == b {
		t.Fatal("two callers share one *ecdsa.PublicKey")
	}
	a.(*ecdsa.PublicKey).Curve = elliptic.P384()
	if _, c, _ := decodeMultikey(mb); !p256.Equal(c) {
		t.Fatal("a caller's change to an ECDSA key reached the cache")
	}
}

// Failures are not cached: a bad Multikey fails every time, and a string
// one character away from a cached key is decoded on its own.
func TestMultikeyCacheErrors(t *testing.T) {
	p256 := randomKeys(t)[keys.P256]
	mb, _ := keys.EncodeMultikey(p256)
	if _, _, err := decodeMultikey(mb); err != nil {
		t.Fatal(err)
	}
	bad := []string{"", "z", "x" + mb[1:], mb + "1", mb[:len(mb)-1], strings.Replace(mb, mb[5:6], "0", 1),
		multikeyDID(t, codec(0x1200), notOnCurve(t, elliptic.P256()))[len("did:key:"):]}
	for _, s := range bad {
		before := multikeys.Len()
		for range 2 {
			_, _, err := decodeMultikey(s)
			_, _, want := keys.DecodeMultikey(s)
			if (err == nil) != (want == nil) {
				t.Fatalf("%q: %v, keys.DecodeMultikey: %v", s, err, want)
			}
			if err == nil {
				continue // a different, valid key
			}
			if _, ok := multikeys.Get(s); ok {
				t.Fatalf("%q: failure cached", s)
			}
		}
		if multikeys.Len() > before+1 {
			t.Fatalf("%q grew the cache by more than one entry", s)
		}
	}
	// The P-256 did:key whose point is not on the curve is refused by
	// resolution, not only by decodeMultikey.
	off := multikeyDID(t, codec(0x1200), notOnCurve(t, elliptic.P256()))
	for range 2 {
		if _, _, err := ParseDIDKey(off); err == nil {
			t.Fatal("point off the curve accepted")
		}
	}
}

// The cache holds at most multikeyCacheSize keys and stays usable from
// many goroutines.
func TestMultikeyCacheBoundedConcurrent(t *testing.T) {
	const n = 64
	mbs := make([]string, n)
	for i := range mbs {
		pub := ed25519.NewKeyFromSeed([]byte(fmt.Sprintf("%032d", i))).Public()
		mbs[i], _ = keys.EncodeMultikey(pub)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				mb := mbs[(g*7+i)%n]
				if _, pub, err := decodeMultikey(mb); err != nil || pub == nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	c := boundedcache.New[string, multikeyEntry](multikeyCacheSize)
	for i := range multikeyCacheSize + 10 {
		c.Put(fmt.Sprint(i), multikeyEntry{typ: keys.Ed25519, pub: ed25519.PublicKey(make([]byte, 32))})
	}
	if got := c.Len(); got != multikeyCacheSize {
		t.Fatalf("cache holds %d keys, bound %d", got, multikeyCacheSize)
	}
}

func BenchmarkResolveP256DIDKey(b *testing.B) {
	did, err := CreateKey(randomKeys(b)[keys.P256])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := (KeyResolver{}).Resolve(b.Context(), did, ResolveOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := res.Document.VerificationMethod[0].PublicKey(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateKeyP256(b *testing.B) {
	pub := randomKeys(b)[keys.P256]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CreateKey(pub); err != nil {
			b.Fatal(err)
		}
	}
}
