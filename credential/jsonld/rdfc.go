package jsonld

import (
	"encoding/hex"
	"hash"
	"slices"
	"strconv"
	"strings"
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

// canonicalFromQuads returns the canonical N-Quads of quads with hash h
// (reset before each use), or errFallback when blank nodes share a
// first-degree hash or exceed maxBlank (when positive).
func canonicalFromQuads(quads []rdfQuad, h hash.Hash, maxBlank int) (string, error) {
	// Blank node → indexes of the quads that mention it.
	mentions := map[string][]int{}
	for i, q := range quads {
		var seen [3]string
		n := 0
		for _, t := range [3]*rdfTerm{&q.s, &q.o, &q.g} {
			if t.kind != kindBlank {
				continue
			}
			for _, s := range seen[:n] {
				if s == t.value {
					return "", errFallback // a quad naming one blank node twice
				}
			}
			seen[n] = t.value
			n++
			mentions[t.value] = append(mentions[t.value], i)
		}
	}
	if maxBlank > 0 && len(mentions) > maxBlank {
		return "", errFallback
	}
	type labelled struct {
		hash  string
		label string
	}
	hashes := make([]labelled, 0, len(mentions))
	var lines []string
	var buf []byte
	for label, idx := range mentions {
		lines = lines[:0]
		for _, i := range idx {
			buf = appendNQuad(buf[:0], &quads[i], func(b string) string {
				if b == label {
					return "a"
				}
				return "z"
			})
			lines = append(lines, string(buf))
		}
		slices.Sort(lines)
		h.Reset()
		for _, l := range lines {
			h.Write([]byte(l))
		}
		hashes = append(hashes, labelled{hex.EncodeToString(h.Sum(nil)), label})
	}
	slices.SortFunc(hashes, func(a, b labelled) int { return strings.Compare(a.hash, b.hash) })
	canonical := make(map[string]string, len(hashes))
	for i, l := range hashes {
		if i > 0 && hashes[i-1].hash == l.hash {
			return "", errFallback
		}
		canonical[l.label] = "c14n" + strconv.Itoa(i)
	}
	relabel := func(b string) string { return canonical[b] }
	out := make([]string, len(quads))
	size := 0
	for i := range quads {
		buf = appendNQuad(buf[:0], &quads[i], relabel)
		out[i] = string(buf)
		size += len(buf)
	}
	slices.Sort(out)
	var sb strings.Builder
	sb.Grow(size)
	for _, l := range out {
		sb.WriteString(l)
	}
	return sb.String(), nil
}

// appendNQuad appends q as an N-Quads line, with blank node labels mapped
// through label (which returns the label without "_:").
func appendNQuad(buf []byte, q *rdfQuad, label func(string) string) []byte {
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

func appendTerm(buf []byte, t *rdfTerm, label func(string) string) []byte {
	switch t.kind {
	case kindIRI:
		buf = append(buf, '<')
		buf = appendEscaped(buf, t.value)
		return append(buf, '>')
	case kindBlank:
		buf = append(buf, "_:"...)
		return append(buf, label(t.value)...)
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

// appendEscaped escapes as json-gold's N-Quads writer does.
func appendEscaped(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
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
