package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/natsbus"
	"github.com/rosterhq/roster/password"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/stream"
	"github.com/rosterhq/roster/webhook"
)

// shutdownGrace bounds how long in-flight requests may take after SIGTERM.
const shutdownGrace = 10 * time.Second

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("serve", getenv)
	addr := fs.String("addr", envOr(getenv, "ROSTER_ADDR", ":8080"), "listen address")
	logFormat := fs.String("log-format", envOr(getenv, "ROSTER_LOG_FORMAT", "json"), "log format: json or text")
	hashers := fs.Int("hash-concurrency", envInt(getenv, "ROSTER_HASH_CONCURRENCY", runtime.NumCPU()), "password hashes computed at once (19 MiB each)")
	pool := fs.Int("db-pool", envInt(getenv, "ROSTER_DB_POOL", 10), "PostgreSQL connections per instance")
	dbTimeout := fs.Duration("db-timeout", 10*time.Second, "PostgreSQL: longest wait for one query or transaction before a 503")
	ttl := fs.Duration("token-ttl", roster.DefaultTokenTTL, "life of tokens made by login")
	maxStreams := fs.Int("max-streams-per-user", 20, "open activity streams allowed per user")
	sessionTTL := fs.Duration("session-cache-ttl", sqlstore.DefaultSessionCacheTTL, "how long a checked token is trusted without reading the database again; revocations through this instance apply at once, through other instances within this (0 turns the cache off)")
	allowPrivate := fs.Bool("webhook-allow-private", false, "let webhooks reach loopback, private and link-local addresses (tests, on-premises receivers)")
	natsURL := fs.String("nats-url", getenv("ROSTER_NATS_URL"), "publish every activity to NATS JetStream at this URL (stream ROSTER_ACTIVITIES); off when empty")
	webhookWorkers := fs.Int("webhook-workers", 16, "webhook deliveries in flight per instance (at most 4 per webhook)")
	pprofAddr := fs.String("pprof-addr", getenv("ROSTER_PPROF_ADDR"), "serve net/http/pprof on this separate address (off when empty; keep it on localhost)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *hashers < 1 {
		return usagef("--hash-concurrency (ROSTER_HASH_CONCURRENCY) must be a positive integer")
	}
	if *pool < 1 {
		return usagef("--db-pool (ROSTER_DB_POOL) must be a positive integer")
	}
	if *sessionTTL < 0 {
		return usagef("--session-cache-ttl must not be negative")
	}
	if *dbTimeout <= 0 {
		return usagef("--db-timeout must be positive")
	}
	var handler slog.Handler
	switch *logFormat {
	case "json":
		handler = slog.NewJSONHandler(stderr, nil)
	case "text":
		handler = slog.NewTextHandler(stderr, nil)
	default:
		return usagef("--log-format must be json or text")
	}
	log := slog.New(handler)

	db, err := openStore(ctx, *dbURL, *pool)
	if err != nil {
		return err
	}
	defer db.Close()
	if kind, _, _ := parseDB(*dbURL); kind == kindPostgres {
		db.SetOpTimeout(*dbTimeout)
	}
	db.SetSessionCacheTTL(*sessionTTL)
	// Listen before creating the first admin, so that a bad --addr does not
	// spend the one printing of its password on a run that exits at once.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return usagef("listen on %s: %v", *addr, err)
	}
	defer ln.Close()
	hasher := password.NewHasher(*hashers)
	if err := bootstrapAdmin(ctx, db, hasher, getenv, stdout); err != nil {
		return err
	}
	broker := stream.NewBroker(db, stream.Options{MaxPerUser: *maxStreams, Logger: log})
	if err := broker.Init(ctx); err != nil {
		return fmt.Errorf("stream broker: %w", err)
	}
	installation, err := db.Installation(ctx)
	if err != nil {
		return fmt.Errorf("installation id: %w", err)
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	deliverer := webhook.New(webhook.Options{Store: db, Encode: httpapi.ActivityJSON, FormatTime: httpapi.FormatTime,
		Installation: installation, AllowPrivate: *allowPrivate, Workers: *webhookWorkers, Now: db.Now, Logger: log, Registry: registry})
	var exporter *natsbus.Exporter
	if *natsURL != "" {
		exporter = natsbus.New(natsbus.Options{URL: *natsURL, Store: db, Encode: httpapi.ActivityJSON, Installation: installation, Logger: log})
	}
	notify := func() {
		broker.Notify()
		deliverer.Notify()
		if exporter != nil {
			exporter.Notify()
		}
	}
	db.OnPublish(func(int64) { notify() })
	brokerCtx, stopBroker := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	workers.Go(func() {
		if err := broker.Run(brokerCtx); err != nil {
			log.Error("stream broker stopped", "error", err.Error())
		}
	})
	if kind, target, _ := parseDB(*dbURL); kind == kindPostgres {
		// Activities written through other instances wake this broker too.
		workers.Go(func() {
			_ = postgres.Listen(brokerCtx, target, notify)
		})
	}
	workers.Go(func() { prune(brokerCtx, db, log) })
	workers.Go(func() { _ = deliverer.Run(brokerCtx) })
	if exporter != nil {
		workers.Go(func() {
			if err := exporter.Run(brokerCtx); err != nil {
				log.Error("nats export stopped", "error", err.Error())
			}
		})
	}
	defer func() {
		stopBroker()
		workers.Wait()
	}()

	api := httpapi.NewServer(httpapi.Config{Store: db, Hasher: hasher, Logger: log, TokenTTL: *ttl, Broker: broker,
		Registry: registry, Webhooks: deliverer})
	srv := httpapi.NewHTTPServer(*addr, api, log)
	log.Info("roster listening", "addr", ln.Addr().String(), "db", redactURL(*dbURL))

	if *pprofAddr != "" {
		pln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return usagef("listen on --pprof-addr %s: %v", *pprofAddr, err)
		}
		psrv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = psrv.Serve(pln) }()
		defer psrv.Close()
		log.Info("pprof listening", "addr", pln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	broker.Close() // ends every stream, so Shutdown only waits for ordinary requests
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
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

// pprofMux serves the runtime profiles of net/http/pprof. It is its own
// mux on its own listener, so the profiles never share the API's address.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// bootstrapAdmin creates the admin "admin" on first start (no users yet)
// with ROSTER_ADMIN_PASSWORD or a random password, printed once.
func bootstrapAdmin(ctx context.Context, db *sqlstore.DB, hasher *password.Hasher, getenv func(string) string, stdout io.Writer) error {
	n, err := db.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
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
