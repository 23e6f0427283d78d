package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/stream"
)

// TestStreamTakenOverConnectionWireFormat reads an HTTP/1.1 stream off a
// raw connection: the server takes such connections over once the
// headers are out, so the body is not chunked but delimited by the connection's
// close, and the contract's headers, the retry hint first, resumed and
// live events and pings all arrive as they did through net/http.
func TestStreamTakenOverConnectionWireFormat(t *testing.T) {
	eachStore(t, testStreamTakenOverConnectionWireFormat)
}

func testStreamTakenOverConnectionWireFormat(t *testing.T) {
	e := newEnvWith(t, httpapi.Config{Heartbeat: 50 * time.Millisecond})
	w := e.streamWorld()
	old := e.post(w.xTok, "doc.old", 0)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer %s\r\nLast-Event-ID: %d\r\n\r\n",
		streamPath(w.x.ID, ""), e.AdminToken, old-1)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if res.StatusCode != http.StatusOK || !res.Close || len(res.TransferEncoding) != 0 || res.ContentLength != -1 {
		t.Fatalf("status %d, Connection: close %v, Transfer-Encoding %v, Content-Length %d: want 200, a body ended by close",
			res.StatusCode, res.Close, res.TransferEncoding, res.ContentLength)
	}
	c := &sseConn{t: t, res: res, items: make(chan sseItem, 1024), close: func() { conn.Close() }}
	go readSSE(res.Body, c.items)
	if it, _ := c.next(); it.Kind != "retry" || it.Text != "3000" {
		t.Fatalf("first item %+v, want retry: 3000", it)
	}
	c.expectIDs(old)
	live := e.post(w.xTok, "doc.live", 0)
	c.expectIDs(live)
	for pings := 0; pings < 2; {
		if it, ok := c.next(); !ok {
			t.Fatal("stream ended")
		} else if it.Kind == "comment" && it.Text == "ping" {
			pings++
		}
	}
	e.broker.Close()
	if reason := c.ended(); !strings.Contains(reason, "shutting down") {
		t.Fatalf("ended with reason %q", reason)
	}
}

// TestStreamClientLeavingFreesItsSlotAtOnce closes a client's connection
// with no ping due for an hour: the server notices it by itself, and the
// viewer's slot under the per-user cap is free again long before any ping.
func TestStreamClientLeavingFreesItsSlotAtOnce(t *testing.T) {
	eachStore(t, testStreamClientLeavingFreesItsSlotAtOnce)
}

func testStreamClientLeavingFreesItsSlotAtOnce(t *testing.T) {
	e := newEnvStream(t, httpapi.Config{Heartbeat: time.Hour}, stream.Options{MaxPerUser: 1})
	w := e.streamWorld()
	for range 3 {
		c := e.openStream(streamPath(w.x.ID, ""), w.vTok)
		e.do("GET", streamPath(w.x.ID, ""), w.vTok, nil).expect(t, http.StatusTooManyRequests)
		c.close()
		deadline := time.Now().Add(2 * time.Second)
		for e.broker.Count() != 0 {
			if time.Now().After(deadline) {
				t.Fatal("a closed stream still counts against the cap 2 s later")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestStreamOverTLS streams through HTTP/2, whose connections cannot be
// taken over (the handler keeps serving the stream itself), and through
// HTTP/1.1 over TLS, whose taken-over connection has no descriptor to
// write to without blocking (every write goes through a goroutine).
func TestStreamOverTLS(t *testing.T) {
	eachStore(t, testStreamOverTLS)
}

func testStreamOverTLS(t *testing.T) {
	for _, h2 := range []bool{true, false} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			e := newEnvWith(t, httpapi.Config{Heartbeat: 50 * time.Millisecond})
			w := e.streamWorld()
			srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			defer srv.Close()
			old := e.post(w.xTok, "doc.old", 0)
			req, _ := http.NewRequest("GET", srv.URL+streamPath(w.x.ID, ""), nil)
			req.Header.Set("Authorization", "Bearer "+e.AdminToken)
			req.Header.Set("Last-Event-ID", fmt.Sprint(old-1))
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			wantProto := map[bool]int{true: 2, false: 1}[h2]
			if res.ProtoMajor != wantProto || res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("%s %d %q, want HTTP/%d 200 text/event-stream", res.Proto, res.StatusCode, res.Header.Get("Content-Type"), wantProto)
			}
			c := &sseConn{t: t, res: res, items: make(chan sseItem, 1024), close: func() { res.Body.Close() }}
			go readSSE(res.Body, c.items)
			if it, _ := c.next(); it.Kind != "retry" {
				t.Fatalf("first item %+v, want retry", it)
			}
			c.expectIDs(old)
			for range 3 {
				c.expectIDs(e.post(w.xTok, "doc.live", 0))
			}
			for pings := 0; pings < 2; {
				if it, ok := c.next(); !ok {
					t.Fatal("stream ended")
				} else if it.Kind == "comment" && it.Text == "ping" {
					pings++
				}
			}
			e.broker.Close()
			if reason := c.ended(); !strings.Contains(reason, "shutting down") {
				t.Fatalf("ended with reason %q", reason)
			}
		})
	}
}

// TestStreamWithoutHijacker serves a stream through a ResponseWriter that
// cannot give up its connection (a wrapper without Hijack, as some
// middleware is): it falls back to the handler's own loop.
func TestStreamWithoutHijacker(t *testing.T) {
	eachStore(t, testStreamWithoutHijacker)
}

func testStreamWithoutHijacker(t *testing.T) {
	e := newEnv(t)
	w := e.streamWorld()
	api := e.srv.Config.Handler
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
	if res.StatusCode != http.StatusOK || len(res.TransferEncoding) == 0 || res.TransferEncoding[0] != "chunked" {
		t.Fatalf("status %d, Transfer-Encoding %v: want 200, chunked as before", res.StatusCode, res.TransferEncoding)
	}
	c := &sseConn{t: t, res: res, items: make(chan sseItem, 1024), close: func() { res.Body.Close() }}
	go readSSE(res.Body, c.items)
	if it, _ := c.next(); it.Kind != "retry" {
		t.Fatalf("first item %+v, want retry", it)
	}
	c.expectIDs(e.post(w.xTok, "doc.live", 0))
	e.broker.Close()
	if reason := c.ended(); !strings.Contains(reason, "shutting down") {
		t.Fatalf("ended with reason %q", reason)
	}
}

// flushOnly hides every optional interface of a ResponseWriter but Flush.
type flushOnly struct{ w http.ResponseWriter }

func (f flushOnly) Header() http.Header         { return f.w.Header() }
func (f flushOnly) Write(b []byte) (int, error) { return f.w.Write(b) }
func (f flushOnly) WriteHeader(code int)        { f.w.WriteHeader(code) }
func (f flushOnly) Flush()                      { f.w.(http.Flusher).Flush() }

// TestStreamLogsOneRequestLine checks that a taken-over stream still
// leaves one request log line, with its route and status.
func TestStreamLogsOneRequestLine(t *testing.T) {
	eachStore(t, testStreamLogsOneRequestLine)
}

func testStreamLogsOneRequestLine(t *testing.T) {
	var logs logBuffer
	e := newEnvWith(t, httpapi.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	w := e.streamWorld()
	c := e.openStream(streamPath(w.x.ID, ""), e.AdminToken)
	c.expectIDs(e.post(w.xTok, "doc.live", 0))
	c.close()
	deadline := time.Now().Add(streamWait)
	for e.broker.Count() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	route := `"route":"GET /api/v3/users/{id}/stream"`
	if n := strings.Count(logs.String(), route); n != 1 {
		t.Fatalf("%d request lines for the stream, want 1:\n%s", n, logs.String())
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, route) && !strings.Contains(line, `"status":200`) {
			t.Fatalf("stream logged as %s", line)
		}
	}
}

// TestStreamChurn is for -race: clients open streams, read a little and
// leave (some mid-write, some while a ping is due) while a writer posts;
// afterwards no subscription is left behind.
func TestStreamChurn(t *testing.T) {
	eachStore(t, testStreamChurn)
}

func testStreamChurn(t *testing.T) {
	e := newEnvStream(t, httpapi.Config{Heartbeat: 5 * time.Millisecond}, stream.Options{MaxPerUser: 1000})
	w := e.streamWorld()
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := e.db.CreateActivity(context.Background(), &roster.Activity{ActorID: w.x.ID, Verb: "doc.churn", Data: []byte("{}")}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 15 {
				res, cancel := e.streamRequest(streamPath(w.x.ID, ""), e.AdminToken)
				if res.StatusCode != http.StatusOK {
					t.Errorf("status %d", res.StatusCode)
					cancel()
					return
				}
				br := bufio.NewReader(res.Body)
				for range (i + j) % 5 {
					if _, err := br.ReadString('\n'); err != nil {
						t.Errorf("read: %v", err)
						break
					}
				}
				cancel()
				res.Body.Close()
			}
		})
	}
	wg.Wait()
	close(stop)
	<-writerDone
	deadline := time.Now().Add(streamWait)
	for e.broker.Count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions left after every client left", e.broker.Count())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
