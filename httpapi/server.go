// Package httpapi serves Roster's HTTP API: routes, authentication,
// problem+json errors, pagination, metrics and request logs.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/password"
	"github.com/rosterhq/roster/stream"
)

// Store is what the API needs from a database.
type Store interface {
	roster.UserService
	roster.AuthService
	roster.WorkspaceService
	roster.GroupService
	roster.ActivityService
	roster.UserChangeService
	roster.WebhookService
	Ping(ctx context.Context) error
	// UserExists returns ENOTFOUND for a user that does not exist.
	UserExists(ctx context.Context, id int64) error
}

// Config holds the dependencies of a Server; every one is explicit.
type Config struct {
	Store  Store
	Hasher *password.Hasher
	Logger *slog.Logger
	// Registry receives the server's metrics; nil makes a new one.
	Registry *prometheus.Registry
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// TokenTTL is the life of tokens made by login (default 720h).
	TokenTTL time.Duration
	// Broker feeds activity streams; nil disables the stream route (503).
	Broker *stream.Broker
	// Heartbeat is the interval of ": ping" comments on streams (default 15s).
	Heartbeat time.Duration
	// Webhooks sends test events (POST /webhooks/{id}/test); nil: 503.
	Webhooks WebhookTester
}

// Server is the HTTP API.
type Server struct {
	store     Store
	hasher    *password.Hasher
	log       *slog.Logger
	registry  *prometheus.Registry
	metrics   *metrics
	now       func() time.Time
	tokenTTL  time.Duration
	handler   http.Handler
	patterns  []string
	broker    *stream.Broker
	heartbeat time.Duration
	events    eventCache // the last streamed activity's JSON, shared by all streams
	// scopes holds the token scope of each authenticated route, read from
	// the OpenAPI document: the one place where scopes are declared.
	scopes   map[string]roster.Scope
	webhooks WebhookTester
}

// NewServer returns the API as an http.Handler.
func NewServer(cfg Config) *Server {
	s := &Server{store: cfg.Store, hasher: cfg.Hasher, log: cfg.Logger, registry: cfg.Registry, now: cfg.Now, tokenTTL: cfg.TokenTTL,
		broker: cfg.Broker, heartbeat: cfg.Heartbeat, webhooks: cfg.Webhooks}
	if s.heartbeat <= 0 {
		s.heartbeat = 15 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if s.now == nil {
		s.now = func() time.Time { return time.Now().UTC() }
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = roster.DefaultTokenTTL
	}
	if s.hasher == nil {
		s.hasher = password.NewHasher(2)
	}
	s.metrics = newMetrics(s.registry)
	s.scopes = routeScopes()
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.recoverer(s.fallback(mux))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// NewHTTPServer wraps h in an http.Server with timeouts that bound slow
// clients. WriteTimeout does not limit streams: they extend their own
// deadline before every write.
func NewHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
