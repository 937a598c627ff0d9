package jsonld

import (
	"fmt"
	"slices"
	"strings"

	"github.com/piprate/json-gold/ld"
)

// checkBlankNodes bounds the work RDFC-1.0 will do on ds.
//
// RDFC-1.0 first labels each blank node by the hash of the quads that
// mention it (its "first-degree hash", with itself written _:a and every
// other blank node _:z). A node whose hash is unique is labelled at once.
// Nodes that share a hash are told apart by the "N-degree" algorithm, which
// tries every permutation of their related blank nodes, recursively: linked
// look-alike nodes make that factorial. This check computes the same
// first-degree signatures (without hashing them) and counts the nodes that
// share one with another node and are linked to another such node; more
// than Limits.MaxAmbiguousBlankNodes of them is refused before json-gold
// starts. Identical leaves (for example two equal objects in an array) are
// cheap to canonicalize and are not counted.
func checkBlankNodes(ds *ld.RDFDataset, lim Limits) error {
	quadsOf := map[string][]*ld.Quad{}
	for _, quads := range ds.Graphs {
		for _, q := range quads {
			for _, n := range []ld.Node{q.Subject, q.Object, q.Graph} {
				if b, ok := n.(*ld.BlankNode); ok {
					qs := quadsOf[b.Attribute]
					if len(qs) == 0 || qs[len(qs)-1] != q {
						quadsOf[b.Attribute] = append(qs, q)
					}
				}
			}
		}
	}
	if lim.MaxBlankNodes > 0 && len(quadsOf) > lim.MaxBlankNodes {
		return fmt.Errorf("%w: %d, at most %d", ErrTooManyBlankNodes, len(quadsOf), lim.MaxBlankNodes)
	}
	if lim.MaxAmbiguousBlankNodes < 0 || len(quadsOf) <= 1 {
		return nil
	}
	signature := make(map[string]string, len(quadsOf))
	count := map[string]int{}
	var b strings.Builder
	lines := make([]string, 0, 8)
	for id, qs := range quadsOf {
		lines = lines[:0]
		for _, q := range qs {
			b.Reset()
			writeNode(&b, q.Subject, id)
			writeNode(&b, q.Predicate, id)
			writeNode(&b, q.Object, id)
			writeNode(&b, q.Graph, id)
			lines = append(lines, b.String())
		}
		slices.Sort(lines)
		sig := strings.Join(lines, "\n")
		signature[id] = sig
		count[sig]++
	}
	ambiguous := 0
	for id, qs := range quadsOf {
		if count[signature[id]] < 2 {
			continue
		}
		if linkedToAmbiguous(id, qs, signature, count) {
			ambiguous++
		}
	}
	if ambiguous > lim.MaxAmbiguousBlankNodes {
		return fmt.Errorf("%w: %d linked look-alike blank nodes, at most %d", ErrAmbiguousBlankNodes, ambiguous, lim.MaxAmbiguousBlankNodes)
	}
	return nil
}

// linkedToAmbiguous reports whether a quad of id mentions another blank
// node whose first-degree signature is shared.
func linkedToAmbiguous(id string, qs []*ld.Quad, signature map[string]string, count map[string]int) bool {
	for _, q := range qs {
		for _, n := range []ld.Node{q.Subject, q.Object, q.Graph} {
			if o, ok := n.(*ld.BlankNode); ok && o.Attribute != id && count[signature[o.Attribute]] >= 2 {
				return true
			}
		}
	}
	return false
}

// writeNode writes a node of a quad as the first-degree hash sees it.
func writeNode(b *strings.Builder, n ld.Node, self string) {
	switch t := n.(type) {
	case nil:
		b.WriteString("-")
	case *ld.BlankNode:
		if t.Attribute == self {
			b.WriteString("_:a")
		} else {
			b.WriteString("_:z")
		}
	case *ld.IRI:
		b.WriteString("<")
		b.WriteString(t.Value)
		b.WriteString(">")
	case *ld.Literal:
		b.WriteString(fmt.Sprintf("%q^^%s@%s", t.Value, t.Datatype, t.Language))
	default:
		b.WriteString(n.GetValue())
	}
	b.WriteByte(' ')
}
