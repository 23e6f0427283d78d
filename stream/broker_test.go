package stream_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlite"
	"github.com/rosterhq/roster/stream"
)

// wait bounds every receive in these tests; nothing should take nearly as long.
const wait = 5 * time.Second

// fixture is a real SQLite store with a running broker on it.
type fixture struct {
	t      testing.TB
	ctx    context.Context
	db     *sqlite.DB
	broker *stream.Broker
	admin  *roster.User
}

// hookedSource is the real store with a hook around ValidTokens, so a test
// can act while the broker's token check is in flight.
type hookedSource struct {
	*sqlite.DB
	beforeValid func()
}

func (h *hookedSource) ValidTokens(ctx context.Context, ids []int64) (map[int64]bool, error) {
	if h.beforeValid != nil {
		h.beforeValid()
	}
	return h.DB.ValidTokens(ctx, ids)
}

func openDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "roster.db"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// newFixture starts a broker with opts on a fresh database; src, when not
// nil, wraps the database as the broker's source.
func newFixture(tb testing.TB, opts stream.Options, src func(*sqlite.DB) stream.Source) *fixture {
	tb.Helper()
	f := &fixture{t: tb, ctx: context.Background(), db: openDB(tb)}
	var source stream.Source = f.db
	if src != nil {
		source = src(f.db)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	f.broker = stream.NewBroker(source, opts)
	f.admin = f.user("admin", true)
	if err := f.broker.Init(f.ctx); err != nil {
		tb.Fatal(err)
	}
	f.db.OnPublish(func(int64) { f.broker.Notify() })
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.broker.Run(ctx); err != nil {
			tb.Errorf("Run: %v", err)
		}
	}()
	tb.Cleanup(func() { cancel(); <-done })
	return f
}

func (f *fixture) user(name string, admin bool) *roster.User {
	f.t.Helper()
	u := &roster.User{Username: name, Email: name + "@example.com", IsActive: true, IsAdmin: admin, Timezone: "UTC", Locale: "en"}
	if err := f.db.CreateUser(f.ctx, 0, u, ""); err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *fixture) workspace(name string) int64 {
	f.t.Helper()
	w := &roster.Workspace{Name: name}
	if err := f.db.CreateWorkspace(f.ctx, f.admin.ID, w); err != nil {
		f.t.Fatal(err)
	}
	return w.ID
}

func (f *fixture) grantUser(ws, userID int64) {
	f.t.Helper()
	if err := f.db.SetGrant(f.ctx, f.admin.ID, ws, &roster.Grant{Subject: roster.Subject{Type: "user", ID: userID}, Role: roster.RoleViewer}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) token(u *roster.User) int64 {
	f.t.Helper()
	_, hash := roster.NewTokenSecret()
	tok := &roster.Token{UserID: u.ID, Hash: hash, ExpiresAt: time.Now().Add(time.Hour)}
	if err := f.db.CreateToken(f.ctx, tok); err != nil {
		f.t.Fatal(err)
	}
	return tok.ID
}

// post stores an activity of actor (in ws when ws != 0) and returns its id.
func (f *fixture) post(actor int64, verb string, ws int64) int64 {
	f.t.Helper()
	a := &roster.Activity{ActorID: actor, Verb: verb, Data: []byte("{}")}
	if ws != 0 {
		a.WorkspaceID = &ws
	}
	if err := f.db.CreateActivity(f.ctx, a); err != nil {
		f.t.Fatal(err)
	}
	return a.ID
}

// settle returns once the broker has dispatched every activity committed
// so far, so that a subscription made next starts above all of them.
func (f *fixture) settle() {
	f.t.Helper()
	probe := f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: f.admin.ID, Verb: "test.settle"})
	expectIDs(f.t, probe, f.post(f.admin.ID, "test.settle", 0))
	f.broker.Unsubscribe(probe)
}

func (f *fixture) subscribe(s *stream.Subscription) *stream.Subscription {
	f.t.Helper()
	if err := f.broker.Subscribe(s); err != nil {
		f.t.Fatalf("Subscribe: %v", err)
	}
	f.t.Cleanup(func() { f.broker.Unsubscribe(s) })
	return s
}

// recv returns the next activity of s, failing the test after wait.
func recv(tb testing.TB, s *stream.Subscription) *roster.Activity {
	tb.Helper()
	select {
	case a := <-s.C():
		return a
	case <-s.Done():
		tb.Fatalf("subscription ended: %v", s.Err())
	case <-time.After(wait):
		tb.Fatal("no activity delivered")
	}
	return nil
}

// expectIDs receives len(ids) activities and checks they are exactly ids.
func expectIDs(tb testing.TB, s *stream.Subscription, ids ...int64) {
	tb.Helper()
	for _, id := range ids {
		if a := recv(tb, s); a.ID != id {
			tb.Fatalf("got activity %d (%s), want %d", a.ID, a.Verb, id)
		}
	}
}

// ended waits for s to end and returns why.
func ended(tb testing.TB, s *stream.Subscription) error {
	tb.Helper()
	select {
	case <-s.Done():
		return s.Err()
	case <-time.After(wait):
		tb.Fatal("subscription not ended")
	}
	return nil
}

func ws(id int64) *int64 { return &id }

func TestDeliversOnlyToThatActorsSubscribers(t *testing.T) {
	f := newFixture(t, stream.Options{}, nil)
	x, y := f.user("x", false), f.user("y", false)
	f.settle()
	subX := f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: x.ID})
	subX2 := f.subscribe(&stream.Subscription{ViewerID: x.ID, ActorID: x.ID}) // the actor itself, no workspace
	subY := f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: y.ID})

	a1 := f.post(x.ID, "note.added", 0)
	a2 := f.post(x.ID, "note.added", 0)
	b1 := f.post(y.ID, "note.added", 0) // a sentinel: y's stream saw nothing of x before it
	expectIDs(t, subX, a1, a2)
	expectIDs(t, subX2, a1, a2)
	expectIDs(t, subY, b1)
	if got := f.broker.Count(); got != 3 {
		t.Fatalf("Count = %d, want 3", got)
	}
}

func TestVerbAndWorkspaceFilters(t *testing.T) {
	f := newFixture(t, stream.Options{}, nil)
	x := f.user("x", false)
	w1, w2 := f.workspace("one"), f.workspace("two")
	f.settle()
	admin := func(verb string, w *int64) *stream.Subscription {
		return f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: x.ID, Verb: verb, WorkspaceID: w})
	}
	exact, prefix, inW1, both := admin("doc.created", nil), admin("doc.*", nil), admin("", ws(w1)), admin("doc.*", ws(w2))

	docCreated := f.post(x.ID, "doc.created", w1)
	f.post(x.ID, "document.created", w1) // "doc.*" must not match "document."
	docDeleted := f.post(x.ID, "doc.deleted", w2)
	f.post(x.ID, "doc", 0) // the bare prefix is not under "doc.*"
	docCreated2 := f.post(x.ID, "doc.created.v2", 0)
	last := f.post(x.ID, "doc.created", w2)

	expectIDs(t, exact, docCreated, last)
	expectIDs(t, prefix, docCreated, docDeleted, docCreated2, last)
	expectIDs(t, inW1, docCreated, docCreated+1) // both activities in w1, nothing without a workspace
	expectIDs(t, both, docDeleted, last)
}

func TestVisibility(t *testing.T) {
	f := newFixture(t, stream.Options{}, nil)
	x, v := f.user("x", false), f.user("v", false)
	direct, hidden, viaGroup := f.workspace("direct"), f.workspace("hidden"), f.workspace("viagroup")
	f.grantUser(direct, v.ID)
	g := &roster.Group{Name: "design"}
	if err := f.db.CreateGroup(f.ctx, f.admin.ID, g); err != nil {
		t.Fatal(err)
	}
	if err := f.db.AddGroupMember(f.ctx, f.admin.ID, g.ID, v.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.db.SetGrant(f.ctx, f.admin.ID, viaGroup, &roster.Grant{Subject: roster.Subject{Type: "group", ID: g.ID}, Role: roster.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	outsider := f.user("outsider", false)
	f.settle()

	sub := f.subscribe(&stream.Subscription{ViewerID: v.ID, ActorID: x.ID})
	none := f.subscribe(&stream.Subscription{ViewerID: outsider.ID, ActorID: x.ID})
	adminSub := f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: x.ID})

	inDirect := f.post(x.ID, "a.b", direct)
	inHidden := f.post(x.ID, "a.b", hidden)
	noWorkspace := f.post(x.ID, "a.b", 0)
	inGroup := f.post(x.ID, "a.b", viaGroup)
	expectIDs(t, sub, inDirect, inGroup)
	expectIDs(t, adminSub, inDirect, inHidden, noWorkspace, inGroup)

	// Access removed: the next activities there are no longer delivered.
	if err := f.db.DeleteGrant(f.ctx, f.admin.ID, direct, roster.Subject{Type: "user", ID: v.ID}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.RemoveGroupMember(f.ctx, f.admin.ID, g.ID, v.ID); err != nil {
		t.Fatal(err)
	}
	f.post(x.ID, "a.b", direct)
	f.post(x.ID, "a.b", viaGroup)
	f.grantUser(hidden, v.ID) // and access given: delivered from now on
	now := f.post(x.ID, "a.b", hidden)
	expectIDs(t, sub, now)

	// The outsider saw nothing at all: its first delivery is the first
	// activity it may see.
	f.grantUser(hidden, outsider.ID)
	sentinel := f.post(x.ID, "a.b", hidden)
	expectIDs(t, none, sentinel)
}

func TestStartIsTheCursorAtRegistration(t *testing.T) {
	db := openDB(t)
	b := stream.NewBroker(db, stream.Options{})
	if err := b.Subscribe(&stream.Subscription{ActorID: 1}); !errors.Is(err, stream.ErrShutdown) {
		t.Fatalf("Subscribe before Init = %v, want ErrShutdown", err)
	}

	f := newFixture(t, stream.Options{}, nil)
	x := f.user("x", false)
	var before int64
	for range 3 {
		before = f.post(x.ID, "a.b", 0)
	}
	f.settle()

	sub := f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: x.ID})
	if sub.Start < before+1 { // the probe too
		t.Fatalf("Start = %d, want at least %d", sub.Start, before+1)
	}
	after := f.post(x.ID, "a.b", 0)
	if after <= sub.Start {
		t.Fatalf("new activity %d not above Start %d", after, sub.Start)
	}
	expectIDs(t, sub, after)
}

// TestStartSplitsReplayAndLiveUnderWriters is the broker's half of the
// no-gap, no-duplicate promise: with writers running, every activity of the
// actor is either at or below Start (the client replays it from the
// database) or delivered live, never both and never neither.
func TestStartSplitsReplayAndLiveUnderWriters(t *testing.T) {
	f := newFixture(t, stream.Options{QueueSize: 4096, MaxPerUser: 100}, nil)
	x := f.user("x", false)
	const writers, perWriter, subscribers = 4, 60, 12

	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWriter {
				a := &roster.Activity{ActorID: x.ID, Verb: "a.b", Data: []byte("{}")}
				if err := f.db.CreateActivity(f.ctx, a); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	subs := make([]*stream.Subscription, subscribers)
	for i := range subs {
		time.Sleep(3 * time.Millisecond)
		subs[i] = f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: x.ID})
	}
	wg.Wait()
	last := f.post(x.ID, "a.end", 0)

	all, err := f.db.FindActivities(f.ctx, roster.ActivityFilter{Viewer: f.admin, ActorID: &x.ID, Ascending: true, Page: roster.Page{Limit: 10000}})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range subs {
		var want []int64
		for _, a := range all {
			if a.ID > s.Start {
				want = append(want, a.ID)
			}
		}
		var got []int64
		for len(got) == 0 || got[len(got)-1] != last {
			got = append(got, recv(t, s).ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("subscriber %d (Start %d): live ids\n%v\nwant\n%v", i, s.Start, got, want)
		}
	}
}

func TestSlowConsumerEndedFastOneGetsEverything(t *testing.T) {
	f := newFixture(t, stream.Options{QueueSize: 4}, nil)
	x := f.user("x", false)
	f.settle()
	slow := f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: x.ID})
	fast := f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: x.ID})
	for i := range 20 {
		id := f.post(x.ID, "a.b", 0)
		expectIDs(t, fast, id)
		if i == 3 && slow.Err() != nil {
			t.Fatalf("slow consumer ended with a full but not overflowing queue: %v", slow.Err())
		}
	}
	if err := ended(t, slow); !errors.Is(err, stream.ErrSlowConsumer) {
		t.Fatalf("slow consumer ended with %v, want ErrSlowConsumer", err)
	}
	if len(slow.C()) != 4 {
		t.Fatalf("slow consumer kept %d queued events, want the 4 that fit", len(slow.C()))
	}
	// At least 20 to fast and 4 to slow were handed over; one stream was dropped.
	if st := f.broker.Stats(); st.Delivered < 24 || st.Dropped != 1 {
		t.Errorf("Stats() = %+v, want at least 24 delivered and 1 dropped", st)
	}
	if got := f.broker.Count(); got != 1 {
		t.Fatalf("Count = %d, want 1", got)
	}
}

func TestRevalidationEndsRevokedAndDeactivated(t *testing.T) {
	f := newFixture(t, stream.Options{RevalidateInterval: 20 * time.Millisecond}, nil)
	x := f.user("x", false)
	gone, off, dead, keep := f.user("gone", false), f.user("off", false), f.user("dead", false), f.user("keep", false)
	sub := func(u *roster.User) *stream.Subscription {
		return f.subscribe(&stream.Subscription{ViewerID: u.ID, TokenID: f.token(u), ActorID: x.ID})
	}
	revoked, deactivated, deleted, kept := sub(gone), sub(off), sub(dead), sub(keep)

	if err := f.db.DeleteToken(f.ctx, revoked.TokenID); err != nil {
		t.Fatal(err)
	}
	if err := ended(t, revoked); !errors.Is(err, stream.ErrRevoked) {
		t.Fatalf("revoked token: ended with %v", err)
	}
	inactive := false
	if _, err := f.db.UpdateUser(f.ctx, f.admin.ID, off.ID, roster.UserUpdate{IsActive: &inactive}); err != nil {
		t.Fatal(err)
	}
	if err := ended(t, deactivated); !errors.Is(err, stream.ErrRevoked) {
		t.Fatalf("deactivated user: ended with %v", err)
	}
	if err := f.db.DeleteUser(f.ctx, f.admin.ID, dead.ID); err != nil {
		t.Fatal(err)
	}
	if err := ended(t, deleted); !errors.Is(err, stream.ErrRevoked) {
		t.Fatalf("deleted user: ended with %v", err)
	}
	time.Sleep(100 * time.Millisecond) // several more checks
	if err := kept.Err(); err != nil {
		t.Fatalf("valid stream ended: %v", err)
	}
}

// A subscription registered while the broker is checking tokens was not
// part of that check and must not be ended by it.
func TestRevalidationSparesSubscriptionsMadeDuringTheCheck(t *testing.T) {
	var (
		f       *fixture
		once    sync.Once
		newcome = make(chan *stream.Subscription, 1)
	)
	hook := &hookedSource{}
	hook.beforeValid = func() {
		once.Do(func() {
			u := f.user("late", false)
			s := &stream.Subscription{ViewerID: u.ID, TokenID: f.token(u), ActorID: f.admin.ID}
			if err := f.broker.Subscribe(s); err != nil {
				t.Error(err)
			}
			newcome <- s
		})
	}
	f = newFixture(t, stream.Options{RevalidateInterval: 20 * time.Millisecond}, func(db *sqlite.DB) stream.Source {
		hook.DB = db
		return hook
	})
	early := f.user("early", false)
	f.subscribe(&stream.Subscription{ViewerID: early.ID, TokenID: f.token(early), ActorID: f.admin.ID})
	var late *stream.Subscription
	select {
	case late = <-newcome:
	case <-time.After(wait):
		t.Fatal("no token check ran")
	}
	defer f.broker.Unsubscribe(late)
	time.Sleep(100 * time.Millisecond)
	if err := late.Err(); err != nil {
		t.Fatalf("subscription made during a token check was ended: %v", err)
	}
}

func TestMaxPerUser(t *testing.T) {
	f := newFixture(t, stream.Options{MaxPerUser: 2}, nil)
	v, w := f.user("v", false), f.user("w", false)
	a := f.subscribe(&stream.Subscription{ViewerID: v.ID, ActorID: 1})
	f.subscribe(&stream.Subscription{ViewerID: v.ID, ActorID: 2})
	if err := f.broker.Subscribe(&stream.Subscription{ViewerID: v.ID, ActorID: 3}); !errors.Is(err, stream.ErrTooMany) {
		t.Fatalf("third stream: %v, want ErrTooMany", err)
	}
	f.subscribe(&stream.Subscription{ViewerID: w.ID, ActorID: 1}) // another viewer has its own budget
	f.broker.Unsubscribe(a)
	f.broker.Unsubscribe(a) // twice must not free two slots
	f.subscribe(&stream.Subscription{ViewerID: v.ID, ActorID: 3})
	if err := f.broker.Subscribe(&stream.Subscription{ViewerID: v.ID, ActorID: 4}); !errors.Is(err, stream.ErrTooMany) {
		t.Fatalf("after one unsubscribe: %v, want ErrTooMany", err)
	}
	if got := f.broker.Count(); got != 3 {
		t.Fatalf("Count = %d, want 3", got)
	}
}

func TestCloseEndsAllAndRefusesNew(t *testing.T) {
	f := newFixture(t, stream.Options{}, nil)
	var subs []*stream.Subscription
	for i := range 5 {
		subs = append(subs, f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: int64(i % 2)}))
	}
	f.broker.Close()
	for _, s := range subs {
		if err := ended(t, s); !errors.Is(err, stream.ErrShutdown) {
			t.Fatalf("ended with %v, want ErrShutdown", err)
		}
	}
	if err := f.broker.Subscribe(&stream.Subscription{ViewerID: f.admin.ID, ActorID: 1}); !errors.Is(err, stream.ErrShutdown) {
		t.Fatalf("Subscribe after Close = %v, want ErrShutdown", err)
	}
	if got := f.broker.Count(); got != 0 {
		t.Fatalf("Count = %d after Close", got)
	}
	f.broker.Close() // idempotent
}

// TestConcurrentSubscribeUnsubscribeDispatch is for -race: subscriptions
// come and go while writers publish and tokens are rechecked.
func TestConcurrentSubscribeUnsubscribeDispatch(t *testing.T) {
	f := newFixture(t, stream.Options{QueueSize: 8, MaxPerUser: 1000, RevalidateInterval: 10 * time.Millisecond, PollInterval: 10 * time.Millisecond}, nil)
	actors := []*roster.User{f.user("a1", false), f.user("a2", false)}
	viewer := f.user("viewer", false)
	w := f.workspace("w")
	f.grantUser(w, viewer.ID)
	tok := f.token(viewer)
	stop := make(chan struct{})
	var writes, received atomic.Int64
	var wg sync.WaitGroup
	for _, a := range actors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				act := &roster.Activity{ActorID: a.ID, Verb: "a.b", WorkspaceID: &w, Data: []byte("{}")}
				if err := f.db.CreateActivity(f.ctx, act); err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				s := &stream.Subscription{ViewerID: viewer.ID, TokenID: tok, ActorID: actors[(i+j)%2].ID, Verb: "a.*"}
				if err := f.broker.Subscribe(s); err != nil {
					t.Error(err)
					return
				}
				deadline := time.After(time.Duration(j%5) * time.Millisecond)
			read:
				for {
					select {
					case <-s.C():
						received.Add(1)
					case <-s.Done():
						_ = s.Err()
						break read
					case <-deadline:
						break read
					}
				}
				f.broker.Unsubscribe(s)
				_ = f.broker.Count()
			}
		}()
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if f.broker.Count() != 0 {
		t.Fatalf("Count = %d after every Unsubscribe", f.broker.Count())
	}
	if writes.Load() == 0 || received.Load() == 0 {
		t.Fatalf("writes %d, received %d: nothing exercised", writes.Load(), received.Load())
	}
	t.Logf("%d writes, %d deliveries", writes.Load(), received.Load())
}

// BenchmarkBrokerFanout measures one committed activity reaching N
// subscribers: the commit, the broker's read and the per-subscriber
// delivery, until every subscriber has it.
func BenchmarkBrokerFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			f := newFixture(b, stream.Options{MaxPerUser: n, PollInterval: time.Hour}, nil)
			x := f.user("x", false)
			subs := make([]*stream.Subscription, n)
			for i := range subs {
				subs[i] = f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: x.ID})
			}
			a := &roster.Activity{ActorID: x.ID, Verb: "a.b", Data: []byte(`{"k":"v"}`)}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				a.ID = 0
				if err := f.db.CreateActivity(f.ctx, a); err != nil {
					b.Fatal(err)
				}
				for _, s := range subs {
					select {
					case <-s.C():
					case <-s.Done():
						b.Fatalf("ended: %v", s.Err())
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}

// TestWake checks that Wake follows every queueing and every end by the
// broker (overflow here, Close; revocation ends through the same path), once per batch however many activities it got, and that a
// consumer's own Unsubscribe does not call it.
func TestWake(t *testing.T) {
	gated := &gatedSource{release: make(chan struct{})}
	f := newFixture(t, stream.Options{QueueSize: 4}, func(db *sqlite.DB) stream.Source {
		gated.DB = db
		return gated
	})
	x := f.user("x", false)
	adminTok := f.token(f.admin)
	f.settle()
	woken := func() (chan struct{}, func()) {
		c := make(chan struct{}, 100)
		return c, func() { c <- struct{}{} }
	}
	expectWake := func(c chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(wait):
			t.Fatalf("no Wake after %s", what)
		}
	}
	c, fn := woken()
	s := f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, TokenID: adminTok, ActorID: x.ID, Wake: fn})
	id := f.post(x.ID, "a.b", 0)
	expectWake(c, "an activity")
	// Wake comes after the activity is queued, so C holds it at once.
	select {
	case a := <-s.C():
		if a.ID != id {
			t.Fatalf("got %d, want %d", a.ID, id)
		}
	default:
		t.Fatal("woken with nothing queued")
	}

	// One batch of several activities (the broker reads them in one go
	// once the gate opens): one Wake.
	gated.hold.Store(true)
	want := []int64{f.post(x.ID, "a.b", 0), f.post(x.ID, "a.b", 0), f.post(x.ID, "a.b", 0)}
	gated.hold.Store(false)
	close(gated.release)
	expectWake(c, "a batch")
	if len(s.C()) != len(want) {
		t.Fatalf("woken with %d queued, want the batch of %d", len(s.C()), len(want))
	}
	expectIDs(t, s, want...)
	select {
	case <-c:
		t.Fatal("a second Wake for one batch")
	case <-time.After(50 * time.Millisecond):
	}

	// Overflow ends it as a slow consumer: a Wake follows the end.
	for range 6 {
		f.post(x.ID, "a.b", 0)
	}
	for !errors.Is(s.Err(), stream.ErrSlowConsumer) {
		expectWake(c, "overflow")
	}

	// Unsubscribe by the consumer: no Wake. Close: Wake before it returns.
	// The overflow ended s before the broker had dispatched every one of
	// its activities; the rest must not reach u.
	f.settle()
	c3, fn3 := woken()
	u := f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, TokenID: adminTok, ActorID: x.ID, Wake: fn3})
	f.broker.Unsubscribe(u)
	c4, fn4 := woken()
	f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, TokenID: adminTok, ActorID: x.ID, Wake: fn4})
	f.broker.Close()
	if len(c4) != 1 {
		t.Fatalf("%d Wake calls by the time Close returned, want 1", len(c4))
	}
	if len(c3) != 0 {
		t.Fatal("Unsubscribe called Wake")
	}
}

// gatedSource holds the broker's reads of new activities while hold is
// set, until release is closed.
type gatedSource struct {
	*sqlite.DB
	hold    atomic.Bool
	release chan struct{}
}

func (g *gatedSource) ActivitiesAfter(ctx context.Context, after int64, limit int) ([]*roster.Activity, error) {
	if g.hold.Load() {
		<-g.release
	}
	return g.DB.ActivitiesAfter(ctx, after, limit)
}

// TestWakeFanOutRunsEveryWake wakes more subscriptions than one goroutine
// takes (the fan-out is split): every one is woken exactly once.
func TestWakeFanOutRunsEveryWake(t *testing.T) {
	f := newFixture(t, stream.Options{MaxPerUser: 5000}, nil)
	x := f.user("x", false)
	f.settle()
	const n = 2000
	var calls [n]atomic.Int32
	subs := make([]*stream.Subscription, n)
	var all sync.WaitGroup
	all.Add(n)
	for i := range n {
		subs[i] = f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: x.ID,
			Wake: func() {
				if calls[i].Add(1) == 1 {
					all.Done()
				}
			}})
	}
	id := f.post(x.ID, "a.b", 0)
	done := make(chan struct{})
	go func() { all.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("not every subscription was woken")
	}
	for i, s := range subs {
		if a := recv(t, s); a.ID != id {
			t.Fatalf("subscription %d got %d", i, a.ID)
		}
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("subscription %d woken %d times", i, c)
		}
	}
}

// heldRights holds the broker's next workspace access query until release
// is closed, telling entered once it is in it.
type heldRights struct {
	*sqlite.DB
	hold    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (h *heldRights) WorkspaceAccess(ctx context.Context, viewers, wss []int64) (map[int64]map[int64]bool, error) {
	if h.hold.CompareAndSwap(true, false) {
		close(h.entered)
		<-h.release
	}
	return h.DB.WorkspaceAccess(ctx, viewers, wss)
}

// TestDispatchHoldsNoLockAcrossTheDatabase holds the broker inside its
// access query for a batch: streams still open and close at once (the
// broker's lock is not held), one opened meanwhile starts above the batch
// (it replays it from the database) and gets what follows live, and the
// subscriber registered before gets the batch.
func TestDispatchHoldsNoLockAcrossTheDatabase(t *testing.T) {
	held := &heldRights{entered: make(chan struct{}), release: make(chan struct{})}
	f := newFixture(t, stream.Options{}, func(db *sqlite.DB) stream.Source {
		held.DB = db
		return held
	})
	x, v := f.user("x", false), f.user("v", false)
	w := f.workspace("w")
	f.grantUser(w, v.ID)
	f.settle()
	before := f.subscribe(&stream.Subscription{ViewerID: v.ID, ActorID: x.ID})
	held.hold.Store(true)
	id := f.post(x.ID, "a.b", w)
	select {
	case <-held.entered:
	case <-time.After(wait):
		t.Fatal("the broker never asked for access")
	}
	opened := make(chan *stream.Subscription)
	go func() {
		s := &stream.Subscription{ViewerID: v.ID, ActorID: x.ID}
		if err := f.broker.Subscribe(s); err != nil {
			t.Error(err)
		}
		gone := &stream.Subscription{ViewerID: v.ID, ActorID: x.ID}
		if err := f.broker.Subscribe(gone); err != nil {
			t.Error(err)
		}
		f.broker.Unsubscribe(gone)
		opened <- s
	}()
	var during *stream.Subscription
	select {
	case during = <-opened:
	case <-time.After(wait):
		t.Fatal("Subscribe and Unsubscribe waited for the broker's database query")
	}
	t.Cleanup(func() { f.broker.Unsubscribe(during) })
	if during.Start != id {
		t.Fatalf("opened during the batch with Start %d, want the batch's last id %d", during.Start, id)
	}
	close(held.release)
	expectIDs(t, before, id)
	next := f.post(x.ID, "a.b", w)
	expectIDs(t, during, next)
	expectIDs(t, before, next)
}

// TestQueuedBytesBounded ends a subscriber whose undelivered bytes pass
// MaxQueuedBytes, long before its queue is full by count, and one that
// was already behind once all subscribers together hold more than
// MaxTotalQueuedBytes, while a subscriber that keeps up gets everything;
// what ended subscribers held leaves the total.
func TestQueuedBytesBounded(t *testing.T) {
	f := newFixture(t, stream.Options{QueueSize: 1000, MaxQueuedBytes: 64 << 10, MaxTotalQueuedBytes: 96 << 10}, nil)
	x := f.user("x", false)
	f.settle()
	sub := func() *stream.Subscription {
		return f.subscribe(&stream.Subscription{ViewerID: f.admin.ID, ViewerAdmin: true, ActorID: x.ID})
	}
	big := []byte(`{"pad":"` + strings.Repeat("0", 8000) + `"}`)
	post := func() int64 {
		a := &roster.Activity{ActorID: x.ID, Verb: "a.b", Data: big}
		if err := f.db.CreateActivity(f.ctx, a); err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	perStream, fast := sub(), sub()
	next := func(s *stream.Subscription) *roster.Activity {
		t.Helper()
		deadline := time.After(wait)
		for {
			if a, ok := s.Next(); ok {
				return a
			}
			select {
			case <-deadline:
				t.Fatal("nothing delivered")
			case <-time.After(time.Millisecond):
			}
		}
	}
	for range 12 { // 12 × ~8.3 KiB > 64 KiB
		id := post()
		if a := next(fast); a.ID != id {
			t.Fatalf("fast got %d, want %d", a.ID, id)
		}
	}
	if err := ended(t, perStream); !errors.Is(err, stream.ErrSlowConsumer) || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("slow subscriber ended with %v, want the byte limit", err)
	}
	if n := len(perStream.C()); n < 6 || n > 8 {
		t.Fatalf("slow subscriber kept %d events, want the 7 or so under 64 KiB", n)
	}
	if q := f.broker.QueuedBytes(); q != 0 {
		t.Fatalf("QueuedBytes %d with the slow subscriber ended and the fast one caught up, want 0", q)
	}

	// Three subscribers fall behind together: the total ends some of them
	// before each reaches its own limit.
	behind := []*stream.Subscription{sub(), sub(), sub()}
	for range 7 {
		id := post()
		if a := next(fast); a.ID != id {
			t.Fatalf("fast got %d, want %d", a.ID, id)
		}
	}
	endedByTotal := 0
	for _, s := range behind {
		if errors.Is(s.Err(), stream.ErrSlowConsumerBytes) {
			endedByTotal++
		}
	}
	if endedByTotal == 0 {
		t.Fatalf("no subscriber ended with %d KiB queued in all, over the total of 96 KiB", 3*7*8)
	}
	if q := f.broker.QueuedBytes(); q > 96<<10+3*(9<<10) {
		t.Fatalf("QueuedBytes %d, over the total and one activity per subscriber", q)
	}
}
