package verifier

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash"
	"math"
	"slices"
	"strings"
	"sync"
)

// DefaultVerifiedCacheSize is how many credentials a Verifier remembers as
// having passed the checks that depend on nothing but the document (see
// WithVerifiedCache).
const DefaultVerifiedCacheSize = 1024

// WithVerifiedCache sets how many credentials the verifier remembers as
// having passed the structure, context, proof, issuerController and schema
// checks; 0 turns the memory off. The default is DefaultVerifiedCacheSize.
//
// An agent presents the same credentials on every call, each time inside a
// new presentation with a new challenge: the presentation's proof must be
// verified every time, the credentials' proofs need not be. What is
// remembered is the outcome of the checks that are a function of the
// credential's exact content alone:
//
//   - the key is a SHA-256 digest of the whole decoded document (every
//     member, proofs included, in an unambiguous length-prefixed encoding)
//     and the proof purpose, so any change to the credential is a miss;
//   - only credentials whose every proof is a Data Integrity proof by a
//     did:key or did:jwk verification method (self-certifying: the key
//     cannot change behind the DID) and carries no proof expiry are
//     remembered;
//   - only a complete pass, with no warning, is remembered; a failure is
//     always checked again.
//
// Validity period, status, issuer trust, holder binding, challenge, domain,
// delegation and assurance are checked on every verification: they depend
// on time, on the status lists and on the relying party's policy.
func WithVerifiedCache(size int) Option {
	return func(v *Verifier) { v.verified = newVerifiedCache(size) }
}

// verifiedCache is a bounded least-recently-used set of the digests of
// credentials that passed the document checks, each with whether it also
// passed the schema check; a nil *verifiedCache remembers nothing.
type verifiedCache struct {
	mu    sync.Mutex
	size  int
	order *list.List // of *verifiedEntry, most recent first
	byKey map[[sha256.Size]byte]*list.Element
}

type verifiedEntry struct {
	key      [sha256.Size]byte
	schemaOK bool
}

func newVerifiedCache(size int) *verifiedCache {
	if size <= 0 {
		return nil
	}
	return &verifiedCache{size: size, order: list.New(), byKey: map[[sha256.Size]byte]*list.Element{}}
}

// get reports whether key is remembered, and whether its credential also
// passed the schema check.
func (c *verifiedCache) get(key [sha256.Size]byte) (schemaOK, ok bool) {
	if c == nil {
		return false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return false, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*verifiedEntry).schemaOK, true
}

// put remembers key, forgetting the least recently used entry when full.
func (c *verifiedCache) put(key [sha256.Size]byte, schemaOK bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		e.Value.(*verifiedEntry).schemaOK = schemaOK
		c.order.MoveToFront(e)
		return
	}
	c.byKey[key] = c.order.PushFront(&verifiedEntry{key: key, schemaOK: schemaOK})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*verifiedEntry).key)
	}
}

// rememberable reports whether a credential's proofs may be remembered:
// each is a Data Integrity proof (type DataIntegrityProof) without an
// expiry, by a did:key or did:jwk verification method.
func rememberable(proofs []map[string]any) bool {
	if len(proofs) == 0 {
		return false
	}
	for _, p := range proofs {
		if t, _ := p["type"].(string); t != "DataIntegrityProof" {
			return false
		}
		if _, has := p["expires"]; has {
			return false
		}
		vm, _ := p["verificationMethod"].(string)
		if !strings.HasPrefix(vm, "did:key:") && !strings.HasPrefix(vm, "did:jwk:") {
			return false
		}
	}
	return true
}

// documentDigest is the cache key of doc checked for purpose: SHA-256 over
// an encoding of the decoded JSON value in which every value is tagged with
// its type and every string and container with its length, and object
// members are sorted by name, so that two different documents never share
// an encoding. ok is false for a value of a type JSON decoding does not
// produce (such a document is not remembered).
func documentDigest(purpose string, doc map[string]any) (key [sha256.Size]byte, ok bool) {
	d := digesters.Get().(*digester)
	defer digesters.Put(d)
	d.h.Reset()
	d.buf = d.space[:0]
	d.str(purpose)
	if !d.value(doc, 0) {
		return key, false
	}
	d.flush()
	d.h.Sum(key[:0])
	return key, true
}

// digesters holds digesters for reuse: each one's buffer would otherwise
// be allocated for every digest (it reaches h through an interface).
var digesters = sync.Pool{New: func() any { return &digester{h: sha256.New()} }}

// maxDigestDepth bounds the recursion; documents this deep were refused by
// the decoder long before.
const maxDigestDepth = 256

// digester feeds a document's encoding to h through a buffer of its own:
// a Write for each tag and string (through the hash.Hash interface, which
// also made each string a copy on the heap) cost more than the hashing.
type digester struct {
	h     hash.Hash
	buf   []byte // d.space[:n], the bytes not yet written to h
	space [1024]byte
}

// flush writes the buffered bytes to h.
func (d *digester) flush() {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
}

// bytes appends s, flushing as the buffer fills.
func (d *digester) bytes(s string) {
	for len(s) > 0 {
		if len(d.buf) == cap(d.buf) {
			d.flush()
		}
		n := copy(d.buf[len(d.buf):cap(d.buf)], s)
		d.buf = d.buf[:len(d.buf)+n]
		s = s[n:]
	}
}

func (d *digester) tag(t byte, n int) {
	if cap(d.buf)-len(d.buf) < 9 {
		d.flush()
	}
	d.buf = binary.BigEndian.AppendUint64(append(d.buf, t), uint64(n))
}

func (d *digester) str(s string) {
	d.tag('s', len(s))
	d.bytes(s)
}

func (d *digester) value(v any, depth int) bool {
	if depth > maxDigestDepth {
		return false
	}
	switch t := v.(type) {
	case nil:
		d.tag('z', 0)
	case bool:
		n := 0
		if t {
			n = 1
		}
		d.tag('b', n)
	case string:
		d.str(t)
	case json.Number:
		d.tag('n', len(t))
		d.bytes(string(t))
	case float64:
		d.tag('f', int(math.Float64bits(t)))
	case []any:
		d.tag('a', len(t))
		for _, e := range t {
			if !d.value(e, depth+1) {
				return false
			}
		}
	case map[string]any:
		d.tag('o', len(t))
		var space [16]string
		names := space[:0]
		for k := range t {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			d.str(k)
			if !d.value(t[k], depth+1) {
				return false
			}
		}
	default:
		return false
	}
	return true
}

// allOn reports whether every one of checks was asked for.
func allOn(r *recorder, checks ...Check) bool {
	for _, c := range checks {
		if !r.on(c) {
			return false
		}
	}
	return true
}
