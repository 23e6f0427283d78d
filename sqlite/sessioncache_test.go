package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// TestSessionCacheAcrossStores: a revocation through the same store ends
// the session at once; one made by another process sharing the file is
// seen within the cache TTL.
func TestSessionCacheAcrossStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	a, b := mustOpenPath(t, path), mustOpenPath(t, path)
	const ttl = 200 * time.Millisecond
	a.SetSessionCacheTTL(ttl)

	u := &roster.User{Username: "cached", Email: "cached@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
	if err := a.CreateUser(ctx, 0, u, ""); err != nil {
		t.Fatal(err)
	}
	newToken := func() *roster.Token {
		_, hash := roster.NewTokenSecret()
		tok := &roster.Token{UserID: u.ID, Hash: hash, ExpiresAt: time.Now().Add(time.Hour)}
		if err := a.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		return tok
	}

	// Same store: DeleteToken clears the cache when it commits.
	tok := newToken()
	if _, err := a.FindSession(ctx, tok.Hash); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.FindSession(ctx, tok.Hash); roster.ErrorCode(err) != roster.EUNAUTHORIZED {
		t.Fatalf("after DeleteToken on the same store: %v, want EUNAUTHORIZED", err)
	}

	// Same store: deactivating the user ends its cached sessions at once.
	tok = newToken()
	if _, err := a.FindSession(ctx, tok.Hash); err != nil {
		t.Fatal(err)
	}
	inactive := false
	if _, err := a.UpdateUser(ctx, u.ID, u.ID, roster.UserUpdate{IsActive: &inactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.FindSession(ctx, tok.Hash); roster.ErrorCode(err) != roster.EUNAUTHORIZED {
		t.Fatalf("after deactivation on the same store: %v, want EUNAUTHORIZED", err)
	}
	active := true
	if _, err := a.UpdateUser(ctx, u.ID, u.ID, roster.UserUpdate{IsActive: &active}); err != nil {
		t.Fatal(err)
	}

	// Another store: a is told nothing, so it may answer from its cache
	// until the TTL has passed, and not after.
	tok = newToken()
	if _, err := a.FindSession(ctx, tok.Hash); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	if err := b.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.FindSession(ctx, tok.Hash); err != nil && time.Since(revoked) < ttl/2 {
		t.Fatalf("within the TTL a cached session was refused (%v): the cache is not used", err)
	}
	time.Sleep(ttl + 20*time.Millisecond)
	if _, err := a.FindSession(ctx, tok.Hash); roster.ErrorCode(err) != roster.EUNAUTHORIZED {
		t.Fatalf("after the TTL: %v, want EUNAUTHORIZED", err)
	}

	// With the cache off, the other store's revocation is seen at once.
	a.SetSessionCacheTTL(0)
	tok = newToken()
	if _, err := a.FindSession(ctx, tok.Hash); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.FindSession(ctx, tok.Hash); roster.ErrorCode(err) != roster.EUNAUTHORIZED {
		t.Fatalf("cache off: %v, want EUNAUTHORIZED", err)
	}
}

// TestListCacheAcrossStores: a page of users cached by one store is not
// served after another process sharing the file changes a user on it.
func TestListCacheAcrossStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	a, b := mustOpenPath(t, path), mustOpenPath(t, path)
	u := &roster.User{Username: "before", Email: "before@example.com", IsActive: true, Timezone: "UTC", Locale: "en"}
	if err := a.CreateUser(ctx, 0, u, ""); err != nil {
		t.Fatal(err)
	}
	list := func() string {
		t.Helper()
		page, _, err := a.FindUsers(ctx, roster.UserFilter{Page: roster.Page{Limit: 10}})
		if err != nil || len(page) != 1 {
			t.Fatalf("FindUsers = %v, %v", page, err)
		}
		return page[0].Username
	}
	if got := list(); got != "before" {
		t.Fatalf("username %q", got)
	}
	name := "after"
	if _, err := b.UpdateUser(ctx, u.ID, u.ID, roster.UserUpdate{Username: &name}); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "after" {
		t.Fatalf("after another store renamed the user, the list shows %q", got)
	}
}
