// Package app wires one Roster instance: its store, the stream broker that
// the store's commits wake (and, on PostgreSQL, the listener that wakes it
// for other instances' commits) and the HTTP API on top. `roster serve`
// and the tests of every package build their servers with New, so the
// wiring is written once.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/natsbus"
	"github.com/rosterhq/roster/oidc"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/stream"
	"github.com/rosterhq/roster/webhook"
)

// Config holds what New wires together.
type Config struct {
	// Store is the open, migrated database; the App does not close it.
	Store *sqlstore.DB
	// API configures the HTTP API; New fills in Store, Broker unless it is
	// set, and Clock (the store's) unless it is set. API.Logger also
	// receives the broker's failures.
	API httpapi.Config
	// Stream configures the broker New makes when API.Broker is nil.
	Stream stream.Options
	// ListenURL, when set, is the PostgreSQL URL on which activities
	// committed by other instances wake this instance's broker (and
	// deliverer and exporter).
	ListenURL string
	// Webhooks, when set, runs a webhook deliverer with these options; New
	// fills in the store, encoders, installation id, clock, logger and
	// registry, and gives the API the deliverer for test sends.
	Webhooks *webhook.Options
	// NATSURL, when set, exports every activity to NATS JetStream.
	NATSURL string
	// Prune runs the hourly pruning of the delta feed's tombstones and the
	// webhook delivery log.
	Prune bool
}

// App is one running instance: its API and the goroutines that feed streams.
type App struct {
	Store  *sqlstore.DB
	Broker *stream.Broker
	API    *httpapi.Server
	// Webhooks is the deliverer (nil without Config.Webhooks).
	Webhooks *webhook.Deliverer

	stop    context.CancelFunc
	workers sync.WaitGroup
}

// busyWrites is the number of the API's write transactions in flight from
// which the webhook deliverer yields to it (webhook.Options.Busy).
const busyWrites = 4

// New loads the broker's starting point from the store, starts the broker
// (and the listener of ListenURL) and builds the API. Close stops them.
func New(ctx context.Context, cfg Config) (*App, error) {
	log := cfg.API.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	broker := cfg.API.Broker
	if broker == nil {
		broker = stream.NewBroker(cfg.Store, cfg.Stream)
	}
	if err := broker.Init(ctx); err != nil {
		return nil, fmt.Errorf("stream broker: %w", err)
	}
	var installation string
	if cfg.Webhooks != nil || cfg.NATSURL != "" {
		var err error
		if installation, err = cfg.Store.Installation(ctx); err != nil {
			return nil, fmt.Errorf("installation id: %w", err)
		}
	}
	if cfg.API.Registry == nil {
		cfg.API.Registry = prometheus.NewRegistry()
		cfg.API.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	registerMetrics(cfg.API.Registry, cfg.Store, broker)
	var deliverer *webhook.Deliverer
	if cfg.Webhooks != nil {
		o := *cfg.Webhooks
		o.Store, o.Encode, o.FormatTime, o.Installation = cfg.Store, httpapi.ActivityJSON, httpapi.FormatTime, installation
		o.Now, o.Logger, o.Registry = cfg.Store.Now, log, cfg.API.Registry
		if o.Busy == nil {
			// WritesInFlight leaves out the deliverer's own writes:
			// busyWrites or more API writes at once mean they queue.
			o.Busy = func() bool { return cfg.Store.WritesInFlight() >= busyWrites }
		}
		deliverer = webhook.New(o)
		cfg.API.Webhooks = deliverer
	}
	var exporter *natsbus.Exporter
	if cfg.NATSURL != "" {
		exporter = natsbus.New(natsbus.Options{URL: cfg.NATSURL, Store: cfg.Store, Encode: httpapi.ActivityJSON, Installation: installation, Logger: log})
	}
	// notify wakes everything that follows the activity log.
	notify := func() {
		broker.Notify()
		if deliverer != nil {
			deliverer.Notify()
		}
		if exporter != nil {
			exporter.Notify()
		}
	}
	cfg.Store.OnPublish(func(int64) { notify() })
	workCtx, stop := context.WithCancel(context.Background())
	a := &App{Store: cfg.Store, Broker: broker, Webhooks: deliverer, stop: stop}
	a.workers.Go(func() {
		if err := broker.Run(workCtx); err != nil {
			log.Error("stream broker stopped", "error", err.Error())
		}
	})
	if cfg.ListenURL != "" {
		// Activities written through other instances wake this one too.
		a.workers.Go(func() { postgres.Listen(workCtx, cfg.ListenURL, notify, log) })
	}
	if deliverer != nil {
		a.workers.Go(func() {
			if err := deliverer.Run(workCtx); err != nil {
				log.Error("webhook deliverer stopped", "error", err.Error())
			}
		})
	}
	if exporter != nil {
		a.workers.Go(func() {
			if err := exporter.Run(workCtx); err != nil {
				log.Error("nats export stopped", "error", err.Error())
			}
		})
	}
	if cfg.Prune {
		a.workers.Go(func() { prune(workCtx, cfg.Store, log) })
	}
	cfg.API.Store, cfg.API.Broker = cfg.Store, broker
	if cfg.API.Clock == nil {
		cfg.API.Clock = cfg.Store.Clock() // one clock for the store and the server
	}
	if cfg.API.OIDC == nil {
		cfg.API.OIDC = oidc.New(nil, cfg.API.Clock)
	}
	a.API = httpapi.NewServer(cfg.API)
	return a, nil
}

// CloseStreams ends every open stream, so that an http.Server's Shutdown
// (or an httptest.Server's Close) waits only for ordinary requests.
func (a *App) CloseStreams() { a.Broker.Close() }

// Close ends the streams and stops the broker and the listener, waiting for
// them. The store stays open.
func (a *App) Close() {
	a.Broker.Close()
	a.stop()
	a.workers.Wait()
}
