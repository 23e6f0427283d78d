package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/app"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/password"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/stream"
	"github.com/rosterhq/roster/webhook"
)

// shutdownGrace bounds how long in-flight requests may take after SIGTERM.
const shutdownGrace = 10 * time.Second

// serveConfig is the configuration of `serve`, from flags and environment.
type serveConfig struct {
	addr, dbURL, pprofAddr string
	metricsAddr            string
	tlsCert, tlsKey        string
	natsURL                string
	allowPrivate           bool
	webhookWorkers         int
	log                    *slog.Logger
	hashers, pool          int
	dbTimeout, sessionTTL  time.Duration
	maxStreams             int
	// api holds the API's settings from flags (token life, links, proxies,
	// limits); newApp adds the dependencies.
	api httpapi.Config
}

// parseServe reads the flags and environment of `serve`.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	fs, dbURL := newFlags("serve", "Run the HTTP server: the API, the admin console at /admin/ and the API docs at /api/v3/docs. "+
		"It migrates the database on start and, on a database without users, creates the admin \"admin\".", getenv)
	addr := fs.str("addr", "ROSTER_ADDR", ":8080", "listen address")
	logFormat := fs.str("log-format", "ROSTER_LOG_FORMAT", "json", "log format: json or text")
	logLevel := fs.str("log-level", "ROSTER_LOG_LEVEL", "info", "least severe log level written: debug, info, warn or error")
	hashers := fs.integer("hash-concurrency", "ROSTER_HASH_CONCURRENCY", runtime.NumCPU(), "password hashes computed at once (19 MiB each)")
	fs.defText["hash-concurrency"] = "the number of CPUs"
	pool := fs.integer("db-pool", "ROSTER_DB_POOL", 10, "PostgreSQL connections per instance")
	dbTimeout := fs.duration("db-timeout", "ROSTER_DB_TIMEOUT", 10*time.Second, "longest wait for one query or transaction before a 503")
	ttl := fs.duration("token-ttl", "ROSTER_TOKEN_TTL", roster.DefaultTokenTTL, "life of tokens made by login")
	maxStreams := fs.integer("max-streams-per-user", "ROSTER_MAX_STREAMS_PER_USER", 20, "open activity streams allowed per user")
	sessionTTL := fs.duration("session-cache-ttl", "ROSTER_SESSION_CACHE_TTL", sqlstore.DefaultSessionCacheTTL, "how long a checked token is trusted without reading the database again; revocations through this instance apply at once, through other instances within this (0 turns the cache off)")
	allowPrivate := fs.boolean("webhook-allow-private", "ROSTER_WEBHOOK_ALLOW_PRIVATE", false, "let webhooks reach loopback, private and link-local addresses (tests, on-premises receivers)")
	natsURL := fs.str("nats-url", "ROSTER_NATS_URL", "", "publish every activity to NATS JetStream at this URL (stream ROSTER_ACTIVITIES); off when empty")
	webhookWorkers := fs.integer("webhook-workers", "ROSTER_WEBHOOK_WORKERS", 16, "webhook deliveries in flight per instance (at most 4 per webhook)")
	pprofAddr := fs.str("pprof-addr", "ROSTER_PPROF_ADDR", "", "serve net/http/pprof on this separate address (off when empty; keep it on localhost)")
	metricsAddr := fs.str("metrics-addr", "ROSTER_METRICS_ADDR", "", "serve GET /metrics on this separate address instead of --addr (empty: on --addr)")
	publicURL := fs.str("public-url", "ROSTER_PUBLIC_URL", "", "the URL clients reach the server at (https://roster.example.com); links use it instead of the request's Host")
	trustedProxies := fs.str("trusted-proxies", "ROSTER_TRUSTED_PROXIES", "", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For/-Proto/-Host and X-Request-Id are believed (empty: none)")
	tlsCert := fs.str("tls-cert", "ROSTER_TLS_CERT", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key")
	tlsKey := fs.str("tls-key", "ROSTER_TLS_KEY", "", "the PEM private key of --tls-cert")
	loginRate := fs.integer("login-failures-per-minute", "ROSTER_LOGIN_FAILURES_PER_MINUTE", httpapi.DefaultLoginFailuresPerMinute, "failed password logins allowed per client address per minute (0: no limit)")
	activityRate := fs.float("activity-rate", "ROSTER_ACTIVITY_RATE", httpapi.DefaultActivityRate, "activity posts per second allowed per non-admin user (0: no limit)")
	passwordLogin := fs.boolean("password-login", "ROSTER_PASSWORD_LOGIN", true, "allow password sign-in; false leaves single sign-on and tokens (roster token create still works)")
	redirectOrigins := fs.str("allowed-redirect-origins", "ROSTER_ALLOWED_REDIRECT_ORIGINS", "", "comma-separated origins (https://app.example.com) besides this server's own paths that a single sign-on may return to")
	activityBurst := fs.integer("activity-burst", "ROSTER_ACTIVITY_BURST", httpapi.DefaultActivityBurst, "activity posts a non-admin user may make at once before --activity-rate applies")
	if err := parseFlags(fs, args); err != nil {
		return serveConfig{}, err
	}
	var pub *url.URL
	if *publicURL != "" {
		var err error
		if pub, err = httpapi.ParsePublicURL(*publicURL); err != nil {
			return serveConfig{}, usagef("--public-url (ROSTER_PUBLIC_URL): %v", err)
		}
	}
	proxies, err := httpapi.ParseTrustedProxies(*trustedProxies)
	if err != nil {
		return serveConfig{}, usagef("--trusted-proxies (ROSTER_TRUSTED_PROXIES): %v", err)
	}
	if *loginRate < 0 {
		return serveConfig{}, usagef("--login-failures-per-minute (ROSTER_LOGIN_FAILURES_PER_MINUTE) must be 0 or a positive integer")
	}
	if *activityRate < 0 || *activityBurst < 1 {
		return serveConfig{}, usagef("--activity-rate (ROSTER_ACTIVITY_RATE) must not be negative and --activity-burst (ROSTER_ACTIVITY_BURST) must be a positive integer")
	}
	if *loginRate == 0 {
		*loginRate = -1 // Config: negative is off
	}
	if *activityRate == 0 {
		*activityRate = -1
	}
	if *hashers < 1 {
		return serveConfig{}, usagef("--hash-concurrency (ROSTER_HASH_CONCURRENCY) must be a positive integer")
	}
	if *pool < 1 {
		return serveConfig{}, usagef("--db-pool (ROSTER_DB_POOL) must be a positive integer")
	}
	if *sessionTTL < 0 {
		return serveConfig{}, usagef("--session-cache-ttl (ROSTER_SESSION_CACHE_TTL) must not be negative")
	}
	if *dbTimeout <= 0 {
		return serveConfig{}, usagef("--db-timeout (ROSTER_DB_TIMEOUT) must be positive")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return serveConfig{}, usagef("--log-level (ROSTER_LOG_LEVEL) must be debug, info, warn or error")
	}
	origins, err := parseOrigins(*redirectOrigins)
	if err != nil {
		return serveConfig{}, usagef("--allowed-redirect-origins (ROSTER_ALLOWED_REDIRECT_ORIGINS): %v", err)
	}
	var handler slog.Handler
	opts := &slog.HandlerOptions{Level: level}
	switch *logFormat {
	case "json":
		handler = slog.NewJSONHandler(stderr, opts)
	case "text":
		handler = slog.NewTextHandler(stderr, opts)
	default:
		return serveConfig{}, usagef("--log-format (ROSTER_LOG_FORMAT) must be json or text")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return serveConfig{}, usagef("--tls-cert (ROSTER_TLS_CERT) and --tls-key (ROSTER_TLS_KEY) go together")
	}
	if *tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey); err != nil {
			return serveConfig{}, usagef("--tls-cert/--tls-key: %v", err)
		}
	}
	if *webhookWorkers < 1 {
		return serveConfig{}, usagef("--webhook-workers (ROSTER_WEBHOOK_WORKERS) must be a positive integer")
	}
	return serveConfig{addr: *addr, dbURL: *dbURL, tlsCert: *tlsCert, tlsKey: *tlsKey, pprofAddr: *pprofAddr, metricsAddr: *metricsAddr, log: slog.New(handler),
		natsURL: *natsURL, allowPrivate: *allowPrivate, webhookWorkers: *webhookWorkers,
		hashers: *hashers, pool: *pool, dbTimeout: *dbTimeout, sessionTTL: *sessionTTL, maxStreams: *maxStreams,
		api: httpapi.Config{TokenTTL: *ttl, PublicURL: pub, TrustedProxies: proxies, LoginFailuresPerMinute: *loginRate,
			ActivityRate: *activityRate, ActivityBurst: *activityBurst, NoMetrics: *metricsAddr != "",
			NoPasswordLogin: !*passwordLogin, AllowedRedirectOrigins: origins}}, nil
}

// parseOrigins reads a comma-separated list of origins: scheme and host
// (with an optional port), no path.
func parseOrigins(s string) ([]string, error) {
	var out []string
	for o := range strings.SplitSeq(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.TrimSuffix(u.Path, "/") != "" ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("%q is not an origin such as https://app.example.com", o)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

// newApp wires the instance of c on db: the broker, the PostgreSQL
// listener when db is PostgreSQL, the webhook deliverer, the NATS exporter
// when --nats-url is set, pruning, and the API.
func newApp(ctx context.Context, c serveConfig, db *sqlstore.DB, hasher *password.Hasher) (*app.App, error) {
	api := c.api
	api.Hasher, api.Logger = hasher, c.log
	cfg := app.Config{Store: db, Stream: stream.Options{MaxPerUser: c.maxStreams, Logger: c.log}, API: api,
		Webhooks: &webhook.Options{AllowPrivate: c.allowPrivate, Workers: c.webhookWorkers}, NATSURL: c.natsURL, Prune: true}
	if kind, target, _ := parseDB(c.dbURL); kind == kindPostgres {
		cfg.ListenURL = target
	}
	return app.New(ctx, cfg)
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := c.log
	db, err := openStore(ctx, c.dbURL, c.pool)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetOpTimeout(c.dbTimeout)
	db.SetSessionCacheTTL(c.sessionTTL)
	db.SetClock(roster.SystemClock{}) // the one clock of the store and the server
	// Listen before creating the first admin, so that a bad --addr does not
	// spend the one printing of its password on a run that exits at once.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return usagef("listen on %s: %v", c.addr, err)
	}
	defer ln.Close()
	hasher := password.NewHasher(c.hashers)
	if err := bootstrapAdmin(ctx, db, hasher, getenv, stdout, log); err != nil {
		return err
	}
	a, err := newApp(ctx, c, db, hasher)
	if err != nil {
		return err
	}
	defer a.Close()
	srv := httpapi.NewHTTPServer(c.addr, a.API, log)
	base := c.baseURL(ln.Addr())
	log.Info("roster listening", "addr", ln.Addr().String(), "db", redactURL(c.dbURL),
		"console", base+"/admin/", "docs", base+"/api/v3/docs", "tls", c.tlsCert != "")
	if n, err := db.CountActiveAdmins(ctx); err != nil {
		return err
	} else if n == 0 {
		log.Warn("no active admin: nobody can manage users through the API or the console; " +
			"make one with \"roster user create --admin\" or reactivate one")
	}

	errc := make(chan error, 3)
	if c.pprofAddr != "" {
		pln, err := net.Listen("tcp", c.pprofAddr)
		if err != nil {
			return usagef("listen on --pprof-addr %s: %v", c.pprofAddr, err)
		}
		psrv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := psrv.Serve(pln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("pprof: %w", err)
			}
		}()
		defer psrv.Close()
		log.Info("pprof listening", "addr", pln.Addr().String())
	}

	if c.metricsAddr != "" {
		mln, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			return usagef("listen on --metrics-addr %s: %v", c.metricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.API.MetricsHandler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := msrv.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
		defer msrv.Close()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}

	go func() {
		if c.tlsCert != "" {
			errc <- srv.ServeTLS(ln, c.tlsCert, c.tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	a.CloseStreams() // so Shutdown only waits for ordinary requests
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := a.API.Shutdown(sctx); err != nil { // streams on taken-over connections, which srv.Shutdown does not see
		log.Warn("streams did not end in time; closed", "error", err.Error())
	}
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		log.Warn("shutdown deadline passed; connections closed", "error", err.Error())
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// baseURL is where the server says it can be reached: --public-url, else
// the listening address (localhost for an unspecified host).
func (c serveConfig) baseURL(addr net.Addr) string {
	if c.api.PublicURL != nil {
		return c.api.PublicURL.String()
	}
	scheme := "http"
	if c.tlsCert != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// pprofMux serves the runtime profiles of net/http/pprof. It is its own
// mux on its own listener, so the profiles never share the API's address.
// The command line is never served: it may hold a database password.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", http.NotFound)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// bootstrapAdmin creates the admin "admin" on first start (no users yet)
// with ROSTER_ADMIN_PASSWORD or a random password, printed once. Once
// users exist, ROSTER_ADMIN_PASSWORD is ignored, with a warning.
func bootstrapAdmin(ctx context.Context, db *sqlstore.DB, hasher *password.Hasher, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	n, err := db.CountUsers(ctx)
	if err != nil {
		return err
	} else if n > 0 {
		if getenv("ROSTER_ADMIN_PASSWORD") != "" {
			log.Warn("ROSTER_ADMIN_PASSWORD is ignored: the database already has users " +
				"(set a password with \"roster user set-password\")")
		}
		return nil
	}
	pw := getenv("ROSTER_ADMIN_PASSWORD")
	if pw == "" {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		pw = base64.RawURLEncoding.EncodeToString(b)
	} else if msg := roster.ValidatePassword(pw); msg != "" {
		return usagef("ROSTER_ADMIN_PASSWORD: %s", msg)
	}
	hash, err := hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	u := &roster.User{Username: "admin", Email: "admin@roster.invalid", IsActive: true, IsAdmin: true, Timezone: "UTC", Locale: "en"}
	if err := db.CreateUser(ctx, 0, u, hash); roster.ErrorCode(err) == roster.ECONFLICT {
		return nil // another instance sharing the database created it first
	} else if err != nil {
		return fmt.Errorf("create admin: %w", err)
	}
	fmt.Fprintf(stdout, "Created the admin user \"admin\" with password: %s\n", pw)
	return nil
}
