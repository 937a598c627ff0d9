package jsonld

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrGraphContainer is a document json-gold would canonicalize wrongly and
// the fast path cannot take: it uses a term whose definition has both a
// scoped context and a @graph container (VC 2.0's verifiableCredential in
// a presentation). JSON-LD 1.1 takes the container from the active context,
// so each embedded credential is a named graph; json-gold v0.4.2 takes it
// from the term's scoped context, which for verifiableCredential is null,
// and puts the credentials in the presentation's default graph. Those
// N-Quads would not match any JSON-LD 1.1 processor's, so such a document
// is refused rather than canonicalized by json-gold.
var ErrGraphContainer = errors.New("JSON-LD document has an embedded graph (a presentation's verifiableCredential) outside what agentid canonicalizes")

var (
	graphScopedOnce  sync.Once
	graphScopedByURL map[string][]string
)

// graphScopedTerms returns, per embedded context URL, the terms it defines
// (at any depth: scoped contexts included) with a scoped context and a
// @graph container.
func graphScopedTerms() map[string][]string {
	graphScopedOnce.Do(func() {
		graphScopedByURL = map[string][]string{}
		docs, err := embeddedContexts()
		if err != nil {
			return
		}
		for url, d := range docs {
			var names []string
			collectGraphScoped(d, &names)
			if len(names) > 0 {
				graphScopedByURL[url] = names
			}
		}
	})
	return graphScopedByURL
}

// collectGraphScoped adds to names the terms of the context value v (a
// context document, an @context value, or a list of them) that have a
// scoped context and a @graph container.
func collectGraphScoped(v any, names *[]string) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			collectGraphScoped(e, names)
		}
	case map[string]any:
		if c, ok := t["@context"]; ok {
			collectGraphScoped(c, names)
		}
		for term, def := range t {
			d, ok := def.(map[string]any)
			if !ok || term == "@context" {
				continue
			}
			if sc, ok := d["@context"]; ok {
				if hasGraphContainer(d["@container"]) && !slices.Contains(*names, term) {
					*names = append(*names, term)
				}
				collectGraphScoped(sc, names)
			}
		}
	}
}

func hasGraphContainer(c any) bool {
	switch t := c.(type) {
	case string:
		return t == "@graph"
	case []any:
		for _, e := range t {
			if e == "@graph" {
				return true
			}
		}
	}
	return false
}

// usesGraphScopedTerm reports whether doc uses, anywhere, a term that a
// context it references (embedded by URL, or inline) defines with a scoped
// context and a @graph container: the documents json-gold gets wrong.
func usesGraphScopedTerm(doc map[string]any) bool {
	var terms []string
	var contexts func(v any)
	contexts = func(v any) {
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				contexts(e)
			}
		case map[string]any:
			for k, e := range t {
				if k == "@context" {
					contextTerms(e, &terms)
				} else {
					contexts(e)
				}
			}
		}
	}
	contexts(doc)
	if len(terms) == 0 {
		return false
	}
	var uses func(v any) bool
	uses = func(v any) bool {
		switch t := v.(type) {
		case []any:
			return slices.ContainsFunc(t, uses)
		case map[string]any:
			for k, e := range t {
				if k == "@context" {
					continue
				}
				if slices.Contains(terms, k) || uses(e) {
					return true
				}
			}
		}
		return false
	}
	return uses(doc)
}

// contextTerms adds to terms the graph-scoped terms of an @context value:
// an embedded context's by URL, an inline context's by reading it, a list's
// of each entry.
func contextTerms(c any, terms *[]string) {
	switch t := c.(type) {
	case string:
		*terms = append(*terms, graphScopedTerms()[t]...)
	case []any:
		for _, e := range t {
			contextTerms(e, terms)
		}
	default:
		collectGraphScoped(t, terms)
	}
}

// refuseGraphFallback is the error for a document the fast path declined:
// nil when json-gold may take it; when json-gold would place its embedded
// graphs wrongly, the document's own fault if the safe-mode check finds one
// (as canonicalization would report it), else ErrGraphContainer.
func (p *Processor) refuseGraphFallback(ctx context.Context, doc map[string]any) error {
	if !usesGraphScopedTerm(doc) {
		return nil
	}
	if err := p.Check(ctx, doc); err != nil {
		return err
	}
	return fmt.Errorf("jsonld: canonicalize: %w", ErrGraphContainer)
}
