package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/stream"
)

// TestStreamSlowReadersHoldBoundedMemory performs the attack of issue 16
// (item 4): one user's 20 streams resume from before 300
// activities with 8 KiB of data, then stop reading while more arrive live.
// Before, each replay encoded 500 activities into one buffer, and the 20
// streams pinned 268 MB. Now the bytes the server holds for them stay
// within its stream buffers and the broker's byte limits, its heap grows
// by a small fraction of that, and every slow reader, reading again, gets
// a gap-free prefix of the activities and, resuming from its last id, the
// rest.
func TestStreamSlowReadersHoldBoundedMemory(t *testing.T) {
	const buffers = 4 << 20
	opts := stream.Options{MaxTotalQueuedBytes: 2 << 20}
	e := newEnvStream(t, httpapi.Config{StreamBuffers: buffers}, opts)
	w := e.streamWorld()
	api := e.srv.Config.Handler.(*httpapi.Server)
	data := json.RawMessage(`{"pad":"` + strings.Repeat("x", roster.MaxDataSize-16) + `"}`)
	var posted []int64
	post := func(n int) {
		for range n {
			a := &roster.Activity{ActorID: w.x.ID, Verb: "doc.big", Data: data}
			if err := e.db.CreateActivity(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			posted = append(posted, a.ID)
		}
	}
	post(300)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()

	const readers = 20 // the per-user cap
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conns := make([]net.Conn, readers)
	for i := range conns {
		conn, err := d.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer %s\r\nLast-Event-ID: %d\r\n\r\n",
			streamPath(w.x.ID, ""), w.xTok, posted[0]-1)
		conns[i] = conn
	}
	for deadline := time.Now().Add(streamWait); e.broker.Count() != readers; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d slow streams open", e.broker.Count(), readers)
		}
	}
	post(150) // live, while nobody reads: over 1 MiB for each queue

	var peakHeap uint64
	var peakBuffered, peakQueued int64
	for range 15 {
		time.Sleep(100 * time.Millisecond)
		peakHeap = max(peakHeap, heap())
		peakBuffered = max(peakBuffered, httpapi.StreamBuffered(api))
		peakQueued = max(peakQueued, e.broker.QueuedBytes())
	}
	grew := int64(peakHeap) - int64(base)
	t.Logf("20 slow streams: heap grew by at most %.1f MiB; stream buffers %.1f MiB of %d MiB; broker queues %.1f MiB",
		float64(grew)/(1<<20), float64(peakBuffered)/(1<<20), buffers>>20, float64(peakQueued)/(1<<20))
	if peakBuffered > buffers {
		t.Errorf("stream buffers held %d bytes, over their %d", peakBuffered, buffers)
	}
	// Caught-up subscribers may take one batch each beyond the total
	// (the activities of a batch are shared); none takes over 1 MiB.
	if peakQueued > readers<<20 {
		t.Errorf("broker queues held %d bytes, over %d", peakQueued, readers<<20)
	}
	if grew > 24<<20 {
		t.Errorf("heap grew by %d bytes with 20 slow streams", grew)
	}

	// Every slow reader reads again: a gap-free prefix, then all the rest,
	// or an error event saying why it was cut off, or the server closing
	// the connection (without the error event when it could not write it:
	// a write that waited over 10 s for a reader that a busy machine kept
	// from reading), but never a silence with the stream open; then the
	// rest on resuming from its last id.
	var wg sync.WaitGroup
	lasts := make([]int64, readers)
	for i, conn := range conns {
		wg.Go(func() {
			got, reason, err := readUntil(conn, posted[len(posted)-1])
			conn.Close()
			if len(got) > 0 && !slices.Equal(got, posted[:len(got)]) {
				t.Errorf("reader %d: got %d activities, not a prefix of those posted (first diff at %d)", i, len(got), firstDiff(got, posted))
				return
			}
			if len(got) < len(posted) && reason == "" && !closedByServer(err) {
				t.Errorf("reader %d: stream stalled after %d of %d activities: neither an error event nor a close (%v)", i, len(got), len(posted), err)
			}
			if reason != "" && !strings.Contains(reason, "slow consumer") && !strings.Contains(reason, "stream buffers full") {
				t.Errorf("reader %d: ended with %q", i, reason)
			}
			lasts[i] = posted[0] - 1
			if len(got) > 0 {
				lasts[i] = got[len(got)-1]
			}
		})
	}
	wg.Wait()
	for deadline := time.Now().Add(streamWait); e.broker.Count() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams left after their readers closed", e.broker.Count())
		}
	}
	for _, last := range lasts {
		i := slices.Index(posted, last) + 1
		if i == len(posted) {
			continue
		}
		resumed := e.openStream(streamPath(w.x.ID, ""), w.xTok, "Last-Event-ID", strconv.FormatInt(last, 10))
		resumed.expectIDs(posted[i:]...)
		resumed.close()
	}
	// A handler whose stream was closed may still be finishing a replay
	// page (a query, a failing write) before it gives its bytes back.
	for deadline := time.Now().Add(streamWait); httpapi.StreamBuffered(api) != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of stream buffers still in use once every stream is idle", httpapi.StreamBuffered(api))
		}
	}
}

// TestStreamWriteTimeoutClosesSlowReader reproduces what the attack
// test saw on PostgreSQL on a busy machine (posting 150 activities took
// longer than a stream's write may wait): a reader that stops reading
// gets what its socket held, some 336 activities, and then no error
// event. That is no stall: the server's write waited its timeout, and it
// closed the connection, which the reader sees as soon as it reads again
// (before, the test read that end as its own read deadline). Resuming
// from the last id gets the rest. Here the write timeout is short and a
// single stream is filled until a write waits, on every store.
func TestStreamWriteTimeoutClosesSlowReader(t *testing.T) {
	e := newEnvStream(t, httpapi.Config{}, stream.Options{})
	w := e.streamWorld()
	api := e.srv.Config.Handler.(*httpapi.Server)
	const timeout = 300 * time.Millisecond
	httpapi.SetStreamWriteTimeout(api, timeout)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer %s\r\n\r\n", streamPath(w.x.ID, ""), w.xTok)
	for deadline := time.Now().Add(streamWait); e.broker.Count() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("stream never opened")
		}
	}
	// Post until a write of the stream waits for the socket (what it
	// holds is charged to the stream buffers).
	data := json.RawMessage(`{"pad":"` + strings.Repeat("x", roster.MaxDataSize-16) + `"}`)
	var posted []int64
	for httpapi.StreamBuffered(api) == 0 {
		if len(posted) == 3000 {
			t.Fatal("no write of the stream ever waited")
		}
		a := &roster.Activity{ActorID: w.x.ID, Verb: "doc.big", Data: data}
		if err := e.db.CreateActivity(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		posted = append(posted, a.ID)
		time.Sleep(time.Millisecond)
	}
	// The reader is away for longer than the write may wait: the server
	// gives up the stream.
	for deadline := time.Now().Add(timeout + streamWait); e.broker.Count() != 0 || httpapi.StreamBuffered(api) != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stream still open (%d subscriptions, %d bytes buffered) %v after its write began to wait",
				e.broker.Count(), httpapi.StreamBuffered(api), timeout+streamWait)
		}
	}
	start := time.Now()
	got, reason, err := readUntil(conn, posted[len(posted)-1])
	if len(got) == 0 || len(got) == len(posted) || !slices.Equal(got, posted[:len(got)]) {
		t.Fatalf("got %d activities, want a gap-free proper prefix of the %d posted", len(got), len(posted))
	}
	if reason != "" || !closedByServer(err) {
		t.Fatalf("after %d activities: reason %q, end %v; want no error event and the connection closed", len(got), reason, err)
	}
	t.Logf("%d of %d activities, then the close, read in %v", len(got), len(posted), time.Since(start))
	if waited := time.Since(start); waited > streamWait {
		t.Fatalf("reading what the socket held and the close took %v", waited)
	}
	resumed := e.openStream(streamPath(w.x.ID, ""), w.xTok, "Last-Event-ID", strconv.FormatInt(got[len(got)-1], 10))
	resumed.expectIDs(posted[len(got):]...)
	resumed.close()
}

// closedByServer reports whether err, which ended reading a stream, is
// the server closing the connection (not a read deadline).
func closedByServer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// readUntil reads an event stream off conn until activity last, the end
// of the stream, or a silence of 3*streamWait (longer than a stream's
// write may wait for its reader, and than a replay waits for room in the
// stream buffers), and returns the activity ids, the reason of an error
// event, and the error that ended the reading: io.EOF when the server
// closed the connection, a timeout after a silence.
func readUntil(conn net.Conn, last int64) (ids []int64, reason string, err error) {
	ic := &idleConn{Conn: conn, idle: 3 * streamWait}
	res, err := http.ReadResponse(bufio.NewReader(ic), nil)
	if err != nil {
		return nil, "", err
	}
	items := make(chan sseItem, 64)
	go readSSE(res.Body, items)
	for it := range items {
		switch it.Event {
		case "activity":
			id, _ := strconv.ParseInt(it.ID, 10, 64)
			ids = append(ids, id)
			if id == last {
				conn.Close()
			}
		case "error":
			var v map[string]string
			_ = json.Unmarshal([]byte(it.Data), &v)
			reason = v["reason"]
		}
	}
	return ids, reason, ic.err
}

// idleConn gives each Read a deadline of idle and records the error
// that ended reading.
type idleConn struct {
	net.Conn
	idle time.Duration
	err  error
}

func (c *idleConn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	n, err := c.Conn.Read(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// TestServerShutdownEndsAndWaitsForStreams calls what serve calls on
// SIGTERM: Shutdown ends a taken-over stream and one its handler serves
// with the reason, returns only once both are gone (their subscriptions
// freed), and new streams are refused.
func TestServerShutdownEndsAndWaitsForStreams(t *testing.T) {
	e := newEnv(t)
	w := e.streamWorld()
	api := e.srv.Config.Handler.(*httpapi.Server)
	taken := e.openStream(streamPath(w.x.ID, ""), w.vTok)
	plain := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		api.ServeHTTP(flushOnly{rw}, r)
	}))
	defer plain.Close()
	req, _ := http.NewRequest("GET", plain.URL+streamPath(w.x.ID, ""), nil)
	req.Header.Set("Authorization", "Bearer "+e.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	held := &sseConn{t: t, res: res, items: make(chan sseItem, 1024), close: func() { res.Body.Close() }}
	go readSSE(res.Body, held.items)
	for _, c := range []*sseConn{taken, held} {
		if it, _ := c.next(); it.Kind != "retry" {
			t.Fatalf("first item %+v, want retry", it)
		}
	}
	id := e.post(w.xTok, "doc.live", w.shared)
	taken.expectIDs(id)
	held.expectIDs(id)

	ctx, cancel := context.WithTimeout(context.Background(), streamWait)
	defer cancel()
	if err := api.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := e.broker.Count(); n != 0 {
		t.Fatalf("%d subscriptions left when Shutdown returned", n)
	}
	for _, c := range []*sseConn{taken, held} {
		if reason := c.ended(); !strings.Contains(reason, "shutting down") {
			t.Fatalf("ended with reason %q", reason)
		}
	}
	e.do("GET", streamPath(w.x.ID, ""), w.vTok, nil).expect(t, http.StatusServiceUnavailable)
}

// TestServerShutdownClosesStreamsItCannotEnd holds a taken-over stream
// whose client stopped reading, so that a write of it waits: Shutdown
// gives up when its context ends, closes the connection, and the stream's
// goroutines return (a second Shutdown finds nothing left).
func TestServerShutdownClosesStreamsItCannotEnd(t *testing.T) {
	e := newEnvStream(t, httpapi.Config{}, stream.Options{QueueSize: 10000, MaxQueuedBytes: 1 << 30, MaxTotalQueuedBytes: 1 << 30})
	w := e.streamWorld()
	api := e.srv.Config.Handler.(*httpapi.Server)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer %s\r\n\r\n", streamPath(w.x.ID, ""), e.AdminToken)
	for deadline := time.Now().Add(streamWait); e.broker.Count() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("stream never opened")
		}
	}
	// Until a write waits for the socket (what it holds is charged to
	// the stream buffers), with room in the stream's queue.
	data := json.RawMessage(`{"pad":"` + strings.Repeat("x", roster.MaxDataSize-16) + `"}`)
	for posted := 0; httpapi.StreamBuffered(api) == 0; posted++ {
		if posted == 3000 {
			t.Fatal("no write of the stream ever waited")
		}
		if err := e.db.CreateActivity(context.Background(), &roster.Activity{ActorID: w.x.ID, Verb: "doc.big", Data: data}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := api.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown with a stream stuck in a write: %v, want the context's deadline", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), streamWait)
	defer cancel2()
	if err := api.Shutdown(ctx2); err != nil {
		t.Fatalf("second Shutdown: %v: the closed stream's goroutines did not return", err)
	}
	if n := e.broker.Count(); n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
}
