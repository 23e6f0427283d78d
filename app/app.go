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

	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/postgres"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/stream"
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
	// committed by other instances wake this instance's broker.
	ListenURL string
}

// App is one running instance: its API and the goroutines that feed streams.
type App struct {
	Store  *sqlstore.DB
	Broker *stream.Broker
	API    *httpapi.Server

	stop    context.CancelFunc
	workers sync.WaitGroup
}

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
	cfg.Store.OnPublish(func(int64) { broker.Notify() })
	workCtx, stop := context.WithCancel(context.Background())
	a := &App{Store: cfg.Store, Broker: broker, stop: stop}
	a.workers.Go(func() {
		if err := broker.Run(workCtx); err != nil {
			log.Error("stream broker stopped", "error", err.Error())
		}
	})
	if cfg.ListenURL != "" {
		// Activities written through other instances wake this broker too.
		a.workers.Go(func() { postgres.Listen(workCtx, cfg.ListenURL, broker.Notify, log) })
	}
	cfg.API.Store, cfg.API.Broker = cfg.Store, broker
	if cfg.API.Clock == nil {
		cfg.API.Clock = cfg.Store.Clock() // one clock for the store and the server
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
