package sdjwt

import (
	"fmt"
)

// disclosed records where a disclosure was put back.
type disclosed struct {
	path string
	d    *Disclosure
}

// processor puts disclosures back into a payload (RFC 9901 §7.1 step 3).
type processor struct {
	byDigest map[string]*Disclosure
	used     map[string]bool
	seen     map[string]bool
	maxDepth int
	vc       bool
	out      []disclosed
}

// reconstruct decodes the disclosures, checks _sd_alg, and returns the
// payload with every presented disclosure in place and every digest,
// "_sd" and "_sd_alg" removed, along with where each disclosure went in
// the order they were placed.
func reconstruct(payload map[string]any, encoded []string, lim Limits, vc bool) (map[string]any, []disclosed, error) {
	if v, ok := payload["_sd_alg"]; ok {
		alg, isString := v.(string)
		if !isString || alg != HashSHA256 {
			return nil, nil, fmt.Errorf("%w: %v", ErrUnsupportedHashAlgorithm, v)
		}
	}
	p := &processor{
		byDigest: make(map[string]*Disclosure, len(encoded)),
		used:     make(map[string]bool, len(encoded)),
		seen:     map[string]bool{},
		maxDepth: lim.MaxDepth,
		vc:       vc,
	}
	digests := make([]string, len(encoded))
	for i, e := range encoded {
		d, err := decodeDisclosure(e, lim)
		if err != nil {
			return nil, nil, fmt.Errorf("disclosure %d: %w", i+1, err)
		}
		dg := d.Digest()
		if _, dup := p.byDigest[dg]; dup {
			return nil, nil, fmt.Errorf("%w: disclosure %d is presented twice", ErrDuplicateDigest, i+1)
		}
		p.byDigest[dg] = d
		digests[i] = dg
	}
	out, err := p.object(payload, "", 1)
	if err != nil {
		return nil, nil, err
	}
	delete(out, "_sd_alg")
	for i, dg := range digests {
		if !p.used[dg] {
			return nil, nil, fmt.Errorf("%w: disclosure %d", ErrUnreferencedDisclosure, i+1)
		}
	}
	return out, p.out, nil
}

// isContainer reports whether v is a JSON object or array, the values
// processor.value descends into; anything else it returns as it is.
func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func (p *processor) value(v any, path string, depth int) (any, error) {
	switch c := v.(type) {
	case map[string]any:
		return p.object(c, path, depth+1)
	case []any:
		return p.array(c, path, depth+1)
	}
	return v, nil
}

// claim records a digest and returns its disclosure, if presented.
func (p *processor) claim(dg string) (*Disclosure, error) {
	if p.seen[dg] {
		return nil, fmt.Errorf("%w: %s", ErrDuplicateDigest, dg)
	}
	p.seen[dg] = true
	d := p.byDigest[dg]
	if d != nil {
		p.used[dg] = true
	}
	return d, nil
}

func (p *processor) object(obj map[string]any, path string, depth int) (map[string]any, error) {
	if depth > p.maxDepth {
		return nil, fmt.Errorf("%w: at %q", ErrTooDeep, path)
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k == "_sd" {
			continue
		}
		if !isContainer(v) { // a scalar needs no path
			out[k] = v
			continue
		}
		nv, err := p.value(v, childPath(path, k), depth)
		if err != nil {
			return nil, err
		}
		out[k] = nv
	}
	sd, ok := obj["_sd"]
	if !ok {
		return out, nil
	}
	list, ok := sd.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: at %q", ErrInvalidSDArray, path)
	}
	for _, e := range list {
		dg, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%w: at %q", ErrInvalidSDArray, path)
		}
		d, err := p.claim(dg)
		if err != nil {
			return nil, fmt.Errorf("at %q: %w", path, err)
		}
		if d == nil {
			continue
		}
		if d.IsArrayElement {
			return nil, fmt.Errorf("%w: array element disclosure referenced from _sd at %q", ErrInvalidDisclosure, path)
		}
		if _, exists := out[d.Name]; exists {
			return nil, fmt.Errorf("%w: %q at %q", ErrClaimExists, d.Name, path)
		}
		if path == "" && (d.Name == "_sd_alg" || (p.vc && isPlainVCClaim(d.Name))) {
			return nil, fmt.Errorf("%w: %q", ErrNonDisclosableClaim, d.Name)
		}
		cp := childPath(path, d.Name)
		p.out = append(p.out, disclosed{path: cp, d: d})
		nv, err := p.value(d.Value, cp, depth)
		if err != nil {
			return nil, err
		}
		out[d.Name] = nv
	}
	return out, nil
}

func (p *processor) array(arr []any, path string, depth int) ([]any, error) {
	if depth > p.maxDepth {
		return nil, fmt.Errorf("%w: at %q", ErrTooDeep, path)
	}
	out := make([]any, 0, len(arr))
	for i, e := range arr {
		if !isContainer(e) { // a scalar needs no path
			out = append(out, e)
			continue
		}
		m, isObj := e.(map[string]any)
		ref, isRef := m["..."]
		ep := indexPath(path, i)
		if !isObj || !isRef {
			nv, err := p.value(e, ep, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, nv)
			continue
		}
		if len(m) != 1 {
			return nil, fmt.Errorf("%w: {\"...\"} with other members at %q", ErrInvalidArrayDigest, ep)
		}
		dg, ok := ref.(string)
		if !ok {
			return nil, fmt.Errorf("%w: digest is not a string at %q", ErrInvalidArrayDigest, ep)
		}
		d, err := p.claim(dg)
		if err != nil {
			return nil, fmt.Errorf("at %q: %w", ep, err)
		}
		if d == nil {
			continue
		}
		if !d.IsArrayElement {
			return nil, fmt.Errorf("%w: object property disclosure referenced from an array at %q", ErrInvalidDisclosure, ep)
		}
		p.out = append(p.out, disclosed{path: ep, d: d})
		nv, err := p.value(d.Value, ep, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, nv)
	}
	return out, nil
}
