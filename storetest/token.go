package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// personal stores a personal token of user id with scopes through IssueToken.
func (h *harness) personal(id int64, name string, scopes roster.Scopes, ttl time.Duration) *roster.Token {
	h.t.Helper()
	secret, hash := roster.NewTokenSecret()
	tok := &roster.Token{UserID: id, Hash: hash, Kind: roster.TokenPersonal, Name: name, Scopes: scopes,
		Prefix: roster.TokenPrefix(secret), ExpiresAt: h.clock.Now().Add(ttl)}
	if err := h.s.IssueToken(h.ctx, id, tok); err != nil {
		h.t.Fatalf("IssueToken(user %d): %v", id, err)
	}
	if tok.ID == 0 || !tok.CreatedAt.Equal(h.clock.Now()) {
		h.t.Fatalf("IssueToken set ID %d, CreatedAt %v", tok.ID, tok.CreatedAt)
	}
	return tok
}

// testPersonalTokens: a personal token keeps its kind, name, scopes and
// prefix; sessions carry every scope; FindTokens lists the unexpired tokens
// of one user, newest first; RevokeToken ends one token only.
func testPersonalTokens(t *testing.T, h *harness) {
	u := h.createNamed("owner")
	other := h.createNamed("other")
	session := h.token(u.ID, time.Hour)
	scopes := roster.ScopesOf(roster.ScopeUsersRead, roster.ScopeActivitiesWrite)
	ci := h.personal(u.ID, "ci-bot", scopes, 24*time.Hour)
	h.personal(u.ID, "short", roster.ScopesOf(roster.ScopeTokens), time.Minute)
	h.personal(other.ID, "theirs", scopes, time.Hour)

	sess, err := h.s.FindSession(h.ctx, ci.Hash)
	if err != nil || sess.TokenID != ci.ID || sess.TokenKind != roster.TokenPersonal || sess.Scopes != scopes {
		t.Fatalf("FindSession(personal) = %+v, %v", sess, err)
	}
	if !sess.Allows(roster.ScopeUsersRead) || sess.Allows(roster.ScopeUsersWrite) {
		t.Errorf("personal token allows %v", sess.Scopes.List())
	}
	if sess, err := h.s.FindSession(h.ctx, session.Hash); err != nil || sess.TokenKind != roster.TokenSession || sess.Scopes != roster.EveryScope {
		t.Fatalf("FindSession(session) = %+v, %v", sess, err)
	}

	h.clock.Advance(2 * time.Minute) // "short" expires
	list, total, err := h.s.FindTokens(h.ctx, u.ID, roster.Page{Limit: 10})
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("FindTokens = %d tokens (total %d), %v; want 2", len(list), total, err)
	}
	got := list[0]
	if got.ID != ci.ID || got.Name != "ci-bot" || got.Kind != roster.TokenPersonal || got.Scopes != scopes || got.Prefix != ci.Prefix ||
		got.LastUsedAt != nil || !got.ExpiresAt.Equal(ci.ExpiresAt.Truncate(time.Microsecond)) || got.Hash != nil {
		t.Errorf("newest token = %+v, want ci-bot", got)
	}
	if list[1].ID != session.ID || list[1].Kind != roster.TokenSession {
		t.Errorf("second token = %+v, want the session", list[1])
	}
	if page, total, _ := h.s.FindTokens(h.ctx, u.ID, roster.Page{Offset: 1, Limit: 1}); total != 2 || len(page) != 1 || page[0].ID != session.ID {
		t.Errorf("page 2 of size 1: %v (total %d)", page, total)
	}
	if tok, err := h.s.FindToken(h.ctx, ci.ID); err != nil || tok.UserID != u.ID {
		t.Errorf("FindToken = %+v, %v", tok, err)
	}
	_, err = h.s.FindToken(h.ctx, ci.ID+1000)
	wantCode(t, err, roster.ENOTFOUND)

	if err := h.s.RevokeToken(h.ctx, u.ID, ci.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.s.RevokeToken(h.ctx, u.ID, ci.ID), roster.ENOTFOUND)
	if h.tokenWorks(ci) || !h.tokenWorks(session) {
		t.Error("revoking one token did not end exactly that one")
	}
}

// testTokenUses: a use noted with MarkTokenUsed shows at once and is stored
// by FlushTokenUses; an older use never moves lastUsedAt back.
func testTokenUses(t *testing.T, h *harness) {
	u := h.createNamed("owner")
	tok := h.personal(u.ID, "used", roster.ScopesOf(roster.ScopeUsersRead), time.Hour)
	at := h.clock.Now().Add(time.Minute).Truncate(time.Microsecond)
	h.s.MarkTokenUsed(tok.ID, at)
	lastUsed := func() *time.Time {
		t.Helper()
		got, err := h.s.FindToken(h.ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUsedAt
	}
	if got := lastUsed(); got == nil || !got.Equal(at) {
		t.Fatalf("lastUsedAt before the flush = %v, want %v", got, at)
	}
	if err := h.s.FlushTokenUses(h.ctx); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); got == nil || !got.Equal(at) {
		t.Fatalf("lastUsedAt after the flush = %v, want %v", got, at)
	}
	h.s.MarkTokenUsed(tok.ID, at.Add(-time.Second))
	if err := h.s.FlushTokenUses(h.ctx); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); got == nil || !got.Equal(at) {
		t.Fatalf("an older use moved lastUsedAt to %v", got)
	}
}

// testFindUsersIsService: isService narrows lists and counts, alone and
// with isActive, and follows new accounts.
func testFindUsersIsService(t *testing.T, h *harness) {
	var people, services, activeServices []int64
	for i := range 8 {
		u := user(fmt.Sprintf("u%d", i))
		u.IsService = i%3 == 1
		u.IsActive = i != 4
		h.create(u)
		if u.IsService {
			services = append(services, u.ID)
			if u.IsActive {
				activeServices = append(activeServices, u.ID)
			}
		} else {
			people = append(people, u.ID)
		}
	}
	check := func(label string, f roster.UserFilter, want []int64) {
		t.Helper()
		got, n := h.listAll(f)
		if n != len(want) || !equalIDs(ids(got), want) {
			t.Errorf("%s: %v (count %d), want %v", label, ids(got), n, want)
		}
	}
	check("isService=true", roster.UserFilter{IsService: ptr(true)}, services)
	check("isService=false", roster.UserFilter{IsService: ptr(false)}, people)
	check("isService=true&isActive=true", roster.UserFilter{IsService: ptr(true), IsActive: ptr(true)}, activeServices)
	if u, err := h.s.FindUserByID(h.ctx, services[0]); err != nil || !u.IsService {
		t.Errorf("FindUserByID(service account) = %+v, %v", u, err)
	}
	extra := user("late-bot")
	extra.IsService = true
	h.create(extra)
	check("isService=true after one more", roster.UserFilter{IsService: ptr(true)}, append(services, extra.ID))
	check("isService=false after one more", roster.UserFilter{IsService: ptr(false)}, people)
}
