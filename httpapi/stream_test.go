package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/stream"
)

// streamWait bounds every read from a stream in these tests.
const streamWait = 5 * time.Second

// sseItem is one thing read from an event stream: an event, a comment or a
// retry hint.
type sseItem struct {
	Kind  string // "event", "comment" or "retry"
	ID    string
	Event string
	Data  string
	Text  string // the comment, or the retry value
}

// readSSE parses an event stream into items until r ends, then closes out.
func readSSE(r io.Reader, out chan<- sseItem) {
	defer close(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev sseItem
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(data) > 0 || ev.Event != "" || ev.ID != "" {
				ev.Kind, ev.Data = "event", strings.Join(data, "\n")
				out <- ev
			}
			ev, data = sseItem{}, nil
			continue
		}
		if c, ok := strings.CutPrefix(line, ":"); ok {
			out <- sseItem{Kind: "comment", Text: strings.TrimPrefix(c, " ")}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.ID = value
		case "event":
			ev.Event = value
		case "data":
			data = append(data, value)
		case "retry":
			out <- sseItem{Kind: "retry", Text: value}
		}
	}
}

// sseConn is an open event stream read by a real HTTP client.
type sseConn struct {
	t     *testing.T
	res   *http.Response
	items chan sseItem
	close context.CancelFunc
}

// streamRequest opens GET path with token (header) and extra headers.
func (e *env) streamRequest(path, token string, headers ...string) (*http.Response, context.CancelFunc) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return res, cancel
}

// openStream opens an event stream that must answer 200.
func (e *env) openStream(path, token string, headers ...string) *sseConn {
	e.t.Helper()
	res, cancel := e.streamRequest(path, token, headers...)
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		cancel()
		e.t.Fatalf("GET %s: status %d: %s", path, res.StatusCode, body)
	}
	c := &sseConn{t: e.t, res: res, items: make(chan sseItem, 1024), close: cancel}
	go readSSE(res.Body, c.items)
	e.t.Cleanup(cancel)
	return c
}

// next returns the next item; ok is false once the stream has ended.
func (c *sseConn) next() (sseItem, bool) {
	c.t.Helper()
	select {
	case it, ok := <-c.items:
		return it, ok
	case <-time.After(streamWait):
		c.t.Fatal("nothing arrived on the stream")
	}
	return sseItem{}, false
}

// event skips comments and returns the next event.
func (c *sseConn) event() sseItem {
	c.t.Helper()
	for {
		it, ok := c.next()
		if !ok {
			c.t.Fatal("stream ended while waiting for an event")
		}
		if it.Kind == "event" {
			return it
		}
	}
}

// activity returns the next event, which must be an activity, decoded.
func (c *sseConn) activity() map[string]any {
	c.t.Helper()
	it := c.event()
	if it.Event != "activity" {
		c.t.Fatalf("event %q (%s), want activity", it.Event, it.Data)
	}
	var a map[string]any
	if err := json.Unmarshal([]byte(it.Data), &a); err != nil {
		c.t.Fatalf("data is not JSON: %v: %s", err, it.Data)
	}
	if strconv.FormatInt(int64(a["id"].(float64)), 10) != it.ID {
		c.t.Fatalf("id line %q does not match data id %v", it.ID, a["id"])
	}
	return a
}

// expectIDs reads activities and checks they are exactly ids, in order.
func (c *sseConn) expectIDs(ids ...int64) {
	c.t.Helper()
	for _, id := range ids {
		if got := int64(c.activity()["id"].(float64)); got != id {
			c.t.Fatalf("got activity %d, want %d", got, id)
		}
	}
}

// ended reads to the end of the stream and returns the reason of its final
// error event ("" if none).
func (c *sseConn) ended() string {
	c.t.Helper()
	reason := ""
	for {
		it, ok := c.next()
		if !ok {
			return reason
		}
		if it.Kind == "event" && it.Event == "error" {
			var v map[string]string
			if err := json.Unmarshal([]byte(it.Data), &v); err != nil {
				c.t.Fatalf("error event data %q: %v", it.Data, err)
			}
			reason = v["reason"]
		}
	}
}

// post creates an activity through the API as the holder of token.
func (e *env) post(token, verb string, ws int64) int64 {
	e.t.Helper()
	body := map[string]any{"verb": verb}
	if ws != 0 {
		body["workspace"] = ws
	}
	r := e.do("POST", "/api/v3/activities", token, body).expect(e.t, http.StatusCreated).JSON(e.t)
	return int64(r["id"].(float64))
}

// streamWorld is an actor, a viewer and workspaces with known access.
type streamWorld struct {
	x, v           *roster.User
	xTok, vTok     string
	shared, hidden int64 // v has access to shared (through a group), not to hidden
}

func (e *env) streamWorld() *streamWorld {
	e.t.Helper()
	ctx := context.Background()
	w := &streamWorld{x: e.createUser("xavier", false, ""), v: e.createUser("viola", false, "")}
	w.xTok, w.vTok = e.token(w.x), e.token(w.v)
	mk := func(name string) int64 {
		ws := &roster.Workspace{Name: name}
		if err := e.db.CreateWorkspace(ctx, e.Admin.ID, ws); err != nil {
			e.t.Fatal(err)
		}
		if err := e.db.SetGrant(ctx, e.Admin.ID, ws.ID, &roster.Grant{Subject: roster.Subject{Type: "user", ID: w.x.ID}, Role: roster.RoleMember}); err != nil {
			e.t.Fatal(err)
		}
		return ws.ID
	}
	w.shared, w.hidden = mk("shared"), mk("hidden")
	g := &roster.Group{Name: "readers"}
	if err := e.db.CreateGroup(ctx, e.Admin.ID, g); err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.AddGroupMember(ctx, e.Admin.ID, g.ID, w.v.ID); err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.SetGrant(ctx, e.Admin.ID, w.shared, &roster.Grant{Subject: roster.Subject{Type: "group", ID: g.ID}, Role: roster.RoleViewer}); err != nil {
		e.t.Fatal(err)
	}
	return w
}

func streamPath(actor int64, query string) string {
	p := fmt.Sprintf("/api/v3/users/%d/stream", actor)
	if query != "" {
		p += "?" + query
	}
	return p
}

func TestStreamHeadersRetryFirstAndLiveDelivery(t *testing.T) {
	eachStore(t, testStreamHeadersRetryFirstAndLiveDelivery)
}

func testStreamHeadersRetryFirstAndLiveDelivery(t *testing.T) {
	e := newEnv(t)
	w := e.streamWorld()
	c := e.openStream(streamPath(w.x.ID, ""), w.vTok)
	if ct := c.res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type = %q", ct)
	}
	if cc := c.res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("Cache-Control = %q", cc)
	}
	// No activity exists for this stream yet: the retry hint must still arrive.
	if it, _ := c.next(); it.Kind != "retry" || it.Text != "3000" {
		t.Fatalf("first item = %+v, want retry: 3000", it)
	}
	e.post(w.xTok, "doc.hidden", w.hidden) // invisible to viola
	e.post(w.xTok, "doc.private", 0)       // invisible to viola
	id := e.post(w.xTok, "doc.created", w.shared)
	a := c.activity()
	if int64(a["id"].(float64)) != id || a["verb"] != "doc.created" {
		t.Fatalf("activity = %v, want %d doc.created", a, id)
	}
	if actor := a["actor"].(map[string]any); actor["id"] != float64(w.x.ID) || actor["username"] != "xavier" {
		t.Fatalf("actor = %v", actor)
	}
	if ws := a["workspace"].(map[string]any); ws["id"] != float64(w.shared) || ws["name"] != "shared" {
		t.Fatalf("workspace = %v", ws)
	}
}

func TestStreamRequestErrors(t *testing.T) {
	eachStore(t, testStreamRequestErrors)
}

func testStreamRequestErrors(t *testing.T) {
	e := newEnv(t)
	w := e.streamWorld()
	for _, tc := range []struct {
		path, token string
		headers     []string
		status      int
	}{
		{streamPath(w.x.ID, ""), "", nil, http.StatusUnauthorized},
		{streamPath(w.x.ID, "access_token=nope"), "", nil, http.StatusUnauthorized},
		{streamPath(999, ""), w.vTok, nil, http.StatusNotFound},
		{streamPath(w.x.ID, "since=2026-01-01T00:00:00Z"), w.vTok, nil, http.StatusBadRequest},
		{streamPath(w.x.ID, "verb=Bad"), w.vTok, nil, http.StatusBadRequest},
		{streamPath(w.x.ID, "lastEventId=x"), w.vTok, nil, http.StatusBadRequest},
		{streamPath(w.x.ID, ""), w.vTok, []string{"Last-Event-ID", "-1"}, http.StatusBadRequest},
	} {
		e.do("GET", tc.path, tc.token, nil, tc.headers...).expect(t, tc.status)
	}
	// The query token is taken on the stream route only.
	e.do("GET", "/api/v3/users/me?access_token="+w.vTok, "", nil).expect(t, http.StatusUnauthorized)
}

func TestStreamAccessTokenQuery(t *testing.T) {
	eachStore(t, testStreamAccessTokenQuery)
}

func testStreamAccessTokenQuery(t *testing.T) {
	e := newEnv(t)
	w := e.streamWorld()
	c := e.openStream(streamPath(w.x.ID, "access_token="+w.vTok), "")
	id := e.post(w.xTok, "doc.created", w.shared)
	c.expectIDs(id)
}

func TestStreamFilters(t *testing.T) {
	eachStore(t, testStreamFilters)
}

func testStreamFilters(t *testing.T) {
	e := newEnv(t)
	w := e.streamWorld()
	exact := e.openStream(streamPath(w.x.ID, "verb=doc.created"), e.AdminToken)
	prefix := e.openStream(streamPath(w.x.ID, "verb=doc.*"), e.AdminToken)
	inShared := e.openStream(streamPath(w.x.ID, fmt.Sprintf("workspace=%d", w.shared)), e.AdminToken)
	both := e.openStream(streamPath(w.x.ID, fmt.Sprintf("workspace=%d&verb=doc.*", w.hidden)), w.xTok)
	hiddenToViola := e.openStream(streamPath(w.x.ID, fmt.Sprintf("workspace=%d", w.hidden)), w.vTok)

	a := e.post(w.xTok, "doc.created", w.shared)
	b := e.post(w.xTok, "document.created", w.shared)
	c := e.post(w.xTok, "doc.deleted", w.hidden)
	d := e.post(w.xTok, "doc.created", 0)
	exact.expectIDs(a, d)
	prefix.expectIDs(a, c, d)
	inShared.expectIDs(a, b)
	both.expectIDs(c)

	// viola may not see the hidden workspace: nothing arrives, then the
	// stream still works once she may.
	if err := e.db.SetGrant(context.Background(), e.Admin.ID, w.hidden, &roster.Grant{Subject: roster.Subject{Type: "user", ID: w.v.ID}, Role: roster.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	f := e.post(w.xTok, "doc.seen", w.hidden)
	hiddenToViola.expectIDs(f)
}

func TestStreamResumeReplaysThenGoesLive(t *testing.T) {
	eachStore(t, testStreamResumeReplaysThenGoesLive)
}

func testStreamResumeReplaysThenGoesLive(t *testing.T) {
	e := newEnv(t)
	w := e.streamWorld()
	var visible []int64
	for i := range 9 {
		ws := []int64{w.shared, w.hidden, 0}[i%3]
		id := e.post(w.xTok, "doc.n", ws)
		if ws == w.shared {
			visible = append(visible, id)
		}
	}
	from := visible[0]
	for _, c := range []*sseConn{
		e.openStream(streamPath(w.x.ID, ""), w.vTok, "Last-Event-ID", strconv.FormatInt(from, 10)),
		e.openStream(streamPath(w.x.ID, "lastEventId="+strconv.FormatInt(from, 10)), w.vTok),
	} {
		c.expectIDs(visible[1:]...)
		live := e.post(w.xTok, "doc.live", w.shared)
		c.expectIDs(live)
		visible = append(visible, live)
	}
	// Zero is a resume point too: everything visible, oldest first.
	all := e.openStream(streamPath(w.x.ID, ""), w.vTok, "Last-Event-ID", "0")
	all.expectIDs(visible...)
	// Without one, only what is published after the connection opened.
	fresh := e.openStream(streamPath(w.x.ID, ""), w.vTok)
	if it, _ := fresh.next(); it.Kind != "retry" {
		t.Fatalf("first item %+v", it)
	}
	live := e.post(w.xTok, "doc.live", w.shared)
	fresh.expectIDs(live)
	all.expectIDs(live)
}

// TestStreamResumeNoGapNoDuplicateUnderWriters resumes several streams
// while eight writers post: each must see exactly the visible activities
// above its resume point, oldest first, each once.
func TestStreamResumeNoGapNoDuplicateUnderWriters(t *testing.T) {
	eachStore(t, testStreamResumeNoGapNoDuplicateUnderWriters)
}

func testStreamResumeNoGapNoDuplicateUnderWriters(t *testing.T) {
	e := newEnv(t)
	w := e.streamWorld()
	var resumeAt int64
	for i := range 12 {
		ws := []int64{w.shared, w.hidden, 0}[i%3]
		id := e.post(w.xTok, "seed.n", ws)
		if i == 3 {
			resumeAt = id
		}
	}

	const writers, perWriter = 8, 50
	var written atomic.Int64
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perWriter {
				ws := []int64{w.shared, w.hidden, 0}[(i+j)%3]
				body := map[string]any{"verb": fmt.Sprintf("load.w%d", i)}
				if ws != 0 {
					body["workspace"] = ws
				}
				data, _ := json.Marshal(body)
				req, _ := http.NewRequest("POST", e.URL+"/api/v3/activities", strings.NewReader(string(data)))
				req.Header.Set("Authorization", "Bearer "+w.xTok)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					t.Errorf("POST: %d", res.StatusCode)
					return
				}
				written.Add(1)
			}
		}()
	}

	// Resumers connect at different points of the load, by header or query,
	// and reconnect (as EventSource does) if the server drops them.
	type result struct {
		ids        []int64
		reconnects int
	}
	results := make([]result, 6)
	var readers sync.WaitGroup
	for r := range results {
		for written.Load() < int64(r*writers*perWriter/len(results)) {
			time.Sleep(time.Millisecond)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			last := resumeAt
			for {
				path, hdr := streamPath(w.x.ID, ""), []string{"Last-Event-ID", strconv.FormatInt(last, 10)}
				if r%2 == 1 {
					path, hdr = streamPath(w.x.ID, "lastEventId="+strconv.FormatInt(last, 10)), nil
				}
				res, cancel := e.streamRequest(path, w.vTok, hdr...)
				items := make(chan sseItem, 1024)
				go readSSE(res.Body, items)
				done := false
				for it := range items {
					if it.Kind != "event" || it.Event != "activity" {
						continue
					}
					id, _ := strconv.ParseInt(it.ID, 10, 64)
					results[r].ids = append(results[r].ids, id)
					last = id
					// The final activity may arrive before its POST has
					// returned its id to the writer, so know it by its verb.
					if strings.Contains(it.Data, `"verb":"load.done"`) {
						done = true
						break
					}
				}
				cancel()
				if done {
					return
				}
				results[r].reconnects++
				if results[r].reconnects > 20 {
					t.Errorf("resumer %d: too many reconnects", r)
					return
				}
			}
		}()
	}
	wg.Wait()
	e.post(w.xTok, "load.done", w.shared)
	doneReading := make(chan struct{})
	go func() { readers.Wait(); close(doneReading) }()
	select {
	case <-doneReading:
	case <-time.After(20 * time.Second):
		t.Fatal("resumers did not reach the final activity")
	}

	// The exact visible set, from the feed.
	var want []int64
	for page := 1; ; page++ {
		r := e.do("GET", fmt.Sprintf("/api/v3/users/%d/activities?page_size=1000&page=%d", w.x.ID, page), w.vTok, nil).expect(t, http.StatusOK).JSON(t)
		for _, a := range r["results"].([]any) {
			if id := int64(a.(map[string]any)["id"].(float64)); id > resumeAt {
				want = append(want, id)
			}
		}
		if r["next"] == nil {
			break
		}
	}
	slices.Sort(want)
	if len(want) < writers*perWriter/3 {
		t.Fatalf("only %d visible activities; the load did not run", len(want))
	}
	for r, res := range results {
		if !slices.Equal(res.ids, want) {
			t.Errorf("resumer %d (%d reconnects): %d ids, want %d; first difference at %d", r, res.reconnects, len(res.ids), len(want), firstDiff(res.ids, want))
		}
		if res.reconnects > 0 {
			t.Logf("resumer %d reconnected %d times", r, res.reconnects)
		}
	}
}

func firstDiff(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestStreamHeartbeat(t *testing.T) {
	eachStore(t, testStreamHeartbeat)
}

func testStreamHeartbeat(t *testing.T) {
	e := newEnvWith(t, httpapi.Config{Heartbeat: 50 * time.Millisecond})
	c := e.openStream(streamPath(e.Admin.ID, ""), e.AdminToken)
	pings := 0
	for pings < 2 {
		if it, ok := c.next(); !ok {
			t.Fatal("stream ended")
		} else if it.Kind == "comment" && it.Text == "ping" {
			pings++
		}
	}
}

func TestStreamEndsOnRevocationAndDeactivation(t *testing.T) {
	eachStore(t, testStreamEndsOnRevocationAndDeactivation)
}

func testStreamEndsOnRevocationAndDeactivation(t *testing.T) {
	e := newEnvStream(t, httpapi.Config{}, stream.Options{RevalidateInterval: 50 * time.Millisecond})
	w := e.streamWorld()
	other := e.token(w.v)
	revoked := e.openStream(streamPath(w.x.ID, ""), w.vTok)
	kept := e.openStream(streamPath(w.x.ID, ""), other)
	admin := e.openStream(streamPath(w.x.ID, ""), e.AdminToken)

	e.do("DELETE", "/api/v3/auth/token", w.vTok, nil).expect(t, http.StatusNoContent)
	start := time.Now()
	if reason := revoked.ended(); !strings.Contains(reason, "revoked") {
		t.Fatalf("revoked stream ended with reason %q", reason)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("revoked stream took %v to end", d)
	}
	id := e.post(w.xTok, "doc.after", w.shared)
	kept.expectIDs(id) // the same user's other token still streams

	e.do("PATCH", fmt.Sprintf("/api/v3/users/%d", w.v.ID), e.AdminToken, map[string]any{"isActive": false}).expect(t, http.StatusOK)
	if reason := kept.ended(); !strings.Contains(reason, "no longer active") {
		t.Fatalf("deactivated user's stream ended with reason %q", reason)
	}
	admin.expectIDs(id)
}

func TestStreamPerUserCap(t *testing.T) {
	eachStore(t, testStreamPerUserCap)
}

func testStreamPerUserCap(t *testing.T) {
	e := newEnvStream(t, httpapi.Config{}, stream.Options{MaxPerUser: 2})
	w := e.streamWorld()
	a := e.openStream(streamPath(w.x.ID, ""), w.vTok)
	e.openStream(streamPath(w.x.ID, ""), w.vTok)
	r := e.do("GET", streamPath(w.x.ID, ""), w.vTok, nil).expect(t, http.StatusTooManyRequests)
	if ra := r.Header.Get("Retry-After"); ra == "" {
		t.Fatal("429 without Retry-After")
	}
	e.openStream(streamPath(w.x.ID, ""), e.AdminToken) // another viewer's budget
	a.close()
	deadline := time.Now().Add(streamWait)
	for e.broker.Count() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("closed stream still counted: %d open", e.broker.Count())
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.openStream(streamPath(w.x.ID, ""), w.vTok)
}

// TestStreamSlowConsumerDropped holds a raw connection that stops reading:
// the server drops it once its queue overflows, while a fast stream gets
// every event; the slow client, reading again, finds an error event, and
// resuming from its last id loses nothing.
func TestStreamSlowConsumerDropped(t *testing.T) {
	eachStore(t, testStreamSlowConsumerDropped)
}

func testStreamSlowConsumerDropped(t *testing.T) {
	e := newEnvStream(t, httpapi.Config{}, stream.Options{QueueSize: 4})
	w := e.streamWorld()
	fast := e.openStream(streamPath(w.x.ID, ""), e.AdminToken)

	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer %s\r\n\r\n", streamPath(w.x.ID, ""), e.AdminToken)
	for deadline := time.Now().Add(streamWait); e.broker.Count() != 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("slow stream never opened")
		}
	}

	big := json.RawMessage(`{"pad":"` + strings.Repeat("x", 60<<10) + `"}`)
	var posted []int64
	for e.broker.Count() == 2 {
		if len(posted) == 2000 {
			t.Fatal("slow consumer never dropped")
		}
		a := &roster.Activity{ActorID: w.x.ID, Verb: "doc.big", Data: big}
		if err := e.db.CreateActivity(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		posted = append(posted, a.ID)
		fast.expectIDs(a.ID)
	}
	t.Logf("slow consumer dropped after %d events of 60 KiB", len(posted))
	more := e.post(w.xTok, "doc.after", 0)
	posted = append(posted, more)
	fast.expectIDs(more)

	// The slow client reads again: some events, then the reason, then the end.
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	items := make(chan sseItem, 4096)
	go readSSE(res.Body, items)
	var got []int64
	reason := ""
	timeout := time.After(streamWait)
read:
	for {
		select {
		case it, ok := <-items:
			if !ok {
				break read
			}
			if it.Event == "activity" {
				id, _ := strconv.ParseInt(it.ID, 10, 64)
				got = append(got, id)
			} else if it.Event == "error" {
				reason = it.Data
			}
		case <-timeout:
			t.Fatal("slow stream did not end")
		}
	}
	if !strings.Contains(reason, "slow consumer") {
		t.Fatalf("slow stream ended with %q", reason)
	}
	if len(got) == 0 || !slices.Equal(got, posted[:len(got)]) {
		t.Fatalf("slow stream got %v, want a prefix of %v", got, posted)
	}
	resumed := e.openStream(streamPath(w.x.ID, ""), e.AdminToken, "Last-Event-ID", strconv.FormatInt(got[len(got)-1], 10))
	resumed.expectIDs(posted[len(got):]...)
}

func TestStreamShutdownEndsStreams(t *testing.T) {
	eachStore(t, testStreamShutdownEndsStreams)
}

func testStreamShutdownEndsStreams(t *testing.T) {
	e := newEnv(t)
	w := e.streamWorld()
	streams := []*sseConn{
		e.openStream(streamPath(w.x.ID, ""), w.vTok),
		e.openStream(streamPath(w.x.ID, ""), e.AdminToken, "Last-Event-ID", "1"),
	}
	start := time.Now()
	e.broker.Close()
	for _, c := range streams {
		// The body ends only once the handler has returned.
		if reason := c.ended(); !strings.Contains(reason, "shutting down") {
			t.Fatalf("ended with reason %q", reason)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("streams took %v to end", d)
	}
	e.do("GET", streamPath(w.x.ID, ""), w.vTok, nil).expect(t, http.StatusServiceUnavailable)
}
