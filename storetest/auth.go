package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

func testCredentials(t *testing.T, h *harness) {
	carol := user2("Carol", "Carol@Example.com")
	if err := h.s.CreateUser(h.ctx, 0, carol, "hash-carol"); err != nil {
		t.Fatal(err)
	}
	for _, login := range []string{"carol", "CAROL", "Carol", "carol@example.com", "CAROL@EXAMPLE.COM"} {
		u, hash, err := h.s.FindCredentials(h.ctx, login)
		if err != nil || u.ID != carol.ID || hash != "hash-carol" || u.Username != "Carol" {
			t.Errorf("FindCredentials(%q) = %+v, %q, %v; want carol with her hash", login, u, hash, err)
		}
	}
	for _, login := range []string{"", "caro", "carol@example", "%", "_arol", "nobody"} {
		_, _, err := h.s.FindCredentials(h.ctx, login)
		wantCode(t, err, roster.ENOTFOUND)
	}
	// A user without a usable password.
	nopw := h.createNamed("nopw")
	if _, hash, err := h.s.FindCredentials(h.ctx, "nopw"); err != nil || hash != "" {
		t.Errorf("FindCredentials(nopw) hash = %q, %v; want empty", hash, err)
	}
	if hash, err := h.s.FindPasswordHash(h.ctx, carol.ID); err != nil || hash != "hash-carol" {
		t.Errorf("FindPasswordHash = %q, %v", hash, err)
	}
	if hash, err := h.s.FindPasswordHash(h.ctx, nopw.ID); err != nil || hash != "" {
		t.Errorf("FindPasswordHash(nopw) = %q, %v; want empty", hash, err)
	}
	_, err := h.s.FindPasswordHash(h.ctx, nopw.ID+100)
	wantCode(t, err, roster.ENOTFOUND)

	// One user's email may not be another's username, either way round
	// (issue 16: the login name would sign in the wrong user); a user's
	// own email may be its username.
	dave := user2("dave", "dave@example.com")
	h.create(dave)
	err = h.s.CreateUser(h.ctx, 0, user2("Dave@Example.com", "other@example.com"), "")
	wantCode(t, err, roster.ECONFLICT)
	err = h.s.CreateUser(h.ctx, 0, user2("other", "DAVE"), "")
	wantCode(t, err, roster.ECONFLICT)
	self := user2("self@example.com", "self@example.com")
	h.create(self)
	if u, _, err := h.s.FindCredentials(h.ctx, "dave@example.com"); err != nil || u.ID != dave.ID {
		t.Errorf("FindCredentials(dave@example.com) = %v, %v; want %d", u, err, dave.ID)
	}
	if u, _, err := h.s.FindCredentials(h.ctx, "dave"); err != nil || u.ID != dave.ID {
		t.Errorf("FindCredentials(dave) = %v, %v; want %d", u, err, dave.ID)
	}
	if u, _, err := h.s.FindCredentials(h.ctx, "SELF@example.com"); err != nil || u.ID != self.ID {
		t.Errorf("FindCredentials(SELF@example.com) = %v, %v; want %d", u, err, self.ID)
	}
	// A username confusable with another (UTS #39 skeleton) is refused.
	err = h.s.CreateUser(h.ctx, 0, user2("d\u0430ve", "cyrillic@example.com"), "")
	wantCode(t, err, roster.ECONFLICT)

	// Inactive users are returned as they are; callers check IsActive.
	h.admin("admin")
	h.update(carol.ID, roster.UserUpdate{IsActive: ptr(false)})
	if u, _, err := h.s.FindCredentials(h.ctx, "carol"); err != nil || u.ID != carol.ID || u.IsActive {
		t.Errorf("FindCredentials(inactive carol) = %+v, %v; want carol with IsActive false", u, err)
	}
}

func testTokens(t *testing.T, h *harness) {
	u := h.createNamed("u")
	other := h.createNamed("other")
	tok := h.token(u.ID, time.Hour)
	if !tok.CreatedAt.Equal(h.clock.Now()) && !tok.CreatedAt.Equal(micro(h.clock.Now())) {
		t.Errorf("CreatedAt = %v, want the store's clock %v", tok.CreatedAt, h.clock.Now())
	}
	sess, err := h.s.FindSession(h.ctx, tok.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if sess.TokenID != tok.ID || sess.User.ID != u.ID || sess.User.Username != "u" || !sess.User.IsActive {
		t.Errorf("FindSession = %+v (user %+v), want token %d of user u", sess, sess.User, tok.ID)
	}
	tok2 := h.token(u.ID, time.Hour)
	if tok2.ID == tok.ID {
		t.Error("two tokens share an id")
	}
	for _, hash := range [][]byte{nil, {}, roster.HashToken("rst_unknown"), tok.Hash[:16]} {
		_, err := h.s.FindSession(h.ctx, hash)
		wantCode(t, err, roster.EUNAUTHORIZED)
	}
	if err := h.s.DeleteToken(h.ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if h.tokenWorks(tok) {
		t.Error("a deleted token still works")
	}
	if !h.tokenWorks(tok2) {
		t.Error("deleting one token revoked another")
	}
	to := h.token(other.ID, time.Hour)
	if !h.tokenWorks(to) {
		t.Error("other user's token does not work")
	}
}

func testTokenExpiry(t *testing.T, h *harness) {
	u := h.createNamed("u")
	short := h.token(u.ID, time.Hour)
	long := h.token(u.ID, 2*time.Hour)
	h.clock.Advance(time.Hour - time.Second)
	if !h.tokenWorks(short) {
		t.Fatal("token expired early")
	}
	h.clock.Advance(time.Second) // now == ExpiresAt: expired
	if h.tokenWorks(short) {
		t.Error("token works at its expiry time")
	}
	_, err := h.s.FindSession(h.ctx, short.Hash)
	wantCode(t, err, roster.EUNAUTHORIZED)
	if !h.tokenWorks(long) {
		t.Error("the longer token expired with the short one")
	}
	h.clock.Advance(24 * time.Hour)
	if h.tokenWorks(long) {
		t.Error("token works a day after expiry")
	}
}

func testLoginThrottle(t *testing.T, h *harness) {
	const key, otherKey = "user:1", "login:someone"
	locked := func(k string) time.Time {
		t.Helper()
		until, err := h.s.LoginLockedUntil(h.ctx, k)
		if err != nil {
			t.Fatalf("LoginLockedUntil(%q): %v", k, err)
		}
		return until
	}
	fail := func(k string) time.Time {
		t.Helper()
		until, err := h.s.RecordLoginFailure(h.ctx, k)
		if err != nil {
			t.Fatalf("RecordLoginFailure(%q): %v", k, err)
		}
		return until
	}
	if !locked(key).IsZero() {
		t.Fatal("a fresh key is locked")
	}
	if !fail(otherKey).IsZero() {
		t.Fatal("one failure locked a key")
	}
	for i := 1; i < roster.MaxLoginFailures; i++ {
		if until := fail(key); !until.IsZero() {
			t.Fatalf("failure %d locked the key until %v; want a lock only at %d", i, until, roster.MaxLoginFailures)
		}
		h.clock.Advance(time.Second)
	}
	if !locked(key).IsZero() {
		t.Fatalf("locked after %d failures", roster.MaxLoginFailures-1)
	}
	until := fail(key)
	want := h.clock.Now().Add(roster.LockoutFor(roster.MaxLoginFailures))
	if !micro(until).Equal(micro(want)) {
		t.Fatalf("failure %d: locked until %v, want %v", roster.MaxLoginFailures, until, want)
	}
	if got := locked(key); !micro(got).Equal(micro(want)) {
		t.Errorf("LoginLockedUntil = %v, want %v", got, want)
	}
	if !locked(otherKey).IsZero() {
		t.Error("locking one key locked another")
	}
	// While locked, attempts are refused and not counted.
	for range 3 {
		_, err := h.s.RecordLoginFailure(h.ctx, key)
		if e := wantCode(t, err, roster.ETHROTTLED); e.RetryAfter <= 0 || e.RetryAfter > roster.LockoutFor(roster.MaxLoginFailures) {
			t.Errorf("RetryAfter = %v, want within (0, %v]", e.RetryAfter, roster.LockoutFor(roster.MaxLoginFailures))
		}
	}
	if got := locked(key); !micro(got).Equal(micro(want)) {
		t.Errorf("refused attempts moved the lock: LoginLockedUntil = %v, want %v", got, want)
	}
	// A login is refused while locked too, and changes nothing.
	u := h.createNamed("u")
	_, hash := roster.NewTokenSecret()
	tok := &roster.Token{UserID: u.ID, Hash: hash, ExpiresAt: h.clock.Now().Add(time.Hour)}
	wantCode(t, h.s.CreateSession(h.ctx, tok, key), roster.ETHROTTLED)
	if _, err := h.s.FindSession(h.ctx, hash); roster.ErrorCode(err) != roster.EUNAUTHORIZED {
		t.Errorf("a refused login left a working token (FindSession error %v)", err)
	}
	if h.find(u.ID).LastLogin != nil {
		t.Error("a refused login set LastLogin")
	}

	// The lock ends by itself, to the microsecond.
	h.clock.Advance(roster.LockoutFor(roster.MaxLoginFailures) - time.Second)
	if locked(key).IsZero() {
		t.Error("lock ended early")
	}
	h.clock.Advance(time.Second)
	if got := locked(key); !got.IsZero() {
		t.Errorf("LoginLockedUntil at the end of the lock = %v, want zero", got)
	}
	// Failures stay consecutive until a successful login: each one after a
	// lock locks again, for twice as long, up to the cap.
	for i := roster.MaxLoginFailures + 1; i <= roster.MaxLoginFailures+8; i++ {
		until = fail(key)
		want := h.clock.Now().Add(roster.LockoutFor(i))
		if !micro(until).Equal(micro(want)) {
			t.Fatalf("failure %d: locked until %v, want %v", i, until, want)
		}
		h.clock.Advance(roster.LockoutFor(i))
	}
	if d := roster.LockoutFor(roster.MaxLoginFailures + 8); d != roster.LoginLockoutMax {
		t.Errorf("lockout after many failures = %v, want the cap %v", d, roster.LoginLockoutMax)
	}
	if !locked(key).IsZero() {
		t.Fatal("still locked after waiting out the last lock")
	}

	// A successful login clears the throttle of its key only.
	for range roster.MaxLoginFailures - 1 { // it failed once already
		fail(otherKey)
	}
	if err := h.s.CreateSession(h.ctx, tok, key); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < roster.MaxLoginFailures; i++ {
		if until := fail(key); !until.IsZero() {
			t.Fatalf("after a login, failure %d locked the key: the count was not reset", i)
		}
	}
	if locked(otherKey).IsZero() {
		t.Error("a login with one key cleared another")
	}
	// Keys are compared exactly.
	if !locked("USER:1").IsZero() || !locked(key+" ").IsZero() {
		t.Error("keys are not compared exactly")
	}
}

func testCreateSession(t *testing.T, h *harness) {
	a := h.admin("admin")
	u := h.createNamed("u")
	before := h.find(u.ID)
	h.clock.Advance(time.Hour)
	now := h.clock.Now()
	key := fmt.Sprintf("user:%d", u.ID)
	_, hash := roster.NewTokenSecret()
	tok := &roster.Token{UserID: u.ID, Hash: hash, ExpiresAt: now.Add(time.Hour)}
	if err := h.s.CreateSession(h.ctx, tok, key); err != nil {
		t.Fatal(err)
	}
	if tok.ID == 0 {
		t.Fatal("CreateSession did not set the token ID")
	}
	if !h.tokenWorks(tok) {
		t.Error("the session token does not work")
	}
	got := h.find(u.ID)
	if got.LastLogin == nil || !got.LastLogin.Equal(micro(now)) {
		t.Errorf("LastLogin = %v, want %v", got.LastLogin, micro(now))
	}
	// The login is an activity of the user.
	if got.LastActiveAt == nil || !got.LastActiveAt.Equal(micro(now)) {
		t.Errorf("LastActiveAt = %v, want %v (auth.login recorded)", got.LastActiveAt, micro(now))
	}
	if got.Username != before.Username || got.IsActive != before.IsActive {
		t.Errorf("CreateSession changed the profile: %+v", got)
	}
	if other := h.find(a.ID); other.LastLogin != nil {
		t.Errorf("another user's LastLogin = %v, want nil", other.LastLogin)
	}
	// The session shows the stored lastLogin.
	if sess, err := h.s.FindSession(h.ctx, tok.Hash); err != nil || !sameTime(sess.User.LastLogin, got.LastLogin) {
		t.Errorf("FindSession user LastLogin = %v, %v; want %v", sess, err, got.LastLogin)
	}
	// A later login moves lastLogin on.
	h.clock.Advance(time.Minute)
	_, hash2 := roster.NewTokenSecret()
	if err := h.s.CreateSession(h.ctx, &roster.Token{UserID: u.ID, Hash: hash2, ExpiresAt: h.clock.Now().Add(time.Hour)}, key); err != nil {
		t.Fatal(err)
	}
	if got := h.find(u.ID); got.LastLogin == nil || !got.LastLogin.Equal(micro(h.clock.Now())) {
		t.Errorf("second login: LastLogin = %v, want %v", got.LastLogin, micro(h.clock.Now()))
	}
	if !h.tokenWorks(tok) {
		t.Error("a new login revoked an older session")
	}
}
