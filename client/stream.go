package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of StreamOptions.
const (
	DefaultStreamRetry    = 3 * time.Second  // until the server sends retry:
	DefaultMaxRetryDelay  = 30 * time.Second // cap of every reconnection wait
	DefaultStreamIdleTime = 45 * time.Second // three missed 15 s pings
)

// StreamOptions selects what a Stream yields and how it reconnects.
type StreamOptions struct {
	// Verb (exact, or a prefix ending in ".*") and Workspace narrow the
	// stream as on the feed; zero values do not filter.
	Verb      string
	Workspace int64
	// LastEventID resumes after that activity id: the server first replays,
	// oldest first, every matching activity above it. Zero starts at the
	// newest matching activity, unless FromStart replays all of them.
	LastEventID int64
	FromStart   bool
	// MaxRetryDelay caps the wait before each reconnection, whatever the
	// server's retry: hint or Retry-After says (default 30s).
	MaxRetryDelay time.Duration
	// IdleTimeout is how long a connection may stay silent (the server pings
	// every 15 s) before it is taken for dead and replaced (default 45s).
	IdleTimeout time.Duration
	// OnReconnect, when set, is called before each reconnection wait with
	// why the previous connection ended (a *StreamError for the server's
	// event: error) and how long the wait is.
	OnReconnect func(cause error, wait time.Duration)
}

// StreamError is an "event: error" the server sent before ending a stream
// (a consumer too slow to keep up, a revoked token, a shutdown).
type StreamError struct {
	Reason string
}

func (e *StreamError) Error() string { return "roster: stream ended by the server: " + e.Reason }

// Stream yields a user's activities as they are published. When a
// connection drops it reconnects by itself with Last-Event-ID, so that
// every activity is yielded once, in id order. It stops on 4xx answers
// (401, 403, 404, ...) other than 408 and 429, on a malformed event, and
// when its context ends or Close is called.
//
// Next, Activity and Err are for one goroutine; Close, LastEventID and
// Reconnects may be called from any.
type Stream struct {
	c    *Client
	path string
	opts StreamOptions

	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool

	body       io.ReadCloser
	rd         *bufio.Reader
	idle       *time.Timer
	connCancel context.CancelFunc

	last       atomic.Int64
	reconnects atomic.Int64
	retry      time.Duration
	cause      error
	cur        Activity
	err        error
}

// Stream opens the activity stream of user userID
// (GET /api/v3/users/{id}/stream). It returns once the first connection is
// established, so every activity published after it returns is yielded; an
// error answer to that first connection is returned as is. Close the
// stream when done.
//
// Without opts.LastEventID or opts.FromStart, Stream first reads the id of
// the newest matching activity from the feed and resumes after it, so that
// a drop before the first event loses nothing either.
func (c *Client) Stream(ctx context.Context, userID int64, opts StreamOptions) (*Stream, error) {
	if opts.MaxRetryDelay <= 0 {
		opts.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultStreamIdleTime
	}
	s := &Stream{c: c, path: userPath(userID, "/stream"), opts: opts, retry: DefaultStreamRetry}
	s.last.Store(opts.LastEventID)
	if opts.LastEventID == 0 && !opts.FromStart {
		newest, err := c.ListUserActivities(ctx, userID, ActivityFilter{Verb: opts.Verb, Workspace: opts.Workspace, PageSize: 1})
		if err != nil {
			return nil, err
		}
		if len(newest.Results) > 0 {
			s.last.Store(newest.Results[0].ID)
		}
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	if err := s.connect(); err != nil {
		s.cancel()
		return nil, err
	}
	return s, nil
}

// connect opens one connection that resumes after s.last.
func (s *Stream) connect() error {
	q := url.Values{}
	if s.opts.Verb != "" {
		q.Set("verb", s.opts.Verb)
	}
	if s.opts.Workspace != 0 {
		q.Set("workspace", strconv.FormatInt(s.opts.Workspace, 10))
	}
	ctx, cancel := context.WithCancel(s.ctx)
	req, err := s.c.newRequest(ctx, request{method: http.MethodGet, path: s.path, query: q, accept: "text/event-stream",
		header: http.Header{"Last-Event-ID": {strconv.FormatInt(s.last.Load(), 10)}, "Cache-Control": {"no-cache"}}})
	if err != nil {
		cancel()
		return err
	}
	res, err := s.c.http.Do(req)
	if err != nil {
		cancel()
		return fmt.Errorf("roster client: stream: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		e := readError(res)
		res.Body.Close()
		cancel()
		return e
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "text/event-stream" {
		res.Body.Close()
		cancel()
		return &protocolError{fmt.Sprintf("stream answered with Content-Type %q", res.Header.Get("Content-Type"))}
	}
	s.body, s.rd, s.connCancel = res.Body, bufio.NewReader(res.Body), cancel
	s.idle = time.AfterFunc(s.opts.IdleTimeout, cancel)
	return nil
}

// drop ends the current connection.
func (s *Stream) drop() {
	if s.body == nil {
		return
	}
	s.idle.Stop()
	s.connCancel()
	s.body.Close()
	s.body, s.rd = nil, nil
}

// protocolError is a stream that does not speak Server-Sent Events as
// expected; reconnecting would not help.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "roster client: " + e.msg }

// permanent reports whether reconnecting after err is pointless.
func permanent(err error) bool {
	var pe *protocolError
	if errors.As(err, &pe) {
		return true
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
	}
	return false
}

// Next waits for the next activity and reports whether there is one; when
// it returns false, Err says why.
func (s *Stream) Next() bool {
	for {
		if s.err != nil || s.closed.Load() {
			return false
		}
		if s.body == nil && !s.reconnect() {
			return false
		}
		a, err := s.readActivity()
		if err == nil {
			s.cur = a
			return true
		}
		s.drop()
		var pe *protocolError
		if errors.As(err, &pe) {
			s.err = err
			return false
		}
		s.cause = err
	}
}

// Activity is the activity Next found.
func (s *Stream) Activity() Activity { return s.cur }

// Err is why Next returned false: nil after Close, the context's error
// when it ended, or the error that stopped reconnection.
func (s *Stream) Err() error {
	if s.closed.Load() && (s.err == nil || errors.Is(s.err, context.Canceled)) {
		return nil
	}
	return s.err
}

// Close ends the stream; a Next blocked in another goroutine returns false.
func (s *Stream) Close() error {
	s.closed.Store(true)
	s.cancel()
	return nil
}

// LastEventID is the id of the last activity yielded (or the resume point).
func (s *Stream) LastEventID() int64 { return s.last.Load() }

// Reconnects counts the connections opened after the first.
func (s *Stream) Reconnects() int { return int(s.reconnects.Load()) }

// All yields activities as Next does, then Err when it is not nil.
func (s *Stream) All() iter.Seq2[Activity, error] {
	return func(yield func(Activity, error) bool) {
		for s.Next() {
			if !yield(s.Activity(), nil) {
				return
			}
		}
		if err := s.Err(); err != nil {
			yield(Activity{}, err)
		}
	}
}

// reconnect waits and connects again until it succeeds, the stream ends,
// or the server answers with an error that reconnecting cannot fix.
func (s *Stream) reconnect() bool {
	for attempt := 0; ; attempt++ {
		if err := s.ctx.Err(); err != nil {
			s.err = err
			return false
		}
		wait := s.delay(attempt)
		if s.opts.OnReconnect != nil {
			s.opts.OnReconnect(s.cause, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			s.err = s.ctx.Err()
			return false
		case <-t.C:
		}
		err := s.connect()
		if err == nil {
			s.reconnects.Add(1)
			return true
		}
		if s.ctx.Err() != nil {
			s.err = s.ctx.Err()
			return false
		}
		if permanent(err) {
			s.err = err
			return false
		}
		s.cause = err
	}
}

// delay is the wait before reconnection attempt n (0 first): the server's
// retry hint, doubled per failed attempt, at least a Retry-After, capped,
// with up to 20% taken off at random so that clients do not come back at once.
func (s *Stream) delay(n int) time.Duration {
	d := s.retry
	if n > 0 {
		d = max(d, 100*time.Millisecond) // retry: 0 must not spin on failures
	}
	for range min(n, 16) {
		d *= 2
	}
	var e *Error
	if errors.As(s.cause, &e) && e.RetryAfter > d {
		d = e.RetryAfter
	}
	d = min(d, s.opts.MaxRetryDelay)
	if d > 0 {
		d -= rand.N(d/5 + 1)
	}
	return d
}

// readActivity reads events until an activity above s.last arrives. Any
// error means the connection is done.
func (s *Stream) readActivity() (Activity, error) {
	var event string
	var data strings.Builder
	hasData := false
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Activity{}, err
		}
		s.idle.Reset(s.opts.IdleTimeout)
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" { // dispatch
			ev, payload, had := event, data.String(), hasData
			event, hasData = "", false
			data.Reset()
			if !had {
				continue
			}
			switch ev {
			case "", "activity":
				var a Activity
				if err := json.Unmarshal([]byte(payload), &a); err != nil || a.ID <= 0 {
					return Activity{}, &protocolError{fmt.Sprintf("stream sent a malformed activity: %.200s", payload)}
				}
				if a.ID <= s.last.Load() {
					continue // already yielded
				}
				s.last.Store(a.ID)
				return a, nil
			case "error":
				var body struct {
					Reason string `json:"reason"`
				}
				if json.Unmarshal([]byte(payload), &body) != nil || body.Reason == "" {
					body.Reason = payload
				}
				return Activity{}, &StreamError{Reason: body.Reason} // the server closes next
			}
			continue
		}
		if line[0] == ':' { // comment, such as ": ping"
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		case "retry":
			if ms, err := strconv.ParseInt(value, 10, 64); err == nil && ms >= 0 {
				s.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}
