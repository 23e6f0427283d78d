// Package storetest is the conformance suite that every Roster store must
// pass. A store's own tests call Run with a function that opens a fresh,
// migrated, empty database for each subtest:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store { return mustOpenDB(t) })
//	}
//
// The suite speaks only through the roster service interfaces, so the same
// expectations hold for SQLite and PostgreSQL, and runs every test twice:
// with the store's cache layer on and off.
package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// Store is what the suite exercises: the five services, a settable
// clock, so that expiry and lockouts can be tested without sleeping, and
// the switch of the cache layer.
type Store interface {
	roster.UserService
	roster.AuthService
	roster.WorkspaceService
	roster.GroupService
	roster.ActivityService
	// SetClock sets the store's clock. The suite calls it once, before any
	// other method.
	SetClock(c roster.Clock)
	// SetCache switches the store's cache layer on or off. The suite calls
	// it once, before any other method.
	SetCache(on bool)
	// FlushTokenUses writes the token uses noted by MarkTokenUsed now.
	FlushTokenUses(ctx context.Context) error
	// SetStoredSearchMin sets the fewest matches of a search whose count
	// the store keeps in the database.
	SetStoredSearchMin(n int)
	// SetSearchCountedHook sets a function called after a search counted
	// its matches, once that count has its turn to be kept in the
	// database and before it is.
	SetSearchCountedHook(f func())
	// SetDetachedCountMin sets the fewest users a search's count walks
	// (by search_grams) for it to run detached from the search.
	SetDetachedCountMin(n int)
	// SetDetachedCountHook sets a function called after a detached count
	// was made and before the searches waiting for it go on.
	SetDetachedCountHook(f func())
	// SearchCountStats counts the counts the store kept in the database,
	// those it skipped and those whose keeping failed.
	SearchCountStats() (stored, skipped, failed int64)
	// WaitBackground waits for the store's background work started so
	// far (detached counts, deep-page checkpoints).
	WaitBackground()
	// ReadSlotsHeld returns the reads holding a slot of the store's read
	// gate. The suite checks that none is left after each test: a slot
	// never given back stalls the store's reads for good.
	ReadSlotsHeld() int
}

// Run runs every conformance test against stores made by open. open must
// return an empty, migrated store and arrange (with t.Cleanup) to close it.
func Run(t *testing.T, open func(t *testing.T) Store) { run(t, open, "") }

// RunSearch runs the suite's search tests alone: for a store's own tests
// of a search path that only some databases take.
func RunSearch(t *testing.T, open func(t *testing.T) Store) { run(t, open, "Search") }

func run(t *testing.T, open func(t *testing.T) Store, prefix string) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"CreateAndFindUser", testCreateAndFindUser},
		{"FindUserNotFound", testFindUserNotFound},
		{"UniqueUsernameAndEmail", testUniqueUsernameAndEmail},
		{"IDsNeverReused", testIDsNeverReused},
		{"FindUsersPages", testFindUsersPages},
		{"FindUsersOrderings", testFindUsersOrderings},
		{"FindUsersIsActive", testFindUsersIsActive},
		{"CountsFollowChanges", testCountsFollowChanges},
		{"ListsFollowEveryChange", testListsFollowEveryChange},
		{"SearchSubstring", testSearchSubstring},
		{"SearchAllTerms", testSearchAllTerms},
		{"SearchNoCrossFieldMatch", testSearchNoCrossFieldMatch},
		{"SearchUnicodeFolding", testSearchUnicodeFolding},
		{"SearchLiteralWildcards", testSearchLiteralWildcards},
		{"SearchRanking", testSearchRanking},
		{"SearchShortTerms", testSearchShortTerms},
		{"SearchIsActive", testSearchIsActive},
		{"SearchPages", testSearchPages},
		{"SearchRandomized", testSearchRandomized},
		{"SearchRandomizedStored", testSearchRandomizedStored},
		{"SearchRandomizedDetached", testSearchRandomizedDetached},
		{"SearchDetachedCount", testSearchDetachedCount},
		{"SearchDetachedCountStale", testSearchDetachedCountStale},
		{"SearchStoredLater", testSearchStoredLater},
		{"UpdateOnlySetFields", testUpdateOnlySetFields},
		{"UpdateIfVersion", testUpdateIfVersion},
		{"UpdateUniqueness", testUpdateUniqueness},
		{"UpdateNotFound", testUpdateNotFound},
		{"UpdateLastAdmin", testUpdateLastAdmin},
		{"DeactivateRevokesTokens", testDeactivateRevokesTokens},
		{"PasswordChangeKeepsOneToken", testPasswordChangeKeepsOneToken},
		{"DeleteUser", testDeleteUser},
		{"DeleteLastAdmin", testDeleteLastAdmin},
		{"Credentials", testCredentials},
		{"Tokens", testTokens},
		{"TokenExpiry", testTokenExpiry},
		{"LoginThrottle", testLoginThrottle},
		{"CreateSession", testCreateSession},
		{"PersonalTokens", testPersonalTokens},
		{"TokenUses", testTokenUses},
		{"FindUsersIsService", testFindUsersIsService},
	}
	tests = append(tests, serviceTests...)
	for _, cache := range []bool{true, false} {
		name := "cache=on"
		if !cache {
			name = "cache=off"
		}
		t.Run(name, func(t *testing.T) {
			for _, tt := range tests {
				if !strings.HasPrefix(tt.name, prefix) {
					continue
				}
				t.Run(tt.name, func(t *testing.T) {
					s := open(t)
					s.SetCache(cache)
					c := roster.NewTestClock(time.Date(2026, 11, 27, 10, 11, 12, 123456789, time.UTC))
					s.SetClock(c)
					tt.fn(t, &harness{t: t, s: s, clock: c, ctx: context.Background(), cache: cache})
					s.WaitBackground()
					if n := s.ReadSlotsHeld(); n != 0 {
						t.Errorf("after the test %d reads still hold a slot of the read gate", n)
					}
				})
			}
		})
	}
}

// harness bundles one subtest's store, clock and helpers.
type harness struct {
	t     *testing.T
	s     Store
	clock *roster.TestClock
	ctx   context.Context
	cache bool // the store's cache layer is on
}

// user returns a valid, active, non-admin user to be created.
func user(username string) *roster.User {
	return &roster.User{Username: username, Email: username + "@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
}

// create stores u (by actor 0) and fails the test on error.
func (h *harness) create(u *roster.User) *roster.User {
	h.t.Helper()
	if err := h.s.CreateUser(h.ctx, 0, u, ""); err != nil {
		h.t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
	return u
}

// createNamed creates user(username).
func (h *harness) createNamed(username string) *roster.User {
	h.t.Helper()
	return h.create(user(username))
}

// admin creates an active admin.
func (h *harness) admin(username string) *roster.User {
	h.t.Helper()
	u := user(username)
	u.IsAdmin = true
	return h.create(u)
}

func (h *harness) find(id int64) *roster.User {
	h.t.Helper()
	u, err := h.s.FindUserByID(h.ctx, id)
	if err != nil {
		h.t.Fatalf("FindUserByID(%d): %v", id, err)
	}
	return u
}

func (h *harness) update(id int64, upd roster.UserUpdate) *roster.User {
	h.t.Helper()
	u, err := h.s.UpdateUser(h.ctx, 0, id, upd)
	if err != nil {
		h.t.Fatalf("UpdateUser(%d): %v", id, err)
	}
	return u
}

// token stores a token for user id expiring after ttl and returns it.
func (h *harness) token(id int64, ttl time.Duration) *roster.Token {
	h.t.Helper()
	_, hash := roster.NewTokenSecret()
	tok := &roster.Token{UserID: id, Hash: hash, ExpiresAt: h.clock.Now().Add(ttl)}
	if err := h.s.CreateToken(h.ctx, tok); err != nil {
		h.t.Fatalf("CreateToken(user %d): %v", id, err)
	}
	if tok.ID == 0 {
		h.t.Fatal("CreateToken did not set the token ID")
	}
	return tok
}

// tokenWorks reports whether tok authenticates (FindSession).
func (h *harness) tokenWorks(tok *roster.Token) bool {
	h.t.Helper()
	sess, err := h.s.FindSession(h.ctx, tok.Hash)
	if err != nil {
		wantCode(h.t, err, roster.EUNAUTHORIZED)
		return false
	}
	if sess.TokenID != tok.ID || sess.User == nil || sess.User.ID != tok.UserID {
		h.t.Errorf("FindSession = token %d user %+v, want token %d user %d", sess.TokenID, sess.User, tok.ID, tok.UserID)
	}
	return true
}

// wantCode fails unless err is a *roster.Error (possibly wrapped) with code.
func wantCode(t *testing.T, err error, code string) *roster.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var e *roster.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want a *roster.Error with code %s", err, err, code)
	}
	if got := roster.ErrorCode(err); got != code {
		t.Fatalf("got code %s (%v), want %s", got, err, code)
	}
	return e
}

// wantFields fails unless e names exactly the given fields.
func wantFields(t *testing.T, e *roster.Error, fields ...string) {
	t.Helper()
	if len(e.Fields) != len(fields) {
		t.Fatalf("error fields = %v, want exactly %v", e.Fields, fields)
	}
	for _, f := range fields {
		if len(e.Fields[f]) == 0 {
			t.Fatalf("error fields = %v, want a message for %q", e.Fields, f)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// ids returns the ids of users or user summaries, in order.
func ids[T roster.User | roster.UserSummary](users []*T) []int64 {
	out := make([]int64, len(users))
	for i, u := range users {
		switch u := any(u).(type) {
		case *roster.User:
			out[i] = u.ID
		case *roster.UserSummary:
			out[i] = u.ID
		}
	}
	return out
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// micro truncates t to the microsecond precision every store keeps.
func micro(t time.Time) time.Time { return t.Truncate(time.Microsecond) }
