package jsonld

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/agentid/agentid/internal/jsonvalue"
	"github.com/agentid/agentid/schemas"
	"github.com/piprate/json-gold/ld"
)

// Errors of the document loader.
var (
	// ErrContextNotAllowed is a context URL that is not embedded and was not
	// added with WithContext. The loader never fetches it.
	ErrContextNotAllowed = errors.New("JSON-LD context is not allowed (not embedded; contexts are never fetched)")
	// ErrContextIntegrity is an embedded context whose SHA-256 differs from
	// the one recorded in contexts/index.json.
	ErrContextIntegrity = errors.New("embedded JSON-LD context does not match its recorded SHA-256")
	// ErrInvalidContext is a context document that is not JSON, or has no
	// top-level "@context" member.
	ErrInvalidContext = errors.New("invalid JSON-LD context document")
)

//go:embed contexts/*.jsonld contexts/index.json
var embedded embed.FS

// indexEntry is one entry of contexts/index.json.
type indexEntry struct {
	File   string `json:"file"`
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
}

// Loader is a json-gold ld.DocumentLoader that serves JSON-LD contexts from
// memory only: the embedded set (see contexts/SOURCES.md), the agentid
// context (schemas.ContextURL) and any added with WithContext. Every other
// URL fails with ErrContextNotAllowed.
//
// Each document is parsed from JSON once; LoadDocument returns a deep copy,
// so json-gold (which may merge into what it loads) and callers cannot alter
// the shared copy. A Loader is immutable and safe for concurrent use.
type Loader struct {
	docs map[string]any // URL → parsed document; never handed out
}

var (
	embeddedOnce sync.Once
	embeddedDocs map[string]any
	embeddedErr  error
)

// embeddedContexts parses and digest-checks the embedded contexts once.
func embeddedContexts() (map[string]any, error) {
	embeddedOnce.Do(func() {
		embeddedDocs, embeddedErr = loadEmbedded()
	})
	return embeddedDocs, embeddedErr
}

func loadEmbedded() (map[string]any, error) {
	raw, err := embedded.ReadFile("contexts/index.json")
	if err != nil {
		return nil, fmt.Errorf("embedded contexts: %w", err)
	}
	var index map[string]indexEntry
	if err := json.Unmarshal(raw, &index); err != nil {
		return nil, fmt.Errorf("embedded contexts: index.json: %w", err)
	}
	docs := make(map[string]any, len(index)+1)
	for url, e := range index {
		data, err := embedded.ReadFile("contexts/" + e.File)
		if err != nil {
			return nil, fmt.Errorf("embedded context %s: %w", url, err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != e.SHA256 {
			return nil, fmt.Errorf("%w: %s (%s): sha256 %s, index.json says %s", ErrContextIntegrity, url, e.File, got, e.SHA256)
		}
		doc, err := parseContext(url, data)
		if err != nil {
			return nil, err
		}
		docs[url] = doc
	}
	doc, err := parseContext(schemas.ContextURL, schemas.Context())
	if err != nil {
		return nil, err
	}
	docs[schemas.ContextURL] = doc
	return docs, nil
}

// parseContext parses a context document and checks that it has an
// "@context" member.
func parseContext(url string, data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidContext, url, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s: data after the JSON value", ErrInvalidContext, url)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not a JSON object", ErrInvalidContext, url)
	}
	if _, ok := m["@context"]; !ok {
		return nil, fmt.Errorf("%w: %s: no @context member", ErrInvalidContext, url)
	}
	return m, nil
}

// newLoader returns a loader with the embedded contexts and extra (URL →
// document bytes), which may replace embedded ones.
func newLoader(extra map[string][]byte) (*Loader, error) {
	base, err := embeddedContexts()
	if err != nil {
		return nil, err
	}
	docs := maps.Clone(base)
	for url, data := range extra {
		if url == "" {
			return nil, fmt.Errorf("%w: empty context URL", ErrInvalidContext)
		}
		doc, err := parseContext(url, data)
		if err != nil {
			return nil, err
		}
		docs[url] = doc
	}
	return &Loader{docs: docs}, nil
}

// NewLoader returns a loader serving the embedded contexts, the agentid
// context and the contexts of any WithContext options (other options are
// ignored). It fails with ErrContextIntegrity if an embedded file was
// altered, or ErrInvalidContext for an added context that does not parse.
func NewLoader(opts ...Option) (*Loader, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return newLoader(c.contexts)
}

// LoadDocument returns a deep copy of the context document at u, or an
// error wrapping ErrContextNotAllowed. It implements ld.DocumentLoader.
func (l *Loader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	doc, ok := l.docs[u]
	if !ok {
		return nil, fmt.Errorf("load %q: %w", truncate(u), ErrContextNotAllowed)
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: jsonvalue.Clone(doc)}, nil
}

// Has reports whether the loader serves u.
func (l *Loader) Has(u string) bool {
	_, ok := l.docs[u]
	return ok
}

// URLs lists the context URLs the loader serves, sorted.
func (l *Loader) URLs() []string {
	return slices.Sorted(maps.Keys(l.docs))
}

var _ ld.DocumentLoader = (*Loader)(nil)

// truncate shortens attacker-controlled strings echoed in errors.
func truncate(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
