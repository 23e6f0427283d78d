package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

func testCreateAndFindUser(t *testing.T, h *harness) {
	u := &roster.User{Username: "jdoe", Email: "jdoe@example.com", FirstName: "Jane", LastName: "Doe", IsActive: true,
		Bio: "Line one\nline two", AvatarURL: "https://example.com/a.png", Timezone: "Europe/Paris", Locale: "fr-CH"}
	h.create(u)
	if u.ID <= 0 {
		t.Fatalf("ID = %d, want a positive id", u.ID)
	}
	if want := micro(h.clock.Now()); !u.DateJoined.Equal(want) {
		t.Errorf("DateJoined = %v, want %v (the store's clock, to the microsecond)", u.DateJoined, want)
	}
	if u.Version != 1 {
		t.Errorf("Version = %d, want 1", u.Version)
	}
	h.clock.Advance(time.Hour)
	got := h.find(u.ID)
	if got.ID != u.ID || got.Username != "jdoe" || got.Email != "jdoe@example.com" || got.FirstName != "Jane" ||
		got.LastName != "Doe" || !got.IsActive || got.IsAdmin || got.Bio != "Line one\nline two" ||
		got.AvatarURL != "https://example.com/a.png" || got.Timezone != "Europe/Paris" || got.Locale != "fr-CH" {
		t.Errorf("FindUserByID = %+v, want the fields of %+v", got, u)
	}
	if !got.DateJoined.Equal(u.DateJoined) {
		t.Errorf("stored DateJoined = %v, want %v", got.DateJoined, u.DateJoined)
	}
	if got.DateJoined.Location() != time.UTC {
		t.Errorf("DateJoined location = %v, want UTC", got.DateJoined.Location())
	}
	if got.Version != 1 {
		t.Errorf("stored Version = %d, want 1", got.Version)
	}
	if got.LastLogin != nil {
		t.Errorf("LastLogin = %v, want nil before any login", got.LastLogin)
	}
	if got.Groups == nil || len(got.Groups) != 0 {
		t.Errorf("Groups = %#v, want an empty, non-nil list", got.Groups)
	}

	// An admin created by another user: the flags round-trip, and the new
	// user has not acted yet.
	a := h.admin("boss")
	v := &roster.User{Username: "Mixed.Case+1@x", Email: "Mixed.Case@Example.COM", IsActive: false, IsAdmin: true, Timezone: "UTC", Locale: "en"}
	if err := h.s.CreateUser(h.ctx, a.ID, v, "somehash"); err != nil {
		t.Fatal(err)
	}
	got = h.find(v.ID)
	if got.Username != v.Username || got.Email != v.Email || got.IsActive || !got.IsAdmin {
		t.Errorf("FindUserByID = %+v, want username and email as given (case kept), inactive admin", got)
	}
	if got.LastActiveAt != nil {
		t.Errorf("LastActiveAt = %v, want nil for a user created by someone else", got.LastActiveAt)
	}
	if v.ID <= a.ID || a.ID <= u.ID {
		t.Errorf("ids %d, %d, %d are not increasing", u.ID, a.ID, v.ID)
	}
	if n, err := h.s.CountUsers(h.ctx); err != nil || n != 3 {
		t.Errorf("CountUsers = %d, %v; want 3", n, err)
	}
}

func testFindUserNotFound(t *testing.T, h *harness) {
	for _, id := range []int64{0, -1, 1, 1 << 40} {
		_, err := h.s.FindUserByID(h.ctx, id)
		wantCode(t, err, roster.ENOTFOUND)
	}
}

func testUniqueUsernameAndEmail(t *testing.T, h *harness) {
	h.create(&roster.User{Username: "Alice", Email: "Alice@Example.com", IsActive: true, Timezone: "UTC", Locale: "en"})
	h.create(&roster.User{Username: "Straße", Email: "strasse@example.com", IsActive: true, Timezone: "UTC", Locale: "en"})
	h.create(&roster.User{Username: "Ångström", Email: "a@example.com", IsActive: true, Timezone: "UTC", Locale: "en"})
	for _, tc := range []struct {
		username, email string
		fields          []string
	}{
		{"alice", "other@example.com", []string{"username"}},
		{"ALICE", "other@example.com", []string{"username"}},
		{"bob", "alice@example.com", []string{"email"}},
		{"bob", "ALICE@EXAMPLE.COM", []string{"email"}},
		{"aLiCe", "aLiCe@eXaMpLe.CoM", []string{"email", "username"}},
		{"STRASSE", "s2@example.com", []string{"username"}}, // full case folding: ß folds to ss
		{"ÅNGSTRÖM", "a2@example.com", []string{"username"}},
		{"ångström", "a3@example.com", []string{"username"}},
	} {
		t.Run(tc.username+"/"+tc.email, func(t *testing.T) {
			err := h.s.CreateUser(h.ctx, 0, user2(tc.username, tc.email), "")
			e := wantCode(t, err, roster.ECONFLICT)
			wantFields(t, e, tc.fields...)
		})
	}
	// Nothing was stored by the failed attempts, and no id was spent on them
	// in a way that matters: the next user is created normally.
	if n, err := h.s.CountUsers(h.ctx); err != nil || n != 3 {
		t.Errorf("CountUsers = %d, %v; want 3", n, err)
	}
	h.create(user2("bob", "bob@example.com"))
}

func user2(username, email string) *roster.User {
	u := user(username)
	u.Email = email
	return u
}

func testIDsNeverReused(t *testing.T, h *harness) {
	a := h.admin("a")
	b := h.createNamed("b")
	c := h.createNamed("c")
	// Delete the newest user: a store that reuses max(id)+1 would give c's id again.
	if err := h.s.DeleteUser(h.ctx, a.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.s.DeleteUser(h.ctx, a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	d := h.createNamed("c")
	if d.ID <= c.ID {
		t.Errorf("new user got id %d, want more than the deleted %d", d.ID, c.ID)
	}
	_, err := h.s.FindUserByID(h.ctx, c.ID)
	wantCode(t, err, roster.ENOTFOUND)
	_, err = h.s.FindUserByID(h.ctx, b.ID)
	wantCode(t, err, roster.ENOTFOUND)
}

// listAll returns every user of f, in order, with a page size of 1000.
func (h *harness) listAll(f roster.UserFilter) ([]*roster.UserSummary, int) {
	h.t.Helper()
	f.Offset, f.Limit = 0, 1000
	users, n, err := h.s.FindUsers(h.ctx, f)
	if err != nil {
		h.t.Fatalf("FindUsers(%+v): %v", f, err)
	}
	return users, n
}

func testFindUsersPages(t *testing.T, h *harness) {
	users, n := h.listAll(roster.UserFilter{})
	if len(users) != 0 || n != 0 || users == nil {
		t.Errorf("empty store: FindUsers = %v, %d; want an empty non-nil list and 0", users, n)
	}
	var want []int64
	for i := range 7 {
		want = append(want, h.createNamed(fmt.Sprintf("user%d", i)).ID)
	}
	all, n := h.listAll(roster.UserFilter{})
	if n != 7 || !equalIDs(ids(all), want) {
		t.Fatalf("FindUsers = %v (count %d), want %v (count 7) in id order", ids(all), n, want)
	}
	var paged []int64
	for off := 0; off < 7; off += 3 {
		page, n, err := h.s.FindUsers(h.ctx, roster.UserFilter{Page: roster.Page{Offset: off, Limit: 3}})
		if err != nil {
			t.Fatal(err)
		}
		if n != 7 {
			t.Errorf("page at offset %d: count %d, want 7", off, n)
		}
		if wantLen := min(3, 7-off); len(page) != wantLen {
			t.Errorf("page at offset %d: %d users, want %d", off, len(page), wantLen)
		}
		paged = append(paged, ids(page)...)
	}
	if !equalIDs(paged, want) {
		t.Errorf("pages = %v, want %v", paged, want)
	}
	for _, off := range []int{7, 100} {
		page, n, err := h.s.FindUsers(h.ctx, roster.UserFilter{Page: roster.Page{Offset: off, Limit: 3}})
		if err != nil || len(page) != 0 || page == nil || n != 7 {
			t.Errorf("offset %d: FindUsers = %v, %d, %v; want an empty non-nil page and count 7", off, ids(page), n, err)
		}
	}
}

func testFindUsersOrderings(t *testing.T, h *harness) {
	// Lower-case ASCII values, so that every collation agrees on the order;
	// duplicate values exercise the tie-break by id.
	rows := []struct{ username, first, last string }{
		{"delta", "carol", "young"},
		{"alpha", "bob", "xavier"},
		{"echo", "alice", "young"},
		{"charlie", "bob", "zed"},
		{"bravo", "alice", "adams"},
	}
	byID := map[int64]*roster.User{}
	for i, r := range rows {
		u := user(r.username)
		u.Email = fmt.Sprintf("%c%d@example.com", 'z'-i, i)
		u.FirstName, u.LastName = r.first, r.last
		h.create(u)
		byID[u.ID] = u
		if i != 2 { // the third and fourth users share their dateJoined
			h.clock.Advance(time.Second)
		}
	}
	// Two users log in, at different times; the others never have.
	for _, id := range []int64{ids(sortedByID(byID))[3], ids(sortedByID(byID))[1]} {
		h.clock.Advance(time.Minute)
		_, hash := roster.NewTokenSecret()
		if err := h.s.CreateSession(h.ctx, &roster.Token{UserID: id, Hash: hash, ExpiresAt: h.clock.Now().Add(time.Hour)}, "k"); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range byID {
		byID[u.ID] = h.find(u.ID)
	}

	key := map[string]func(u *roster.User) string{
		"id":         func(u *roster.User) string { return fmt.Sprintf("%020d", u.ID) },
		"username":   func(u *roster.User) string { return u.Username },
		"email":      func(u *roster.User) string { return u.Email },
		"firstName":  func(u *roster.User) string { return u.FirstName },
		"lastName":   func(u *roster.User) string { return u.LastName },
		"dateJoined": func(u *roster.User) string { return fmt.Sprintf("%020d", u.DateJoined.UnixMicro()) },
		"lastLogin": func(u *roster.User) string {
			if u.LastLogin == nil {
				return ""
			}
			return fmt.Sprintf("%020d", u.LastLogin.UnixMicro())
		},
	}
	for _, field := range roster.UserOrderings {
		t.Run(field, func(t *testing.T) {
			k, ok := key[field]
			if !ok {
				t.Fatalf("no key for ordering %q", field)
			}
			asc, n := h.listAll(roster.UserFilter{Ordering: field})
			if n != len(rows) || len(asc) != len(rows) {
				t.Fatalf("got %d users (count %d), want %d", len(asc), n, len(rows))
			}
			// Ascending: by the field, ties by id. For lastLogin, users who never
			// logged in sort together at one end.
			want := sortedByID(byID)
			slices.SortStableFunc(want, func(a, b *roster.User) int { return strings.Compare(k(a), k(b)) })
			if field == "lastLogin" && byID[asc[0].ID].LastLogin != nil {
				// nulls last is as good as nulls first, as long as both directions agree
				slices.SortStableFunc(want, func(a, b *roster.User) int {
					return boolCmp(a.LastLogin == nil, b.LastLogin == nil)
				})
			}
			if !equalIDs(ids(asc), ids(want)) {
				t.Errorf("ordering %s = %v, want %v", field, ids(asc), ids(want))
			}
			desc, _ := h.listAll(roster.UserFilter{Ordering: "-" + field})
			rev := slices.Clone(ids(asc))
			slices.Reverse(rev)
			if !equalIDs(ids(desc), rev) {
				t.Errorf("ordering -%s = %v, want the reverse of %s: %v", field, ids(desc), field, rev)
			}
			// Paging through an ordering gives the same sequence.
			var paged []int64
			for off := 0; off < len(rows); off += 2 {
				page, _, err := h.s.FindUsers(h.ctx, roster.UserFilter{Ordering: "-" + field, Page: roster.Page{Offset: off, Limit: 2}})
				if err != nil {
					t.Fatal(err)
				}
				paged = append(paged, ids(page)...)
			}
			if !equalIDs(paged, rev) {
				t.Errorf("pages of -%s = %v, want %v", field, paged, rev)
			}
		})
	}
	_, _, err := h.s.FindUsers(h.ctx, roster.UserFilter{Ordering: "password", Page: roster.Page{Limit: 10}})
	wantCode(t, err, roster.EINVALID)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func sortedByID(m map[int64]*roster.User) []*roster.User {
	var out []*roster.User
	for _, u := range m {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b *roster.User) int { return int(a.ID - b.ID) })
	return out
}

func testFindUsersIsActive(t *testing.T, h *harness) {
	var active, inactive []int64
	for i := range 6 {
		u := user(fmt.Sprintf("u%d", i))
		u.IsActive = i%3 != 0
		h.create(u)
		if u.IsActive {
			active = append(active, u.ID)
		} else {
			inactive = append(inactive, u.ID)
		}
	}
	got, n := h.listAll(roster.UserFilter{IsActive: ptr(true)})
	if n != len(active) || !equalIDs(ids(got), active) {
		t.Errorf("isActive=true: %v (count %d), want %v", ids(got), n, active)
	}
	got, n = h.listAll(roster.UserFilter{IsActive: ptr(false)})
	if n != len(inactive) || !equalIDs(ids(got), inactive) {
		t.Errorf("isActive=false: %v (count %d), want %v", ids(got), n, inactive)
	}
	page, n, err := h.s.FindUsers(h.ctx, roster.UserFilter{IsActive: ptr(true), Ordering: "-id", Page: roster.Page{Offset: 1, Limit: 2}})
	if err != nil || n != 4 || !equalIDs(ids(page), []int64{active[2], active[1]}) {
		t.Errorf("isActive=true, -id, offset 1 limit 2: %v, %d, %v; want %v, 4", ids(page), n, err, []int64{active[2], active[1]})
	}
}

// checkCounts compares every count the store reports with the lists.
func (h *harness) checkCounts(wantActive, wantInactive int) {
	h.t.Helper()
	all, n := h.listAll(roster.UserFilter{})
	if n != wantActive+wantInactive || len(all) != n {
		h.t.Errorf("FindUsers: %d users, count %d; want %d", len(all), n, wantActive+wantInactive)
	}
	act, n := h.listAll(roster.UserFilter{IsActive: ptr(true)})
	if n != wantActive || len(act) != n {
		h.t.Errorf("FindUsers active: %d users, count %d; want %d", len(act), n, wantActive)
	}
	inact, n := h.listAll(roster.UserFilter{IsActive: ptr(false)})
	if n != wantInactive || len(inact) != n {
		h.t.Errorf("FindUsers inactive: %d users, count %d; want %d", len(inact), n, wantInactive)
	}
	if c, err := h.s.CountUsers(h.ctx); err != nil || c != wantActive+wantInactive {
		h.t.Errorf("CountUsers = %d, %v; want %d", c, err, wantActive+wantInactive)
	}
}

func testCountsFollowChanges(t *testing.T, h *harness) {
	h.checkCounts(0, 0)
	a := h.admin("admin")
	b := h.createNamed("b")
	c := h.createNamed("c")
	h.checkCounts(3, 0)
	h.update(b.ID, roster.UserUpdate{IsActive: ptr(false)})
	h.checkCounts(2, 1)
	h.update(b.ID, roster.UserUpdate{IsActive: ptr(false)}) // no change
	h.checkCounts(2, 1)
	h.update(b.ID, roster.UserUpdate{FirstName: ptr("Bea")}) // other fields leave counts alone
	h.checkCounts(2, 1)
	h.update(b.ID, roster.UserUpdate{IsActive: ptr(true)})
	h.checkCounts(3, 0)
	h.update(c.ID, roster.UserUpdate{IsActive: ptr(false)})
	if err := h.s.DeleteUser(h.ctx, a.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	h.checkCounts(2, 0)
	if err := h.s.DeleteUser(h.ctx, a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	h.checkCounts(1, 0)
	// Failed changes leave the counts alone.
	_, err := h.s.UpdateUser(h.ctx, a.ID, a.ID, roster.UserUpdate{IsActive: ptr(false)})
	wantCode(t, err, roster.ECONFLICT)
	wantCode(t, h.s.CreateUser(h.ctx, 0, user("ADMIN"), ""), roster.ECONFLICT)
	h.checkCounts(1, 0)
}

func testUpdateOnlySetFields(t *testing.T, h *harness) {
	u := &roster.User{Username: "jdoe", Email: "jdoe@example.com", FirstName: "Jane", LastName: "Doe", IsActive: true,
		Bio: "bio", AvatarURL: "https://example.com/a.png", Timezone: "Europe/Paris", Locale: "fr"}
	h.create(u)
	before := h.find(u.ID)
	h.clock.Advance(time.Hour)

	got := h.update(u.ID, roster.UserUpdate{FirstName: ptr("Janet"), Bio: ptr("")})
	want := *before
	want.FirstName, want.Bio, want.Version = "Janet", "", 2
	stored := h.find(u.ID)
	for _, g := range []*roster.User{got, stored} {
		if g.Username != want.Username || g.Email != want.Email || g.FirstName != want.FirstName || g.LastName != want.LastName ||
			g.IsActive != want.IsActive || g.IsAdmin != want.IsAdmin || g.Bio != want.Bio || g.AvatarURL != want.AvatarURL ||
			g.Timezone != want.Timezone || g.Locale != want.Locale || !g.DateJoined.Equal(want.DateJoined) ||
			!sameTime(g.LastLogin, want.LastLogin) || g.Version != want.Version {
			t.Errorf("after update: %+v, want %+v", g, want)
		}
	}
	if got.Groups == nil {
		t.Error("UpdateUser returned nil Groups, want an empty list")
	}

	// Every writable field at once.
	got = h.update(u.ID, roster.UserUpdate{Username: ptr("JDoe2"), Email: ptr("j2@example.com"), FirstName: ptr("J"),
		LastName: ptr("D"), IsAdmin: ptr(true), Bio: ptr("b"), AvatarURL: ptr("http://x.example/"), Timezone: ptr("UTC"),
		Locale: ptr("en-GB")})
	stored = h.find(u.ID)
	if stored.Username != "JDoe2" || stored.Email != "j2@example.com" || stored.FirstName != "J" || stored.LastName != "D" ||
		!stored.IsAdmin || stored.Bio != "b" || stored.AvatarURL != "http://x.example/" || stored.Timezone != "UTC" ||
		stored.Locale != "en-GB" || stored.Version != 3 || got.Version != 3 {
		t.Errorf("after full update: %+v", stored)
	}

	// An update that changes nothing is no change: the version stays.
	got = h.update(u.ID, roster.UserUpdate{Username: ptr("JDoe2"), IsActive: ptr(true)})
	if got.Version != 3 || h.find(u.ID).Version != 3 {
		t.Errorf("no-op update: version %d, want 3", got.Version)
	}
	got = h.update(u.ID, roster.UserUpdate{})
	if got.Version != 3 {
		t.Errorf("empty update: version %d, want 3", got.Version)
	}

	// A password change is a change too.
	got = h.update(u.ID, roster.UserUpdate{PasswordHash: ptr("newhash")})
	if got.Version != 4 {
		t.Errorf("password change: version %d, want 4", got.Version)
	}
	if hash, err := h.s.FindPasswordHash(h.ctx, u.ID); err != nil || hash != "newhash" {
		t.Errorf("FindPasswordHash = %q, %v; want newhash", hash, err)
	}
	// The new username is the one searched and logged in with.
	if cu, _, err := h.s.FindCredentials(h.ctx, "jdoe2"); err != nil || cu.ID != u.ID {
		t.Errorf("FindCredentials(new username) = %v, %v", cu, err)
	}
	if _, _, err := h.s.FindCredentials(h.ctx, "jdoe"); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Errorf("FindCredentials(old username) error = %v, want ENOTFOUND", err)
	}
	if found := h.searchIDs("jdoe2", nil); !equalIDs(found, []int64{u.ID}) {
		t.Errorf("search for the new username = %v, want [%d]", found, u.ID)
	}
	if found := h.searchIDs("janet", nil); len(found) != 0 {
		t.Errorf("search for the old first name = %v, want none", found)
	}
}

func testUpdateIfVersion(t *testing.T, h *harness) {
	u := h.createNamed("u")
	got, err := h.s.UpdateUser(h.ctx, 0, u.ID, roster.UserUpdate{FirstName: ptr("A"), IfVersion: 1})
	if err != nil || got.Version != 2 {
		t.Fatalf("matching IfVersion: %v, %v", got, err)
	}
	_, err = h.s.UpdateUser(h.ctx, 0, u.ID, roster.UserUpdate{FirstName: ptr("B"), IfVersion: 1})
	wantCode(t, err, roster.EPRECONDITION)
	_, err = h.s.UpdateUser(h.ctx, 0, u.ID, roster.UserUpdate{FirstName: ptr("B"), IfVersion: 3})
	wantCode(t, err, roster.EPRECONDITION)
	if s := h.find(u.ID); s.FirstName != "A" || s.Version != 2 {
		t.Errorf("after failed updates: first name %q version %d, want A and 2", s.FirstName, s.Version)
	}
	if _, err := h.s.UpdateUser(h.ctx, 0, u.ID, roster.UserUpdate{FirstName: ptr("B"), IfVersion: 2}); err != nil {
		t.Errorf("IfVersion 2: %v", err)
	}
}

func testUpdateUniqueness(t *testing.T, h *harness) {
	a := h.createNamed("alice")
	b := h.createNamed("bob")
	_, err := h.s.UpdateUser(h.ctx, 0, b.ID, roster.UserUpdate{Username: ptr("ALICE")})
	wantFields(t, wantCode(t, err, roster.ECONFLICT), "username")
	_, err = h.s.UpdateUser(h.ctx, 0, b.ID, roster.UserUpdate{Email: ptr("Alice@Example.com")})
	wantFields(t, wantCode(t, err, roster.ECONFLICT), "email")
	_, err = h.s.UpdateUser(h.ctx, 0, b.ID, roster.UserUpdate{Username: ptr("Alice"), Email: ptr("ALICE@example.com")})
	wantFields(t, wantCode(t, err, roster.ECONFLICT), "username", "email")
	if s := h.find(b.ID); s.Username != "bob" || s.Version != 1 {
		t.Errorf("after failed updates: %+v", s)
	}
	// A user may change the case of its own username and email.
	got := h.update(a.ID, roster.UserUpdate{Username: ptr("Alice"), Email: ptr("ALICE@example.com")})
	if got.Username != "Alice" || got.Email != "ALICE@example.com" {
		t.Errorf("case change: %+v", got)
	}
	// A freed name can be taken.
	h.update(a.ID, roster.UserUpdate{Username: ptr("alice2")})
	h.update(b.ID, roster.UserUpdate{Username: ptr("alice")})
}

func testUpdateNotFound(t *testing.T, h *harness) {
	u := h.createNamed("u")
	_, err := h.s.UpdateUser(h.ctx, 0, u.ID+1, roster.UserUpdate{FirstName: ptr("x")})
	wantCode(t, err, roster.ENOTFOUND)
	a := h.admin("a")
	if err := h.s.DeleteUser(h.ctx, a.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err = h.s.UpdateUser(h.ctx, 0, u.ID, roster.UserUpdate{FirstName: ptr("x")})
	wantCode(t, err, roster.ENOTFOUND)
}

func testUpdateLastAdmin(t *testing.T, h *harness) {
	a := h.admin("a")
	// An inactive admin is no admin for the guard.
	b := h.admin("b")
	h.update(b.ID, roster.UserUpdate{IsActive: ptr(false)})
	h.createNamed("plain")

	for name, upd := range map[string]roster.UserUpdate{
		"demote":     {IsAdmin: ptr(false)},
		"deactivate": {IsActive: ptr(false)},
		"both":       {IsAdmin: ptr(false), IsActive: ptr(false)},
	} {
		_, err := h.s.UpdateUser(h.ctx, a.ID, a.ID, upd)
		wantCode(t, err, roster.ECONFLICT)
		if s := h.find(a.ID); !s.IsAdmin || !s.IsActive || s.Version != 1 {
			t.Errorf("%s: the last admin changed: %+v", name, s)
		}
	}
	// Other changes to the last admin are fine.
	h.update(a.ID, roster.UserUpdate{FirstName: ptr("Ann"), IsAdmin: ptr(true), IsActive: ptr(true)})

	// With a second active admin, either may go, but not both.
	h.update(b.ID, roster.UserUpdate{IsActive: ptr(true)})
	h.update(a.ID, roster.UserUpdate{IsAdmin: ptr(false)})
	_, err := h.s.UpdateUser(h.ctx, b.ID, b.ID, roster.UserUpdate{IsActive: ptr(false)})
	wantCode(t, err, roster.ECONFLICT)
	// Promoting someone else lets the last one step down.
	h.update(a.ID, roster.UserUpdate{IsAdmin: ptr(true)})
	h.update(b.ID, roster.UserUpdate{IsActive: ptr(false)})
	if s := h.find(b.ID); s.IsActive || !s.IsAdmin {
		t.Errorf("b = %+v, want an inactive admin", s)
	}
}

func testDeactivateRevokesTokens(t *testing.T, h *harness) {
	h.admin("admin")
	u := h.createNamed("u")
	other := h.createNamed("other")
	t1, t2 := h.token(u.ID, time.Hour), h.token(u.ID, time.Hour)
	to := h.token(other.ID, time.Hour)
	h.update(u.ID, roster.UserUpdate{FirstName: ptr("x")})
	if !h.tokenWorks(t1) || !h.tokenWorks(t2) {
		t.Fatal("an ordinary update revoked tokens")
	}
	h.update(u.ID, roster.UserUpdate{IsActive: ptr(false)})
	if h.tokenWorks(t1) || h.tokenWorks(t2) {
		t.Error("tokens of a deactivated user still work")
	}
	// Reactivation does not bring the old tokens back: they were deleted.
	h.update(u.ID, roster.UserUpdate{IsActive: ptr(true)})
	if h.tokenWorks(t1) || h.tokenWorks(t2) {
		t.Error("tokens came back after reactivation")
	}
	if !h.tokenWorks(to) {
		t.Error("another user's token was revoked")
	}
	if t3 := h.token(u.ID, time.Hour); !h.tokenWorks(t3) {
		t.Error("a new token of the reactivated user does not work")
	}
}

func testPasswordChangeKeepsOneToken(t *testing.T, h *harness) {
	u := h.createNamed("u")
	other := h.createNamed("other")
	t1, t2, t3 := h.token(u.ID, time.Hour), h.token(u.ID, time.Hour), h.token(u.ID, time.Hour)
	to := h.token(other.ID, time.Hour)
	h.update(u.ID, roster.UserUpdate{PasswordHash: ptr("h2"), KeepTokenID: t2.ID})
	if h.tokenWorks(t1) || !h.tokenWorks(t2) || h.tokenWorks(t3) {
		t.Errorf("after a password change keeping token %d: t1 %v t2 %v t3 %v; want only t2", t2.ID,
			h.tokenWorks(t1), h.tokenWorks(t2), h.tokenWorks(t3))
	}
	if !h.tokenWorks(to) {
		t.Error("another user's token was revoked")
	}
	// Without KeepTokenID (an admin setting it), every token goes.
	h.update(u.ID, roster.UserUpdate{PasswordHash: ptr("h3")})
	if h.tokenWorks(t2) {
		t.Error("a password change without KeepTokenID kept a token")
	}
	// Another user's token id does not protect anything of this user, nor
	// does the change touch the other user.
	t4 := h.token(u.ID, time.Hour)
	h.update(u.ID, roster.UserUpdate{PasswordHash: ptr("h4"), KeepTokenID: to.ID})
	if h.tokenWorks(t4) || !h.tokenWorks(to) {
		t.Error("KeepTokenID of another user's token: wrong tokens revoked")
	}
}

func testDeleteUser(t *testing.T, h *harness) {
	a := h.admin("admin")
	u := h.createNamed("u")
	tok := h.token(u.ID, time.Hour)
	adminTok := h.token(a.ID, time.Hour)
	if err := h.s.DeleteUser(h.ctx, a.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err := h.s.FindUserByID(h.ctx, u.ID)
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, h.s.DeleteUser(h.ctx, a.ID, u.ID), roster.ENOTFOUND)
	_, err = h.s.UpdateUser(h.ctx, a.ID, u.ID, roster.UserUpdate{FirstName: ptr("x")})
	wantCode(t, err, roster.ENOTFOUND)
	_, _, err = h.s.FindCredentials(h.ctx, "u")
	wantCode(t, err, roster.ENOTFOUND)
	_, err = h.s.FindPasswordHash(h.ctx, u.ID)
	wantCode(t, err, roster.ENOTFOUND)
	if h.tokenWorks(tok) {
		t.Error("a deleted user's token still works")
	}
	if !h.tokenWorks(adminTok) {
		t.Error("deleting a user revoked the admin's token")
	}
	if found := h.searchIDs("u", nil); slices.Contains(found, u.ID) {
		t.Error("a deleted user is still found by search")
	}
	// The username and email are free again.
	v := h.createNamed("u")
	if v.ID == u.ID {
		t.Errorf("the new user reused id %d", u.ID)
	}
	wantCode(t, h.s.DeleteUser(h.ctx, a.ID, 1<<40), roster.ENOTFOUND)
}

func testDeleteLastAdmin(t *testing.T, h *harness) {
	a := h.admin("a")
	b := h.admin("b")
	h.update(b.ID, roster.UserUpdate{IsActive: ptr(false)})
	wantCode(t, h.s.DeleteUser(h.ctx, a.ID, a.ID), roster.ECONFLICT)
	h.find(a.ID)
	// An inactive admin can always go.
	if err := h.s.DeleteUser(h.ctx, a.ID, b.ID); err != nil {
		t.Fatalf("deleting an inactive admin: %v", err)
	}
	c := h.admin("c")
	if err := h.s.DeleteUser(h.ctx, c.ID, a.ID); err != nil {
		t.Fatalf("deleting one of two active admins: %v", err)
	}
	wantCode(t, h.s.DeleteUser(h.ctx, c.ID, c.ID), roster.ECONFLICT)
}

// testListsFollowEveryChange: list pages are served from a cache keyed by
// the users version; every change a summary shows must reach the next
// read, including changes that leave the count as it was.
func testListsFollowEveryChange(t *testing.T, h *harness) {
	a, b, c := h.createNamed("lista"), h.createNamed("listb"), h.createNamed("listc")
	page := func(f roster.UserFilter) []roster.UserSummary {
		t.Helper()
		f.Limit = 10
		got, _, err := h.s.FindUsers(h.ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]roster.UserSummary, len(got))
		for i, u := range got {
			out[i] = *u
		}
		return out
	}
	for _, f := range []roster.UserFilter{{}, {Ordering: "-username"}, {IsActive: ptr(true)}} {
		page(f) // fill the cache
	}
	check := func(what string, f roster.UserFilter, want func(u roster.UserSummary) bool) {
		t.Helper()
		for _, u := range page(f) {
			if want(u) {
				return
			}
		}
		t.Errorf("after %s: FindUsers(%+v) = %+v, missing the change", what, f, page(f))
	}
	h.update(b.ID, roster.UserUpdate{Username: ptr("listb2")})
	check("a rename", roster.UserFilter{}, func(u roster.UserSummary) bool { return u.ID == b.ID && u.Username == "listb2" })
	check("a rename", roster.UserFilter{Ordering: "-username"}, func(u roster.UserSummary) bool { return u.Username == "listb2" })
	h.update(b.ID, roster.UserUpdate{FirstName: ptr("Bea"), LastName: ptr("Lee"), Email: ptr("bea@example.com")})
	check("a name and email change", roster.UserFilter{}, func(u roster.UserSummary) bool {
		return u.ID == b.ID && u.FirstName == "Bea" && u.LastName == "Lee" && u.Email == "bea@example.com"
	})
	h.update(c.ID, roster.UserUpdate{IsActive: ptr(false)})
	check("a deactivation", roster.UserFilter{}, func(u roster.UserSummary) bool { return u.ID == c.ID && !u.IsActive })
	if got := ids(sliceOfPtrs(page(roster.UserFilter{IsActive: ptr(true)}))); slices.Contains(got, c.ID) {
		t.Errorf("after a deactivation, the isActive=true list still has user %d: %v", c.ID, got)
	}
	// A deletion and a creation: the total is back where it was.
	if err := h.s.DeleteUser(h.ctx, 0, a.ID); err != nil {
		t.Fatal(err)
	}
	d := h.createNamed("listd")
	got := ids(sliceOfPtrs(page(roster.UserFilter{})))
	if slices.Contains(got, a.ID) || !slices.Contains(got, d.ID) {
		t.Errorf("after deleting %d and creating %d (same count): list = %v", a.ID, d.ID, got)
	}
}

func sliceOfPtrs[T any](xs []T) []*T {
	out := make([]*T, len(xs))
	for i := range xs {
		out[i] = &xs[i]
	}
	return out
}
