package clienttest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/client"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/stream"
)

// streamWait bounds every wait for a stream in these tests.
const streamWait = 10 * time.Second

// next reads one activity from s within streamWait.
func next(t *testing.T, s *client.Stream) client.Activity {
	t.Helper()
	done := make(chan bool, 1)
	go func() { done <- s.Next() }()
	select {
	case ok := <-done:
		if !ok {
			t.Fatalf("stream ended: %v", s.Err())
		}
		return s.Activity()
	case <-time.After(streamWait):
		s.Close()
		<-done
		t.Fatal("no activity within", streamWait)
	}
	return client.Activity{}
}

// post records an activity of c's user and returns its id.
func post(t *testing.T, c *client.Client, verb string, workspace int64) int64 {
	t.Helper()
	a, err := c.CreateActivity(context.Background(), client.ActivityCreate{Verb: verb, Workspace: workspace})
	if err != nil {
		t.Error(err) // also called from writer goroutines
		return 0
	}
	return a.ID
}

// cuttableServer serves s's API on a listener of its own and can cut
// every connection it accepted. httptest's CloseClientConnections cannot
// stand in: it forgets hijacked connections, and the server takes stream
// connections over once their replay is written.
type cuttableServer struct {
	*httptest.Server
	mu    sync.Mutex
	conns []net.Conn
}

func newCuttableServer(t *testing.T, s *server) *cuttableServer {
	t.Helper()
	c := &cuttableServer{Server: httptest.NewUnstartedServer(s.api)}
	c.Listener = &recordingListener{Listener: c.Listener, c: c}
	c.Start()
	t.Cleanup(func() {
		c.cut()
		c.Close()
	})
	return c
}

// cut closes every connection accepted so far, as a network failure would.
func (c *cuttableServer) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

// client returns a client of c authenticated as user id of s.
func (c *cuttableServer) client(t *testing.T, s *server, id int64) *client.Client {
	t.Helper()
	cl, err := client.New(c.URL, client.WithToken(s.token(t, id)))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

type recordingListener struct {
	net.Listener
	c *cuttableServer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err == nil {
		l.c.mu.Lock()
		l.c.conns = append(l.c.conns, conn)
		l.c.mu.Unlock()
	}
	return conn, err
}

// fastRetry keeps reconnection waits short in tests.
const fastRetry = 20 * time.Millisecond

// TestStreamResumesAfterDroppedConnections kills the stream's connection
// several times while a writer posts activities (through another listener
// on the same server) and checks that the consumer sees each exactly once,
// in order.
func TestStreamResumesAfterDroppedConnections(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	bob := s.user(t, "bob")
	// The writer talks to its own listener: killing the stream's
	// connections must not make it lose or repeat a POST.
	writeSrv := httptest.NewServer(s.api)
	defer writeSrv.Close()
	writer, _ := client.New(writeSrv.URL, client.WithToken(s.token(t, bob)))

	// The stream talks to a listener whose connections can be cut.
	streamSrv := newCuttableServer(t, s)
	var causes []error
	var mu sync.Mutex
	st, err := streamSrv.client(t, s, s.AdminID).Stream(ctx, bob, client.StreamOptions{MaxRetryDelay: fastRetry,
		OnReconnect: func(cause error, wait time.Duration) {
			mu.Lock()
			causes = append(causes, cause)
			mu.Unlock()
			if wait > fastRetry {
				t.Errorf("reconnection wait %v above the cap %v", wait, fastRetry)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	const total = 120
	written := make(chan int64, total)
	writerDone := make(chan struct{})
	defer func() { <-writerDone }() // before writeSrv closes, even on failure
	go func() {
		defer close(writerDone)
		defer close(written)
		for i := range total {
			written <- post(t, writer, "note.added", 0)
			if i%10 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()

	kills := map[int]bool{10: true, 35: true, 36: true, 70: true, 100: true}
	var seen []int64
	for len(seen) < total {
		a := next(t, st)
		seen = append(seen, a.ID)
		if a.Actor.ID != bob || a.Verb != "note.added" {
			t.Fatalf("activity = %+v", a)
		}
		if kills[len(seen)] {
			streamSrv.cut()
		}
	}
	var want []int64
	for id := range written {
		want = append(want, id)
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("consumer saw %d activities %v\nwriter wrote %d %v", len(seen), seen, len(want), want)
	}
	if st.LastEventID() != want[len(want)-1] {
		t.Errorf("LastEventID = %d, want %d", st.LastEventID(), want[len(want)-1])
	}
	if st.Reconnects() < 4 { // 35 and 36 may fall into one reconnection
		t.Errorf("reconnects = %d, want at least 4", st.Reconnects())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(causes) < st.Reconnects() || causes[0] == nil {
		t.Errorf("OnReconnect causes = %v", causes)
	}
	// Nothing more is pending.
	if n, err := s.client(t, s.AdminID).CountUserActivities(ctx, bob, client.ActivityFilter{Verb: "note.added"}); err != nil || n != total {
		t.Fatalf("stored = %d, %v", n, err)
	}
}

// TestStreamStartPoints checks where a stream starts: after the newest
// existing activity (even when the first connection drops before any
// event), after LastEventID, or from the start.
func TestStreamStartPoints(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	bob := s.user(t, "bob")
	bobC := s.client(t, bob)
	admin := s.client(t, s.AdminID)
	old := post(t, bobC, "note.added", 0)

	streamSrv := newCuttableServer(t, s)
	live, err := streamSrv.client(t, s, s.AdminID).Stream(ctx, bob, client.StreamOptions{MaxRetryDelay: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if live.LastEventID() != old {
		t.Fatalf("live stream starts after %d, want %d", live.LastEventID(), old)
	}
	streamSrv.cut() // before any event: the new one is posted while disconnected
	fresh := post(t, bobC, "note.added", 0)
	if a := next(t, live); a.ID != fresh {
		t.Fatalf("after a drop before the first event: got %d, want %d (and not %d)", a.ID, fresh, old)
	}
	if live.Reconnects() != 1 {
		t.Errorf("reconnects = %d", live.Reconnects())
	}

	all, err := admin.Stream(ctx, bob, client.StreamOptions{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	var got []int64
	for range 3 { // user.created, old, fresh
		got = append(got, next(t, all).ID)
	}
	if got[1] != old || got[2] != fresh || got[0] >= old {
		t.Fatalf("FromStart = %v", got)
	}

	after, err := admin.Stream(ctx, bob, client.StreamOptions{LastEventID: old})
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if a := next(t, after); a.ID != fresh {
		t.Fatalf("after LastEventID %d: got %d", old, a.ID)
	}
}

func TestStreamFilters(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	admin := s.client(t, s.AdminID)
	bob := s.user(t, "bob")
	bobC := s.client(t, bob)
	ws, err := admin.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "Docs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.GrantUser(ctx, ws.ID, bob, client.RoleMember); err != nil {
		t.Fatal(err)
	}
	st, err := admin.Stream(ctx, bob, client.StreamOptions{Verb: "document.*", Workspace: ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	post(t, bobC, "document.created", 0)  // no workspace
	post(t, bobC, "comment.added", ws.ID) // other verb
	want := post(t, bobC, "document.edited", ws.ID)
	if a := next(t, st); a.ID != want || a.Workspace == nil || a.Workspace.ID != ws.ID {
		t.Fatalf("filtered stream gave %+v, want %d", a, want)
	}

	_, err = admin.Stream(ctx, bob, client.StreamOptions{Verb: "Bad Verb"})
	apiError(t, err, http.StatusBadRequest, client.ErrInvalid)
}

func TestStreamErrors(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	bob := s.user(t, "bob")
	_, err := s.client(t, bob).Stream(ctx, 9999, client.StreamOptions{})
	apiError(t, err, http.StatusNotFound, client.ErrNotFound)
	_, err = s.client(t, bob).Stream(ctx, 9999, client.StreamOptions{FromStart: true}) // straight to the stream route
	apiError(t, err, http.StatusNotFound, client.ErrNotFound)
	nobody, _ := client.New(s.URL, client.WithToken("rst_nope"))
	_, err = nobody.Stream(ctx, bob, client.StreamOptions{LastEventID: 1})
	apiError(t, err, http.StatusUnauthorized, client.ErrUnauthorized)
}

// TestStreamTooMany: one stream more than the server allows is a 429 with
// Retry-After, returned by Stream; closing one frees the slot.
func TestStreamTooMany(t *testing.T) {
	s := newServerWith(t, httpapi.Config{}, stream.Options{MaxPerUser: 1})
	ctx := context.Background()
	bob := s.user(t, "bob")
	bobC := s.client(t, bob)
	first, err := bobC.Stream(ctx, bob, client.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bobC.Stream(ctx, bob, client.StreamOptions{})
	e := apiError(t, err, http.StatusTooManyRequests, client.ErrTooManyRequests)
	if e.RetryAfter != 5*time.Second {
		t.Errorf("RetryAfter = %v, want the server's 5s", e.RetryAfter)
	}
	first.Close()
	deadline := time.Now().Add(streamWait)
	for {
		second, err := bobC.Stream(ctx, bob, client.StreamOptions{})
		if err == nil {
			second.Close()
			break
		}
		if !errors.Is(err, client.ErrTooManyRequests) || time.Now().After(deadline) {
			t.Fatalf("after Close: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamStopsWhenTokenRevoked: the server ends the stream with an
// event: error, the client tries once more, gets 401 and stops.
func TestStreamStopsWhenTokenRevoked(t *testing.T) {
	s := newServerWith(t, httpapi.Config{}, stream.Options{RevalidateInterval: 50 * time.Millisecond})
	ctx := context.Background()
	bob := s.user(t, "bob")
	tok := s.token(t, bob)
	bobC, _ := client.New(s.URL, client.WithToken(tok))
	var causes []error
	st, err := bobC.Stream(ctx, bob, client.StreamOptions{MaxRetryDelay: fastRetry,
		OnReconnect: func(cause error, _ time.Duration) { causes = append(causes, cause) }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id := post(t, bobC, "note.added", 0)
	if a := next(t, st); a.ID != id {
		t.Fatalf("got %d, want %d", a.ID, id)
	}
	if err := bobC.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { done <- st.Next() }()
	select {
	case ok := <-done:
		if ok {
			t.Fatalf("Next after revocation yielded %+v", st.Activity())
		}
	case <-time.After(streamWait):
		t.Fatal("stream still open after its token was revoked")
	}
	apiError(t, st.Err(), http.StatusUnauthorized, client.ErrUnauthorized)
	var se *client.StreamError
	if len(causes) != 1 || !errors.As(causes[0], &se) || se.Reason == "" {
		t.Fatalf("causes = %v, want one event: error", causes)
	}
	if st.Next() {
		t.Fatal("Next after the end")
	}
}

// TestStreamPingsAndIdleTimeout: pings keep a quiet stream alive; without
// them the client takes the connection for dead and reconnects.
func TestStreamPingsAndIdleTimeout(t *testing.T) {
	ctx := context.Background()
	t.Run("pings", func(t *testing.T) {
		s := newServerWith(t, httpapi.Config{Heartbeat: 20 * time.Millisecond}, stream.Options{})
		bob := s.user(t, "bob")
		bobC := s.client(t, bob)
		st, err := bobC.Stream(ctx, bob, client.StreamOptions{IdleTimeout: 600 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		go func() {
			time.Sleep(1500 * time.Millisecond) // well past IdleTimeout
			post(t, bobC, "note.added", 0)
		}()
		next(t, st)
		if st.Reconnects() != 0 {
			t.Fatalf("reconnects = %d although pings flowed", st.Reconnects())
		}
	})
	t.Run("silence", func(t *testing.T) {
		s := newServerWith(t, httpapi.Config{Heartbeat: time.Hour}, stream.Options{})
		bob := s.user(t, "bob")
		bobC := s.client(t, bob)
		st, err := bobC.Stream(ctx, bob, client.StreamOptions{IdleTimeout: 100 * time.Millisecond, MaxRetryDelay: fastRetry})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		go func() {
			time.Sleep(500 * time.Millisecond)
			post(t, bobC, "note.added", 0)
		}()
		next(t, st)
		if st.Reconnects() < 1 {
			t.Fatalf("reconnects = %d, want the silent connections replaced", st.Reconnects())
		}
	})
}

func TestStreamCloseAndContext(t *testing.T) {
	s := newServer(t)
	bob := s.user(t, "bob")
	bobC := s.client(t, bob)

	st, err := bobC.Stream(context.Background(), bob, client.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() { done <- st.Next() }()
	time.Sleep(50 * time.Millisecond)
	st.Close()
	select {
	case ok := <-done:
		if ok || st.Err() != nil {
			t.Fatalf("after Close: Next = %v, Err = %v", ok, st.Err())
		}
	case <-time.After(streamWait):
		t.Fatal("Close did not end a blocked Next")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err = bobC.Stream(ctx, bob, client.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id := post(t, bobC, "note.added", 0)
	var got []int64
	for a, err := range st.All() {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("All ended with %v", err)
			}
			break
		}
		got = append(got, a.ID)
		cancel()
	}
	if !slices.Equal(got, []int64{id}) || !errors.Is(st.Err(), context.Canceled) {
		t.Fatalf("All yielded %v, Err %v", got, st.Err())
	}
}
