package jsonld

import (
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

	mu      sync.RWMutex
	keys    map[string]string // term or IRI → ExpandIri(key, vocab)
	types   map[string]string // @type value → ExpandIri(value, relative, vocab)
	derived map[derivedKey]*activeCtx
}

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
	_, ldPrev := c.AsMap()["previousContext"]
	return &activeCtx{ld: c, env: env, prev: prev, ldPrev: ldPrev,
		keys: map[string]string{}, types: map[string]string{}, derived: map[derivedKey]*activeCtx{}}
}

// cached returns the derived context k, if cached.
func (c *activeCtx) cached(k derivedKey) (*activeCtx, bool) {
	c.mu.RLock()
	d, ok := c.derived[k]
	c.mu.RUnlock()
	return d, ok
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
	if existing, ok := c.derived[k]; ok {
		return existing
	}
	if len(c.derived) >= maxDerived {
		return d
	}
	budget, limit := &c.env.derived, int64(maxDerivedTotal)
	if d.inline {
		budget, limit = &c.env.inline, maxInlineTotal
	}
	if budget.Add(1) <= limit {
		d.ephemeral = false
		c.derived[k] = d
	}
	return d
}

// expandKey is json-gold's expansion of a property key (vocabulary
// relative), cached.
func (c *activeCtx) expandKey(key string) (string, error) {
	return c.cachedExpand(c.keys, key, false)
}

// expandType is json-gold's expansion of an @type value (vocabulary and
// document relative), cached.
func (c *activeCtx) expandType(t string) (string, error) {
	return c.cachedExpand(c.types, t, true)
}

func (c *activeCtx) cachedExpand(cache map[string]string, s string, relative bool) (string, error) {
	c.mu.RLock()
	v, ok := cache[s]
	c.mu.RUnlock()
	if ok {
		return v, nil
	}
	v, err := c.ld.ExpandIri(s, relative, true, nil, nil)
	if err != nil {
		return "", errFallback
	}
	if len(s) <= maxCachedKeyLen {
		c.mu.Lock()
		if len(cache) < maxCachedKeys {
			cache[s] = v
		}
		c.mu.Unlock()
	}
	return v, nil
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
		var sb strings.Builder
		sb.WriteByte('a')
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return jsonKey(t)
			}
			sb.WriteString(strconv.Itoa(len(s)))
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
var iriCache struct {
	sync.RWMutex
	m map[string]bool
}

func validFastIRI(s string) bool {
	iriCache.RLock()
	ok, found := iriCache.m[s]
	iriCache.RUnlock()
	if found {
		return ok
	}
	ok = !strings.HasPrefix(s, "_:") && !strings.HasPrefix(s, sentinelVocab) && ld.IsAbsoluteIri(s) &&
		!strings.ContainsAny(s, "<> \"{}|\\^`\n\r\t") &&
		(!(strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) || ld.IsURL(s))
	iriCache.Lock()
	if iriCache.m == nil {
		iriCache.m = map[string]bool{}
	}
	if len(iriCache.m) < maxCachedIRIs {
		iriCache.m[s] = ok
	}
	iriCache.Unlock()
	return ok
}

// Kinds of RDF terms.
const (
	kindNone byte = iota // the default graph
	kindIRI
	kindBlank
	kindLiteral
)

// rdfTerm is an RDF term: an IRI, a blank node (label without "_:"), or a
// literal with its datatype IRI (no language-tagged literals here).
type rdfTerm struct {
	kind     byte
	value    string
	datatype string
	// origin tells literals apart that serialize alike but that json-gold's
	// node map keeps apart (the string "5" typed xsd:integer and the number
	// 5; "x" and "x" typed xsd:string): the JSON kind, plus literalTyped
	// when the value carried a datatype. Not serialized.
	origin byte
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
type quadBuilder struct {
	quads  []rdfQuad
	blanks map[string]string // the document's own blank node ids → labels
	next   int
}

func (b *quadBuilder) fresh() (rdfTerm, error) {
	if b.next >= maxFastBlankNode {
		return rdfTerm{}, errFallback
	}
	t := rdfTerm{kind: kindBlank, value: "b" + strconv.Itoa(b.next)}
	b.next++
	return t, nil
}

// idTerm turns an expanded @id into a term.
func (b *quadBuilder) idTerm(id string) (rdfTerm, error) {
	if strings.HasPrefix(id, "_:") {
		if l, ok := b.blanks[id]; ok {
			return rdfTerm{kind: kindBlank, value: l}, nil
		}
		t, err := b.fresh()
		if err != nil {
			return t, err
		}
		if b.blanks == nil {
			b.blanks = map[string]string{}
		}
		b.blanks[id] = t.value
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
	var types []string
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
		sorted := slices.Clone(types)
		slices.Sort(sorted)
		types = sorted
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
		id, err := c.ld.ExpandIri(s, true, false, nil, nil)
		if err != nil {
			return none, errFallback
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
		b.quads = append(b.quads, rdfQuad{subject, iriRDFType, rdfTerm{kind: kindIRI, value: e}, graph})
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
		lit, ok := canonicalJSONLiteral(obj)
		if !ok {
			return errFallback
		}
		b.quads = append(b.quads, rdfQuad{subject, rdfTerm{kind: kindIRI, value: iri},
			rdfTerm{kind: kindLiteral, value: lit, datatype: ld.RDFJSONLiteral, origin: literalJSON}, graph})
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
				b.quads = append(b.quads, rdfQuad{subject, pred, g, graph})
			}
			o, err := b.node(termCtx, key, t, nil, g, false)
			if err != nil {
				return err
			}
			if !asGraph {
				b.quads = append(b.quads, rdfQuad{subject, pred, o, graph})
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
		b.quads = append(b.quads, rdfQuad{subject, pred, o, graph})
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
	ev, err := c.ld.ExpandValue(key, v)
	if err != nil {
		return none, errFallback
	}
	m, ok := ev.(map[string]any)
	if !ok {
		return none, errFallback
	}
	if id, ok := m["@id"]; ok {
		s, ok := id.(string)
		if !ok {
			return none, errFallback
		}
		return b.idTerm(s)
	}
	if _, ok := m["@language"]; ok {
		return none, errFallback
	}
	if _, ok := m["@direction"]; ok {
		return none, errFallback
	}
	var datatype string
	var typed byte
	if dt, ok := m["@type"]; ok {
		s, ok := dt.(string)
		if !ok || !validFastIRI(s) {
			return none, errFallback
		}
		datatype, typed = s, literalTyped
	}
	switch t := m["@value"].(type) {
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

// fastQuads converts doc (already checked against the limits) to quads in
// the active context c, without duplicates.
func fastQuads(c *activeCtx, doc map[string]any) ([]rdfQuad, error) {
	var b quadBuilder
	if _, err := b.node(c, "", doc, nil, rdfTerm{}, true); err != nil {
		return nil, err
	}
	if len(b.quads) < 2 {
		return b.quads, nil
	}
	// Remove duplicates (json-gold's node map merges equal values).
	seen := make(map[rdfQuad]struct{}, len(b.quads))
	out := b.quads[:0]
	for _, q := range b.quads {
		if _, dup := seen[q]; dup {
			continue
		}
		seen[q] = struct{}{}
		out = append(out, q)
	}
	return out, nil
}
