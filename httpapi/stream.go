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

// eventCache holds the JSON of the activity most recently sent. The broker
// hands the same *roster.Activity to every subscriber, and the JSON does
// not depend on the viewer, so a fan-out to N streams encodes it once
// instead of N times (json.Marshal was 15% of the server's CPU in a
// fan-out to 10,000 streams, pprof of cmd/roster-bench).
type eventCache struct {
	last atomic.Pointer[encodedEvent]
}

type encodedEvent struct {
	a    *roster.Activity
	data []byte
}

func (e *sseWriter) activity(a *roster.Activity) error {
	var data []byte
	if ev := e.enc.last.Load(); ev != nil && ev.a == a {
		data = ev.data
	} else {
		var err error
		if data, err = json.Marshal(activityOut(a)); err != nil {
			return err
		}
		e.enc.last.Store(&encodedEvent{a: a, data: data})
	}
	e.buf.WriteString("id: " + strconv.FormatInt(a.ID, 10) + "\nevent: activity\ndata: ")
	e.buf.Write(data)
	e.buf.WriteString("\n\n")
	return nil
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
	switch err := s.broker.Subscribe(sub); {
	case errors.Is(err, stream.ErrTooMany):
		return &roster.Error{Code: roster.ETHROTTLED, Message: "Too many open streams for this user.", RetryAfter: 5 * time.Second}
	case err != nil:
		return roster.Errorf(roster.EUNAVAILABLE, "The server is shutting down.")
	}
	defer s.broker.Unsubscribe(sub)
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

	ping := time.NewTicker(s.heartbeat)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-sub.Done():
			out.buf.WriteString("event: error\ndata: ")
			reason, _ := json.Marshal(map[string]string{"reason": sub.Err().Error()})
			out.buf.Write(reason)
			out.buf.WriteString("\n\n")
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
