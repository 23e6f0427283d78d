// Package stream fans committed activities out to live subscribers.
//
// The broker tails the activity table in id order: a writer's commit (or a
// periodic poll, which also catches other processes and instances) wakes
// it, it reads every activity above its cursor, and hands each one to the
// subscribers of that actor whose filters match and who may see it. A
// subscription records the cursor at the moment it was registered, so a
// resuming client replays (lastEventId, start] from the database and gets
// everything above start live: no gap and no duplicate.
package stream

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rosterhq/roster"
)

// Source is what the broker reads from the database.
type Source interface {
	LastActivityID(ctx context.Context) (int64, error)
	// ActivitiesAfter returns up to limit activities above after, oldest first.
	ActivitiesAfter(ctx context.Context, after int64, limit int) ([]*roster.Activity, error)
	// WorkspaceAccess returns, for each viewer, which of the workspaces it
	// can access (viewers with none may be missing), in one round trip
	// for batches of ordinary size.
	WorkspaceAccess(ctx context.Context, viewerIDs, workspaceIDs []int64) (map[int64]map[int64]bool, error)
	// ValidTokens returns which tokens still authenticate an active user.
	ValidTokens(ctx context.Context, tokenIDs []int64) (map[int64]bool, error)
	// AdminsAmong returns which of the users are active admins.
	AdminsAmong(ctx context.Context, userIDs []int64) (map[int64]bool, error)
}

// Reasons a subscription ends.
var (
	ErrSlowConsumer = errors.New("slow consumer: too many undelivered events")
	// ErrSlowConsumerBytes ends a subscriber over a byte limit; it is an
	// ErrSlowConsumer (errors.Is).
	ErrSlowConsumerBytes error = slowBytes{}
	ErrRevoked                 = errors.New("token revoked or user no longer active")
	ErrShutdown                = errors.New("server shutting down")
	ErrTooMany                 = errors.New("too many open streams for this user")
)

type slowBytes struct{}

func (slowBytes) Error() string        { return "slow consumer: too many undelivered bytes" }
func (slowBytes) Is(target error) bool { return target == ErrSlowConsumer }

// ended marks a subscription's byte count once the broker has taken it
// out of the total, so that a consumer's Next no longer subtracts.
const ended = math.MinInt64 / 2

// Options tune a Broker.
type Options struct {
	// QueueSize bounds the undelivered events of one subscriber (default
	// 256: about 2 KiB of pointers, room for a burst without dropping).
	QueueSize int
	// PollInterval is how often the broker looks for activities without
	// being woken (default 1s).
	PollInterval time.Duration
	// RevalidateInterval is how often tokens of open streams are checked
	// (default 10s, so a revoked stream ends well within 30s).
	RevalidateInterval time.Duration
	// MaxQueuedBytes bounds the undelivered bytes of one subscriber, as
	// counted by ActivitySize (default 1 MiB).
	MaxQueuedBytes int64
	// MaxTotalQueuedBytes bounds the undelivered bytes of all subscribers
	// together (default 64 MiB): once they hold more, a subscriber that
	// was already behind when a batch came is ended instead of queueing
	// more. One that had caught up always gets the batch (up to
	// MaxQueuedBytes); the activities of a batch are shared by all.
	MaxTotalQueuedBytes int64
	// MaxPerUser caps the open streams of one viewer (default 20).
	MaxPerUser int
	Logger     *slog.Logger
}

// Broker delivers activities to subscriptions.
type Broker struct {
	src  Source
	opts Options
	wake chan struct{}

	mu      sync.Mutex
	ready   bool
	cursor  int64 // every activity up to cursor has been dispatched
	byActor map[int64]map[*Subscription]struct{}
	perUser map[int64]int
	closed  bool
	woken   []*Subscription // subscriptions whose Wake is due once b.mu is released
	wakeGen uint64          // marks a subscription already in woken
	// inflight is the newest id of the batch being dispatched (0: none):
	// a subscription registered meanwhile starts above it and replays it.
	inflight int64
	batchGen uint64 // marks a subscription already seen in the batch being delivered

	queued atomic.Int64 // undelivered bytes of all subscriptions
	// delivered counts activities handed to subscriptions; dropped counts
	// subscriptions ended for falling behind (see Stats).
	delivered, dropped atomic.Uint64
}

// Stats are the broker's running totals, for metrics.
type Stats struct {
	Delivered uint64 // activities handed to subscriptions
	Dropped   uint64 // subscriptions ended because their client fell behind
}

// Stats returns the totals since the broker was made.
func (b *Broker) Stats() Stats {
	return Stats{Delivered: b.delivered.Load(), Dropped: b.dropped.Load()}
}

// Subscription is one open stream.
type Subscription struct {
	ViewerID    int64
	ViewerAdmin bool
	TokenID     int64
	ActorID     int64
	Verb        string // filter, as on the feed
	WorkspaceID *int64

	// Start is the broker cursor when the subscription was registered:
	// activities above it arrive on C, those up to it must be replayed.
	Start int64

	// Wake, when set, is called after the broker has queued activities on C
	// or ended the subscription, so that a consumer need not keep a
	// goroutine parked on C and Done. It is called without the broker's
	// lock, must not block, and may run concurrently with the Wake of other
	// subscriptions (a fan-out wakes them from several goroutines) and with
	// another call of its own.
	Wake func()

	c        chan *roster.Activity
	done     chan struct{}
	err      error
	wakeGen  uint64
	batchGen uint64
	behind   bool         // the queue was not empty when the current batch came
	queued   atomic.Int64 // bytes queued on c (ActivitySize), within one activity; below 0 once ended
	broker   *Broker
}

// C delivers live activities, oldest first. A consumer that receives from
// C itself leaves their bytes counted until the broker finds C empty;
// Next keeps the count exact.
func (s *Subscription) C() <-chan *roster.Activity { return s.c }

// Next returns the next queued activity without waiting (false: none).
func (s *Subscription) Next() (*roster.Activity, bool) {
	select {
	case a := <-s.c:
		n := ActivitySize(a)
		if s.queued.Add(-n) > ended/2 {
			s.broker.queued.Add(-n)
		}
		return a, true
	default:
		return nil, false
	}
}

// ActivitySize is about how many bytes a holds: what the limits on queued
// bytes count.
func ActivitySize(a *roster.Activity) int64 {
	n := 256 + len(a.Verb) + len(a.WorkspaceName) + len(a.Data)
	if a.ActorUsername != nil {
		n += len(*a.ActorUsername)
	}
	if o := a.Object; o != nil {
		n += len(o.Type) + len(o.ID) + len(o.Name)
	}
	return int64(n)
}

// Done is closed when the broker ends the subscription; Err says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is the reason the subscription ended (nil while open).
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// NewBroker returns a broker reading from src. Call Run to start it.
func NewBroker(src Source, opts Options) *Broker {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 256
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.RevalidateInterval <= 0 {
		opts.RevalidateInterval = 10 * time.Second
	}
	if opts.MaxPerUser <= 0 {
		opts.MaxPerUser = 20
	}
	if opts.MaxQueuedBytes <= 0 {
		opts.MaxQueuedBytes = 1 << 20
	}
	if opts.MaxTotalQueuedBytes <= 0 {
		opts.MaxTotalQueuedBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Broker{src: src, opts: opts, wake: make(chan struct{}, 1), wakeGen: 1,
		byActor: map[int64]map[*Subscription]struct{}{}, perUser: map[int64]int{}}
}

// Notify wakes the broker: activities were committed.
func (b *Broker) Notify() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Init sets the cursor to the newest committed activity. Subscribe refuses
// subscriptions until it has run; Run calls it if needed.
func (b *Broker) Init(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ready {
		return nil
	}
	last, err := b.src.LastActivityID(ctx)
	if err != nil {
		return err
	}
	b.cursor, b.ready = last, true
	return nil
}

// Run dispatches until ctx ends, then closes every subscription.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.Init(ctx); err != nil {
		return err
	}
	poll := time.NewTicker(b.opts.PollInterval)
	defer poll.Stop()
	reval := time.NewTicker(b.opts.RevalidateInterval)
	defer reval.Stop()
	defer b.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-b.wake:
		case <-poll.C:
		case <-reval.C:
			b.revalidate(ctx)
			continue
		}
		if err := b.dispatch(ctx); err != nil && ctx.Err() == nil {
			b.opts.Logger.Warn("stream dispatch failed; will retry", "error", err.Error())
		}
	}
}

// Subscribe registers s and sets s.Start. ErrTooMany when the viewer has
// MaxPerUser streams open; ErrShutdown after Close.
func (b *Broker) Subscribe(s *Subscription) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || !b.ready {
		return ErrShutdown
	}
	if b.perUser[s.ViewerID] >= b.opts.MaxPerUser {
		return ErrTooMany
	}
	s.c = make(chan *roster.Activity, b.opts.QueueSize)
	s.done = make(chan struct{})
	s.broker = b
	s.Start = max(b.cursor, b.inflight)
	subs := b.byActor[s.ActorID]
	if subs == nil {
		subs = map[*Subscription]struct{}{}
		b.byActor[s.ActorID] = subs
	}
	subs[s] = struct{}{}
	b.perUser[s.ViewerID]++
	return nil
}

// Unsubscribe removes s (safe to call more than once). It does not call
// s.Wake: the caller is the consumer.
func (b *Broker) Unsubscribe(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.end(s, nil)
}

// end removes s and closes its done channel with reason err; b.mu held.
// Unless err is nil (Unsubscribe), s is woken once b.mu is released.
func (b *Broker) end(s *Subscription, err error) {
	subs, ok := b.byActor[s.ActorID]
	if !ok {
		return
	}
	if _, ok := subs[s]; !ok {
		return
	}
	delete(subs, s)
	if len(subs) == 0 {
		delete(b.byActor, s.ActorID)
	}
	if b.perUser[s.ViewerID]--; b.perUser[s.ViewerID] <= 0 {
		delete(b.perUser, s.ViewerID)
	}
	s.err = err
	close(s.done)
	// What it still holds leaves the total; a consumer's Next no longer
	// counts against it.
	b.queued.Add(-s.queued.Swap(ended))
	if err != nil {
		b.markWoken(s)
	}
}

// markWoken queues s for a call of its Wake; b.mu held. Callers start a
// new generation (b.wakeGen++) for each batch so that a subscription is
// woken once per batch however many activities it got.
func (b *Broker) markWoken(s *Subscription) {
	if s.Wake == nil || s.wakeGen == b.wakeGen {
		return
	}
	s.wakeGen = b.wakeGen
	b.woken = append(b.woken, s)
}

// takeWoken returns the subscriptions to wake and starts a new generation; b.mu held.
func (b *Broker) takeWoken() []*Subscription {
	w := b.woken
	b.woken = nil
	b.wakeGen++
	return w
}

// wakeChunk is how many subscriptions a waking goroutine takes at a time.
// A fan-out is cut into such chunks, pulled by GOMAXPROCS*2 goroutines, so
// that a thread the OS stops for a while (a busy machine) delays one chunk
// instead of a fixed share of the subscribers.
const wakeChunk = 64

// wake calls Wake of every subscription in subs, spread over several
// goroutines (a consumer's Wake may write to a socket), and returns when
// all have run. b.mu must not be held.
func wake(subs []*Subscription) {
	chunks := (len(subs) + wakeChunk - 1) / wakeChunk
	workers := min(2*runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		for _, s := range subs {
			s.Wake()
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(wakeChunk)) - wakeChunk
				if i >= len(subs) {
					return
				}
				for _, s := range subs[i:min(i+wakeChunk, len(subs))] {
					s.Wake()
				}
			}
		})
	}
	wg.Wait()
}

// Close ends every subscription with ErrShutdown and refuses new ones. It
// returns once every ended subscription's Wake has run.
func (b *Broker) Close() {
	b.mu.Lock()
	b.closed = true
	for _, subs := range b.byActor {
		for s := range subs {
			b.end(s, ErrShutdown)
		}
	}
	woken := b.takeWoken()
	b.mu.Unlock()
	wake(woken)
}

// Count returns the number of open subscriptions.
func (b *Broker) Count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.perUser {
		n += c
	}
	return n
}

const batchSize = 500

// dispatch delivers every committed activity above the cursor. No lock is
// held across a database round trip: the subscribers a batch concerns are
// read under the lock, their rights queried without it, and the batch
// delivered under it again. A subscription registered meanwhile starts
// above the batch (inflight), which it replays from the database instead.
func (b *Broker) dispatch(ctx context.Context) error {
	for {
		b.mu.Lock()
		after := b.cursor
		b.mu.Unlock()
		batch, err := b.src.ActivitiesAfter(ctx, after, batchSize)
		if err != nil || len(batch) == 0 {
			return err
		}
		b.mu.Lock()
		if b.cursor != after { // cannot happen with one dispatcher; be safe
			b.mu.Unlock()
			continue
		}
		b.inflight = batch[len(batch)-1].ID
		need := b.rightsNeeded(batch)
		b.mu.Unlock()

		r, err := b.queryRights(ctx, need)

		b.mu.Lock()
		if err == nil {
			b.deliver(batch, r)
			b.cursor = batch[len(batch)-1].ID
		}
		b.inflight = 0
		woken := b.takeWoken()
		b.mu.Unlock()
		wake(woken)
		if err != nil || len(batch) < batchSize {
			return err
		}
	}
}

// rightsNeeded is what a batch needs to know about its viewers, read from
// the subscriptions under b.mu and asked of the database without it.
type rightsNeeded struct {
	admins  []int64                  // viewers subscribed as admins
	access  map[int64]map[int64]bool // viewer -> workspaces of the batch it may need
	asAdmin map[int64]map[int64]bool // the same for viewers subscribed as admins
}

// rights are the answers: still-admin viewers and workspace access.
type rights struct {
	admin  map[int64]bool
	access map[int64]map[int64]bool
}

// rightsNeeded lists the viewers whose admin rights must be re-read (a
// demoted admin's open stream filters as a plain user from the next
// activity on) and the workspaces whose access each viewer that is not
// the actor needs, so that access changes apply at once; b.mu held.
func (b *Broker) rightsNeeded(batch []*roster.Activity) rightsNeeded {
	n := rightsNeeded{access: map[int64]map[int64]bool{}, asAdmin: map[int64]map[int64]bool{}}
	seenAdmin := map[int64]bool{}
	for _, a := range batch {
		for s := range b.byActor[a.ActorID] {
			if s.ViewerAdmin && !seenAdmin[s.ViewerID] {
				seenAdmin[s.ViewerID] = true
				n.admins = append(n.admins, s.ViewerID)
			}
			if a.WorkspaceID == nil || s.ViewerID == a.ActorID {
				continue
			}
			m := n.access
			if s.ViewerAdmin {
				m = n.asAdmin
			}
			if m[s.ViewerID] == nil {
				m[s.ViewerID] = map[int64]bool{}
			}
			m[s.ViewerID][*a.WorkspaceID] = true
		}
	}
	return n
}

// queryRights asks the database what n needs: one query for the admins,
// one for the access of every viewer that is not (or no longer) one.
func (b *Broker) queryRights(ctx context.Context, n rightsNeeded) (rights, error) {
	var r rights
	if len(n.admins) > 0 {
		admin, err := b.src.AdminsAmong(ctx, n.admins)
		if err != nil {
			return r, err
		}
		r.admin = admin
	}
	for viewer, wss := range n.asAdmin {
		if r.admin[viewer] {
			continue
		}
		if n.access[viewer] == nil {
			n.access[viewer] = map[int64]bool{}
		}
		for id := range wss {
			n.access[viewer][id] = true
		}
	}
	if len(n.access) == 0 {
		return r, nil
	}
	viewers := make([]int64, 0, len(n.access))
	wsSet := map[int64]bool{}
	for viewer, wss := range n.access {
		viewers = append(viewers, viewer)
		for id := range wss {
			wsSet[id] = true
		}
	}
	wss := make([]int64, 0, len(wsSet))
	for id := range wsSet {
		wss = append(wss, id)
	}
	access, err := b.src.WorkspaceAccess(ctx, viewers, wss)
	r.access = access
	return r, err
}

// deliver hands a batch to matching subscribers registered before it;
// b.mu held.
func (b *Broker) deliver(batch []*roster.Activity, r rights) {
	b.batchGen++
	for _, a := range batch {
		size := ActivitySize(a)
		for s := range b.byActor[a.ActorID] {
			if a.ID <= s.Start || !roster.VerbMatches(s.Verb, a.Verb) {
				continue
			}
			if s.batchGen != b.batchGen {
				s.batchGen = b.batchGen
				if s.ViewerAdmin && !r.admin[s.ViewerID] {
					s.ViewerAdmin = false
				}
				// A consumer reading C itself leaves its count behind.
				if len(s.c) == 0 {
					b.queued.Add(-s.queued.Swap(0))
				}
				s.behind = len(s.c) > 0
			}
			if s.WorkspaceID != nil && (a.WorkspaceID == nil || *a.WorkspaceID != *s.WorkspaceID) {
				continue
			}
			if !s.ViewerAdmin && s.ViewerID != a.ActorID && (a.WorkspaceID == nil || !r.access[s.ViewerID][*a.WorkspaceID]) {
				continue
			}
			if s.queued.Load()+size > b.opts.MaxQueuedBytes ||
				s.behind && b.queued.Load()+size > b.opts.MaxTotalQueuedBytes {
				b.end(s, ErrSlowConsumerBytes)
				b.dropped.Add(1)
				continue
			}
			select {
			case s.c <- a:
				s.queued.Add(size)
				b.queued.Add(size)
				b.delivered.Add(1)
				b.markWoken(s)
			default:
				b.end(s, ErrSlowConsumer)
				b.dropped.Add(1)
			}
		}
	}
}

// QueuedBytes returns the undelivered bytes of all subscriptions, as the
// limits count them.
func (b *Broker) QueuedBytes() int64 { return b.queued.Load() }

// revalidate ends subscriptions whose token was revoked or whose user was
// deactivated or deleted.
func (b *Broker) revalidate(ctx context.Context) {
	b.mu.Lock()
	var ids []int64
	seen := map[int64]bool{}
	for _, subs := range b.byActor {
		for s := range subs {
			if !seen[s.TokenID] {
				seen[s.TokenID] = true
				ids = append(ids, s.TokenID)
			}
		}
	}
	b.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	valid, err := b.src.ValidTokens(ctx, ids)
	if err != nil {
		b.opts.Logger.Warn("stream token check failed", "error", err.Error())
		return
	}
	b.mu.Lock()
	for _, subs := range b.byActor {
		for s := range subs {
			// A subscription registered during the check was not part of it.
			if !seen[s.TokenID] {
				continue
			}
			if !valid[s.TokenID] {
				b.end(s, ErrRevoked)
			}
		}
	}
	woken := b.takeWoken()
	b.mu.Unlock()
	wake(woken)
}
