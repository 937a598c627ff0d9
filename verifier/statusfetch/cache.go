package statusfetch

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentid/agentid/credential/statuslist"
)

// cachedList is a status list that passed verification, with what is needed
// to revalidate it. It is never modified once cached: a revalidation makes a
// copy, so readers need no lock.
type cachedList struct {
	kind, url string
	// issuer is the DID that signed the list (for a list credential, its
	// issuer, which controls the proof's verification method).
	issuer string
	// etag and lastModified are the validators the server sent.
	etag, lastModified string
	// fetchedAt is when the server last confirmed the list (200 or 304);
	// the list is fresh until fetchedAt + freshFor.
	fetchedAt time.Time
	freshFor  time.Duration
	// ttl is the list's own caching hint (ttl member or claim), 0 if none.
	ttl time.Duration
	// notBefore and notAfter bound the list's validity; zero: unbounded.
	notBefore, notAfter time.Time

	// A Bitstring Status List: the verified subject and the list decoded
	// for the subject's statusSize (1 when it states none).
	subject *statuslist.BitstringStatusList
	bits    *statuslist.Bitstring
	// A Token Status List.
	token *statuslist.VerifiedToken

	// cost is what the list weighs in the cache, in bytes.
	cost int64
}

// validAt checks the list's validity period at now, give or take skew.
func (l *cachedList) validAt(now time.Time, skew time.Duration) error {
	if !l.notBefore.IsZero() && now.Add(skew).Before(l.notBefore) {
		return fmt.Errorf("%w: not valid before %s", ErrListNotValid, l.notBefore.UTC().Format(time.RFC3339))
	}
	if !l.notAfter.IsZero() && !now.Add(-skew).Before(l.notAfter) {
		return fmt.Errorf("%w: expired at %s", ErrListNotValid, l.notAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// fresh says whether the list may be used at now without asking the
// server. A list past its validity is never fresh: the server may have a
// newer one.
func (l *cachedList) fresh(now time.Time) bool {
	return now.Sub(l.fetchedAt) < l.freshFor && l.validAt(now, 0) == nil
}

// freshness is how long a list just confirmed by the server may be used:
// the staleness bound, lowered by the list's ttl and by the response's
// Cache-Control (max-age; no-cache and no-store mean not at all).
func (c *Checker) freshness(ttl time.Duration, h http.Header) time.Duration {
	d := c.staleness
	if ttl > 0 {
		d = min(d, ttl)
	}
	for _, v := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(v, ",") {
			dir = strings.ToLower(strings.TrimSpace(dir))
			switch {
			case dir == "no-cache" || dir == "no-store":
				d = 0
			case strings.HasPrefix(dir, "max-age="):
				if n, err := strconv.ParseInt(strings.Trim(dir[len("max-age="):], `"`), 10, 64); err == nil && n >= 0 {
					d = min(d, time.Duration(min(n, int64(time.Duration(1<<62)/time.Second)))*time.Second)
				}
			}
		}
	}
	return d
}

// cacheKey names a cached list. The kind is part of it because one URL
// could be asked for as either kind; it serves only one.
type cacheKey struct{ kind, url string }

// flightKey names a fetch in progress. The issuer is part of it because the
// fetch verifies the list against the caller's issuer.
type flightKey struct{ kind, url, issuer string }

// flight is a fetch that concurrent callers wait for instead of fetching
// the same list again.
type flight struct {
	done chan struct{}
	l    *cachedList
	err  error
}

// list returns a verified list for url: the cached one while fresh,
// otherwise a fetched or revalidated one.
func (c *Checker) list(ctx context.Context, kind, url, issuer string) (*cachedList, error) {
	key := cacheKey{kind, url}
	prev := c.cache.get(key)
	if prev != nil && prev.fresh(c.now()) {
		c.hits.Add(1)
		return prev, nil
	}
	if prev != nil && prev.etag != "" && c.revalidate != nil {
		unchanged, known, err := c.revalidate(ctx, url, prev.etag)
		if err != nil {
			c.failures.Add(1)
			c.log.WarnContext(ctx, "status list not usable", "url", url, "kind", kind, "error", err)
			return nil, fmt.Errorf("status %s: %w: %w", url, ErrUnreachable, err)
		}
		if known && unchanged {
			c.notModified.Add(1)
			l := *prev
			l.fetchedAt = c.now()
			c.cache.put(key, &l)
			return &l, nil
		}
	}
	if c.staleness == 0 {
		// Every call revalidates, and must see the list as it is after
		// the call began: joining a fetch that began earlier could answer
		// from a list that predates a revocation.
		return c.refreshAndStore(ctx, key, issuer, prev)
	}
	fk := flightKey{kind, url, issuer}
	c.mu.Lock()
	if f, ok := c.inflight[fk]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.l, f.err
		case <-ctx.Done():
			return nil, fmt.Errorf("status %s: %w", url, contextError(ctx.Err()))
		}
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[fk] = f
	c.mu.Unlock()

	f.l, f.err = c.refreshAndStore(ctx, key, issuer, prev)

	c.mu.Lock()
	delete(c.inflight, fk)
	c.mu.Unlock()
	close(f.done)
	return f.l, f.err
}

func (c *Checker) refreshAndStore(ctx context.Context, key cacheKey, issuer string, prev *cachedList) (*cachedList, error) {
	l, err := c.refresh(ctx, key.kind, key.url, issuer, prev)
	if err != nil {
		c.failures.Add(1)
		c.log.WarnContext(ctx, "status list not usable", "url", key.url, "kind", key.kind, "error", err)
		return nil, err
	}
	c.cache.put(key, l)
	return l, nil
}

// contextError names a cancelled or expired context.
func contextError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

// lru is a cache of verified lists bounded in entries and bytes; the least
// recently used list goes first.
type lru struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int64
	bytes      int64
	order      *list.List // of *lruItem, most recent first
	items      map[cacheKey]*list.Element
}

type lruItem struct {
	key cacheKey
	l   *cachedList
}

func newLRU(maxEntries int, maxBytes int64) *lru {
	return &lru{maxEntries: maxEntries, maxBytes: maxBytes, order: list.New(), items: map[cacheKey]*list.Element{}}
}

func (c *lru) get(k cacheKey) *cachedList {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruItem).l
}

// put stores l under k, replacing what was there, and evicts the least
// recently used lists until both bounds hold. A list larger than the whole
// byte budget is not kept.
func (c *lru) put(k cacheKey, l *cachedList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.bytes -= el.Value.(*lruItem).l.cost
		c.order.Remove(el)
		delete(c.items, k)
	}
	if l.cost > c.maxBytes {
		return
	}
	c.items[k] = c.order.PushFront(&lruItem{key: k, l: l})
	c.bytes += l.cost
	for c.order.Len() > c.maxEntries || c.bytes > c.maxBytes {
		el := c.order.Back()
		it := el.Value.(*lruItem)
		c.order.Remove(el)
		delete(c.items, it.key)
		c.bytes -= it.l.cost
	}
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
