// Package httpapi serves Roster's HTTP API: routes, authentication,
// problem+json errors, pagination, metrics and request logs.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/password"
	"github.com/rosterhq/roster/scim"
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
	roster.SSOService
	roster.ProvisioningService
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
	// Clock tells the time: give it the store's clock (one clock for the
	// program); nil means the wall clock.
	Clock roster.Clock
	// TokenTTL is the life of tokens made by login (default 720h).
	TokenTTL time.Duration
	// Broker feeds activity streams; nil disables the stream route (503).
	Broker *stream.Broker
	// Heartbeat is the interval of ": ping" comments on streams (default 15s).
	Heartbeat time.Duration
	// StreamBuffers bounds the bytes all streams together hold for writes
	// their clients have not taken yet and for replays (default 64 MiB, at
	// least 4 MiB: four replay pages).
	StreamBuffers int64
	// PublicURL, when set, is the origin (and path prefix) of every link the
	// server writes; otherwise links follow the request (see TrustedProxies).
	PublicURL *url.URL
	// TrustedProxies are the peers whose X-Forwarded-For, -Proto and -Host
	// are believed; from any other peer they are ignored.
	TrustedProxies []netip.Prefix
	// LoginFailuresPerMinute limits failed password logins per client
	// address (0: DefaultLoginFailuresPerMinute; negative: no limit).
	LoginFailuresPerMinute int
	// ActivityRate and ActivityBurst limit activity posts per non-admin
	// user (0: DefaultActivityRate and DefaultActivityBurst; negative: no
	// limit).
	ActivityRate  float64
	ActivityBurst int
	// NoMetrics leaves GET /metrics off this handler (it is then
	// served apart, see MetricsHandler).
	NoMetrics bool
	// Webhooks sends test events (POST /webhooks/{id}/test); nil: 503.
	Webhooks WebhookTester
	// OIDC is the relying party of single sign-on; nil: its routes answer 503.
	OIDC OIDC
	// NoPasswordLogin turns password sign-in off (--password-login=false):
	// single sign-on and tokens only.
	NoPasswordLogin bool
	// AllowedRedirectOrigins are the origins ("https://app.example.com")
	// besides this server's own paths that a sign-in may return to.
	AllowedRedirectOrigins []string
}

// Defaults of the abuse limits (see Config).
const (
	DefaultLoginFailuresPerMinute = 50
	DefaultActivityRate           = 20
	DefaultActivityBurst          = 200
)

// MetricsHandler serves the server's metrics in the Prometheus text format,
// for a listener of its own (--metrics-addr).
func (s *Server) MetricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// Server is the HTTP API.
type Server struct {
	store          Store
	hasher         *password.Hasher
	log            *slog.Logger
	registry       *prometheus.Registry
	metrics        *metrics
	clock          roster.Clock
	tokenTTL       time.Duration
	handler        http.Handler
	patterns       []string
	broker         *stream.Broker
	heartbeat      time.Duration
	publicURL      *url.URL
	trustedProxies []netip.Prefix
	noMetrics      bool
	loginLimit     *limiter   // failed password logins per client address
	ssoLimit       *limiter   // single sign-on starts, callbacks and code exchanges per client address
	activityLimit  *limiter   // activity posts per non-admin user
	events         eventCache // the last streamed activity's JSON, shared by all streams
	// scopes holds the token scope of each authenticated route, read from
	// the OpenAPI document: the one place where scopes are declared.
	scopes   map[string]roster.Scope
	streams  streamSet // the open streams, for Shutdown
	buffers  *byteBudget
	webhooks WebhookTester
	oidc     OIDC
	// passwordLogin is false with --password-login=false.
	passwordLogin   bool
	redirectOrigins []string
	// scim serves /scim/v2 (its routes are in routes.go).
	scim *scim.Handler
	// writeTimeout bounds each write to a stream (streamWriteTimeout;
	// tests shorten it).
	writeTimeout time.Duration
}

// now returns the time by the server's clock.
func (s *Server) now() time.Time { return s.clock.Now() }

// NewServer returns the API as an http.Handler.
func NewServer(cfg Config) *Server {
	s := &Server{store: cfg.Store, hasher: cfg.Hasher, log: cfg.Logger, registry: cfg.Registry, clock: cfg.Clock, tokenTTL: cfg.TokenTTL,
		broker: cfg.Broker, heartbeat: cfg.Heartbeat, publicURL: cfg.PublicURL, trustedProxies: cfg.TrustedProxies,
		noMetrics: cfg.NoMetrics, webhooks: cfg.Webhooks, writeTimeout: streamWriteTimeout,
		oidc: cfg.OIDC, passwordLogin: !cfg.NoPasswordLogin}
	for _, o := range cfg.AllowedRedirectOrigins {
		s.redirectOrigins = append(s.redirectOrigins, strings.ToLower(strings.TrimSuffix(o, "/")))
	}
	switch n := cfg.LoginFailuresPerMinute; {
	case n == 0:
		s.loginLimit = newLimiter(DefaultLoginFailuresPerMinute/60.0, DefaultLoginFailuresPerMinute)
	case n > 0:
		s.loginLimit = newLimiter(float64(n)/60, n)
	}
	// Each sign-in step writes (a state, a code, a session): anonymous
	// clients get a burst of ssoBurst, then ssoRate a second, each.
	s.ssoLimit = newLimiter(ssoRate, ssoBurst)
	rate, burst := cfg.ActivityRate, cfg.ActivityBurst
	if rate == 0 {
		rate = DefaultActivityRate
	}
	if burst == 0 {
		burst = DefaultActivityBurst
	}
	s.activityLimit = newLimiter(rate, burst)
	if s.heartbeat <= 0 {
		s.heartbeat = 15 * time.Second
	}
	if cfg.StreamBuffers <= 0 {
		cfg.StreamBuffers = 64 << 20
	}
	cfg.StreamBuffers = max(cfg.StreamBuffers, 4*replayReserve)
	s.buffers = newByteBudget(cfg.StreamBuffers)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if s.clock == nil {
		s.clock = roster.SystemClock{}
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = roster.DefaultTokenTTL
	}
	if s.hasher == nil {
		s.hasher = password.NewHasher(2)
	}
	s.metrics = newMetrics(s.registry)
	s.scopes = routeScopes()
	s.scim = scim.New(s.store, origin)
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.recoverer(s.edge(s.fallback(mux)))
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
