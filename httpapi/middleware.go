package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/scim"
)

// handlerFunc is a handler that returns its error to the one error writer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h handlerFunc) http.Handler { return handleWith(s.writeError, h) }

// handleWith is handle with another error writer (writeSCIMError).
func handleWith(writeError func(http.ResponseWriter, *http.Request, error), h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, err)
		}
	})
}

type ctxKey int

const sessionKey ctxKey = iota

// session returns the authenticated session of the request.
func session(r *http.Request) *roster.Session {
	sess, _ := r.Context().Value(sessionKey).(*roster.Session)
	return sess
}

// viewer returns the authenticated user of the request.
func viewer(r *http.Request) *roster.User { return session(r).User }

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

var errNoToken = &roster.Error{Code: roster.EUNAUTHORIZED, Message: "Authentication credentials were not provided."}

// authed runs h only for a request with a valid bearer token of an active
// user that holds the scope of the route (see checkScope).
func (s *Server) authed(h handlerFunc) http.Handler {
	return s.authedWith(bearerToken, h)
}

func (s *Server) authedWith(token func(*http.Request) string, h handlerFunc) http.Handler {
	return s.authedBy(token, s.writeError, h)
}

// scimAuthed is authed for a /scim/v2 route: errors, those of
// authentication included, are SCIM error bodies.
func (s *Server) scimAuthed(h scim.HandlerFunc) http.Handler {
	return s.authedBy(bearerToken, s.writeSCIMError, func(w http.ResponseWriter, r *http.Request) error {
		return h(w, r, viewer(r))
	})
}

func (s *Server) authedBy(token func(*http.Request) string, writeError func(http.ResponseWriter, *http.Request, error), h handlerFunc) http.Handler {
	return handleWith(writeError, func(w http.ResponseWriter, r *http.Request) error {
		tok := token(r)
		if tok == "" {
			return errNoToken
		}
		sess, err := s.store.FindSession(r.Context(), roster.HashToken(tok))
		if err != nil {
			return err
		}
		if rec, ok := w.(*statusRecorder); ok {
			rec.userID = sess.User.ID
		}
		// Authenticated answers are not for caches; a handler may say
		// otherwise (the stream's no-cache, a profile's private, no-cache).
		w.Header().Set("Cache-Control", "no-store")
		if err := s.checkScope(r, sess); err != nil {
			return err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), sessionKey, sess)))
	})
}

// statusRecorder remembers what a handler wrote, for logs and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	userID int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	lockouts prometheus.Counter
}

// Results of password logins (roster_logins_total{result}).
const (
	loginSuccess   = "success"
	loginFailure   = "failure"   // wrong credentials, unknown or inactive user: 401
	loginLocked    = "locked"    // the login name or account is locked: 429
	loginThrottled = "throttled" // the client address is over its limit: 429
)

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "roster_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_logins_total", Help: "Password logins by result: success, failure (401), locked (429, name or account), throttled (429, client address).",
		}, []string{"result"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roster_login_lockouts_total", Help: "Failed logins that locked (or relocked) a login name or account.",
		}),
	}
	for _, r := range []string{loginSuccess, loginFailure, loginLocked, loginThrottled} {
		m.logins.WithLabelValues(r) // every result shows from the start, at 0
	}
	reg.MustRegister(m.requests, m.duration, m.logins, m.lockouts)
	return m
}

// instrument counts, times and logs each request under its route pattern.
// The log line has the path without its query, so access_token values and
// search terms never reach the log; passwords and tokens never do either.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	// The route's series are looked up once, not per request.
	duration := s.metrics.duration.WithLabelValues(route)
	ok := s.metrics.requests.WithLabelValues(route, "200")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		d := time.Since(start)
		if rec.status == http.StatusOK {
			ok.Inc()
		} else {
			s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		}
		duration.Observe(d.Seconds())
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
			slog.Float64("ms", float64(d.Microseconds())/1000), slog.Int64("user", rec.userID),
			slog.String("remote", r.RemoteAddr), slog.String("client", clientIP(r)), slog.String("request_id", requestID(r)))
	})
}

// fallback turns the mux's own 404 and 405 answers into problem+json,
// keeping the Allow header of a 405.
func (s *Server) fallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &headerProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		route := "unmatched"
		s.instrument(route, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Under /scim/v2 errors are SCIM error bodies, as the routes' own.
			problem := func(status int, msg string) { writeProblem(w, status, msg, nil) }
			if strings.HasPrefix(r.URL.Path, "/scim/") {
				problem = func(status int, msg string) {
					scim.WriteError(w, status, &roster.Error{Code: roster.ENOTFOUND, Message: msg})
				}
			}
			switch probe.status {
			case http.StatusMethodNotAllowed:
				w.Header().Set("Allow", probe.header.Get("Allow"))
				problem(probe.status, "Method \""+r.Method+"\" not allowed.")
			case http.StatusNotFound, 0:
				problem(http.StatusNotFound, "Not found.")
			default: // redirects that clean the path
				for k, v := range probe.header {
					w.Header()[k] = v
				}
				w.WriteHeader(probe.status)
			}
		})).ServeHTTP(w, r)
	})
}

// headerProbe captures the status and headers a handler writes, discarding the body.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header { return p.header }
func (p *headerProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *headerProbe) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}

// recoverer turns a panic into a logged 500 instead of a dropped connection.
func (s *Server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", slog.Any("value", v), slog.String("stack", string(debug.Stack())))
				writeProblem(w, http.StatusInternalServerError, "Internal error.", nil)
			}
		}()
		h.ServeHTTP(w, r)
	})
}
