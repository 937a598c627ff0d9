package verifier

import (
	"testing"
	"time"
)

// lingerFor waits only for a small group, only while events come at least
// twice per linger and came lately, never longer than the linger, and not
// for a while after a linger that gained nothing.
func TestAuditLingerFor(t *testing.T) {
	const linger = time.Millisecond
	fresh := func(gap time.Duration) *AuditLog {
		return &AuditLog{linger: linger, gap: gap, lastArrival: time.Now()}
	}
	for _, c := range []struct {
		name string
		a    *AuditLog
		n    int
		want time.Duration
	}{
		{"busy: waits for 15 more gaps", fresh(20 * time.Microsecond), 1, 15 * 20 * time.Microsecond},
		{"busier: capped at the linger", fresh(200 * time.Microsecond), 1, linger},
		{"group almost full", fresh(20 * time.Microsecond), 15, 20 * time.Microsecond},
		{"group full", fresh(20 * time.Microsecond), lingerGroup, 0},
		{"empty queue", fresh(20 * time.Microsecond), 0, 0},
		{"events come less than twice per linger", fresh(linger/2 + 1), 1, 0},
		{"no gap measured yet", fresh(0), 1, 0},
		{"linger off", &AuditLog{gap: time.Microsecond, lastArrival: time.Now()}, 1, 0},
		{"events stopped coming", &AuditLog{linger: linger, gap: time.Microsecond, lastArrival: time.Now().Add(-time.Second)}, 1, 0},
	} {
		if got := c.a.lingerFor(c.n); got != c.want {
			t.Errorf("%s: lingerFor(%d) = %v, want %v", c.name, c.n, got, c.want)
		}
	}

	a := fresh(20 * time.Microsecond)
	a.lingerPause = 2
	for i := range 2 {
		if got := a.lingerFor(1); got != 0 {
			t.Fatalf("group %d after a vain linger waits %v", i, got)
		}
	}
	if got := a.lingerFor(1); got == 0 {
		t.Fatal("no linger once the pause is over")
	}
}
