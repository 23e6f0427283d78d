package webhook

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rosterhq/roster"
)

// Store is what the Deliverer needs from the database.
type Store interface {
	roster.WebhookQueue
	FindWebhookByID(ctx context.Context, id int64) (*roster.Webhook, error)
}

// Options configure a Deliverer; Store, Encode and FormatTime are required.
type Options struct {
	Store Store
	// Encode is the activity as the feeds show it (httpapi.ActivityJSON).
	Encode func(*roster.Activity) ([]byte, error)
	// FormatTime formats the payload's timestamp as the API does.
	FormatTime func(time.Time) string
	// Installation prefixes webhook-id, so two deployments never collide.
	Installation string
	// AllowPrivate turns the destination guard off (tests, on-premises).
	AllowPrivate bool
	// Workers bounds attempts in flight (default 16); PerWebhook bounds
	// them per webhook (default 4), so a slow receiver holds at most that
	// many workers.
	Workers, PerWebhook int
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Lease is how long a claimed job stays with this instance before
	// another may take it over (default 30 s, above Timeout).
	Lease time.Duration
	// Poll is how often the queue is read without a Notify (default 1 s).
	Poll time.Duration
	// Busy, when set, reports that the API is saturated. The Deliverer then
	// yields: it defers the fan-out of new activities into jobs and keeps
	// at most BusyWorkers attempts in flight, one per webhook, so
	// deliveries fall behind (durably: the fan-out cursor and the jobs are
	// in the database) rather than take CPU and writes from the API, and
	// catch up when it is quiet.
	Busy func() bool
	// BusyWorkers bounds attempts in flight while Busy (default 2), and
	// while Busy the queue is read at most every BusyPause (default 100
	// ms), so that the deliverer's own work stays a trickle.
	BusyWorkers int
	BusyPause   time.Duration
	// Now is the clock (default time.Now).
	Now      func() time.Time
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

// Retry delays after the 1st, 2nd, ... failed attempt; the last repeats.
// Each is jittered by ±20%.
var retryDelays = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour}

// RetryDelay returns the delay after failed attempt n (1-based), jittered
// by r in [0, 1): 0.8 to 1.2 times the schedule.
func RetryDelay(n int, r float64) time.Duration {
	d := retryDelays[min(max(n, 1), len(retryDelays))-1]
	return time.Duration(float64(d) * (0.8 + 0.4*r))
}

// Deliverer drains the webhook job queue: it fans new activities out into
// jobs, leases due jobs and sends them, each in its own goroutine.
type Deliverer struct {
	o      Options
	owner  string
	client *http.Client
	wake   chan struct{}
	log    *slog.Logger

	mu       sync.Mutex
	inflight map[int64]int // attempts in flight per webhook
	total    int
	done     chan struct{} // a worker finished

	attempts *prometheus.CounterVec
	lag      prometheus.Histogram
}

// New returns a Deliverer; Run starts it.
func New(o Options) *Deliverer {
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.PerWebhook <= 0 {
		o.PerWebhook = 4
	}
	if o.BusyWorkers <= 0 {
		o.BusyWorkers = min(2, o.Workers)
	}
	if o.BusyPause <= 0 {
		o.BusyPause = 100 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().UTC() }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	_, _ = crand.Read(b)
	d := &Deliverer{o: o, owner: hex.EncodeToString(b), client: NewClient(o.Timeout, o.AllowPrivate, o.Workers),
		wake: make(chan struct{}, 1), done: make(chan struct{}, 1), inflight: map[int64]int{}, log: o.Logger,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roster_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome: success, http_error, gone, timeout, connection_error, refused."}, []string{"outcome"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "roster_webhook_delivery_lag_seconds",
			Help:    "Time from an activity's commit to its successful delivery to a webhook.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 36000, 259200}}),
	}
	if o.Registry != nil {
		o.Registry.MustRegister(d.attempts, d.lag)
	}
	return d
}

// Notify wakes the Deliverer: activities were committed.
func (d *Deliverer) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the attempts in flight and
// records their results (an attempt cut short is not logged: its lease
// runs out and it is retried).
func (d *Deliverer) Run(ctx context.Context) error {
	rec := make(chan finishReq, maxFinishBatch)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		d.record(rec)
	}()
	var wg sync.WaitGroup
	defer func() {
		wg.Wait() // the attempts in flight have handed their results over
		close(rec)
		<-recorded
	}()
	t := time.NewTicker(d.o.Poll)
	defer t.Stop()
	dispatch := true
	for {
		busy, err := d.step(ctx, &wg, rec, dispatch)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("webhook delivery", "error", err.Error())
		}
		if busy { // yield: the next step waits (wake-ups meanwhile are kept)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(d.o.BusyPause):
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
			dispatch = true
		case <-d.done:
			dispatch = false // a worker is free: claim, nothing new to fan out
		case <-t.C:
			dispatch = true // other instances' commits, due retries
		}
	}
}

// finishReq is a finished attempt on its way to the database. Until it is
// recorded its job stays leased to this Deliverer, so no claim takes it
// again; if recording fails, the lease runs out and the job is retried.
type finishReq struct {
	f roster.WebhookFinish
}

// maxFinishBatch bounds the attempts recorded in one transaction.
const maxFinishBatch = 256

// record writes finished attempts until rec is closed: every attempt that
// finishes while a write runs joins the next one, so a busy deliverer
// writes once per batch instead of once per delivery, and a worker moves
// on to its next job without waiting for the write.
func (d *Deliverer) record(rec <-chan finishReq) {
	for first := range rec {
		batch := []finishReq{first}
	collect:
		for len(batch) < maxFinishBatch {
			select {
			case r, ok := <-rec:
				if !ok {
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		done := make([]roster.WebhookFinish, len(batch))
		for i, r := range batch {
			done[i] = r.f
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := d.o.Store.FinishWebhookJobs(ctx, d.owner, done); err != nil {
			d.log.Error("webhook results not recorded", "attempts", len(done), "error", err.Error())
		}
		cancel()
	}
}

// step dispatches new activities and starts attempts for due jobs while
// workers are free; busy reports that it found the API busy (Options.Busy).
func (d *Deliverer) step(ctx context.Context, wg *sync.WaitGroup, rec chan<- finishReq, dispatch bool) (busy bool, err error) {
	const batch = 500
	busy = d.o.Busy != nil && d.o.Busy()
	// While busy the fan-out waits too (the cursor keeps its place): it
	// writes a job per webhook for every activity, in the API's writer.
	for dispatch && !busy {
		n, err := d.o.Store.DispatchWebhookJobs(ctx, batch)
		if err != nil {
			return busy, fmt.Errorf("dispatch: %w", err)
		}
		if n < batch {
			break
		}
	}
	workers, perWebhook := d.o.Workers, d.o.PerWebhook
	if busy {
		workers, perWebhook = d.o.BusyWorkers, 1
	}
	d.mu.Lock()
	free := workers - d.total
	room := make(map[int64]int, len(d.inflight))
	for id, n := range d.inflight {
		room[id] = perWebhook - n
	}
	d.mu.Unlock()
	if free <= 0 {
		return busy, nil
	}
	jobs, err := d.o.Store.ClaimWebhookJobs(ctx, d.owner, free, perWebhook, room, d.o.Lease)
	if err != nil {
		return busy, fmt.Errorf("claim: %w", err)
	}
	d.mu.Lock()
	for _, j := range jobs {
		d.inflight[j.Webhook.ID]++
		d.total++
	}
	d.mu.Unlock()
	for _, j := range jobs {
		wg.Go(func() {
			defer d.release(j.Webhook.ID)
			d.attempt(ctx, j, rec)
		})
	}
	return busy, nil
}

func (d *Deliverer) release(hook int64) {
	d.mu.Lock()
	d.inflight[hook]--
	if d.inflight[hook] <= 0 {
		delete(d.inflight, hook)
	}
	d.total--
	d.mu.Unlock()
	select {
	case d.done <- struct{}{}:
	default:
	}
}

// MessageID is the webhook-id of activity a for webhook hook: the same on
// every retry.
func (d *Deliverer) MessageID(a *roster.Activity, hook int64) string {
	return "msg_" + d.o.Installation + "_" + strconv.FormatInt(a.ID, 10) + "_" + strconv.FormatInt(hook, 10)
}

// attempt sends one job and has its result recorded.
func (d *Deliverer) attempt(ctx context.Context, j *roster.WebhookJob, rec chan<- finishReq) {
	data, err := d.o.Encode(j.Activity)
	if err != nil {
		d.log.Error("webhook payload", "activity", j.Activity.ID, "error", err.Error())
		return
	}
	body, _ := json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{j.Activity.Verb, d.o.FormatTime(j.Activity.Published), data})
	r, outcome := d.send(ctx, j.Webhook, d.MessageID(j.Activity, j.Webhook.ID), body)
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the job is retried
	}
	d.attempts.WithLabelValues(outcome).Inc()
	if r.Delivered {
		d.lag.Observe(r.At.Sub(j.Activity.Published).Seconds())
	} else {
		failingSince := r.At
		if j.Webhook.FailingSince != nil {
			failingSince = *j.Webhook.FailingSince
		}
		switch {
		case r.Status != nil && *r.Status == http.StatusGone:
			r.Disable = "The receiver answered 410 Gone."
		case r.At.Sub(failingSince) >= roster.WebhookGiveUpAfter:
			r.Disable = "Every delivery failed for 3 days."
		default:
			next := r.At.Add(RetryDelay(j.Attempt, rand.Float64()))
			r.NextAt = &next
		}
		if r.Disable != "" {
			// The job stays, paused with its webhook, until it is re-enabled.
			next := r.At
			r.NextAt = &next
		}
	}
	rec <- finishReq{f: roster.WebhookFinish{Job: j, Result: r}}
}

// send POSTs body with the Standard Webhooks headers and classifies the
// outcome.
func (d *Deliverer) send(ctx context.Context, w *roster.Webhook, id string, body []byte) (*roster.WebhookResult, string) {
	start := d.o.Now()
	ts := start.Unix()
	r := &roster.WebhookResult{}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, strings.NewReader(string(body)))
	if err != nil {
		r.Error, r.At = "invalid URL", start
		return r, "connection_error"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Roster-Webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(w.Secrets(start), id, ts, body))
	res, err := d.client.Do(req)
	end := d.o.Now()
	r.At, r.DurationMs = end, end.Sub(start).Milliseconds()
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, ErrRefusedAddress):
			r.Error = ErrRefusedAddress.Error()
			return r, "refused"
		case errors.As(err, &ne) && ne.Timeout():
			r.Error = fmt.Sprintf("no answer within %s", d.o.Timeout)
			return r, "timeout"
		default:
			r.Error = "connection failed: " + errorText(err)
			return r, "connection_error"
		}
	}
	defer res.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	status := res.StatusCode
	r.Status, r.ResponseBody = &status, strings.ToValidUTF8(string(head), "\uFFFD")
	switch {
	case status >= 200 && status < 300:
		r.Delivered = true
		return r, "success"
	case status == http.StatusGone:
		r.Error = "410 Gone"
		return r, "gone"
	case status >= 300 && status < 400:
		r.Error = "redirect not followed"
	default:
		r.Error = "HTTP " + strconv.Itoa(status)
	}
	return r, "http_error"
}

// errorText is err without the request's URL (which url.Error repeats).
func errorText(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

// Test sends a webhook.test event to webhook id now, logs it, and returns
// the logged attempt. It neither retries nor changes the failure state.
func (d *Deliverer) Test(ctx context.Context, id int64) (*roster.WebhookDelivery, error) {
	w, err := d.o.Store.FindWebhookByID(ctx, id)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 12)
	_, _ = crand.Read(b)
	now := d.o.Now()
	body, _ := json.Marshal(map[string]any{"type": "webhook.test", "timestamp": d.o.FormatTime(now),
		"data": map[string]any{"webhook": map[string]any{"id": w.ID, "url": w.URL}}})
	r, outcome := d.send(ctx, w, "msg_test_"+hex.EncodeToString(b), body)
	d.attempts.WithLabelValues(outcome).Inc()
	return d.o.Store.RecordWebhookTest(ctx, id, r)
}
