package roster

import (
	"sync/atomic"
	"time"
)

// Clock tells the time. The program makes one (cmd/roster) and gives it to
// the store and to the HTTP server, so that a test that sets it moves
// token expiry, lockouts and timestamps everywhere at once.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// TestClock is a clock that moves only when told. It is safe for
// concurrent use: tests move it while the server and the broker read it.
type TestClock struct {
	ns atomic.Int64 // Unix nanoseconds
}

// NewTestClock returns a clock stopped at t.
func NewTestClock(t time.Time) *TestClock {
	c := &TestClock{}
	c.Set(t)
	return c
}

// Now returns the clock's time, in UTC.
func (c *TestClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Set moves the clock to t.
func (c *TestClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Advance moves the clock by d.
func (c *TestClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
