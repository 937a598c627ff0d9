package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The fast check.
//
// The library validator builds a scope, an evaluation record and, for every
// failing branch of a oneOf, an error value with its causes, for each value
// it visits: about 400 allocations per credential, most of the time of a
// schema check, even when the credential is valid (as nearly every one
// presented to the verifier is). But most credentials only need a yes.
//
// So each embedded schema is also compiled into a boolean-only form (a tree
// of fnode) that answers "valid" without allocating. It decides the same
// JSON Schema 2020-12 semantics as the library, for the keywords our schemas
// use, and only ever says "valid" when it is sure: Validate takes its "yes"
// as the verdict and sends every "no" (and every document it is unsure
// about) to the library, which gives the verdict and the errors. The fast
// check can therefore make validation cheaper but never more permissive,
// provided it never says "valid" where the library would not. For that:
//
//   - A schema that uses any keyword outside the small set fastCompile
//     knows, or a $ref it cannot resolve inside the schema itself, gets no
//     fast form at all (TestFastFormsExist notices).
//   - A value that is not one of the types encoding/json decodes to
//     (map[string]any, []any, string, bool, nil, json.Number, finite
//     float64), a comparison of numbers, or nesting deeper than maxFastDepth
//     makes the run unsure, and an unsure run is never a "yes".
//   - Patterns are the schema's own regular expressions compiled by
//     regexp.Compile, as the library compiles them.
//   - Tests and a fuzz target compare the two on valid and mutated
//     credentials.

// maxFastDepth bounds the recursion of one run (schema nodes entered along
// one path), so that a $ref cycle cannot recurse without end.
const maxFastDepth = 256

// jsonKind is a set of JSON types.
type jsonKind uint8

const (
	kindNull jsonKind = 1 << iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// kindOf is the JSON type of a decoded value, or 0 for a value of any other
// Go type (or a float64 that is not finite), which the fast check does not
// judge.
func kindOf(v any) jsonKind {
	switch x := v.(type) {
	case nil:
		return kindNull
	case bool:
		return kindBool
	case string:
		return kindString
	case map[string]any:
		return kindObject
	case []any:
		return kindArray
	case json.Number:
		return kindNumber
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0
		}
		return kindNumber
	}
	return 0
}

// fnode is one compiled schema (or subschema) of the fast check. A nil
// pointer field or a negative bound means the keyword is absent.
type fnode struct {
	never bool     // the schema false
	types jsonKind // "type"; 0: any type
	// enums: "const" and "enum", each a list of allowed scalars (string,
	// bool or nil); the value must be in every list.
	enums [][]any
	ref   *fnode

	required   []string
	props      []fprop
	propIndex  map[string]*fnode // props by name, when additional is set
	additional *fnode            // "additionalProperties"
	minProps   int
	maxProps   int

	minItems int
	maxItems int
	unique   bool
	prefix   []*fnode
	items    *fnode
	contains *fnode

	minLen  int
	maxLen  int
	pattern func(string) bool

	allOf, anyOf, oneOf []*fnode
	not                 *fnode
	ifN, thenN, elseN   *fnode
}

type fprop struct {
	name string
	node *fnode
}

// fastRun is the state of one run of the fast check.
type fastRun struct {
	unsure bool
	depth  int
}

// fastValid reports whether the fast check is sure that v conforms to n.
func fastValid(n *fnode, v any) bool {
	var r fastRun
	ok := r.valid(n, v)
	return ok && !r.unsure
}

func (r *fastRun) valid(n *fnode, v any) bool {
	if r.unsure {
		return false
	}
	k := kindOf(v)
	if k == 0 || r.depth >= maxFastDepth {
		r.unsure = true
		return false
	}
	if n.never {
		return false
	}
	r.depth++
	ok := r.check(n, v, k)
	r.depth--
	return ok
}

func (r *fastRun) check(n *fnode, v any, k jsonKind) bool {
	if n.types != 0 && n.types&k == 0 {
		return false
	}
	for _, e := range n.enums {
		if !inEnum(e, v) {
			return false
		}
	}
	if n.ref != nil && !r.valid(n.ref, v) {
		return false
	}
	switch k {
	case kindObject:
		if !r.object(n, v.(map[string]any)) {
			return false
		}
	case kindArray:
		if !r.array(n, v.([]any)) {
			return false
		}
	case kindString:
		if !str(n, v.(string)) {
			return false
		}
	}
	for _, s := range n.allOf {
		if !r.valid(s, v) {
			return false
		}
	}
	if len(n.anyOf) > 0 {
		any := false
		for _, s := range n.anyOf {
			if r.valid(s, v) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	if len(n.oneOf) > 0 {
		matched := 0
		for _, s := range n.oneOf {
			if r.valid(s, v) {
				matched++
			}
		}
		if matched != 1 {
			return false
		}
	}
	if n.not != nil && r.valid(n.not, v) {
		return false
	}
	if n.ifN != nil {
		if r.valid(n.ifN, v) {
			if n.thenN != nil && !r.valid(n.thenN, v) {
				return false
			}
		} else if n.elseN != nil && !r.valid(n.elseN, v) {
			return false
		}
	}
	return true
}

// inEnum reports whether v equals one of the scalars in e. Values of other
// types never equal a string, a boolean or null.
func inEnum(e []any, v any) bool {
	for _, c := range e {
		switch c := c.(type) {
		case string:
			if s, ok := v.(string); ok && s == c {
				return true
			}
		case bool:
			if b, ok := v.(bool); ok && b == c {
				return true
			}
		case nil:
			if v == nil {
				return true
			}
		}
	}
	return false
}

func (r *fastRun) object(n *fnode, obj map[string]any) bool {
	for _, name := range n.required {
		if _, ok := obj[name]; !ok {
			return false
		}
	}
	if n.minProps >= 0 && len(obj) < n.minProps || n.maxProps >= 0 && len(obj) > n.maxProps {
		return false
	}
	if n.additional == nil {
		// the same (name, subschema) pairs as iterating obj: only the
		// members that properties names are checked
		for _, p := range n.props {
			if pv, ok := obj[p.name]; ok && !r.valid(p.node, pv) {
				return false
			}
		}
		return true
	}
	for name, pv := range obj {
		s, ok := n.propIndex[name]
		if !ok {
			s = n.additional
		}
		if !r.valid(s, pv) {
			return false
		}
	}
	return true
}

func (r *fastRun) array(n *fnode, arr []any) bool {
	if n.minItems >= 0 && len(arr) < n.minItems || n.maxItems >= 0 && len(arr) > n.maxItems {
		return false
	}
	if n.unique && !r.distinct(arr) {
		return false
	}
	i := 0
	for ; i < len(arr) && i < len(n.prefix); i++ {
		if !r.valid(n.prefix[i], arr[i]) {
			return false
		}
	}
	if n.items != nil {
		for ; i < len(arr); i++ {
			if !r.valid(n.items, arr[i]) {
				return false
			}
		}
	}
	if n.contains != nil {
		found := false
		for _, it := range arr {
			if r.valid(n.contains, it) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// distinct reports whether no two items of arr are equal JSON values.
func (r *fastRun) distinct(arr []any) bool {
	for i := 1; i < len(arr); i++ {
		for j := 0; j < i; j++ {
			if r.equal(arr[i], arr[j]) {
				return false
			}
		}
	}
	return true
}

// equal is JSON equality of two decoded values. Numbers (whose equality is
// numeric: 1, 1.0 and 1e0 are equal) make the run unsure instead.
func (r *fastRun) equal(a, b any) bool {
	if r.unsure {
		return false
	}
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !r.equal(a[i], bs[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			bv, ok := bm[k]
			if !ok || !r.equal(av, bv) {
				return false
			}
		}
		return true
	}
	r.unsure = true
	return false
}

// str checks the string keywords. Lengths are counted in characters (an
// invalid UTF-8 byte counts as one, as in the library), but only when the
// byte length does not already decide: a string has at most as many
// characters as bytes, and at least a quarter as many.
func str(n *fnode, s string) bool {
	if n.maxLen >= 0 && len(s) > n.maxLen && utf8.RuneCountInString(s) > n.maxLen {
		return false
	}
	if n.minLen > 0 && (len(s)+3)/4 < n.minLen && utf8.RuneCountInString(s) < n.minLen {
		return false
	}
	return n.pattern == nil || n.pattern(s)
}

// fastCompile compiles the schema document text into its fast form, or
// fails if the schema uses anything the fast check does not know.
func fastCompile(text []byte) (*fnode, error) {
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	c := &fastCompiler{doc: doc, byPtr: map[string]*fnode{}}
	root, err := c.node(doc, "", true)
	if err != nil {
		return nil, err
	}
	return root, nil
}

type fastCompiler struct {
	doc   any
	byPtr map[string]*fnode // compiled $ref targets, by JSON pointer
}

// annotations are the keywords that do not affect validity (format
// included: JSON Schema 2020-12 treats it as an annotation unless the
// format-assertion vocabulary is required, and our compiler does not
// enable format assertions; but no schema of ours uses it, so it is refused
// below to stay on the safe side).
var annotations = map[string]bool{
	"title": true, "description": true, "$comment": true, "examples": true, "default": true,
	"deprecated": true, "readOnly": true, "writeOnly": true, "$defs": true,
}

func (c *fastCompiler) node(s any, ptr string, root bool) (*fnode, error) {
	switch s := s.(type) {
	case bool:
		return &fnode{never: !s, minProps: -1, maxProps: -1, minItems: -1, maxItems: -1, minLen: -1, maxLen: -1}, nil
	case map[string]any:
		n := &fnode{minProps: -1, maxProps: -1, minItems: -1, maxItems: -1, minLen: -1, maxLen: -1}
		if root {
			// the root's own $id and $schema (checked: 2020-12 only)
			if sch, ok := s["$schema"]; ok && sch != "https://json-schema.org/draft/2020-12/schema" {
				return nil, fmt.Errorf("%s: $schema %v", ptr, sch)
			}
		}
		for kw, val := range s {
			at := ptr + "/" + escapeToken(kw)
			var err error
			switch {
			case annotations[kw]:
			case root && (kw == "$id" || kw == "$schema"):
			case kw == "type":
				n.types, err = typeSet(val)
			case kw == "const":
				var e []any
				e, err = scalars([]any{val})
				n.enums = append(n.enums, e)
			case kw == "enum":
				list, ok := val.([]any)
				if !ok || len(list) == 0 {
					err = fmt.Errorf("enum is not a non-empty array")
					break
				}
				var e []any
				e, err = scalars(list)
				n.enums = append(n.enums, e)
			case kw == "$ref":
				n.ref, err = c.ref(val)
			case kw == "required":
				n.required, err = stringList(val)
			case kw == "properties":
				m, ok := val.(map[string]any)
				if !ok {
					err = fmt.Errorf("not an object")
					break
				}
				for name, sub := range m {
					var sn *fnode
					if sn, err = c.node(sub, at+"/"+escapeToken(name), false); err != nil {
						break
					}
					n.props = append(n.props, fprop{name, sn})
				}
			case kw == "additionalProperties":
				n.additional, err = c.node(val, at, false)
			case kw == "minProperties":
				n.minProps, err = count(val)
			case kw == "maxProperties":
				n.maxProps, err = count(val)
			case kw == "minItems":
				n.minItems, err = count(val)
			case kw == "maxItems":
				n.maxItems, err = count(val)
			case kw == "uniqueItems":
				b, ok := val.(bool)
				if !ok {
					err = fmt.Errorf("not a boolean")
				}
				n.unique = b
			case kw == "prefixItems":
				n.prefix, err = c.list(val, at)
			case kw == "items":
				n.items, err = c.node(val, at, false)
			case kw == "contains":
				n.contains, err = c.node(val, at, false)
			case kw == "minLength":
				n.minLen, err = count(val)
			case kw == "maxLength":
				n.maxLen, err = count(val)
			case kw == "pattern":
				n.pattern, err = matcher(val)
			case kw == "allOf":
				n.allOf, err = c.list(val, at)
			case kw == "anyOf":
				n.anyOf, err = c.list(val, at)
			case kw == "oneOf":
				n.oneOf, err = c.list(val, at)
			case kw == "not":
				n.not, err = c.node(val, at, false)
			case kw == "if":
				n.ifN, err = c.node(val, at, false)
			case kw == "then":
				n.thenN, err = c.node(val, at, false)
			case kw == "else":
				n.elseN, err = c.node(val, at, false)
			default:
				err = fmt.Errorf("keyword not supported by the fast check")
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", at, err)
			}
		}
		if n.additional != nil {
			n.propIndex = make(map[string]*fnode, len(n.props))
			for _, p := range n.props {
				n.propIndex[p.name] = p.node
			}
		}
		return n, nil
	}
	return nil, fmt.Errorf("%s: a schema must be an object or a boolean", ptr)
}

func (c *fastCompiler) list(v any, ptr string) ([]*fnode, error) {
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return nil, fmt.Errorf("not a non-empty array")
	}
	out := make([]*fnode, len(l))
	for i, s := range l {
		n, err := c.node(s, ptr+"/"+strconv.Itoa(i), false)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// ref resolves a $ref: only a JSON pointer into this same document
// ("#/$defs/did") is supported. Each target is compiled once; a target
// being compiled (a cycle) is linked when it is done.
func (c *fastCompiler) ref(v any) (*fnode, error) {
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, "#") {
		return nil, fmt.Errorf("only references inside the schema are supported")
	}
	ptr := s[1:]
	if n, ok := c.byPtr[ptr]; ok {
		return n, nil
	}
	target, err := resolvePointer(c.doc, ptr)
	if err != nil {
		return nil, err
	}
	// register a placeholder first, so that a cycle refers to it
	n := &fnode{}
	c.byPtr[ptr] = n
	compiled, err := c.node(target, ptr, false)
	if err != nil {
		return nil, err
	}
	*n = *compiled
	return n, nil
}

func resolvePointer(doc any, ptr string) (any, error) {
	if ptr == "" {
		return doc, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("reference #%s is not a JSON pointer", ptr)
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		if strings.ContainsRune(tok, '%') {
			return nil, fmt.Errorf("reference #%s: percent-encoding not supported", ptr)
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("reference #%s does not resolve", ptr)
			}
			cur = next
		default:
			return nil, fmt.Errorf("reference #%s: only object members are supported", ptr)
		}
	}
	return cur, nil
}

func escapeToken(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}

func typeSet(v any) (jsonKind, error) {
	var names []any
	switch v := v.(type) {
	case string:
		names = []any{v}
	case []any:
		names = v
	default:
		return 0, fmt.Errorf("not a string or an array")
	}
	var k jsonKind
	for _, name := range names {
		switch name {
		case "null":
			k |= kindNull
		case "boolean":
			k |= kindBool
		case "number":
			k |= kindNumber
		case "string":
			k |= kindString
		case "array":
			k |= kindArray
		case "object":
			k |= kindObject
		default: // "integer" included: not supported
			return 0, fmt.Errorf("type %v not supported", name)
		}
	}
	if k == 0 {
		return 0, fmt.Errorf("empty type list not supported")
	}
	return k, nil
}

// scalars checks that every value is a string, a boolean or null: the fast
// check compares only those.
func scalars(l []any) ([]any, error) {
	for _, v := range l {
		switch v.(type) {
		case string, bool, nil:
		default:
			return nil, fmt.Errorf("const/enum value %v not supported", v)
		}
	}
	return l, nil
}

func stringList(v any) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not an array")
	}
	out := make([]string, len(l))
	for i, s := range l {
		if out[i], ok = s.(string); !ok {
			return nil, fmt.Errorf("not an array of strings")
		}
	}
	return out, nil
}

// count reads a non-negative integer keyword value.
func count(v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("not a number")
	}
	i, err := strconv.Atoi(string(n))
	if err != nil || i < 0 {
		return 0, fmt.Errorf("%s is not a non-negative integer", n)
	}
	return i, nil
}

// matcher compiles a pattern as the library does (regexp.Compile, so
// unanchored RE2 syntax).
func matcher(v any) (func(string) bool, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("not a string")
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, err
	}
	return re.MatchString, nil
}
