package jsonld

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"

	"github.com/piprate/json-gold/ld"

	"github.com/agentid/agentid/internal/jsonvalue"
)

// Errors of expansion and canonicalization. Each failure wraps exactly one
// of them (or a context error of ctx, or a loader error).
var (
	// ErrInvalidDocument is input that is not a JSON-LD document this package
	// processes: not a JSON object, or holding values JSON cannot carry.
	ErrInvalidDocument = errors.New("invalid JSON-LD document")
	// ErrDocumentTooLarge is a document over Limits.MaxBytes.
	ErrDocumentTooLarge = errors.New("JSON-LD document too large")
	// ErrDocumentTooDeep is a document nested deeper than Limits.MaxDepth.
	ErrDocumentTooDeep = errors.New("JSON-LD document nested too deeply")
	// ErrTooManyNodes is a document with more JSON objects and array
	// elements than Limits.MaxNodes.
	ErrTooManyNodes = errors.New("JSON-LD document has too many nodes")
	// ErrTooManyBlankNodes is a document whose RDF form has more blank
	// nodes than Limits.MaxBlankNodes.
	ErrTooManyBlankNodes = errors.New("JSON-LD document has too many blank nodes")
	// ErrAmbiguousBlankNodes is a document with more than
	// Limits.MaxAmbiguousBlankNodes blank nodes that look alike and are
	// linked to each other: the shape that makes RDFC-1.0 take exponential
	// time (a "poison" document).
	ErrAmbiguousBlankNodes = errors.New("JSON-LD document has too many indistinguishable linked blank nodes (canonicalization would be too expensive)")
	// ErrUndefinedTerm is a property or type that no context defines and
	// that JSON-LD would silently drop or leave relative (safe mode).
	ErrUndefinedTerm = errors.New("JSON-LD term is not defined by any context (safe mode)")
	// ErrRelativeIRI is an @id or @type that expands to a relative IRI,
	// which RDF cannot carry (safe mode).
	ErrRelativeIRI = errors.New("JSON-LD value expands to a relative IRI (safe mode)")
	// ErrProtectedTermRedefinition is a context that redefines a protected
	// term (or nullifies a context with protected terms).
	ErrProtectedTermRedefinition = errors.New("JSON-LD context redefines a protected term")
	// ErrInvalidJSONLD is any other JSON-LD processing error reported by
	// json-gold (invalid context, invalid IRI mapping, …).
	ErrInvalidJSONLD = errors.New("JSON-LD processing failed")
)

// Limits bound the work a document may cause. Zero fields take the
// DefaultLimits value; a negative field disables that bound (tests only).
type Limits struct {
	// MaxBytes bounds the document's size as JSON (estimated from its
	// values when it is given as a map).
	MaxBytes int
	// MaxDepth bounds the nesting of JSON objects and arrays.
	MaxDepth int
	// MaxNodes bounds the number of JSON objects plus array elements: each
	// may become an RDF node or statement, and json-gold's RDF conversion
	// costs tens of microseconds per statement.
	MaxNodes int
	// MaxBlankNodes bounds the number of blank nodes in the RDF form.
	MaxBlankNodes int
	// MaxAmbiguousBlankNodes bounds the blank nodes that share their
	// first-degree hash with another blank node and are linked to another
	// such node: the ones RDFC-1.0 must disambiguate by exploring
	// permutations of their neighbours.
	MaxAmbiguousBlankNodes int
}

// DefaultLimits are generous for credentials and presentations (a VC 2.0
// credential is a few KB with a handful of blank nodes) and refuse poison
// documents before canonicalization starts.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:               1 << 20,
		MaxDepth:               32,
		MaxNodes:               1000,
		MaxBlankNodes:          128,
		MaxAmbiguousBlankNodes: 5,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, f := range []struct{ v, d *int }{
		{&l.MaxBytes, &d.MaxBytes}, {&l.MaxDepth, &d.MaxDepth}, {&l.MaxNodes, &d.MaxNodes},
		{&l.MaxBlankNodes, &d.MaxBlankNodes}, {&l.MaxAmbiguousBlankNodes, &d.MaxAmbiguousBlankNodes},
	} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	return l
}

// Option configures a Processor (and NewLoader, which uses only
// WithContext).
type Option func(*config)

type config struct {
	contexts map[string][]byte
	limits   Limits
}

// WithContext serves doc (a JSON-LD context document, with an "@context"
// member) under url, in addition to the embedded contexts; it replaces an
// embedded context of the same URL. For tests and additional suites.
func WithContext(url string, doc []byte) Option {
	return func(c *config) {
		if c.contexts == nil {
			c.contexts = map[string][]byte{}
		}
		c.contexts[url] = append([]byte(nil), doc...)
	}
}

// WithLimits sets the processing limits (zero fields keep the defaults).
func WithLimits(l Limits) Option {
	return func(c *config) { c.limits = l }
}

// sentinelVocab is the @vocab a Processor puts before a document's own
// contexts: a term no context defines expands under it instead of being
// dropped, which is how safe mode finds it.
const sentinelVocab = "urn:agentid:jsonld:undefined-term:"

// maxCachedContexts bounds the parsed-context cache: context lists come from
// documents, so an attacker could otherwise grow it without bound.
const maxCachedContexts = 256

// Processor expands and canonicalizes JSON-LD documents offline, in safe
// mode, within Limits. It caches parsed contexts and is safe for concurrent
// use; create one and share it.
type Processor struct {
	loader *Loader
	limits Limits
	opts   *ld.JsonLdOptions // shared, never modified after construction
	base   *activeCtx        // the active context holding only the sentinel @vocab
	env    *ctxEnv           // shared by the active contexts of the fast path

	mu     sync.RWMutex
	parsed map[string]*activeCtx // "\n"-joined context URLs → active context
}

// NewProcessor returns a Processor over the embedded contexts and those
// added with WithContext.
func NewProcessor(opts ...Option) (*Processor, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	loader, err := newLoader(c.contexts)
	if err != nil {
		return nil, err
	}
	p := &Processor{loader: loader, limits: c.limits.withDefaults(), parsed: map[string]*activeCtx{}}
	p.opts = ld.NewJsonLdOptions("")
	p.opts.ProcessingMode = ld.JsonLd_1_1
	p.opts.DocumentLoader = loader
	p.opts.Algorithm = "URDNA2015"
	p.opts.Format = "application/n-quads"
	base, err := ld.NewContext(nil, p.opts).Parse(map[string]any{"@vocab": sentinelVocab})
	if err != nil {
		return nil, fmt.Errorf("jsonld: sentinel context: %w", err)
	}
	p.env = &ctxEnv{opts: p.opts}
	p.base = newActiveCtx(base, nil, p.env)
	return p, nil
}

var (
	defaultOnce sync.Once
	defaultProc *Processor
	defaultErr  error
)

// Default returns the shared Processor over the embedded contexts with
// DefaultLimits.
func Default() (*Processor, error) {
	defaultOnce.Do(func() { defaultProc, defaultErr = NewProcessor() })
	return defaultProc, defaultErr
}

// Loader returns the processor's document loader.
func (p *Processor) Loader() *Loader { return p.loader }

// Limits returns the processor's limits.
func (p *Processor) Limits() Limits { return p.limits }

// Expand expands doc with the default Processor; see Processor.Expand.
func Expand(ctx context.Context, doc map[string]any) ([]any, error) {
	p, err := Default()
	if err != nil {
		return nil, err
	}
	return p.Expand(ctx, doc)
}

// Check checks doc with the default Processor; see Processor.Check.
func Check(ctx context.Context, doc map[string]any) error {
	p, err := Default()
	if err != nil {
		return err
	}
	return p.Check(ctx, doc)
}

// Canonicalize canonicalizes doc with the default Processor; see
// Processor.Canonicalize.
func Canonicalize(ctx context.Context, doc map[string]any) (string, error) {
	p, err := Default()
	if err != nil {
		return "", err
	}
	return p.Canonicalize(ctx, doc)
}

// ToRDF converts doc to RDF with the default Processor; see
// Processor.ToRDF.
func ToRDF(ctx context.Context, doc map[string]any) (string, error) {
	p, err := Default()
	if err != nil {
		return "", err
	}
	return p.ToRDF(ctx, doc)
}

// Expand checks doc against the limits, expands it (JSON-LD 1.1 expansion)
// and checks the result in safe mode. doc is not modified.
func (p *Processor) Expand(ctx context.Context, doc map[string]any) ([]any, error) {
	return p.expand(ctx, doc)
}

// Check runs the checks of Expand (limits, offline contexts, JSON-LD 1.1
// expansion, safe mode) without returning the expansion: it fails exactly
// when Expand fails, with the same error. Documents the fast path covers
// (see fastrdf.go) are checked by its single walk, which declines every
// undefined term, relative or invalid IRI and context it cannot process
// exactly; the others, and every document it declines, go through Expand,
// on a deep copy. doc is not modified, so callers need not copy it.
func (p *Processor) Check(ctx context.Context, doc map[string]any) error {
	err := p.checkFast(ctx, doc)
	if !errors.Is(err, errFallback) {
		return err
	}
	// json-gold only reads what it expands, as far as the tests see; the
	// copy makes "not modified" hold by construction on this slow path.
	_, err = p.expand(ctx, jsonvalue.CloneObject(doc))
	return err
}

// checkFast is Check on the fast path, or errFallback. It accepts a
// document only when the fast path converts all of it, which it does only
// when json-gold's expansion succeeds and passes the safe-mode check (the
// differential tests hold it to that); its other errors are those of
// prepare, which Expand reports first too.
func (p *Processor) checkFast(ctx context.Context, doc map[string]any) (err error) {
	defer declinePanic(&err)
	doc, err = p.prepare(ctx, doc)
	if err != nil {
		return err
	}
	active, cacheable := p.lookupContext(doc["@context"])
	if !cacheable {
		return errFallback
	}
	if active == nil {
		if active, err = p.activeContext(doc["@context"]); err != nil {
			return errFallback
		}
	}
	return fastCheck(active, doc)
}

// ToRDF expands doc (as Expand does) and returns its RDF dataset as
// N-Quads, in no particular order and with blank node labels as json-gold
// assigns them. The blank-node limits are checked.
func (p *Processor) ToRDF(ctx context.Context, doc map[string]any) (_ string, err error) {
	defer goldPanic(&err, "serialize N-Quads")
	ds, err := p.toRDF(ctx, doc)
	if err != nil {
		return "", err
	}
	out, err := (&ld.NQuadRDFSerializer{}).Serialize(ds)
	if err != nil {
		return "", fmt.Errorf("jsonld: serialize N-Quads: %w", mapError(err))
	}
	s, _ := out.(string)
	return s, nil
}

// Canonicalize returns the RDFC-1.0 canonical N-Quads of doc: it checks
// the size, depth and node limits, expands in safe mode, converts to RDF,
// checks the blank-node limits and only then canonicalizes. doc is not
// modified.
func (p *Processor) Canonicalize(ctx context.Context, doc map[string]any) (string, error) {
	out, err := p.canonicalizeFast(ctx, doc, sha256.New())
	if !errors.Is(err, errFallback) {
		return out, err
	}
	if err := p.refuseGraphFallback(ctx, doc); err != nil {
		return "", err
	}
	return p.canonicalizeJSONGold(ctx, doc)
}

// canonicalizeFast is Canonicalize (with hash h as the RDFC-1.0 hash) on
// the fast path (see fastrdf.go), or errFallback. Errors other than
// errFallback are the ones the json-gold path would report first: context
// cancellation and the document limits.
func (p *Processor) canonicalizeFast(ctx context.Context, doc map[string]any, h hash.Hash) (string, error) {
	return p.canonicalizeFastTo(ctx, doc, h, nil)
}

// canonicalizeFastTo is canonicalizeFast, writing the canonical N-Quads to
// out (and returning "") when out is set.
func (p *Processor) canonicalizeFastTo(ctx context.Context, doc map[string]any, h, out hash.Hash) (_ string, err error) {
	defer declinePanic(&err)
	doc, err = p.prepare(ctx, doc)
	if err != nil {
		return "", err
	}
	active, cacheable := p.lookupContext(doc["@context"])
	if !cacheable {
		return "", errFallback
	}
	if active == nil {
		if active, err = p.activeContext(doc["@context"]); err != nil {
			return "", errFallback
		}
	}
	b, err := fastQuads(active, doc)
	if err != nil {
		return "", err
	}
	defer b.release()
	return canonicalFromQuads(b.quads, b.next, h, p.limits.MaxBlankNodes, out)
}

// CanonicalDigest returns the digest, by a hash from newHash, of doc's
// canonical N-Quads: what a Data Integrity proof signs. RDFC-1.0 uses
// SHA-384 when sha384 is set (CanonicalizeSHA384), else SHA-256
// (Canonicalize). It fails exactly when that canonicalization fails, with
// the same error, and the digest is that of its output; on the fast path
// the N-Quads go to the hash without being gathered into a string.
func (p *Processor) CanonicalDigest(ctx context.Context, doc map[string]any, sha384 bool, newHash func() hash.Hash) ([]byte, error) {
	rdfc := sha256.New
	if sha384 {
		rdfc = sha512.New384
	}
	out := newHash()
	_, err := p.canonicalizeFastTo(ctx, doc, rdfc(), out)
	if err == nil {
		return out.Sum(nil), nil
	}
	if !errors.Is(err, errFallback) {
		return nil, err
	}
	// A failed fast path may have written part of the N-Quads.
	out.Reset()
	var s string
	if sha384 {
		s, err = p.CanonicalizeSHA384(ctx, doc)
	} else {
		s, err = p.Canonicalize(ctx, doc)
	}
	if err != nil {
		return nil, err
	}
	out.Write([]byte(s))
	return out.Sum(nil), nil
}

// canonicalizeJSONGold is Canonicalize on json-gold: expansion, RDF
// conversion, the blank-node limits, URDNA2015.
func (p *Processor) canonicalizeJSONGold(ctx context.Context, doc map[string]any) (_ string, err error) {
	defer goldPanic(&err, "canonicalize")
	ds, err := p.toRDF(ctx, doc)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("jsonld: canonicalize: %w", err)
	}
	out, err := ld.NewJsonLdApi().Normalize(ds, p.opts)
	if err != nil {
		return "", fmt.Errorf("jsonld: canonicalize: %w", mapError(err))
	}
	s, ok := out.(string)
	if !ok {
		return "", fmt.Errorf("jsonld: canonicalize: %w: unexpected output %T", ErrInvalidJSONLD, out)
	}
	return s, nil
}

func (p *Processor) toRDF(ctx context.Context, doc map[string]any) (_ *ld.RDFDataset, err error) {
	defer goldPanic(&err, "to RDF")
	expanded, err := p.expand(ctx, doc)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("jsonld: to RDF: %w", err)
	}
	ds, err := ld.NewJsonLdApi().ToRDF(expanded, p.opts)
	if err != nil {
		return nil, fmt.Errorf("jsonld: to RDF: %w", mapError(err))
	}
	if err := checkBlankNodes(ds, p.limits); err != nil {
		return nil, fmt.Errorf("jsonld: %w", err)
	}
	return ds, nil
}

// prepare checks ctx, doc and the document limits, and returns doc as
// JSON-LD can take it (normalized through encoding/json if it holds other
// Go values).
func (p *Processor) prepare(ctx context.Context, doc map[string]any) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("jsonld: expand: %w", err)
	}
	if doc == nil {
		return nil, fmt.Errorf("jsonld: expand: %w: nil document", ErrInvalidDocument)
	}
	w := walker{limits: p.limits, loader: p.loader}
	if err := w.walk(doc, 1); err != nil {
		return nil, fmt.Errorf("jsonld: %w", err)
	}
	if w.foreign {
		// Values JSON-LD cannot take as they are ([]string, int, structs…):
		// normalize through JSON, as a verifier parsing the JSON would see
		// them.
		norm, err := normalizeJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("jsonld: %w: %v", ErrInvalidDocument, err)
		}
		doc = norm
	}
	return doc, nil
}

func (p *Processor) expand(ctx context.Context, doc map[string]any) (_ []any, err error) {
	defer goldPanic(&err, "expand")
	doc, err = p.prepare(ctx, doc)
	if err != nil {
		return nil, err
	}
	active, err := p.activeContext(doc["@context"])
	if err != nil {
		return nil, fmt.Errorf("jsonld: expand: %w", err)
	}
	// A shallow copy whose @context is a copy of the already parsed active
	// context: json-gold adopts a *ld.Context as it is (so the VC context is
	// not parsed again for every document) but then writes to it, hence the
	// copy, which shares the immutable term definitions.
	input := make(map[string]any, len(doc))
	for k, v := range doc {
		input[k] = v
	}
	input["@context"] = ld.CopyContext(active.ld)
	expanded, err := ld.NewJsonLdProcessor().Expand(input, p.opts)
	if err != nil {
		return nil, fmt.Errorf("jsonld: expand: %w", mapError(err))
	}
	if err := checkSafe(expanded); err != nil {
		return nil, fmt.Errorf("jsonld: %w", err)
	}
	return expanded, nil
}

// goldPanic turns a panic of json-gold into an error wrapping
// ErrInvalidJSONLD: json-gold v0.4.2 panics on some malformed documents (a
// non-string value under the empty key, a non-boolean @protected, …), and
// a document must never crash its caller. Deferred by every function of
// the json-gold path.
func goldPanic(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("jsonld: %s: %w: the JSON-LD processor failed on this document: %v", what, ErrInvalidJSONLD, r)
	}
}

// declinePanic makes the fast path decline a document on which json-gold
// (which it calls to process contexts and expand IRIs) panics: the json-gold
// path then reports the error.
func declinePanic(err *error) {
	if r := recover(); r != nil {
		*err = errFallback
	}
}

// activeContext returns the active context for a top-level @context value,
// on top of the sentinel @vocab; lists of URLs are parsed once and cached.
func (p *Processor) activeContext(local any) (*activeCtx, error) {
	key, cacheable := contextKey(local)
	if cacheable {
		p.mu.RLock()
		c, ok := p.parsed[key]
		p.mu.RUnlock()
		if ok {
			return c, nil
		}
	}
	if local == nil {
		return p.base, nil
	}
	parsed, err := p.base.ld.Parse(local)
	if err != nil {
		return nil, mapError(err)
	}
	c := newActiveCtx(parsed, nil, p.env)
	c.ephemeral = true // until cached: nothing derived from it is cached
	if cacheable {
		p.mu.Lock()
		if existing, ok := p.parsed[key]; ok {
			c = existing
		} else if len(p.parsed) < maxCachedContexts {
			c.ephemeral = false
			p.parsed[key] = c
		}
		p.mu.Unlock()
	}
	return c, nil
}

// lookupContext returns the cached active context for a top-level
// @context value (nil when not cached yet), and whether such a value can be
// cached at all (a URL or a list of URLs). It builds the key in a stack
// buffer, so a lookup does not allocate.
func (p *Processor) lookupContext(local any) (*activeCtx, bool) {
	var buf [512]byte
	key, cacheable := appendContextKey(buf[:0], local)
	if !cacheable {
		return nil, false
	}
	p.mu.RLock()
	c := p.parsed[string(key)]
	p.mu.RUnlock()
	return c, true
}

// appendContextKey appends contextKey(local) to buf.
func appendContextKey(buf []byte, local any) ([]byte, bool) {
	switch v := local.(type) {
	case string:
		return append(buf, v...), true
	case []any:
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			if i > 0 {
				buf = append(buf, '\n')
			}
			buf = append(buf, s...)
		}
		return buf, true
	}
	return nil, false
}

// contextKey returns a cache key for a @context made only of URLs.
func contextKey(local any) (string, bool) {
	switch v := local.(type) {
	case string:
		return v, true
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", false
			}
			parts[i] = s
		}
		return strings.Join(parts, "\n"), true
	}
	return "", false
}

// mapError turns a json-gold error into one wrapping this package's named
// errors.
func mapError(err error) error {
	var je *ld.JsonLdError
	if !errors.As(err, &je) {
		if errors.Is(err, ErrContextNotAllowed) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrInvalidJSONLD, err)
	}
	switch je.Code {
	case ld.ProtectedTermRedefinition, ld.InvalidContextNullification:
		return fmt.Errorf("%w: %v", ErrProtectedTermRedefinition, je)
	case ld.LoadingRemoteContextFailed, ld.LoadingDocumentFailed:
		// The loader fails only for URLs it does not serve (json-gold
		// drops the loader's own error).
		return fmt.Errorf("%w: %v", ErrContextNotAllowed, je)
	}
	return fmt.Errorf("%w: %v", ErrInvalidJSONLD, je)
}

// walker checks the input document against the size, depth and node
// limits, and that every context URL it names is served, before json-gold
// sees it.
type walker struct {
	limits  Limits
	loader  *Loader
	bytes   int
	nodes   int
	foreign bool // holds Go values other than the encoding/json ones
}

func (w *walker) walk(v any, depth int) error {
	if w.limits.MaxDepth > 0 && depth > w.limits.MaxDepth {
		return fmt.Errorf("%w: more than %d levels", ErrDocumentTooDeep, w.limits.MaxDepth)
	}
	switch t := v.(type) {
	case map[string]any:
		w.nodes++
		if w.limits.MaxNodes > 0 && w.nodes > w.limits.MaxNodes {
			return fmt.Errorf("%w: more than %d objects and array elements", ErrTooManyNodes, w.limits.MaxNodes)
		}
		w.bytes += 2
		for k, e := range t {
			w.bytes += len(k) + 4
			if k == "@context" || k == "@import" {
				if err := w.contextURLs(e); err != nil {
					return err
				}
			}
			if err := w.walk(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		w.bytes += 2
		w.nodes += len(t)
		if w.limits.MaxNodes > 0 && w.nodes > w.limits.MaxNodes {
			return fmt.Errorf("%w: more than %d objects and array elements", ErrTooManyNodes, w.limits.MaxNodes)
		}
		for _, e := range t {
			w.bytes++
			if err := w.walk(e, depth+1); err != nil {
				return err
			}
		}
	case string:
		w.bytes += len(t) + 2
	case float64, json.Number, bool, nil:
		w.bytes += 5
	default:
		w.foreign = true
		w.bytes += 8
	}
	if w.limits.MaxBytes > 0 && w.bytes > w.limits.MaxBytes {
		return fmt.Errorf("%w: more than %d bytes", ErrDocumentTooLarge, w.limits.MaxBytes)
	}
	return nil
}

// contextURLs checks the URLs of a @context (or @import) value.
func (w *walker) contextURLs(v any) error {
	switch t := v.(type) {
	case string:
		if !w.loader.Has(t) {
			return fmt.Errorf("context %q: %w", truncate(t), ErrContextNotAllowed)
		}
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok && !w.loader.Has(s) {
				return fmt.Errorf("context %q: %w", truncate(s), ErrContextNotAllowed)
			}
		}
	}
	return nil
}

// normalizeJSON round-trips doc through encoding/json.
func normalizeJSON(doc map[string]any) (map[string]any, error) {
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkSafe walks expanded JSON-LD and fails on terms that expanded under
// the sentinel @vocab (undefined) and on relative @id and @type IRIs.
func checkSafe(v any) error {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if err := checkSafe(e); err != nil {
				return err
			}
		}
	case map[string]any:
		_, isValue := t["@value"]
		for k, e := range t {
			switch {
			case strings.HasPrefix(k, sentinelVocab):
				return fmt.Errorf("%w: property %q", ErrUndefinedTerm, truncate(strings.TrimPrefix(k, sentinelVocab)))
			case k == "@type":
				if err := checkIRIs("@type", e); err != nil {
					return err
				}
				continue
			case k == "@id" && !isValue:
				if err := checkIRIs("@id", e); err != nil {
					return err
				}
				continue
			case k == "@value" || k == "@language" || k == "@direction" || k == "@index":
				continue
			}
			if err := checkSafe(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkIRIs checks the IRI(s) of an @id or @type member.
func checkIRIs(key string, v any) error {
	switch t := v.(type) {
	case string:
		switch {
		case strings.HasPrefix(t, sentinelVocab):
			return fmt.Errorf("%w: %s %q", ErrUndefinedTerm, key, truncate(strings.TrimPrefix(t, sentinelVocab)))
		case t == "@json" || strings.HasPrefix(t, "_:") || ld.IsAbsoluteIri(t):
			return nil
		}
		return fmt.Errorf("%w: %s %q", ErrRelativeIRI, key, truncate(t))
	case []any:
		for _, e := range t {
			if err := checkIRIs(key, e); err != nil {
				return err
			}
		}
	}
	return nil
}
