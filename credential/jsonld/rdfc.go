package jsonld

import (
	"bytes"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// # RDFC-1.0 without the N-degree step
//
// RDFC-1.0 gives each blank node the hash of its "first-degree" quads (the
// N-Quads that mention it, with itself written _:a and every other blank
// node _:z, sorted and concatenated). Nodes whose hash is unique are
// labelled _:c14n0, _:c14n1, … in the order of their hashes; only nodes
// sharing a hash need the expensive N-degree step. A credential's blank
// nodes (its subject, its proof, its status entries) nearly always differ
// in their own statements, so canonicalFromQuads does the first-degree
// labelling and answers errFallback when two hashes collide, leaving that
// case to json-gold (or, for SHA-384, to the refusal in CanonicalizeSHA384).
//
// The N-Quads are written exactly as json-gold writes them (it is the
// reference the vectors were produced with): IRIs in angle brackets,
// literals with \\, \", \n, \r and \t escaped, the datatype omitted for
// xsd:string. json-gold also lists a quad once per blank node occurrence
// when it gathers a node's quads; a quad naming the same blank node twice
// therefore falls back rather than depend on that detail.

// canonicalFromQuads returns the canonical N-Quads of quads, whose blank
// nodes are numbered below nBlank, with hash h (reset before each use), or
// errFallback when blank nodes share a first-degree hash or exceed
// maxBlank (when positive).
//
// It writes every N-Quads line into one reused buffer and sorts spans of
// it, so a canonicalization allocates little more than its result.
//
// With out set it writes the canonical N-Quads to out instead and returns
// "": hashing them needs no copy of them as a string.
func canonicalFromQuads(quads []rdfQuad, nBlank int, h hash.Hash, maxBlank int, out hash.Hash) (string, error) {
	sc := scratches.Get().(*rdfcScratch)
	defer sc.release()

	// The quads that mention each blank node, as a compressed index:
	// mentions[start[n]:start[n+1]] for blank node n.
	start := growInt32(&sc.start, nBlank+1)
	clear(start)
	for i := range quads {
		q := &quads[i]
		var seen [3]int32
		k := 0
		for _, t := range [3]*rdfTerm{&q.s, &q.o, &q.g} {
			if t.kind != kindBlank {
				continue
			}
			for _, n := range seen[:k] {
				if n == t.blank {
					return "", errFallback // a quad naming one blank node twice
				}
			}
			seen[k] = t.blank
			k++
			start[t.blank+1]++
		}
	}
	mentioned := 0
	for n := range nBlank {
		if start[n+1] > 0 {
			mentioned++
		}
		start[n+1] += start[n]
	}
	if maxBlank > 0 && mentioned > maxBlank {
		return "", errFallback
	}
	mentions := growInt32(&sc.mentions, int(start[nBlank]))
	fill := growInt32(&sc.fill, nBlank)
	copy(fill, start[:nBlank])
	for i := range quads {
		q := &quads[i]
		for _, t := range [3]*rdfTerm{&q.s, &q.o, &q.g} {
			if t.kind == kindBlank {
				mentions[fill[t.blank]] = int32(i)
				fill[t.blank]++
			}
		}
	}

	// First-degree hashes: the sorted lines of each node's quads, the
	// node written _:a and every other blank node _:z.
	size := h.Size()
	sums := growBytes(&sc.sums, mentioned*size)
	nodes := sc.nodes[:0]
	for n := range int32(nBlank) {
		idx := mentions[start[n]:start[n+1]]
		if len(idx) == 0 {
			continue
		}
		label := func(b int32) string {
			if b == n {
				return "a"
			}
			return "z"
		}
		sc.buf, sc.spans = sc.buf[:0], sc.spans[:0]
		for _, i := range idx {
			from := len(sc.buf)
			sc.buf = appendNQuad(sc.buf, &quads[i], label)
			sc.spans = append(sc.spans, span{from, len(sc.buf)})
		}
		sc.sortSpans()
		h.Reset()
		for _, sp := range sc.spans {
			h.Write(sc.buf[sp.from:sp.to])
		}
		k := len(nodes)
		h.Sum(sums[k*size : k*size])
		nodes = append(nodes, n)
	}
	sc.nodes = nodes
	sum := func(k int) []byte { return sums[k*size : (k+1)*size] }
	// Order the nodes by hash (hex strings order as their bytes do).
	order := growInt32(&sc.order, len(nodes))
	for k := range order {
		order[k] = int32(k)
	}
	slices.SortFunc(order, func(a, b int32) int { return bytes.Compare(sum(int(a)), sum(int(b))) })
	canonical := growInt32(&sc.canonical, nBlank)
	for rank, k := range order {
		if rank > 0 && bytes.Equal(sum(int(order[rank-1])), sum(int(k))) {
			return "", errFallback
		}
		canonical[nodes[k]] = int32(rank)
	}

	// The canonical lines, sorted.
	relabel := func(b int32) string { return canonicalLabel(canonical[b]) }
	sc.buf, sc.spans = sc.buf[:0], sc.spans[:0]
	for i := range quads {
		from := len(sc.buf)
		sc.buf = appendNQuad(sc.buf, &quads[i], relabel)
		sc.spans = append(sc.spans, span{from, len(sc.buf)})
	}
	sc.sortSpans()
	if out != nil {
		for _, sp := range sc.spans {
			out.Write(sc.buf[sp.from:sp.to])
		}
		return "", nil
	}
	var sb strings.Builder
	sb.Grow(len(sc.buf))
	for _, sp := range sc.spans {
		sb.Write(sc.buf[sp.from:sp.to])
	}
	return sb.String(), nil
}

// span is one line in rdfcScratch.buf.
type span struct{ from, to int }

// rdfcScratch holds canonicalFromQuads' working memory, reused.
type rdfcScratch struct {
	buf                                     []byte
	spans                                   []span
	sums                                    []byte
	start, mentions, fill, order, canonical []int32
	nodes                                   []int32
}

var scratches = sync.Pool{New: func() any { return new(rdfcScratch) }}

// maxPooledScratch and maxPooledBlanks bound the buffer and the blank node
// tables a recycled scratch keeps.
const (
	maxPooledScratch = 1 << 20
	maxPooledBlanks  = 4096
)

func (sc *rdfcScratch) release() {
	if cap(sc.buf) > maxPooledScratch || cap(sc.start) > maxPooledBlanks || cap(sc.mentions) > maxPooledBlanks*4 {
		return
	}
	scratches.Put(sc)
}

// sortSpans sorts the lines of sc.spans by their bytes.
func (sc *rdfcScratch) sortSpans() {
	buf := sc.buf
	slices.SortFunc(sc.spans, func(a, b span) int { return bytes.Compare(buf[a.from:a.to], buf[b.from:b.to]) })
}

// growInt32 returns (*s)[:n], reallocating when too small.
func growInt32(s *[]int32, n int) []int32 {
	if cap(*s) < n {
		*s = make([]int32, n)
	}
	return (*s)[:n]
}

// growBytes returns (*s)[:n], reallocating when too small.
func growBytes(s *[]byte, n int) []byte {
	if cap(*s) < n {
		*s = make([]byte, n)
	}
	return (*s)[:n]
}

// canonicalLabels are the first canonical labels, made once.
var canonicalLabels = func() [64]string {
	var l [64]string
	for i := range l {
		l[i] = "c14n" + strconv.Itoa(i)
	}
	return l
}()

// canonicalLabel is the label RDFC-1.0 gives the node of rank n.
func canonicalLabel(n int32) string {
	if int(n) < len(canonicalLabels) {
		return canonicalLabels[n]
	}
	return "c14n" + strconv.Itoa(int(n))
}

// appendNQuad appends q as an N-Quads line, with blank node labels
// given by label (without "_:").
func appendNQuad(buf []byte, q *rdfQuad, label func(int32) string) []byte {
	buf = appendTerm(buf, &q.s, label)
	buf = append(buf, ' ')
	buf = appendTerm(buf, &q.p, label)
	buf = append(buf, ' ')
	buf = appendTerm(buf, &q.o, label)
	if q.g.kind != kindNone {
		buf = append(buf, ' ')
		buf = appendTerm(buf, &q.g, label)
	}
	return append(buf, " .\n"...)
}

func appendTerm(buf []byte, t *rdfTerm, label func(int32) string) []byte {
	switch t.kind {
	case kindIRI:
		buf = append(buf, '<')
		buf = appendEscaped(buf, t.value)
		return append(buf, '>')
	case kindBlank:
		buf = append(buf, "_:"...)
		return append(buf, label(t.blank)...)
	}
	buf = append(buf, '"')
	buf = appendEscaped(buf, t.value)
	buf = append(buf, '"')
	if t.datatype != xsdString {
		buf = append(buf, "^^<"...)
		buf = appendEscaped(buf, t.datatype)
		buf = append(buf, '>')
	}
	return buf
}

const xsdString = "http://www.w3.org/2001/XMLSchema#string"

// nquadEscaped marks the bytes appendEscaped escapes.
var nquadEscaped = [256]bool{'\\': true, '"': true, '\n': true, '\r': true, '\t': true}

// appendEscaped escapes as json-gold's N-Quads writer does.
func appendEscaped(buf []byte, s string) []byte {
	clean := 0
	for clean < len(s) && !nquadEscaped[s[clean]] {
		clean++
	}
	buf = append(buf, s[:clean]...) // nearly every IRI and literal: all of it
	for i := clean; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			buf = append(buf, '\\', '\\')
		case '"':
			buf = append(buf, '\\', '"')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, c)
		}
	}
	return buf
}
