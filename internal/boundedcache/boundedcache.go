// Package boundedcache is a small concurrent map with a fixed bound, for
// caching results that depend on nothing but their key (a parsed public key
// by its encoding, say), so that a hit can only return what computing the
// value again would.
//
// It is deliberately simple: a full cache drops one arbitrary entry (map
// iteration order) before adding another, which keeps memory bounded
// without the locking that recency tracking would add to every hit. Callers
// decide what is worth caching (failures should not be, so that a bad input
// is rejected every time) and hand out copies of mutable values themselves.
package boundedcache

import "sync"

// Cache maps keys to values, holding at most a fixed number of entries. The
// zero value is not usable; make one with New. It is safe for concurrent
// use.
type Cache[K comparable, V any] struct {
	mu      sync.RWMutex
	max     int
	entries map[K]V
}

// New returns an empty cache that holds at most size entries (at least
// one).
func New[K comparable, V any](size int) *Cache[K, V] {
	size = max(size, 1)
	return &Cache[K, V]{max: size, entries: make(map[K]V)}
}

// Get returns the value cached for k, if any.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	v, ok := c.entries[k]
	c.mu.RUnlock()
	return v, ok
}

// Put caches v for k. An entry already present for k is kept (both were
// computed from k, so they are the same); when the cache is full an
// arbitrary entry is dropped first.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return
	}
	if len(c.entries) >= c.max {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = v
}

// Len returns the number of entries cached.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
