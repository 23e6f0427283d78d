package httpapi

import (
	"context"
	"sync"
)

// byteBudget is a number of bytes that holders take and give back, so that
// what all streams hold together stays bounded.
type byteBudget struct {
	mu    sync.Mutex
	size  int64
	free  int64
	freed chan struct{} // closed (and replaced) on every release
}

func newByteBudget(size int64) *byteBudget {
	return &byteBudget{size: size, free: size, freed: make(chan struct{})}
}

// tryAcquire takes n bytes if they are free.
func (b *byteBudget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.free < n {
		return false
	}
	b.free -= n
	return true
}

// acquire takes n bytes, waiting for them until ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives back n bytes taken by tryAcquire or acquire.
func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// inUse returns the bytes taken.
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size - b.free
}
