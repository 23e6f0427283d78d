// Package natsbus publishes every activity to NATS JetStream, in id order,
// from a durable cursor in the database, with the official nats.go client.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rosterhq/roster"
)

// Stream is the JetStream stream Roster publishes to (created when
// missing, with SubjectPrefix + ">" as its subjects; an existing one is
// used as it is).
const (
	Stream        = "ROSTER_ACTIVITIES"
	SubjectPrefix = "roster.activities."
)

// Store is what the exporter needs from the database.
type Store interface {
	// ExportActivities hands batches after the nats_published cursor to
	// publish and moves the cursor past what it accepted.
	ExportActivities(ctx context.Context, cursor string, limit int, publish func([]*roster.Activity) (int, error)) (int, error)
}

// Options configure an Exporter; every field but Logger and Poll is required.
type Options struct {
	URL   string
	Store Store
	// Encode is the activity as the feeds show it (httpapi.ActivityJSON).
	Encode func(*roster.Activity) ([]byte, error)
	// Installation prefixes Nats-Msg-Id, so two deployments never collide.
	Installation string
	// Poll is how often the cursor is checked without a Notify (default 1 s).
	Poll   time.Duration
	Logger *slog.Logger
}

// Exporter publishes activities to JetStream.
type Exporter struct {
	o    Options
	wake chan struct{}
}

// New returns an Exporter; Run starts it.
func New(o Options) *Exporter {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Exporter{o: o, wake: make(chan struct{}, 1)}
}

// Notify wakes the exporter: activities were committed.
func (e *Exporter) Notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// MsgID is the Nats-Msg-Id of activity id: JetStream drops a message
// whose id it has seen within its duplicate window, so a batch published
// again after a crash or an outage is not stored twice.
func (e *Exporter) MsgID(id int64) string { return e.o.Installation + "-" + strconv.FormatInt(id, 10) }

// Run connects (retrying while the server is away), makes sure the stream
// exists, and publishes until ctx ends.
func (e *Exporter) Run(ctx context.Context) error {
	nc, err := nats.Connect(e.o.URL, nats.Name("roster"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond))
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	t := time.NewTicker(e.o.Poll)
	defer t.Stop()
	ready := false
	for {
		if !ready {
			ready = e.ensureStream(ctx, js)
		}
		if ready {
			for {
				n, err := e.o.Store.ExportActivities(ctx, "nats_published", 500, func(acts []*roster.Activity) (int, error) {
					return e.publish(ctx, js, acts)
				})
				if err != nil && ctx.Err() == nil {
					e.o.Logger.Warn("nats export", "error", err.Error())
				}
				if err != nil || n < 500 {
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-t.C:
		}
	}
}

// ensureStream creates the stream when it is missing.
func (e *Exporter) ensureStream(ctx context.Context, js jetstream.JetStream) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := js.Stream(ctx, Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: Stream, Subjects: []string{SubjectPrefix + ">"}})
	}
	if err != nil {
		if ctx.Err() == nil || !errors.Is(err, context.DeadlineExceeded) {
			e.o.Logger.Warn("nats stream "+Stream, "error", err.Error())
		}
		return false
	}
	return true
}

// publish sends acts in order, each acknowledged before the next, and
// returns how many were stored.
func (e *Exporter) publish(ctx context.Context, js jetstream.JetStream, acts []*roster.Activity) (int, error) {
	for i, a := range acts {
		body, err := e.o.Encode(a)
		if err != nil {
			return i, err
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = js.Publish(pctx, SubjectPrefix+a.Verb, body, jetstream.WithMsgID(e.MsgID(a.ID)))
		cancel()
		if err != nil {
			return i, fmt.Errorf("publish activity %d: %w", a.ID, err)
		}
	}
	return len(acts), nil
}
