package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/stream"
)

// streamWriteTimeout bounds each write to a stream; a client that cannot
// take a write in this time is cut off.
const streamWriteTimeout = 10 * time.Second

// replayPage is how many activities one replay query reads.
const replayPage = 500

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

// sseWriter writes Server-Sent Events with a deadline per write.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf bytes.Buffer
	enc *eventCache
}

func (e *sseWriter) flush() error {
	if err := e.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		return err
	}
	e.buf.Reset()
	if e.buf.Cap() > 4<<10 {
		e.buf = bytes.Buffer{} // an idle stream keeps no replay-sized buffer
	}
	return e.rc.Flush()
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
	data, err := json.Marshal(activityOut(a))
	if err != nil {
		return nil, err
	}
	id := strconv.FormatInt(a.ID, 10)
	f := make([]byte, 0, len("id: \nevent: activity\ndata: \n\n")+len(id)+len(data))
	f = append(f, "id: "...)
	f = append(f, id...)
	f = append(f, "\nevent: activity\ndata: "...)
	f = append(f, data...)
	f = append(f, "\n\n"...)
	c.last.Store(&encodedEvent{a: a, frame: f})
	return f, nil
}

func (e *sseWriter) activity(a *roster.Activity) error {
	f, err := e.enc.frame(a)
	if err != nil {
		return err
	}
	e.buf.Write(f)
	return nil
}

// errorFrame is the event that tells a client why the server ends its stream.
func errorFrame(reason error) []byte {
	data, _ := json.Marshal(map[string]string{"reason": reason.Error()})
	f := append([]byte("event: error\ndata: "), data...)
	return append(f, "\n\n"...)
}

// handleUserStream streams the activities of user {id} that the viewer may
// see. With a resume point it first replays, oldest first, the visible
// activities between that id and the broker cursor at subscription, then
// forwards live ones above the cursor: no gap, no duplicate.
func (s *Server) handleUserStream(w http.ResponseWriter, r *http.Request) error {
	if s.broker == nil {
		return roster.Errorf(roster.EUNAVAILABLE, "Streaming is not available.")
	}
	actor, err := s.pathUser(r)
	if err != nil {
		return err
	}
	f, err := parseActivityFilter(r)
	if err != nil {
		return err
	}
	if f.Since != nil || f.Until != nil || f.Before != 0 {
		return roster.Errorf(roster.EINVALID, "A stream takes only the verb and workspace filters.")
	}
	after, resume, err := lastEventID(r)
	if err != nil {
		return err
	}
	me := viewer(r)
	sub := &stream.Subscription{ViewerID: me.ID, ViewerAdmin: me.IsAdmin, TokenID: session(r).TokenID, ActorID: actor,
		Verb: f.Verb, WorkspaceID: f.WorkspaceID}
	// An HTTP/1 connection is taken over once the replay is done, so that an
	// idle stream costs no parked handler goroutine and no net/http
	// buffers (see liveStream); others (HTTP/2, writers without Hijack)
	// stay in the loop at the end of this handler.
	var live *liveStream
	if r.ProtoMajor == 1 && canHijack(w) {
		live = newLiveStream(s, sub)
		sub.Wake = live.kick
	}
	switch err := s.broker.Subscribe(sub); {
	case errors.Is(err, stream.ErrTooMany):
		return &roster.Error{Code: roster.ETHROTTLED, Message: "Too many open streams for this user.", RetryAfter: 5 * time.Second}
	case err != nil:
		return roster.Errorf(roster.EUNAVAILABLE, "The server is shutting down.")
	}
	handedOff := false
	defer func() {
		if !handedOff {
			s.broker.Unsubscribe(sub)
		}
	}()
	// A live-only stream skips what was committed before its headers go
	// out, even if the broker has not dispatched it yet (sub.Start lags).
	var floor int64
	if !resume {
		if floor, err = s.store.LastActivityID(r.Context()); err != nil {
			return err
		}
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	if live != nil {
		// No chunked framing: the body ends when the connection closes
		// (net/http then adds "Connection: close"), so that raw event
		// bytes can follow on the taken-over connection.
		h.Set("Transfer-Encoding", "identity")
	}
	w.WriteHeader(http.StatusOK)
	out := &sseWriter{w: w, rc: http.NewResponseController(w), enc: &s.events}
	out.buf.WriteString("retry: 3000\n\n")
	if err := out.flush(); err != nil {
		return nil
	}

	last := max(after, floor)
	if resume {
		f.ActorID, f.Ascending, f.UpTo = &actor, true, sub.Start
		for last < sub.Start {
			f.After, f.Page = last, roster.Page{Limit: replayPage}
			list, err := s.store.FindActivities(r.Context(), f)
			if err != nil {
				s.log.Warn("stream replay failed", "error", err.Error())
				return nil
			}
			for _, a := range list {
				if err := out.activity(a); err != nil {
					return nil
				}
				last = a.ID
			}
			if err := out.flush(); err != nil {
				return nil
			}
			if len(list) < replayPage {
				break
			}
		}
	}

	if live != nil {
		// Everything written so far has been flushed to the connection.
		if conn, _, err := out.rc.Hijack(); err == nil {
			// The bufio.ReadWriter is dropped: nothing is buffered for
			// writing, and a client of an event stream sends nothing
			// more that the stream would read.
			handedOff = true
			live.start(conn, last)
			return nil
		}
	}

	ping := time.NewTicker(s.heartbeat)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-sub.Done():
			out.buf.Write(errorFrame(sub.Err()))
			_ = out.flush()
			return nil
		case a := <-sub.C():
			if a.ID <= last {
				continue
			}
			if err := out.activity(a); err != nil {
				return nil
			}
			last = a.ID
			// Send whatever else is already queued in the same write.
			for drained := false; !drained; {
				select {
				case a := <-sub.C():
					if a.ID > last {
						if err := out.activity(a); err != nil {
							return nil
						}
						last = a.ID
					}
				default:
					drained = true
				}
			}
			if err := out.flush(); err != nil {
				return nil
			}
		case <-ping.C:
			out.buf.WriteString(": ping\n\n")
			if err := out.flush(); err != nil {
				return nil
			}
		}
	}
}
