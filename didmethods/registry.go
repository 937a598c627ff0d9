package didmethods

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Registry resolves DIDs of every method registered with it: it checks the
// DID syntax (invalidDid), finds the method's Resolver (methodNotSupported
// when there is none) and, when it has one, goes through its Cache. It is
// safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	methods map[string]Resolver
	cache   *Cache
}

// RegistryOption configures a Registry.
type RegistryOption func(*Registry)

// WithCache puts a Cache with opts in front of every method of the
// registry.
func WithCache(opts ...CacheOption) RegistryOption {
	return func(r *Registry) {
		r.cache = NewCache(ResolverFunc(r.dispatch), opts...)
	}
}

// NewRegistry returns a registry with no methods.
func NewRegistry(opts ...RegistryOption) *Registry {
	r := &Registry{methods: map[string]Resolver{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Option configures NewDefaultRegistry: a WebOption (for did:web) or a
// CacheOption (for the registry's cache).
type Option interface {
	applyDefault(*defaultConfig)
}

type defaultConfig struct {
	web   []WebOption
	cache []CacheOption
}

// NewDefaultRegistry returns a registry for did:key, did:jwk and did:web
// behind a Cache.
func NewDefaultRegistry(opts ...Option) *Registry {
	var c defaultConfig
	for _, o := range opts {
		o.applyDefault(&c)
	}
	r := NewRegistry(WithCache(c.cache...))
	r.Register("key", KeyResolver{})
	r.Register("jwk", JWKResolver{})
	r.Register("web", NewWebResolver(c.web...))
	return r
}

// Register makes res resolve DIDs of method (the name between "did:" and
// the next ":", e.g. "web"), replacing any earlier resolver. It panics on a
// malformed method name or a nil resolver, which are programming errors.
func (r *Registry) Register(method string, res Resolver) {
	if m, _, err := SplitDID("did:" + method + ":x"); err != nil || m != method || res == nil {
		panic(fmt.Sprintf("didmethods: Register(%q): invalid method name or nil resolver", method))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.methods[method] = res
}

// Methods returns the registered method names, sorted.
func (r *Registry) Methods() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.methods))
	for m := range r.methods {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// Resolve resolves a DID with the resolver of its method.
func (r *Registry) Resolve(ctx context.Context, did string, opts ResolveOptions) (*Resolution, error) {
	if _, _, err := SplitDID(did); err != nil {
		return nil, newError(CodeInvalidDID, did, err)
	}
	if r.cache != nil {
		return r.cache.Resolve(ctx, did, opts)
	}
	return r.dispatch(ctx, did, opts)
}

// dispatch resolves a syntactically valid DID with its method's resolver.
func (r *Registry) dispatch(ctx context.Context, did string, opts ResolveOptions) (*Resolution, error) {
	method, _, err := SplitDID(did)
	if err != nil {
		return nil, newError(CodeInvalidDID, did, err)
	}
	r.mu.RLock()
	res := r.methods[method]
	r.mu.RUnlock()
	if res == nil {
		return nil, newError(CodeMethodNotSupported, did, fmt.Errorf("DID method %q is not supported", method))
	}
	return res.Resolve(ctx, did, opts)
}

// Dereference resolves the DID of a DID URL "did#fragment" and returns the
// verification method the URL names, as a document of its own with the
// "@context" of its type (for a Multikey method,
// "https://w3id.org/security/multikey/v1"), the form the W3C suites'
// did:key resolver returns. A method the document does not have is
// notFound; a DID URL with a path or query, or without a fragment, is
// invalidDidUrl.
func (r *Registry) Dereference(ctx context.Context, didURL string, opts ResolveOptions) (*VerificationMethodDocument, error) {
	return Dereference(ctx, r, didURL, opts)
}

// Dereference is Registry.Dereference with any Resolver: it resolves the DID
// of didURL with res and returns the verification method the fragment
// names. A DID part that is not a DID is invalidDid.
func Dereference(ctx context.Context, res Resolver, didURL string, opts ResolveOptions) (*VerificationMethodDocument, error) {
	did, fragment, err := splitDIDURL(didURL)
	if err != nil {
		return nil, newError(CodeInvalidDIDURL, didURL, err)
	}
	if fragment == "" {
		return nil, newError(CodeInvalidDIDURL, didURL, errors.New("DID URL has no fragment naming a verification method"))
	}
	if _, _, err := SplitDID(did); err != nil {
		return nil, newError(CodeInvalidDID, did, err)
	}
	resolution, err := res.Resolve(ctx, did, opts)
	if err != nil {
		return nil, err
	}
	if resolution == nil || resolution.Document == nil {
		return nil, newError(CodeInternalError, did, errors.New("the resolver returned no DID document"))
	}
	doc := resolution.Document
	vm, ok := doc.VerificationMethodByID(didURL)
	if !ok {
		return nil, newError(CodeNotFound, didURL, errors.New("the DID document has no such verification method"))
	}
	out := &VerificationMethodDocument{VerificationMethod: vm.clone()}
	out.ID = doc.absoluteURL(vm.ID)
	if c, ok := typeContexts[vm.Type]; ok {
		out.Context = c
	} else {
		out.Context = doc.Clone().Context
	}
	return out, nil
}
