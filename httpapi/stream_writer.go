package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rosterhq/roster/stream"
)

// liveStream is an event stream whose HTTP/1 connection was taken over
// (http.Hijacker) once its headers, retry hint and replay were written.
// Nothing waits on its subscription: the broker's Wake, the heartbeat
// timer and the client's leaving call kick, and whoever finds the stream
// idle writes what is due on the spot. The common write, one event into a
// socket with room for it, never blocks and wakes no goroutine; a socket
// that is full hands the rest to a goroutine that waits for it (up to
// streamWriteTimeout per write), while the broker keeps queueing, and
// ends the stream as a slow consumer when the queue overflows.
//
// An idle stream costs its connection, its subscription and queue, a timer
// and one small goroutine blocked in Read to notice the client leaving at
// once: about 8 KiB of server memory, against 39 KiB with the handler
// goroutine parked and net/http's connection buffers held (roster-bench
// sse-fanout, 10,000 streams).
type liveStream struct {
	srv  *Server
	sub  *stream.Subscription
	conn net.Conn
	now  *nowWriter // nil: the connection has no descriptor to write to without blocking

	// Owned by whoever set busy.
	last    int64  // newest activity id written
	pending []byte // the unwritten rest of a write
	ending  bool   // pending is the final error event

	mu      sync.Mutex
	busy    bool // a goroutine is writing; others only set dirty
	dirty   bool // something became due while busy
	pingDue bool
	closed  bool
	ping    *time.Timer
}

// newLiveStream returns a stream that stays busy, ignoring kicks, until
// start: the handler owns it while it replays.
func newLiveStream(s *Server, sub *stream.Subscription) *liveStream {
	return &liveStream{srv: s, sub: sub, busy: true}
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

// start takes over conn, on which everything up to activity last has been
// written, and writes what was queued meanwhile. The caller (the handler's
// goroutine) owns the stream until start returns.
func (ls *liveStream) start(conn net.Conn, last int64) {
	ls.conn, ls.now, ls.last = conn, newNowWriter(conn), last
	ls.mu.Lock()
	ls.ping = time.AfterFunc(ls.srv.heartbeat, ls.onPing)
	ls.mu.Unlock()
	go ls.watch()
	ls.pump(true)
}

// watch blocks in Read until the client leaves (or the stream is closed):
// a client sends nothing after its request.
func (ls *liveStream) watch() {
	buf := make([]byte, 16)
	for {
		if _, err := ls.conn.Read(buf); err != nil {
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

// kick writes what is due unless another goroutine is already writing, in
// which case that one will. It never blocks.
func (ls *liveStream) kick() {
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
// blocking, it hands a write the socket cannot take at once to a new
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
		n, err := ls.write(p, blocking)
		if err != nil {
			ls.close()
			return
		}
		if n < len(p) {
			ls.pending = append([]byte(nil), p[n:]...)
			go ls.pump(true)
			return
		}
		ls.pending = nil
		if ls.ending {
			ls.close()
			return
		}
	}
}

// next returns what to write next (nil: nothing): the rest of a partial
// write, the error event of an ended subscription, or the queued events
// and a due ping in one write. The frame of a single event is the shared
// cached one, not a copy.
func (ls *liveStream) next() []byte {
	if len(ls.pending) > 0 {
		return ls.pending
	}
	ls.mu.Lock()
	closed, ping := ls.closed, ls.pingDue
	ls.pingDue = false
	ls.mu.Unlock()
	if closed || ls.ending {
		return nil
	}
	select {
	case <-ls.sub.Done():
		ls.ending = true
		return errorFrame(ls.sub.Err())
	default:
	}
	var one, buf []byte
	for drained := false; !drained; {
		select {
		case a := <-ls.sub.C():
			if a.ID <= ls.last {
				continue
			}
			f, err := ls.srv.events.frame(a)
			if err != nil {
				ls.srv.log.Error("stream event encoding failed", "error", err.Error())
				continue
			}
			ls.last = a.ID
			switch {
			case one == nil:
				one = f
			case buf == nil:
				buf = append(append(make([]byte, 0, 2*(len(one)+len(f))), one...), f...)
			default:
				buf = append(buf, f...)
			}
		default:
			drained = true
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

// write writes p, waiting up to streamWriteTimeout if blocking, or only
// as much as the socket takes at once if not.
func (ls *liveStream) write(p []byte, blocking bool) (int, error) {
	if !blocking {
		if ls.now == nil {
			return 0, nil
		}
		return ls.now.write(p)
	}
	if err := ls.conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return 0, err
	}
	n, err := ls.conn.Write(p)
	if err == nil {
		// A deadline left set would fail the next write without blocking.
		err = ls.conn.SetWriteDeadline(time.Time{})
	}
	return n, err
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
	ping := ls.ping
	ls.mu.Unlock()
	if ping != nil {
		ping.Stop()
	}
	ls.srv.broker.Unsubscribe(ls.sub)
	ls.conn.Close()
}
