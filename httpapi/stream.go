package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/stream"
)

// replayPage is how many activities one replay query reads: at most about
// 1 MiB of activities with data at roster.MaxDataSize.
const replayPage = 100

// errBuffersFull ends a stream that would need more of the server's stream
// buffers than are free within streamWriteTimeout.
var errBuffersFull = errors.New("server busy: stream buffers full")

// streamToken takes the bearer token from the header or, because browsers'
// EventSource cannot set headers, from ?access_token= on this route only.
func streamToken(r *http.Request) string {
	if t := bearerToken(r); t != "" {
		return t
	}
	return r.URL.Query().Get("access_token")
}

// lastEventID reads the resume point: the Last-Event-ID header or the
// lastEventId query parameter. ok is false without one; 0 is a resume point
// (replay everything visible).
func lastEventID(r *http.Request) (id int64, ok bool, err error) {
	v := r.Header.Get("Last-Event-ID")
	name := "Last-Event-ID"
	if v == "" {
		v, name = r.URL.Query().Get("lastEventId"), "lastEventId"
	}
	if v == "" {
		return 0, false, nil
	}
	id, err = strconv.ParseInt(v, 10, 64)
	if err != nil || id < 0 {
		return 0, false, roster.FieldError(roster.EINVALID, name, "A non-negative integer activity id is required.")
	}
	return id, true, nil
}

// eventCache holds the event frame ("id:", "event:", "data:" lines) of
// the activity most recently sent. The broker hands the same
// *roster.Activity to every subscriber, and the frame does not depend on
// the viewer, so a fan-out to N streams encodes it once instead of N times
// (json.Marshal was 15% of the server's CPU in a fan-out to 10,000
// streams, pprof of cmd/roster-bench).
type eventCache struct {
	last atomic.Pointer[encodedEvent]
}

type encodedEvent struct {
	a     *roster.Activity
	frame []byte
}

// frame returns the event frame of a, which the caller must not modify.
func (c *eventCache) frame(a *roster.Activity) ([]byte, error) {
	if ev := c.last.Load(); ev != nil && ev.a == a {
		return ev.frame, nil
	}
	f, err := appendFrame(nil, a)
	if err != nil {
		return nil, err
	}
	c.last.Store(&encodedEvent{a: a, frame: f})
	return f, nil
}

// appendFrame appends the event frame of a to dst.
func appendFrame(dst []byte, a *roster.Activity) ([]byte, error) {
	data, err := json.Marshal(activityOut(a))
	if err != nil {
		return dst, err
	}
	id := strconv.FormatInt(a.ID, 10)
	if dst == nil {
		dst = make([]byte, 0, len("id: \nevent: activity\ndata: \n\n")+len(id)+len(data))
	}
	dst = append(dst, "id: "...)
	dst = append(dst, id...)
	dst = append(dst, "\nevent: activity\ndata: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...), nil
}

// errorFrame is the event that tells a client why the server ends its stream.
func errorFrame(reason error) []byte {
	data, _ := json.Marshal(map[string]string{"reason": reason.Error()})
	f := append([]byte("event: error\ndata: "), data...)
	return append(f, "\n\n"...)
}

// streamRequest is what a stream request asks for.
type streamRequest struct {
	actor  int64
	filter roster.ActivityFilter // verb and workspace only
	after  int64                 // resume point
	resume bool
}

// handleUserStream streams the activities of user {id} that the viewer may
// see. With a resume point it first replays, oldest first, the visible
// activities between that id and the broker cursor at subscription, then
// forwards live ones above the cursor: no gap, no duplicate.
func (s *Server) handleUserStream(w http.ResponseWriter, r *http.Request) error {
	if s.broker == nil {
		return roster.Errorf(roster.EUNAVAILABLE, "Streaming is not available.")
	}
	req, err := s.parseStream(r)
	if err != nil {
		return err
	}
	// An HTTP/1 connection is taken over once the headers are out, so that
	// an idle stream costs no parked handler goroutine and no net/http
	// buffers (see liveStream); others (HTTP/2, writers without Hijack)
	// are served by this handler until they end.
	taken := r.ProtoMajor == 1 && canHijack(w)
	ls, floor, err := s.subscribeStream(r, req, taken)
	if err != nil {
		return err
	}
	s.streams.add()
	defer s.streams.done()
	if !s.openStream(w, ls, taken) {
		return nil
	}
	last, ok := s.replayStream(r.Context(), ls, req, max(req.after, floor))
	if !ok {
		return nil
	}
	ls.serve(r.Context(), last)
	return nil
}

// parseStream reads the actor, the filters and the resume point.
func (s *Server) parseStream(r *http.Request) (streamRequest, error) {
	var req streamRequest
	actor, err := s.pathUser(r)
	if err != nil {
		return req, err
	}
	f, err := parseActivityFilter(r)
	if err != nil {
		return req, err
	}
	if f.Since != nil || f.Until != nil || f.Before != 0 {
		return req, roster.Errorf(roster.EINVALID, "A stream takes only the verb and workspace filters.")
	}
	after, resume, err := lastEventID(r)
	if err != nil {
		return req, err
	}
	return streamRequest{actor: actor, filter: f, after: after, resume: resume}, nil
}

// subscribeStream registers the stream with the broker and the server.
// floor is the newest activity committed before the headers go out: a
// live-only stream skips up to it, even if the broker has not dispatched
// it yet (sub.Start lags).
func (s *Server) subscribeStream(r *http.Request, req streamRequest, taken bool) (ls *liveStream, floor int64, err error) {
	me := viewer(r)
	sub := &stream.Subscription{ViewerID: me.ID, ViewerAdmin: me.IsAdmin, TokenID: session(r).TokenID, ActorID: req.actor,
		Verb: req.filter.Verb, WorkspaceID: req.filter.WorkspaceID}
	ls = newLiveStream(s, sub, taken)
	sub.Wake = ls.kick
	switch err := s.broker.Subscribe(sub); {
	case errors.Is(err, stream.ErrTooMany):
		return nil, 0, &roster.Error{Code: roster.ETHROTTLED, Message: "Too many open streams for this user.", RetryAfter: 5 * time.Second}
	case err != nil:
		return nil, 0, roster.Errorf(roster.EUNAVAILABLE, "The server is shutting down.")
	}
	if !s.streams.register(ls) {
		s.broker.Unsubscribe(sub)
		return nil, 0, roster.Errorf(roster.EUNAVAILABLE, "The server is shutting down.")
	}
	if !req.resume {
		if floor, err = s.store.LastActivityID(r.Context()); err != nil {
			ls.close()
			return nil, 0, err
		}
	}
	return ls, floor, nil
}

// openStream sends the headers, takes the connection over when taken,
// and writes the retry hint; false when the stream is already over.
func (s *Server) openStream(w http.ResponseWriter, ls *liveStream, taken bool) bool {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	if taken {
		// No chunked framing: the body ends when the connection closes
		// (net/http then adds "Connection: close"), so that raw event
		// bytes can follow on the taken-over connection.
		h.Set("Transfer-Encoding", "identity")
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if taken {
		if err := rc.Flush(); err != nil {
			ls.close()
			return false
		}
		// The bufio.ReadWriter is dropped: nothing is buffered for
		// writing, and a client of an event stream sends nothing more
		// that the stream would read.
		conn, _, err := rc.Hijack()
		if err != nil {
			ls.close()
			return false
		}
		ls.attach(conn, nil)
	} else {
		ls.attach(nil, w)
	}
	return ls.write([]byte("retry: 3000\n\n")) == nil
}

// replayReserve is what a replay page is charged before it is read: its
// size with every activity at roster.MaxDataSize, and the write buffer.
const replayReserve = replayPage*(roster.MaxDataSize+1024) + streamChunk

// replayStream writes, oldest first, the visible activities above last up
// to the subscription's start when the request resumes, and returns the
// newest id written. Each page of replayPage activities is charged to the
// server's stream buffers before it is read (waiting up to
// streamWriteTimeout for room, else the stream ends with errBuffersFull),
// the charge is corrected to the page's real size once read, and the page
// is written in writes of about streamChunk bytes.
func (s *Server) replayStream(ctx context.Context, ls *liveStream, req streamRequest, last int64) (int64, bool) {
	if !req.resume {
		return last, true
	}
	f := req.filter
	f.ActorID, f.Ascending, f.UpTo = &req.actor, true, ls.sub.Start
	buf := make([]byte, 0, streamChunk)
	for last < ls.sub.Start && !ls.ended() {
		held := int64(replayReserve)
		if !s.reserve(ctx, held) {
			_ = ls.write(errorFrame(errBuffersFull))
			ls.close()
			return 0, false
		}
		f.After, f.Page = last, roster.Page{Limit: replayPage}
		list, err := s.store.FindActivities(ctx, f)
		if err != nil {
			s.buffers.release(held)
			s.log.Warn("stream replay failed", "error", err.Error())
			ls.close()
			return 0, false
		}
		size := int64(streamChunk)
		for _, a := range list {
			size += stream.ActivitySize(a)
		}
		switch {
		case size < held:
			s.buffers.release(held - size)
		case size > held: // activities above the API's limit, stored by other means
			if !s.reserve(ctx, size-held) {
				s.buffers.release(held)
				_ = ls.write(errorFrame(errBuffersFull))
				ls.close()
				return 0, false
			}
		}
		last, err = ls.writeReplay(buf, list, last)
		s.buffers.release(size)
		if err != nil {
			return 0, false
		}
		if len(list) < replayPage {
			break
		}
	}
	return last, true
}

// reserve takes n bytes of the stream buffers, waiting up to
// streamWriteTimeout.
func (s *Server) reserve(ctx context.Context, n int64) bool {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	return s.buffers.acquire(ctx, n) == nil
}

// writeReplay writes list through buf in writes of about streamChunk
// bytes (a chunk ends after the event that fills it), letting written
// activities go, and returns the newest id written.
func (ls *liveStream) writeReplay(buf []byte, list []*roster.Activity, last int64) (int64, error) {
	buf = buf[:0]
	for i, a := range list {
		n := len(buf)
		var err error
		if buf, err = appendFrame(buf, a); err != nil {
			ls.srv.log.Error("stream event encoding failed", "error", err.Error())
			buf = buf[:n]
			continue
		}
		list[i] = nil
		last = a.ID
		if len(buf) >= streamChunk {
			if err := ls.write(buf); err != nil {
				return 0, err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if err := ls.write(buf); err != nil {
			return 0, err
		}
	}
	return last, nil
}
