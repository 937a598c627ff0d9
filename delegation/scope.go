// Package delegation holds the rules of agentid's delegation scopes, shared
// by the issuer (a sub-delegation may only narrow its parent) and the
// verifier and its middleware (a requested action on a resource must be
// granted by a presented delegation): what a scope is, when one scope is
// within another, when a scope grants a request, and how audiences compare.
//
// The rules (DESIGN.md §5):
//
//   - Action: equal, or the granting action is the wildcard "*" or
//     "prefix:*" and the other action starts with "prefix:".
//   - Resource: equal, or the granting resource is a prefix ending at a "/"
//     boundary: https://erp.example.com/api/invoices covers
//     https://erp.example.com/api/invoices/42 but not
//     https://erp.example.com/api/invoicesX. A trailing "/" on the granting
//     resource does not change what it covers.
//   - Constraints: a scope within another keeps each of the other's
//     constraints with the same value (it may add its own). A request
//     carries no constraints; the service that received it enforces the
//     granting scope's constraints itself.
//   - Audience: entries compare equal ignoring one trailing "/".
//
// The package imports nothing of agentid's services, so any of them may use
// it.
package delegation

import (
	"reflect"
	"slices"
	"strings"
)

// Scope is one thing a delegation allows: an action on a resource, with
// optional constraints, as in an AgentDelegationCredential's
// credentialSubject.scopes.
type Scope struct {
	Action      string         `json:"action"`
	Resource    string         `json:"resource"`
	Constraints map[string]any `json:"constraints,omitempty"`
}

// Request is an action on a resource that a caller asks a delegation to
// grant.
type Request struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

// ActionCovers reports whether the granting action covers action: equal, or
// granted is "*", or granted is "prefix:*" and action starts with
// "prefix:".
func ActionCovers(granted, action string) bool {
	if granted == "" || action == "" {
		return false
	}
	if granted == action || granted == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(granted, "*"); ok && strings.HasSuffix(prefix, ":") {
		return strings.HasPrefix(action, prefix) && len(action) > len(prefix)
	}
	return false
}

// ResourceCovers reports whether the granting resource covers resource:
// equal (ignoring a trailing "/" on granted), or a prefix of it ending at a
// "/" boundary.
func ResourceCovers(granted, resource string) bool {
	if granted == "" || resource == "" {
		return false
	}
	base := strings.TrimSuffix(granted, "/")
	return resource == granted || resource == base || strings.HasPrefix(resource, base+"/")
}

// Grants reports whether scope s grants req: its action covers the
// request's action and its resource the request's resource.
func (s Scope) Grants(req Request) bool {
	return ActionCovers(s.Action, req.Action) && ResourceCovers(s.Resource, req.Resource)
}

// Within reports whether scope c is within scope p: p's action covers c's,
// p's resource covers c's, and c keeps every constraint of p with the same
// value.
func Within(c, p Scope) bool {
	if !ActionCovers(p.Action, c.Action) || !ResourceCovers(p.Resource, c.Resource) {
		return false
	}
	for k, v := range p.Constraints {
		cv, ok := c.Constraints[k]
		if !ok || !reflect.DeepEqual(cv, v) {
			return false
		}
	}
	return true
}

// WithinAny reports whether c is within one of parents.
func WithinAny(c Scope, parents []Scope) bool {
	return slices.ContainsFunc(parents, func(p Scope) bool { return Within(c, p) })
}

// SameAudience compares two audience entries (or an entry and a relying
// party's domain), ignoring one trailing "/".
func SameAudience(a, b string) bool {
	return a != "" && strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// AudienceContains reports whether audience lists domain.
func AudienceContains(audience []string, domain string) bool {
	return slices.ContainsFunc(audience, func(a string) bool { return SameAudience(a, domain) })
}

// AudienceWithin reports whether every entry of child is in parent.
func AudienceWithin(child, parent []string) bool {
	for _, a := range child {
		if !AudienceContains(parent, a) {
			return false
		}
	}
	return true
}

// Parse reads scopes from decoded JSON (credentialSubject.scopes): entries
// that are not objects with a string action and resource are skipped, and
// reported by ok false.
func Parse(v any) (scopes []Scope, ok bool) {
	list, isList := v.([]any)
	if !isList {
		return nil, v == nil
	}
	ok = true
	for _, e := range list {
		m, _ := e.(map[string]any)
		action, _ := m["action"].(string)
		resource, _ := m["resource"].(string)
		if action == "" || resource == "" {
			ok = false
			continue
		}
		cons, _ := m["constraints"].(map[string]any)
		scopes = append(scopes, Scope{Action: action, Resource: resource, Constraints: cons})
	}
	return scopes, ok
}
