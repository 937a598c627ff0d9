package credential

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// mustJSON decodes a JSON literal written in a test.
func mustJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("bad test JSON %q: %v", s, err)
	}
	return v
}

// edit is a change to a test document: set the value at a pointer to a
// JSON literal, or delete it when JSON is "".
type edit struct {
	pointer string
	json    string
}

func del(pointer string) edit      { return edit{pointer, ""} }
func set(pointer, lit string) edit { return edit{pointer, lit} }

// apply makes the edits on a deep copy of base. Pointers use plain tokens
// (no escapes needed in these tests); array tokens are indexes.
func apply(t testing.TB, base string, edits ...edit) map[string]any {
	t.Helper()
	doc := mustJSON(t, base).(map[string]any)
	for _, e := range edits {
		toks := strings.Split(strings.TrimPrefix(e.pointer, "/"), "/")
		var parent any = doc
		for _, tok := range toks[:len(toks)-1] {
			switch p := parent.(type) {
			case map[string]any:
				parent = p[tok]
			case []any:
				parent = p[atoi(tok)]
			default:
				t.Fatalf("pointer %s: cannot descend into %T", e.pointer, parent)
			}
		}
		last := toks[len(toks)-1]
		switch p := parent.(type) {
		case map[string]any:
			if e.json == "" {
				delete(p, last)
			} else {
				p[last] = mustJSON(t, e.json)
			}
		case []any:
			if e.json == "" {
				t.Fatalf("pointer %s: cannot delete from an array", e.pointer)
			}
			p[atoi(last)] = mustJSON(t, e.json)
		default:
			t.Fatalf("pointer %s: parent is %T", e.pointer, parent)
		}
	}
	return doc
}

// pointers returns the pointers of a validation error (nil for nil).
func pointers(t testing.TB, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error is %T, not *ValidationError: %v", err, err)
	}
	var out []string
	for _, fe := range verr.Errors {
		if fe.Reason == "" {
			t.Errorf("empty reason at %q", fe.Pointer)
		}
		out = append(out, fe.Pointer)
	}
	return out
}

// checkResult asserts that err reports exactly the problems at want (in
// any order; duplicates ignored), or none when want is empty.
func checkResult(t *testing.T, err error, want []string) {
	t.Helper()
	got := pointers(t, err)
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no problem reported at %q; got %v (%v)", w, got, err)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("unexpected problem at %q (%v)", g, err)
		}
	}
}
