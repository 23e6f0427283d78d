package httpapi

import (
	"strconv"
	"testing"
	"time"
)

// The limiter's state is bounded, and a key whose bucket has refilled is
// forgotten when room is needed (issue 16: throttle state bounded and
// expiring).
func TestLimiterBoundedAndExpiring(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	l := newLimiter(1, 2)
	for i := range maxLimiterKeys {
		l.take(strconv.Itoa(i), now)
	}
	if n := l.size(); n != maxLimiterKeys {
		t.Fatalf("size = %d, want %d", n, maxLimiterKeys)
	}
	// Still draining: one more key evicts down to half the bound.
	now = now.Add(time.Millisecond)
	l.take("new", now)
	if n := l.size(); n != maxLimiterKeys/2+1 {
		t.Fatalf("size after overflow = %d, want %d", n, maxLimiterKeys/2+1)
	}
	if _, ok := l.keys["new"]; !ok {
		t.Fatal("the new key was not kept")
	}
	// Refilled: the sweep forgets every one of them.
	for i := l.size(); i < maxLimiterKeys; i++ {
		l.take("k"+strconv.Itoa(i), now)
	}
	now = now.Add(time.Hour)
	l.take("late", now)
	if n := l.size(); n != 1 {
		t.Fatalf("size after every bucket refilled = %d, want 1", n)
	}
	// The bucket itself: burst, then one a second; give returns a token.
	if ok, _ := l.take("late", now); !ok {
		t.Fatal("second token refused")
	}
	ok, wait := l.take("late", now)
	if ok || wait != time.Second {
		t.Fatalf("third take = %v, %v; want refused for 1s", ok, wait)
	}
	l.give("late", now)
	if ok, _ := l.take("late", now); !ok {
		t.Fatal("a given-back token was not usable")
	}
	if ok, _ := (*limiter)(nil).take("x", now); !ok {
		t.Fatal("a nil limiter refused")
	}
}
