package boundedcache

import (
	"sync"
	"testing"
)

func TestGetPut(t *testing.T) {
	c := New[string, int](4)
	if _, ok := c.Get("a"); ok {
		t.Fatal("empty cache had a hit")
	}
	c.Put("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %d, %v", v, ok)
	}
	// An existing entry is kept.
	c.Put("a", 2)
	if v, _ := c.Get("a"); v != 1 {
		t.Fatalf("Get(a) after a second Put = %d, want the first value", v)
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d", c.Len())
	}
}

func TestBounded(t *testing.T) {
	const size = 16
	c := New[int, int](size)
	for i := range 10 * size {
		c.Put(i, i*i)
		if c.Len() > size {
			t.Fatalf("cache holds %d entries, bound %d", c.Len(), size)
		}
	}
	if c.Len() != size {
		t.Fatalf("cache holds %d entries, want %d", c.Len(), size)
	}
	// Whatever survived is still right, and the newest entry is there.
	for i := range 10 * size {
		if v, ok := c.Get(i); ok && v != i*i {
			t.Fatalf("Get(%d) = %d", i, v)
		}
	}
	if _, ok := c.Get(10*size - 1); !ok {
		t.Fatal("the entry just added was dropped")
	}
	z := New[int, int](0)
	z.Put(1, 1)
	if z.Len() != 1 {
		t.Fatal("a cache of size 0 must hold one entry")
	}
}

func TestConcurrent(t *testing.T) {
	c := New[int, int](8)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := (g*31 + i) % 20
				if v, ok := c.Get(k); ok && v != -k {
					t.Errorf("Get(%d) = %d", k, v)
					return
				}
				c.Put(k, -k)
			}
		}()
	}
	wg.Wait()
	if c.Len() > 8 {
		t.Fatalf("cache holds %d entries", c.Len())
	}
}
