package jsonvalue

import (
	"reflect"
	"testing"
)

func TestCloneIsDeep(t *testing.T) {
	orig := map[string]any{"a": []any{map[string]any{"b": "c"}, 1.5}, "d": map[string]any{"e": true}}
	c := CloneObject(orig)
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("clone %v differs from %v", c, orig)
	}
	c["a"].([]any)[0].(map[string]any)["b"] = "changed"
	c["d"].(map[string]any)["e"] = false
	if orig["a"].([]any)[0].(map[string]any)["b"] != "c" || orig["d"].(map[string]any)["e"] != true {
		t.Fatal("changing the clone changed the original")
	}
	if CloneObject(nil) != nil || Clone("s") != "s" {
		t.Fatal("nil or scalar clone")
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct {
		in   any
		want []string
	}{
		{"a", []string{"a"}},
		{[]any{"a", 3.0, "b"}, []string{"a", "b"}},
		{[]string{"x"}, []string{"x"}},
		{map[string]any{}, nil},
		{nil, nil},
	} {
		if got := Strings(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Strings(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
