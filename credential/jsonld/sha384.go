package jsonld

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/piprate/json-gold/ld"
)

// ErrAmbiguousSHA384 is a document canonicalized with SHA-384 as the
// RDFC-1.0 hash (ecdsa-rdfc-2019 on P-384) whose blank nodes are not all
// told apart by their first-degree hashes. json-gold computes RDFC-1.0 with
// SHA-256 only; this package adds the SHA-384 variant for the common case
// where every blank node has a unique first-degree hash, and refuses the
// rest rather than sign a form other implementations would not reproduce.
var ErrAmbiguousSHA384 = errors.New("RDFC-1.0 with SHA-384 is supported only when every blank node has a unique first-degree hash")

// CanonicalizeSHA384 is Canonicalize with SHA-384 as the hash function of
// RDFC-1.0, which the ecdsa-rdfc-2019 cryptosuite requires for P-384 keys
// (the W3C P-384 vectors label blank nodes by SHA-384 first-degree hashes).
//
// RDFC-1.0 labels blank nodes in the order of their first-degree hashes
// (the hash of the sorted N-Quads that mention the node, written _:a, with
// every other blank node written _:z) and only needs its N-degree step for
// nodes whose hashes collide. Documents without such collisions (nearly
// every credential) are canonicalized here; others fail with
// ErrAmbiguousSHA384.
func (p *Processor) CanonicalizeSHA384(ctx context.Context, doc map[string]any) (string, error) {
	out, err := p.canonicalizeFast(ctx, doc, sha512.New384())
	if !errors.Is(err, errFallback) {
		return out, err
	}
	if err := p.refuseGraphFallback(ctx, doc); err != nil {
		return "", err
	}
	return p.canonicalizeSHA384JSONGold(ctx, doc)
}

// canonicalizeSHA384JSONGold is CanonicalizeSHA384 on json-gold's RDF
// conversion.
func (p *Processor) canonicalizeSHA384JSONGold(ctx context.Context, doc map[string]any) (_ string, err error) {
	defer goldPanic(&err, "canonicalize")
	ds, err := p.toRDF(ctx, doc)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("jsonld: canonicalize: %w", err)
	}
	type entry struct {
		quad  *ld.Quad
		graph string
	}
	var all []entry
	mentions := map[string][]int{} // blank node → indexes into all
	for g, quads := range ds.Graphs {
		for _, q := range quads {
			all = append(all, entry{q, g})
			i := len(all) - 1
			for _, n := range []ld.Node{q.Subject, q.Object} {
				if b, ok := n.(*ld.BlankNode); ok {
					mentions[b.Attribute] = appendOnce(mentions[b.Attribute], i)
				}
			}
			if strings.HasPrefix(g, "_:") {
				mentions[g] = appendOnce(mentions[g], i)
			}
		}
	}
	type labelled struct{ hash, id string }
	hashes := make([]labelled, 0, len(mentions))
	for id, idx := range mentions {
		lines := make([]string, 0, len(idx))
		for _, i := range idx {
			lines = append(lines, nquad(all[i].quad, all[i].graph, func(b string) string {
				if b == id {
					return "_:a"
				}
				return "_:z"
			}))
		}
		slices.Sort(lines)
		sum := sha512.Sum384([]byte(strings.Join(lines, "")))
		hashes = append(hashes, labelled{hex.EncodeToString(sum[:]), id})
	}
	slices.SortFunc(hashes, func(a, b labelled) int { return strings.Compare(a.hash, b.hash) })
	canonical := make(map[string]string, len(hashes))
	for i, h := range hashes {
		if i > 0 && hashes[i-1].hash == h.hash {
			return "", fmt.Errorf("jsonld: canonicalize: %w", ErrAmbiguousSHA384)
		}
		canonical[h.id] = "_:c14n" + strconv.Itoa(i)
	}
	relabel := func(b string) string { return canonical[b] }
	lines := make([]string, 0, len(all))
	for _, e := range all {
		lines = append(lines, nquad(e.quad, e.graph, relabel))
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	return strings.Join(lines, ""), nil
}

func appendOnce(s []int, i int) []int {
	if len(s) > 0 && s[len(s)-1] == i {
		return s
	}
	return append(s, i)
}

// nquad serializes one quad as json-gold does, with blank node labels
// replaced by label.
func nquad(q *ld.Quad, graph string, label func(string) string) string {
	relabel := func(n ld.Node) ld.Node {
		if b, ok := n.(*ld.BlankNode); ok {
			return ld.NewBlankNode(label(b.Attribute))
		}
		return n
	}
	if graph == "@default" {
		graph = ""
	} else if strings.HasPrefix(graph, "_:") {
		graph = label(graph)
	}
	one := ld.NewQuad(relabel(q.Subject), q.Predicate, relabel(q.Object), graph)
	ds := &ld.RDFDataset{Graphs: map[string][]*ld.Quad{graph: {one}}}
	out, err := (&ld.NQuadRDFSerializer{}).Serialize(ds)
	if err != nil {
		return ""
	}
	s, _ := out.(string)
	return s
}
