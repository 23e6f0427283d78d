package httpapi

import (
	"sync"
	"time"
)

// maxLimiterKeys bounds the keys a limiter tracks. A key whose bucket has
// refilled carries no state and is dropped first; past the bound with every
// bucket still draining, the limiter forgets the oldest half, which at worst
// lets those keys start afresh (a new address could do the same).
const maxLimiterKeys = 100_000

// limiter is a token bucket per key (a client address, a user id), kept in
// memory by each server instance: burst tokens, refilled at rate per second.
// Its state is bounded by maxLimiterKeys and a key whose bucket is full again
// is forgotten.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	mu    sync.Mutex
	keys  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// newLimiter returns a limiter; a rate or burst of 0 or less turns it off
// (nil, whose methods allow everything).
func newLimiter(rate float64, burst int) *limiter {
	if rate <= 0 || burst <= 0 {
		return nil
	}
	return &limiter{rate: rate, burst: float64(burst), keys: map[string]*bucket{}}
}

// take spends one token of key at now. When there is none it reports false
// and how long until there is one.
func (l *limiter) take(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= maxLimiterKeys {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.keys[key] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// give returns a token taken for an attempt that, in the end, does not
// count (a successful login).
func (l *limiter) give(key string, now time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.keys[key]; b != nil {
		l.refill(b, now)
		b.tokens = min(b.tokens+1, l.burst)
	}
}

func (l *limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.at = now
	}
}

// sweep drops the keys whose buckets have refilled and, if that leaves
// the limiter full, the least recently used keys down to half the bound.
// Called with mu held.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.keys {
		if l.refill(b, now); b.tokens >= l.burst {
			delete(l.keys, k)
		}
	}
	if len(l.keys) < maxLimiterKeys {
		return
	}
	var oldest time.Time
	for _, b := range l.keys {
		if oldest.IsZero() || b.at.Before(oldest) {
			oldest = b.at
		}
	}
	mid := oldest.Add(now.Sub(oldest) / 2)
	for pass := 0; pass < 2 && len(l.keys) > maxLimiterKeys/2; pass++ {
		for k, b := range l.keys {
			if pass == 1 || !b.at.After(mid) { // the second pass takes any
				delete(l.keys, k)
				if len(l.keys) <= maxLimiterKeys/2 {
					break
				}
			}
		}
	}
}

// size is the number of keys tracked (for tests of the bound).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
