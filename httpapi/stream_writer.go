package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rosterhq/roster/stream"
)

// streamWriteTimeout bounds each write to a stream; a client that cannot
// take a write in this time is cut off.
const streamWriteTimeout = 10 * time.Second

// streamChunk bounds what one write of a stream gathers (one event larger
// than it goes alone), so that the bytes a stream holds for a client that
// reads slowly are bounded whatever the size or number of queued events.
const streamChunk = 32 << 10

// streamConn is where a stream's bytes go.
type streamConn interface {
	// writeNow writes as much of p as the connection takes without
	// blocking: 0 and no error when it takes nothing now (or never writes
	// from outside the stream's own goroutine).
	writeNow(p []byte) (int, error)
	// write writes all of p, waiting up to streamWriteTimeout (the
	// server's writeTimeout).
	write(p []byte) error
	close()
}

// takenConn is an HTTP/1 connection taken over from net/http
// (http.Hijacker) once the headers went out: no chunked framing, the body
// ends when the connection closes.
type takenConn struct {
	conn    net.Conn
	timeout time.Duration // of each write
	now     *nowWriter    // nil: the connection has no descriptor to write to without blocking
}

func (c *takenConn) writeNow(p []byte) (int, error) {
	if c.now == nil {
		return 0, nil
	}
	return c.now.write(p)
}

func (c *takenConn) write(p []byte) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return err
	}
	if _, err := c.conn.Write(p); err != nil {
		return err
	}
	// A deadline left set would fail the next non-blocking write.
	return c.conn.SetWriteDeadline(time.Time{})
}

func (c *takenConn) close() { c.conn.Close() }

// responseConn is a stream that its handler keeps serving: HTTP/2, whose
// connections cannot be taken over, and writers without Hijack. Only the
// handler's goroutine writes to it.
type responseConn struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration // of each write
}

func (c *responseConn) writeNow([]byte) (int, error) { return 0, nil }

func (c *responseConn) write(p []byte) error {
	if err := c.rc.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := c.w.Write(p); err != nil {
		return err
	}
	return c.rc.Flush()
}

func (c *responseConn) close() {} // the handler returning ends the response

// liveStream writes one event stream, whatever its connection: the
// retry hint, the replay, live events (skipping ids already sent, several
// queued events in one write), pings, and the error event that ends it.
//
// One goroutine at a time owns the stream (busy) and writes. The broker's
// Wake, the heartbeat timer and Server.Shutdown call kick. On a taken-over
// connection kick writes on the spot whatever the socket takes at once
// (the common case in a fan-out: one event into a socket with room, no
// goroutine woken); the rest goes to a goroutine that waits for the socket
// (up to streamWriteTimeout per write) while the broker keeps queueing and
// ends the stream as a slow consumer when its queue overflows. On a
// responseConn kick only signals the handler's goroutine, which writes.
//
// An idle stream on a taken-over connection costs its connection, its
// subscription and queue, a timer and one small goroutine blocked in Read
// to notice the client leaving at once: about 6 KiB of server memory,
// within the 16 KiB allowed (heap 3.9 KiB and goroutine stacks 2.0 KiB per
// stream with 10,000 idle streams: ROSTER_STREAM_SCALE=1 go test ./httpapi
// -run TestStreamScale), against 39 KiB with the handler goroutine parked
// and net/http's connection buffers held.
type liveStream struct {
	srv  *Server
	sub  *stream.Subscription
	conn streamConn
	turn chan struct{} // responseConn: kick's signal to the handler's goroutine
	done chan struct{} // responseConn: closed by close

	// Owned by whoever set busy.
	last    int64  // newest activity id written
	pending []byte // the unwritten rest of a write
	held    int64  // bytes of the pending write charged to srv.buffers
	ending  bool   // the error event is written or pending

	mu      sync.Mutex
	busy    bool // a goroutine is writing; others only set dirty
	dirty   bool // something became due while busy
	pingDue bool
	closed  bool
	reason  error // set by end: write this error event, then close
	ping    *time.Timer
}

// newLiveStream returns a stream that stays busy, ignoring kicks, until
// serve: the handler owns it while it writes the headers and replays.
// taken says whether its connection will be taken over; if not, the
// handler's goroutine does every write.
func newLiveStream(s *Server, sub *stream.Subscription, taken bool) *liveStream {
	ls := &liveStream{srv: s, sub: sub, busy: true}
	if !taken {
		ls.turn, ls.done = make(chan struct{}, 1), make(chan struct{})
	}
	return ls
}

// canHijack reports whether w, or a writer it wraps, can give up its
// connection.
func canHijack(w http.ResponseWriter) bool {
	for {
		if _, ok := w.(http.Hijacker); ok {
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}

// attach gives the stream its connection: conn taken over from net/http,
// or, when conn is nil, the handler's own response.
func (ls *liveStream) attach(conn net.Conn, w http.ResponseWriter) {
	var c streamConn = &responseConn{w: w, rc: http.NewResponseController(w), timeout: ls.srv.writeTimeout}
	if conn != nil {
		c = &takenConn{conn: conn, timeout: ls.srv.writeTimeout, now: newNowWriter(conn)}
	}
	ls.mu.Lock()
	ls.conn = c
	closed := ls.closed
	ls.mu.Unlock()
	if closed {
		c.close()
	}
}

// ended reports whether the stream is closed or has an end due.
func (ls *liveStream) ended() bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	select {
	case <-ls.sub.Done():
		return true
	default:
		return ls.closed || ls.reason != nil
	}
}

// write writes p on behalf of the owner (the handler, before serve).
func (ls *liveStream) write(p []byte) error {
	if err := ls.conn.write(p); err != nil {
		ls.close()
		return err
	}
	return nil
}

// serve starts the live part once everything up to activity last has
// been written: the heartbeat, the watch for the client leaving, and the
// write of what was queued meanwhile. On a taken-over connection it
// returns at once and the stream lives on without the handler; otherwise
// the handler's goroutine writes until the stream ends or ctx does.
func (ls *liveStream) serve(ctx context.Context, last int64) {
	ls.last = last
	ls.mu.Lock()
	if !ls.closed {
		ls.ping = time.AfterFunc(ls.srv.heartbeat, ls.onPing)
	}
	ls.mu.Unlock()
	if ls.turn == nil {
		ls.srv.streams.add()
		go func() {
			defer ls.srv.streams.done()
			ls.watch()
		}()
		ls.pump(true)
		return
	}
	ls.pump(true)
	for {
		select {
		case <-ctx.Done():
			ls.close()
			return
		case <-ls.done:
			return
		case <-ls.turn:
			ls.mu.Lock()
			ls.busy = true
			ls.mu.Unlock()
			ls.pump(true)
		}
	}
}

// watch blocks in Read until the client leaves (or the stream is closed):
// a client sends nothing after its request.
func (ls *liveStream) watch() {
	conn := ls.conn.(*takenConn).conn
	buf := make([]byte, 16)
	for {
		if _, err := conn.Read(buf); err != nil {
			ls.close()
			return
		}
	}
}

func (ls *liveStream) onPing() {
	ls.mu.Lock()
	if ls.closed {
		ls.mu.Unlock()
		return
	}
	ls.pingDue = true
	ls.ping.Reset(ls.srv.heartbeat)
	ls.mu.Unlock()
	ls.kick()
}

// end makes the stream write the error event of reason and close.
func (ls *liveStream) end(reason error) {
	ls.mu.Lock()
	if ls.reason == nil {
		ls.reason = reason
	}
	ls.mu.Unlock()
	ls.kick()
}

// kick writes what is due unless another goroutine is already writing, in
// which case that one will. It never blocks.
func (ls *liveStream) kick() {
	if ls.turn != nil {
		select {
		case ls.turn <- struct{}{}:
		default:
		}
		return
	}
	ls.mu.Lock()
	if ls.busy || ls.closed {
		ls.dirty = true
		ls.mu.Unlock()
		return
	}
	ls.busy = true
	ls.mu.Unlock()
	ls.pump(false)
}

// pump writes until nothing is due, then gives up ownership. Unless
// blocking, it hands a write the connection cannot take at once to a new
// goroutine instead of waiting.
func (ls *liveStream) pump(blocking bool) {
	for {
		p := ls.next()
		if p == nil {
			ls.mu.Lock()
			if ls.dirty && !ls.closed {
				ls.dirty = false
				ls.mu.Unlock()
				continue
			}
			ls.busy = false
			ls.mu.Unlock()
			return
		}
		n, err := len(p), error(nil)
		if blocking {
			err = ls.conn.write(p)
		} else {
			n, err = ls.conn.writeNow(p)
		}
		if err != nil {
			ls.dropPending()
			ls.close()
			return
		}
		if n < len(p) {
			if !ls.keepPending(p, n) {
				ls.close() // the server's stream buffers are full
				return
			}
			ls.handOff()
			return
		}
		ls.dropPending()
		if ls.ending {
			ls.close()
			return
		}
	}
}

// keepPending keeps p[n:] to write later, charged to the server's stream
// buffers; false when they are full. p is never modified after it is
// handed out (a shared event frame, or a buffer of this stream's own), so
// it is kept without a copy.
func (ls *liveStream) keepPending(p []byte, n int) bool {
	if ls.held == 0 {
		if !ls.srv.buffers.tryAcquire(int64(len(p))) {
			return false
		}
		ls.held = int64(len(p))
	}
	ls.pending = p[n:]
	return true
}

// dropPending releases the rest of a write (written, or abandoned).
func (ls *liveStream) dropPending() {
	ls.pending = nil
	if ls.held != 0 {
		ls.srv.buffers.release(ls.held)
		ls.held = 0
	}
}

// handOff has a goroutine of its own wait for the connection to take the
// pending write; the caller owns the stream and passes it on.
func (ls *liveStream) handOff() {
	ls.mu.Lock()
	if ls.closed {
		ls.busy = false
		ls.mu.Unlock()
		ls.dropPending()
		return
	}
	ls.srv.streams.add() // before close can run, so Shutdown waits for it
	ls.mu.Unlock()
	go func() {
		defer ls.srv.streams.done()
		ls.pump(true)
	}()
}

// next returns what to write next (nil: nothing): the rest of a partial
// write, the error event of an ended stream, or the queued events (up to
// streamChunk bytes) and a due ping in one write. The frame of a single
// event is the shared cached one, not a copy.
func (ls *liveStream) next() []byte {
	if len(ls.pending) > 0 {
		return ls.pending
	}
	ls.mu.Lock()
	closed, ping, reason := ls.closed, ls.pingDue, ls.reason
	ls.pingDue = false
	ls.mu.Unlock()
	if closed || ls.ending {
		return nil
	}
	if reason == nil {
		select {
		case <-ls.sub.Done():
			reason = ls.sub.Err()
		default:
		}
	}
	if reason != nil {
		ls.ending = true
		return errorFrame(reason)
	}
	var one, buf []byte
	for size := 0; size < streamChunk; {
		a, ok := ls.sub.Next()
		if !ok {
			break
		}
		if a.ID <= ls.last {
			continue
		}
		f, err := ls.srv.events.frame(a)
		if err != nil {
			ls.srv.log.Error("stream event encoding failed", "error", err.Error())
			continue
		}
		ls.last = a.ID
		size += len(f)
		switch {
		case one == nil:
			one = f
		case buf == nil:
			buf = append(append(make([]byte, 0, min(2*size, streamChunk+len(f))), one...), f...)
		default:
			buf = append(buf, f...)
		}
	}
	if buf == nil && one != nil && !ping {
		return one
	}
	if buf == nil {
		buf = append([]byte(nil), one...)
	}
	if ping {
		buf = append(buf, ": ping\n\n"...)
	}
	if len(buf) == 0 {
		return nil
	}
	return buf
}

// close ends the stream: it frees the subscription (and the viewer's slot
// under the per-user cap) and the connection. Safe to call more than once.
func (ls *liveStream) close() {
	ls.mu.Lock()
	if ls.closed {
		ls.mu.Unlock()
		return
	}
	ls.closed = true
	ping, conn := ls.ping, ls.conn
	ls.mu.Unlock()
	if ping != nil {
		ping.Stop()
	}
	ls.srv.broker.Unsubscribe(ls.sub)
	if conn != nil {
		conn.close()
	}
	if ls.done != nil {
		close(ls.done)
	}
	ls.srv.streams.remove(ls)
}

// streamSet is every live stream a Server holds, and the goroutines that
// work for them, so that Shutdown can end the streams and wait for them:
// taken-over connections are out of http.Server.Shutdown's sight.
type streamSet struct {
	mu      sync.Mutex
	closed  bool
	live    map[*liveStream]struct{}
	running int           // open streams plus goroutines working for them
	zero    chan struct{} // closed when running drops to 0
}

// register adds ls, counted as running until close; false after Shutdown.
func (s *streamSet) register(ls *liveStream) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.live == nil {
		s.live = map[*liveStream]struct{}{}
	}
	s.live[ls] = struct{}{}
	s.running++
	return true
}

func (s *streamSet) remove(ls *liveStream) {
	s.mu.Lock()
	if _, ok := s.live[ls]; ok {
		delete(s.live, ls)
		s.running--
		s.signal()
	}
	s.mu.Unlock()
}

func (s *streamSet) add() {
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
}

func (s *streamSet) done() {
	s.mu.Lock()
	s.running--
	s.signal()
	s.mu.Unlock()
}

// signal wakes wait once nothing runs; s.mu held.
func (s *streamSet) signal() {
	if s.running == 0 && s.zero != nil {
		close(s.zero)
		s.zero = nil
	}
}

// streams returns the open streams; with closing, it also refuses new ones.
func (s *streamSet) streams(closing bool) []*liveStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = s.closed || closing
	out := make([]*liveStream, 0, len(s.live))
	for ls := range s.live {
		out = append(out, ls)
	}
	return out
}

// wait returns once no stream is open and no goroutine of one runs, or
// with ctx's error.
func (s *streamSet) wait(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.running == 0 {
			s.mu.Unlock()
			return nil
		}
		if s.zero == nil {
			s.zero = make(chan struct{})
		}
		zero := s.zero
		s.mu.Unlock()
		select {
		case <-zero:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Shutdown ends every stream the server holds with an error event ("server
// shutting down"), refuses new ones (503), and waits until their
// connections are closed and every goroutine of theirs has returned. When
// ctx ends first it closes the connections at once and returns ctx's
// error. Call it before http.Server.Shutdown, which does not see streams
// whose connection was taken over.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, ls := range s.streams.streams(true) {
		ls.end(stream.ErrShutdown)
	}
	err := s.streams.wait(ctx)
	if err != nil {
		for _, ls := range s.streams.streams(true) {
			ls.close()
		}
	}
	return err
}
