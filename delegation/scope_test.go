package delegation

import "testing"

func TestActionCovers(t *testing.T) {
	for _, tc := range []struct {
		granted, action string
		want            bool
	}{
		{"invoices:pay", "invoices:pay", true},
		{"invoices:pay", "invoices:read", false},
		{"invoices:*", "invoices:pay", true},
		{"invoices:*", "invoices:", false},
		{"invoices:*", "invoicesX:pay", false},
		{"*", "anything:at:all", true},
		{"invoices*", "invoicesX", false},
		{"", "invoices:pay", false},
		{"invoices:pay", "", false},
	} {
		if got := ActionCovers(tc.granted, tc.action); got != tc.want {
			t.Errorf("ActionCovers(%q, %q) = %v", tc.granted, tc.action, got)
		}
	}
}

func TestResourceCovers(t *testing.T) {
	for _, tc := range []struct {
		granted, resource string
		want              bool
	}{
		{"https://e.example/api/invoices", "https://e.example/api/invoices", true},
		{"https://e.example/api/invoices", "https://e.example/api/invoices/42", true},
		{"https://e.example/api/invoices", "https://e.example/api/invoicesX", false},
		{"https://e.example/api/invoices/", "https://e.example/api/invoices", true},
		{"https://e.example/api/invoices/", "https://e.example/api/invoices/1", true},
		{"https://e.example/api/invoices/1", "https://e.example/api/invoices", false},
		{"", "https://e.example/api", false},
		{"https://e.example/api", "", false},
	} {
		if got := ResourceCovers(tc.granted, tc.resource); got != tc.want {
			t.Errorf("ResourceCovers(%q, %q) = %v", tc.granted, tc.resource, got)
		}
	}
}

func TestWithin(t *testing.T) {
	parent := Scope{Action: "invoices:*", Resource: "https://e.example/api/invoices", Constraints: map[string]any{"maxAmount": 500.0}}
	for _, tc := range []struct {
		name  string
		child Scope
		want  bool
	}{
		{"narrower", Scope{Action: "invoices:pay", Resource: "https://e.example/api/invoices/eu", Constraints: map[string]any{"maxAmount": 500.0, "supplier": "ACME"}}, true},
		{"same", parent, true},
		{"other action family", Scope{Action: "orders:pay", Resource: "https://e.example/api/invoices", Constraints: map[string]any{"maxAmount": 500.0}}, false},
		{"wider resource", Scope{Action: "invoices:pay", Resource: "https://e.example/api", Constraints: map[string]any{"maxAmount": 500.0}}, false},
		{"sibling resource", Scope{Action: "invoices:pay", Resource: "https://e.example/api/invoicesX", Constraints: map[string]any{"maxAmount": 500.0}}, false},
		{"dropped constraint", Scope{Action: "invoices:pay", Resource: "https://e.example/api/invoices"}, false},
		{"changed constraint", Scope{Action: "invoices:pay", Resource: "https://e.example/api/invoices", Constraints: map[string]any{"maxAmount": 900.0}}, false},
	} {
		if got := Within(tc.child, parent); got != tc.want {
			t.Errorf("%s: Within = %v", tc.name, got)
		}
	}
	if !WithinAny(Scope{Action: "invoices:read", Resource: "https://e.example/api/invoices", Constraints: map[string]any{"maxAmount": 500.0}}, []Scope{{Action: "x", Resource: "https://x"}, parent}) {
		t.Error("WithinAny missed the second parent")
	}
}

func TestGrantsAndAudience(t *testing.T) {
	s := Scope{Action: "invoices:pay", Resource: "https://e.example/api/invoices", Constraints: map[string]any{"maxAmount": 1.0}}
	if !s.Grants(Request{Action: "invoices:pay", Resource: "https://e.example/api/invoices/7"}) {
		t.Error("not granted below the resource")
	}
	if s.Grants(Request{Action: "invoices:pay", Resource: "https://e.example/api/invoicesX"}) {
		t.Error("granted past the boundary")
	}
	if !AudienceContains([]string{"https://e.example/"}, "https://e.example") || AudienceContains([]string{"https://e.example"}, "https://evil.example") {
		t.Error("AudienceContains")
	}
	if !AudienceWithin([]string{"https://a"}, []string{"https://a/", "https://b"}) || AudienceWithin([]string{"https://a", "https://c"}, []string{"https://a"}) {
		t.Error("AudienceWithin")
	}
	if SameAudience("", "") {
		t.Error("empty audiences compare equal")
	}
}

func TestParse(t *testing.T) {
	scopes, ok := Parse([]any{
		map[string]any{"action": "a:b", "resource": "https://r", "constraints": map[string]any{"k": "v"}},
		map[string]any{"action": "a:b"},
		"junk",
	})
	if ok || len(scopes) != 1 || scopes[0].Constraints["k"] != "v" {
		t.Fatalf("%+v %v", scopes, ok)
	}
	if s, ok := Parse(nil); !ok || s != nil {
		t.Fatal("nil")
	}
	if _, ok := Parse("x"); ok {
		t.Fatal("a string parsed as scopes")
	}
}
