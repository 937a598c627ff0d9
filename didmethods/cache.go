package didmethods

import (
	"container/list"
	"context"
	"strconv"
	"sync"
	"time"
)

// Cache defaults.
const (
	DefaultCacheSize   = 1024
	DefaultCacheTTL    = 5 * time.Minute
	DefaultCacheMaxTTL = time.Hour
)

// CacheOption configures a Cache (and NewDefaultRegistry's cache).
type CacheOption func(*Cache)

func (o CacheOption) applyDefault(c *defaultConfig) { c.cache = append(c.cache, o) }

// WithCacheSize bounds the number of cached results (default 1024); the
// least recently used one is evicted first.
func WithCacheSize(n int) CacheOption {
	return func(c *Cache) {
		if n > 0 {
			c.size = n
		}
	}
}

// WithCacheTTL sets how long a result whose resolver gave no freshness (a
// did:web response without Cache-Control) is reused (default 5 min).
func WithCacheTTL(d time.Duration) CacheOption {
	return func(c *Cache) {
		if d > 0 {
			c.defaultTTL = d
		}
	}
}

// WithCacheMaxTTL caps how long any expiring result is reused, whatever its
// max-age says (default 1 h).
func WithCacheMaxTTL(d time.Duration) CacheOption {
	return func(c *Cache) {
		if d > 0 {
			c.maxTTL = d
		}
	}
}

// Cache is a Resolver that remembers the results of another, in a bounded
// LRU. Results of did:key and did:jwk never expire (they are deterministic)
// and leave only by eviction; did:web results follow the response's
// Cache-Control (no-store and no-cache are not kept, max-age bounds the
// lifetime), are kept for the default TTL without one, and never longer
// than the maximum TTL. Errors are not cached. Each caller gets its own
// copy of the result. A Cache is safe for concurrent use.
type Cache struct {
	inner      Resolver
	size       int
	defaultTTL time.Duration
	maxTTL     time.Duration
	now        func() time.Time

	mu      sync.Mutex
	order   *list.List // of *cacheEntry, most recently used first
	entries map[string]*list.Element
}

type cacheEntry struct {
	key     string
	res     *Resolution
	expires time.Time // zero: never
}

// NewCache returns a cache in front of inner.
func NewCache(inner Resolver, opts ...CacheOption) *Cache {
	c := &Cache{
		inner:      inner,
		size:       DefaultCacheSize,
		defaultTTL: DefaultCacheTTL,
		maxTTL:     DefaultCacheMaxTTL,
		now:        time.Now,
		order:      list.New(),
		entries:    map[string]*list.Element{},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Len returns the number of cached results.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Resolve returns a cached result for (did, opts) or resolves it with the
// inner resolver.
func (c *Cache) Resolve(ctx context.Context, did string, opts ResolveOptions) (*Resolution, error) {
	key := did + "\x00" + opts.PublicKeyFormat + "\x00" + strconv.FormatBool(opts.EnableEncryptionKeyDerivation) +
		"\x00" + strconv.FormatBool(opts.RefuseExperimentalPublicKeyTypes)
	if res := c.get(key); res != nil {
		return res, nil
	}
	res, err := c.inner.Resolve(ctx, did, opts)
	if err != nil || res == nil || res.Document == nil {
		return res, err
	}
	if expires, ok := c.expiry(res.freshness); ok {
		c.put(key, res.Clone(), expires)
	}
	return res, nil
}

func (c *Cache) get(key string) *Resolution {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if !e.expires.IsZero() && !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return nil
	}
	c.order.MoveToFront(el)
	return e.res.Clone()
}

func (c *Cache) put(key string, res *Resolution, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		el.Value = &cacheEntry{key: key, res: res, expires: expires}
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, res: res, expires: expires})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
}

// expiry returns when a result with freshness f expires (zero: never), and
// false when it must not be cached.
func (c *Cache) expiry(f freshness) (time.Time, bool) {
	var ttl time.Duration
	switch f.kind {
	case freshImmutable:
		return time.Time{}, true
	case freshNoStore:
		return time.Time{}, false
	case freshMaxAge:
		ttl = f.maxAge
	default:
		ttl = c.defaultTTL
	}
	ttl = min(ttl, c.maxTTL)
	if ttl <= 0 {
		return time.Time{}, false
	}
	return c.now().Add(ttl), true
}
