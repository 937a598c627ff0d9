package jsonld

import (
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/piprate/json-gold/ld"

	"github.com/agentid/agentid/internal/jsonvalue"
)

// # The fast path: JSON-LD straight to RDF quads
//
// json-gold turns a credential into RDF in three passes (expansion, node
// map, RDF), re-processes every type-scoped and property-scoped context it
// meets (the VC 2.0 context puts dozens of terms under VerifiableCredential
// and DataIntegrityProof), and checks every IRI of every statement against
// a URL regular expression. For a 1 KB credential that is hundreds of
// microseconds, most of it repeated work.
//
// The fast path walks the compact document once and emits quads directly.
// It asks json-gold's own processed contexts the questions that decide the
// output (what a key expands to, what a value expands to, which scoped
// context a term carries), so IRI expansion and value coercion are json-gold's
// and not a re-implementation; the answers that depend only on the context
// (keys, types, derived scoped contexts) are cached on the context, and IRI
// validity is checked once per distinct IRI.
//
// It handles the subset credentials and presentations use: node objects
// with @id and @type, terms with @id/@vocab/datatype coercion, @set and
// @graph containers, type-scoped and property-scoped contexts (including
// the null context VC 2.0 puts on verifiableCredential), embedded @context
// values in nested node objects (URLs, arrays of URLs, inline context
// objects), strings, booleans and numbers. Anything else (a null or
// @propagate context, @value objects, @list, @language, language, index, id
// and type maps, @json, @reverse, @nest, @included, a top-level @graph,
// relative or invalid IRIs, undefined terms, JSON numbers as json.Number,
// and so on) is detected while walking and answered with
// errFallback: the document then goes through json-gold, which produces the
// output or the safe-mode error. Correctness therefore never depends on how
// much the fast path covers, only on it being exact for what it accepts,
// which the differential tests and FuzzCanonicalizeDifferential check
// against json-gold.

// errFallback is the fast path declining a document; it never leaves the
// package.
var errFallback = errors.New("jsonld: document outside the fast path")

// Bounds of the per-context caches. Keys, types and embedded contexts come
// from documents, so the caches stop growing at these sizes (lookups still
// work, uncached).
const (
	maxCachedKeys    = 4096
	maxCachedKeyLen  = 256
	maxDerived       = 256
	maxCachedIRIs    = 16384
	maxFastBlankNode = 1 << 16
	// maxDerivedTotal bounds the derived contexts cached under one
	// Processor, whatever their depth: embedded contexts are named by
	// documents, and each cached one may cache further ones. Inline
	// embedded contexts (anything but URLs) have a budget of their own,
	// maxInlineTotal, so that documents inventing them cannot use up the
	// room the usual URL contexts need.
	maxDerivedTotal = 1024
	maxInlineTotal  = 256
	// maxEmbeddedKeyLen bounds the cache key of an embedded context (its
	// URLs, or its JSON); longer ones are processed uncached.
	maxEmbeddedKeyLen = 2048
)

// ctxEnv is what the active contexts of one Processor share: json-gold's
// options (for the null context) and the count of cached derived contexts.
type ctxEnv struct {
	opts    *ld.JsonLdOptions
	derived atomic.Int64
	inline  atomic.Int64
}

// activeCtx is a processed json-gold context plus what the fast path
// learned about it. The json-gold context is never modified after
// construction; the caches are guarded by mu.
type activeCtx struct {
	ld  *ld.Context
	env *ctxEnv
	// terms is ld's term definitions (read only, as ld is).
	terms map[string]any
	// prev is the context to revert to when entering a nested node object:
	// set when this context came from a type-scoped context, which does not
	// propagate (JSON-LD 1.1 §4.1.3). It mirrors json-gold's previousContext.
	prev *activeCtx
	// ldPrev is set when json-gold itself recorded a previous context in ld
	// (a context with "@propagate": false): the fast path does not track
	// that and declines documents in such a context.
	ldPrev bool
	// inline is set on contexts derived, at any depth, from an inline
	// embedded context: they are cached within maxInlineTotal.
	inline bool
	// ephemeral is set on contexts no cache holds: what is derived from
	// them is not cached either (it would live only as long as they do).
	ephemeral bool

	// The caches are read without locking (every document reads them
	// many times, on every core); mu orders the additions to derived.
	keys    readCache[string, string]    // term or IRI → ExpandIri(key, vocab)
	types   readCache[string, string]    // @type value → ExpandIri(value, relative, vocab)
	rules   readCache[string, valueRule] // term → valueRule
	derived readCache[derivedKey, *activeCtx]
	mu      sync.Mutex
}

// readCache is a bounded cache made for reads from many goroutines at
// once: a lookup takes no lock and writes no shared memory (a
// sync.RWMutex's read lock does, which makes the cores contend for it).
// It stops growing at the bound given to add; entries are never evicted.
type readCache[K comparable, V any] struct {
	m sync.Map
	n atomic.Int64
}

func (c *readCache[K, V]) get(k K) (V, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

// add stores v under k unless the cache holds max entries (concurrent adds
// may overshoot max by the number of goroutines) and returns the value
// cached under k, which may be one added concurrently.
func (c *readCache[K, V]) add(k K, v V, max int) V {
	if c.n.Load() >= int64(max) {
		return v
	}
	actual, loaded := c.m.LoadOrStore(k, v)
	if !loaded {
		c.n.Add(1)
	}
	return actual.(V)
}

// len is the number of entries.
func (c *readCache[K, V]) len() int { return int(c.n.Load()) }

// valueRule is how json-gold's ExpandValue coerces a scalar value of one
// term in one context. ExpandValue builds a fresh map per value; what it
// puts in that map depends only on the term definition and the context's
// defaults (and, for @id and @vocab coercion, on the IRI expansion of the
// value), so the fast path asks it once per term and context and caches
// the answer.
type valueRule struct {
	// id is ruleLiteral, or ruleID / ruleVocab when a string value
	// becomes a node reference: ExpandIri(value, relative, vocab) with
	// vocab set for ruleVocab.
	id byte
	// hasType is set when a literal gets the datatype datatype (the
	// term's type mapping, as ExpandValue copies it).
	hasType  bool
	datatype any
	// langDir is set when a string literal would get @language or
	// @direction (which the fast path leaves to json-gold).
	langDir bool
}

// Kinds of valueRule.id.
const (
	ruleLiteral byte = iota
	ruleID
	ruleVocab
)

// derivedKey names a derived context: the scoped context that term
// carries in src, applied with or without propagation, or (embedded set,
// src nil) the embedded @context whose key is term.
type derivedKey struct {
	src       *activeCtx
	term      string
	propagate bool
	embedded  bool
}

func newActiveCtx(c *ld.Context, prev *activeCtx, env *ctxEnv) *activeCtx {
	m := c.AsMap()
	_, ldPrev := m["previousContext"]
	terms, _ := m["termDefinitions"].(map[string]any)
	return &activeCtx{ld: c, env: env, terms: terms, prev: prev, ldPrev: ldPrev}
}

// cached returns the derived context k, if cached.
func (c *activeCtx) cached(k derivedKey) (*activeCtx, bool) {
	return c.derived.get(k)
}

// remember caches d (not yet shared) as the derived context k, within the
// bounds, and returns the context to use (one cached concurrently wins). A
// d left uncached is marked ephemeral.
func (c *activeCtx) remember(k derivedKey, d *activeCtx) *activeCtx {
	d.inline = c.inline || (k.embedded && strings.HasPrefix(k.term, "j"))
	d.ephemeral = true
	if c.ephemeral {
		return d
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if existing, ok := c.derived.get(k); ok {
		return existing
	}
	if c.derived.len() >= maxDerived {
		return d
	}
	budget, limit := &c.env.derived, int64(maxDerivedTotal)
	if d.inline {
		budget, limit = &c.env.inline, maxInlineTotal
	}
	if budget.Add(1) <= limit {
		d.ephemeral = false // before d is shared
		c.derived.add(k, d, maxDerived)
	}
	return d
}

// expandKey is json-gold's expansion of a property key (vocabulary
// relative), cached.
func (c *activeCtx) expandKey(key string) (string, error) {
	return c.cachedExpand(&c.keys, key, false)
}

// expandType is json-gold's expansion of an @type value (vocabulary and
// document relative), cached.
func (c *activeCtx) expandType(t string) (string, error) {
	return c.cachedExpand(&c.types, t, true)
}

func (c *activeCtx) cachedExpand(cache *readCache[string, string], s string, relative bool) (string, error) {
	if v, ok := cache.get(s); ok {
		return v, nil
	}
	v, err := c.ld.ExpandIri(s, relative, true, nil, nil)
	if err != nil {
		return "", errFallback
	}
	if len(s) <= maxCachedKeyLen {
		cache.add(s, v, maxCachedKeys)
	}
	return v, nil
}

// expandID is json-gold's ExpandIri(s, relative, not vocab, nil, nil), the
// expansion of an @id value and of a value coerced to @id, without its
// keyword tests, regular expression and URL parsing for the IRIs
// credentials use. It follows ExpandIri's steps: s does not start with
// '@', so it is no keyword (steps 1 and 2); a blank node label or an IRI
// whose colon is followed by "//" is returned as it is (step 4.2);
// otherwise, when no term of c is named like the part before the colon,
// step 4.4 returns s if it is an absolute IRI, which validFastIRI (cached)
// implies. Anything else is ExpandIri's.
func (c *activeCtx) expandID(s string) (string, error) {
	if s != "" && s[0] != '@' {
		if i := strings.IndexByte(s, ':'); i > 0 {
			if s[:i] == "_" || strings.HasPrefix(s[i+1:], "//") {
				return s, nil
			}
			if _, term := c.terms[s[:i]]; !term && c.terms != nil && validFastIRI(s) {
				return s, nil
			}
		}
	}
	v, err := c.ld.ExpandIri(s, true, false, nil, nil)
	if err != nil {
		return "", errFallback
	}
	return v, nil
}

// valueRule returns the coercion json-gold's ExpandValue applies to a
// scalar value of key in c, cached. It reads the term definition as
// ExpandValue does for @id and @vocab coercion, and otherwise takes the
// answer from ExpandValue itself on a string probe: a datatype is set
// whatever the value's JSON kind (ExpandValue's step 4 comes before its
// string-only language and direction steps), and language and direction
// apply to every string alike.
func (c *activeCtx) valueRule(key string) (valueRule, error) {
	r, ok := c.rules.get(key)
	if ok {
		return r, nil
	}
	td := c.ld.GetTermDefinition(key)
	switch {
	case td != nil && td["@type"] == "@id":
		r.id = ruleID
	case td != nil && td["@type"] == "@vocab":
		r.id = ruleVocab
	default:
		ev, err := c.ld.ExpandValue(key, "")
		if err != nil {
			return r, errFallback
		}
		m, ok := ev.(map[string]any)
		if !ok {
			return r, errFallback
		}
		r.datatype, r.hasType = m["@type"]
		_, lang := m["@language"]
		_, dir := m["@direction"]
		r.langDir = lang || dir
	}
	if len(key) <= maxCachedKeyLen {
		c.rules.add(key, r, maxCachedKeys)
	}
	return r, nil
}

// derive returns c with the scoped context that term carries in src
// applied, as json-gold applies it: with propagation for a property-scoped
// context, without for a type-scoped one. json-gold applies property-scoped
// contexts with protected-term overriding allowed; Parse does not allow it,
// so a scoped context that overrides a protected term fails here and the
// document falls back (it does not occur in the embedded contexts). A null
// property-scoped context (VC 2.0's verifiableCredential) is json-gold's
// null context: a fresh context over the processor's options, without the
// sentinel @vocab and without a previous context.
func (c *activeCtx) derive(src *activeCtx, term string, scoped any, propagate bool) (*activeCtx, error) {
	k := derivedKey{src: src, term: term, propagate: propagate}
	if d, ok := c.cached(k); ok {
		return d, nil
	}
	var d *activeCtx
	switch s := scoped.(type) {
	case nil:
		// json-gold refuses to nullify a context with protected terms
		// only for type-scoped contexts (overriding is not allowed there);
		// a type-scoped null context also keeps a previous context. Only
		// the property-scoped case is handled.
		if !propagate || c.env == nil {
			return nil, errFallback
		}
		d = newActiveCtx(ld.NewContext(nil, c.env.opts), nil, c.env)
	case string, map[string]any:
		if m, ok := s.(map[string]any); ok {
			if _, ok := m["@propagate"]; ok {
				return nil, errFallback
			}
		}
		parsed, err := c.ld.Parse(jsonvalue.Clone(scoped))
		if err != nil {
			return nil, errFallback
		}
		prev := c.prev
		if !propagate && prev == nil {
			prev = c
		}
		d = newActiveCtx(parsed, prev, c.env)
	default: // arrays: rare, leave them to json-gold
		return nil, errFallback
	}
	if d.ldPrev {
		return nil, errFallback
	}
	return c.remember(k, d), nil
}

// embed returns c with the embedded @context local (the value of a nested
// node object's "@context") applied, as json-gold's expansion applies it:
// Parse, which propagates and does not allow protected terms to be
// redefined other than identically (json-gold fails then, and so the fast
// path falls back). The result keeps c's previous context, as json-gold's
// copy of the active context does. Null contexts and contexts with
// @propagate are left to json-gold. Results are cached by the context's
// URLs or JSON.
func (c *activeCtx) embed(local any) (*activeCtx, error) {
	key, ok := embeddedKey(local)
	if !ok {
		return nil, errFallback
	}
	k := derivedKey{term: key, embedded: true}
	if d, ok := c.cached(k); ok {
		return d, nil
	}
	parsed, err := c.ld.Parse(jsonvalue.Clone(local))
	if err != nil {
		return nil, errFallback
	}
	d := newActiveCtx(parsed, c.prev, c.env)
	if d.ldPrev {
		return nil, errFallback
	}
	if len(key) > maxEmbeddedKeyLen {
		d.inline, d.ephemeral = true, true
		return d, nil
	}
	return c.remember(k, d), nil
}

// embeddedKey returns the cache key of an embedded @context value, or
// false for a value the fast path leaves to json-gold: null (alone or in an
// array: nullification), an object with @propagate, or anything holding
// values other than encoding/json's (a json.Number 1.1 and a float64 1.1
// would otherwise share a key and not a meaning). Distinct values have
// distinct keys: URLs are length-prefixed, anything else is JSON.
func embeddedKey(local any) (string, bool) {
	switch t := local.(type) {
	case string:
		return "s" + t, true
	case map[string]any:
		return jsonKey(t)
	case []any:
		size := 1
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return jsonKey(t)
			}
			size += len(s) + 21 // length in decimal and ':'
		}
		var sb strings.Builder
		sb.Grow(size) // the key's one allocation
		sb.WriteByte('a')
		for _, e := range t {
			s := e.(string)
			var n [20]byte
			sb.Write(strconv.AppendInt(n[:0], int64(len(s)), 10))
			sb.WriteByte(':')
			sb.WriteString(s)
		}
		return sb.String(), true
	}
	return "", false
}

// jsonKey is embeddedKey for a context with inline objects.
func jsonKey(local any) (string, bool) {
	items := []any{local}
	if arr, ok := local.([]any); ok {
		items = arr
	}
	for _, e := range items {
		switch m := e.(type) {
		case string:
		case map[string]any:
			if _, ok := m["@propagate"]; ok {
				return "", false
			}
		default: // null, or not a context
			return "", false
		}
	}
	if !plainJSON(local, 0) {
		return "", false
	}
	b, err := json.Marshal(local)
	if err != nil {
		return "", false
	}
	return "j" + string(b), true
}

// plainJSON reports whether v holds only encoding/json's values (finite
// numbers), nested at most 32 levels.
func plainJSON(v any, depth int) bool {
	if depth > 32 {
		return false
	}
	switch t := v.(type) {
	case nil, string, bool:
		return true
	case float64:
		return !math.IsNaN(t) && !math.IsInf(t, 0)
	case []any:
		for _, e := range t {
			if !plainJSON(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range t {
			if !plainJSON(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// iriCache remembers whether an IRI is one the fast path may emit: absolute
// by json-gold's test and not dropped by json-gold's validity check (the
// URL regular expression for http and https IRIs).
var iriCache readCache[string, bool]

func validFastIRI(s string) bool {
	if ok, found := iriCache.get(s); found {
		return ok
	}
	ok := !strings.HasPrefix(s, "_:") && !strings.HasPrefix(s, sentinelVocab) && ld.IsAbsoluteIri(s) &&
		!strings.ContainsAny(s, "<> \"{}|\\^`\n\r\t") &&
		(!(strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) || ld.IsURL(s))
	iriCache.add(s, ok, maxCachedIRIs)
	return ok
}

// Kinds of RDF terms.
const (
	kindNone byte = iota // the default graph
	kindIRI
	kindBlank
	kindLiteral
)

// rdfTerm is an RDF term: an IRI, a blank node (by its number in the
// document, blank) or a literal with its datatype IRI (no language-tagged
// literals here).
type rdfTerm struct {
	value    string
	datatype string
	kind     byte
	// origin tells literals apart that serialize alike but that json-gold's
	// node map keeps apart (the string "5" typed xsd:integer and the number
	// 5; "x" and "x" typed xsd:string): the JSON kind, plus literalTyped
	// when the value carried a datatype. Not serialized.
	origin byte
	// blank numbers a blank node: 0, 1, … in the order the walk met them.
	blank int32
}

// Origins of literals.
const (
	literalString byte = 1 + iota
	literalBool
	literalNumber
	literalJSON
	literalTyped byte = 8
)

type rdfQuad struct {
	s, p, o, g rdfTerm
}

// Frequently used IRIs.
var (
	iriRDFType = rdfTerm{kind: kindIRI, value: ld.RDFType}
)

// quadBuilder walks one document and collects its quads.
//
// With check set it only walks: it makes every decision it would make when
// collecting (so it declines exactly the documents it would decline) but
// keeps no quads and builds no literal strings. Check uses it: the
// safe-mode verdict needs to know that the fast path takes the whole
// document, not what the document says.
type quadBuilder struct {
	check  bool
	quads  []rdfQuad
	blanks map[string]int32 // the document's own blank node ids → numbers
	next   int
	order  []int32 // scratch of fastQuads
}

// emit collects one quad (nothing in check mode).
func (b *quadBuilder) emit(s, p, o, g rdfTerm) {
	if !b.check {
		b.quads = append(b.quads, rdfQuad{s, p, o, g})
	}
}

func (b *quadBuilder) fresh() (rdfTerm, error) {
	if b.next >= maxFastBlankNode {
		return rdfTerm{}, errFallback
	}
	t := rdfTerm{kind: kindBlank, blank: int32(b.next)}
	b.next++
	return t, nil
}

// builders recycles quadBuilders (their quad slices and maps) between
// canonicalizations.
var builders = sync.Pool{New: func() any { return new(quadBuilder) }}

// maxPooledQuads bounds the quad slice a recycled builder keeps.
const maxPooledQuads = 4096

// release clears b (so that it keeps no document alive) and recycles it.
func (b *quadBuilder) release() {
	if cap(b.quads) > maxPooledQuads {
		return
	}
	clear(b.quads[:cap(b.quads)])
	b.quads, b.order = b.quads[:0], b.order[:0]
	clear(b.blanks)
	b.next, b.check = 0, false
	builders.Put(b)
}

// idTerm turns an expanded @id into a term.
func (b *quadBuilder) idTerm(id string) (rdfTerm, error) {
	if strings.HasPrefix(id, "_:") {
		if n, ok := b.blanks[id]; ok {
			return rdfTerm{kind: kindBlank, blank: n}, nil
		}
		t, err := b.fresh()
		if err != nil {
			return t, err
		}
		if b.blanks == nil {
			b.blanks = map[string]int32{}
		}
		b.blanks[id] = t.blank
		return t, nil
	}
	if !validFastIRI(id) {
		return rdfTerm{}, errFallback
	}
	return rdfTerm{kind: kindIRI, value: id}, nil
}

// node converts a node object and returns its subject. c is the active
// context the object is expanded in, prop the (compact) property whose
// value it is ("" at the top), typeScoped the context json-gold calls
// typeScopedContext, and graph the graph its statements go to.
func (b *quadBuilder) node(c *activeCtx, prop string, elem map[string]any, typeScoped *activeCtx, graph rdfTerm, top bool) (rdfTerm, error) {
	var none rdfTerm
	if c.ldPrev {
		return none, errFallback
	}
	// The top-level @context is the active context c already; a nested
	// one is applied below, after the property-scoped context.
	localCtx, hasCtx := elem["@context"]
	// The property-scoped context of prop, looked up before reverting.
	var propScoped any
	var propSrc *activeCtx
	if prop != "" {
		if sc, ok := c.ld.GetTermDefinition(prop)["@context"]; ok {
			propScoped, propSrc = sc, c
		}
	}
	// Revert a non-propagated (type-scoped) context, unless the object is a
	// value object (not handled here) or a lone subject reference.
	if typeScoped == nil && c.prev != nil {
		typeScoped = c
	}
	mustRevert := true
	if typeScoped != nil && len(elem) <= 2 && !hasCtx {
		for k := range elem {
			e, err := typeScoped.expandKey(k)
			if err != nil {
				return none, err
			}
			if e == "@value" {
				return none, errFallback
			}
			if e == "@id" && len(elem) == 1 {
				mustRevert = false
			}
		}
	}
	if mustRevert && c.prev != nil {
		c = c.prev
	}
	if propSrc != nil {
		var err error
		if c, err = c.derive(propSrc, prop, propScoped, true); err != nil {
			return none, err
		}
	}
	// The node's own @context, over the property-scoped one.
	if hasCtx && !top {
		var err error
		if c, err = c.embed(localCtx); err != nil {
			return none, err
		}
	}
	// Type-scoped contexts, in lexicographical order of the types. The
	// types are looked up, and later expanded, in typeCtx, the context
	// before them.
	typeCtx := c
	var idValue any
	var typesBuf [4]string
	types := typesBuf[:0]
	var idKey, typeKey string
	nID, nType := 0, 0
	for k, v := range elem {
		switch k {
		case "@context":
			continue
		case "":
			// json-gold takes the empty key for "no active property"
			// (its values are then dropped or expanded as at the top)
			// and for its initial @type key: not handled here.
			return none, errFallback
		}
		e, err := c.expandKey(k)
		if err != nil {
			return none, err
		}
		switch e {
		case "@id":
			nID++
			idValue, idKey = v, k
		case "@type":
			nType++
			typeKey = k
			switch t := v.(type) {
			case string:
				types = append(types, t)
			case []any:
				for _, x := range t {
					s, ok := x.(string)
					if !ok {
						return none, errFallback
					}
					types = append(types, s)
				}
			default:
				return none, errFallback
			}
		}
	}
	if nID > 1 || nType > 1 {
		return none, errFallback
	}
	if len(types) > 1 {
		slices.Sort(types) // types is this function's own slice
	}
	for _, t := range types {
		if sc, ok := typeCtx.ld.GetTermDefinition(t)["@context"]; ok {
			var err error
			if c, err = c.derive(typeCtx, t, sc, false); err != nil {
				return none, err
			}
		}
	}

	// The subject.
	var subject rdfTerm
	var err error
	if nID == 1 {
		s, ok := idValue.(string)
		if !ok {
			return none, errFallback
		}
		id, err := c.expandID(s)
		if err != nil {
			return none, err
		}
		if subject, err = b.idTerm(id); err != nil {
			return none, err
		}
	} else if subject, err = b.fresh(); err != nil {
		return none, err
	}
	for _, t := range types {
		e, err := typeCtx.expandType(t)
		if err != nil {
			return none, err
		}
		if !validFastIRI(e) {
			return none, errFallback
		}
		b.emit(subject, iriRDFType, rdfTerm{kind: kindIRI, value: e}, graph)
	}

	// The properties.
	for k, v := range elem {
		if k == "@context" {
			continue
		}
		e, err := c.expandKey(k)
		if err != nil {
			return none, err
		}
		// json-gold finds @id (and expands every key) in the context
		// after the type-scoped contexts, and @type in the one before
		// them for the keys before the type key: a type-scoped context
		// that turns a key into @id or @type, or one of them into
		// something else, makes the two differ. Not handled here.
		if (e == "@id") != (nID == 1 && k == idKey) || (e == "@type") != (nType == 1 && k == typeKey) {
			return none, errFallback
		}
		if e == "@id" || e == "@type" {
			continue
		}
		if !validFastIRI(e) { // keywords, undefined terms, relative or invalid IRIs
			return none, errFallback
		}
		if e == ld.RDFType {
			// json-gold keeps rdf:type written as a property apart from
			// @type (and may emit a statement twice): not handled here.
			return none, errFallback
		}
		if err := b.property(c, k, e, v, subject, graph); err != nil {
			return none, err
		}
	}
	return subject, nil
}

// property converts the value(s) of one property of subject.
func (b *quadBuilder) property(c *activeCtx, key, iri string, value any, subject, graph rdfTerm) error {
	td := c.ld.GetTermDefinition(key)
	if r, ok := td["@reverse"]; ok && r != false {
		return errFallback
	}
	if td["@type"] == "@json" {
		// A JSON literal (agentid's scope constraints). json-gold writes
		// an object as its RFC 8785 canonical form; other JSON values it
		// does not write faithfully, so they are left to it.
		obj, ok := value.(map[string]any)
		if !ok {
			return errFallback
		}
		if b.check {
			if !validJCS(obj, 0) {
				return errFallback
			}
			return nil
		}
		lit, ok := canonicalJSONLiteral(obj)
		if !ok {
			return errFallback
		}
		b.emit(subject, rdfTerm{kind: kindIRI, value: iri},
			rdfTerm{kind: kindLiteral, value: lit, datatype: ld.RDFJSONLiteral, origin: literalJSON}, graph)
		return nil
	}
	termCtx := c
	if sc, ok := td["@context"]; ok {
		var err error
		if termCtx, err = c.derive(c, key, sc, true); err != nil {
			return err
		}
		if r, ok := termCtx.ld.GetTermDefinition(key)["@reverse"]; ok && r != false {
			return errFallback
		}
	}
	// The container mapping is the term's in the active context (JSON-LD
	// 1.1 expansion), not in its scoped context: VC 2.0's
	// verifiableCredential has a null scoped context and a @graph
	// container, so each embedded credential is a named graph. json-gold
	// v0.4.2 reads the scoped context and loses the container; documents
	// where that matters are never handed to it (ErrGraphContainer).
	asGraph := false
	for _, ct := range c.ld.GetContainer(key) {
		switch ct {
		case "@set":
		case "@graph":
			asGraph = true
		default:
			return errFallback
		}
	}
	pred := rdfTerm{kind: kindIRI, value: iri}
	one := func(item any) error {
		switch t := item.(type) {
		case nil:
			return nil
		case []any:
			return errFallback
		case map[string]any:
			g := graph
			var err error
			if asGraph {
				if g, err = b.fresh(); err != nil {
					return err
				}
				b.emit(subject, pred, g, graph)
			}
			o, err := b.node(termCtx, key, t, nil, g, false)
			if err != nil {
				return err
			}
			if !asGraph {
				b.emit(subject, pred, o, graph)
			}
			return nil
		}
		if asGraph {
			return errFallback
		}
		o, err := b.scalar(termCtx, key, item)
		if err != nil {
			return err
		}
		b.emit(subject, pred, o, graph)
		return nil
	}
	if list, ok := value.([]any); ok {
		for _, item := range list {
			if err := one(item); err != nil {
				return err
			}
		}
		return nil
	}
	return one(value)
}

// scalar converts a string, boolean or number value of key, coerced as
// json-gold's ExpandValue coerces it.
func (b *quadBuilder) scalar(c *activeCtx, key string, v any) (rdfTerm, error) {
	var none rdfTerm
	switch n := v.(type) {
	case string, bool, float64:
	case json.Number:
		// Documents decoded with UseNumber: an integer literal within
		// ±2^53 is the same number as its float64; anything else
		// (fractions, exponents, larger integers) is json-gold's business.
		i, err := n.Int64()
		if err != nil || strings.ContainsAny(string(n), ".eE") || i >= 1<<53 || i <= -(1<<53) {
			return none, errFallback
		}
		v = float64(i)
	default:
		return none, errFallback
	}
	rule, err := c.valueRule(key)
	if err != nil {
		return none, err
	}
	var datatype string
	var typed byte
	switch {
	case rule.id != ruleLiteral:
		// ExpandValue: a string is a node reference; anything else a
		// plain literal (no datatype from the term).
		if s, ok := v.(string); ok {
			var id string
			if rule.id == ruleVocab {
				id, err = c.expandType(s) // the same expansion as a type's
			} else {
				id, err = c.expandID(s)
			}
			if err != nil {
				return none, err
			}
			return b.idTerm(id)
		}
	case rule.hasType:
		s, ok := rule.datatype.(string)
		if !ok || !validFastIRI(s) {
			return none, errFallback
		}
		datatype, typed = s, literalTyped
	default:
		if _, ok := v.(string); ok && rule.langDir {
			return none, errFallback
		}
	}
	if b.check {
		// The literal's kind and range decide as below; its lexical
		// form is not needed.
		if t, ok := v.(float64); ok && (math.IsNaN(t) || math.IsInf(t, 0) || math.Abs(t) >= 1<<53) {
			return none, errFallback
		}
		return rdfTerm{kind: kindLiteral}, nil
	}
	switch t := v.(type) {
	case string:
		if datatype == "" {
			datatype = ld.XSDString
		}
		return rdfTerm{kind: kindLiteral, value: t, datatype: datatype, origin: literalString | typed}, nil
	case bool:
		if datatype == "" {
			datatype = ld.XSDBoolean
		}
		return rdfTerm{kind: kindLiteral, value: strconv.FormatBool(t), datatype: datatype, origin: literalBool | typed}, nil
	case float64:
		// JSON-LD: an integral number is an xsd:integer in decimal, any
		// other (or one coerced to xsd:double) an xsd:double in canonical
		// form. Beyond ±2^53 integers are not exact: leave those to
		// json-gold.
		if math.IsNaN(t) || math.IsInf(t, 0) || math.Abs(t) >= 1<<53 {
			return none, errFallback
		}
		if t != math.Trunc(t) || datatype == ld.XSDDouble {
			if datatype == "" {
				datatype = ld.XSDDouble
			}
			return rdfTerm{kind: kindLiteral, value: ld.GetCanonicalDouble(t), datatype: datatype, origin: literalNumber | typed}, nil
		}
		if datatype == "" {
			datatype = ld.XSDInteger
		}
		return rdfTerm{kind: kindLiteral, value: strconv.FormatInt(int64(t), 10), datatype: datatype, origin: literalNumber | typed}, nil
	}
	return none, errFallback
}

// fastCheck walks doc (already checked against the limits) in the active
// context c as fastQuads does, without building quads: it returns nil
// exactly when fastQuads would return quads, and errFallback otherwise.
func fastCheck(c *activeCtx, doc map[string]any) error {
	b := quadBuilder{check: true}
	_, err := b.node(c, "", doc, nil, rdfTerm{}, true)
	return err
}

// compareQuads orders quads by all their fields: 0 exactly when they are
// equal.
func compareQuads(a, b *rdfQuad) int {
	if c := compareTerms(&a.s, &b.s); c != 0 {
		return c
	}
	if c := compareTerms(&a.p, &b.p); c != 0 {
		return c
	}
	if c := compareTerms(&a.o, &b.o); c != 0 {
		return c
	}
	return compareTerms(&a.g, &b.g)
}

func compareTerms(a, b *rdfTerm) int {
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	if c := cmp.Compare(a.blank, b.blank); c != 0 {
		return c
	}
	if c := cmp.Compare(a.origin, b.origin); c != 0 {
		return c
	}
	if c := strings.Compare(a.value, b.value); c != 0 {
		return c
	}
	return strings.Compare(a.datatype, b.datatype)
}

// fastQuads converts doc (already checked against the limits) to quads in
// the active context c, without duplicates, in a builder from the pool:
// b.quads holds them and b.next bounds their blank node numbers. The caller
// releases b when done with the quads.
func fastQuads(c *activeCtx, doc map[string]any) (*quadBuilder, error) {
	b := builders.Get().(*quadBuilder)
	if _, err := b.node(c, "", doc, nil, rdfTerm{}, true); err != nil {
		b.release()
		return nil, err
	}
	if len(b.quads) < 2 {
		return b, nil
	}
	// Remove duplicates (json-gold's node map merges equal values):
	// sort the quads' indexes, then keep each quad that differs from its
	// predecessor in that order, in document order. A map would allocate
	// every one of its large keys; sorting the quads themselves would move
	// them around.
	order := b.order[:0]
	for i := range b.quads {
		order = append(order, int32(i))
	}
	quads := b.quads
	slices.SortFunc(order, func(x, y int32) int { return compareQuads(&quads[x], &quads[y]) })
	dup := false
	kept := order[0]
	for _, i := range order[1:] {
		if quads[i] == quads[kept] {
			quads[i].p.kind = kindNone // marked: no quad has such a predicate
			dup = true
		} else {
			kept = i
		}
	}
	b.order = order
	if dup {
		out := quads[:0]
		for _, q := range quads {
			if q.p.kind != kindNone {
				out = append(out, q)
			}
		}
		clear(quads[len(out):])
		b.quads = out
	}
	return b, nil
}
