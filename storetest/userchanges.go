package storetest

import (
	"context"
	"testing"

	"github.com/rosterhq/roster"
)

// CheckUserChangesCoverUsers reads the whole users delta feed of s from the
// beginning and fails unless it holds exactly the users of FindUsers in
// their current state: what a seed or bulk load must leave behind.
func CheckUserChangesCoverUsers(t *testing.T, s interface {
	roster.UserService
	roster.UserChangeService
}) {
	t.Helper()
	ctx := context.Background()
	got := map[int64]roster.UserSummary{}
	var inst string
	var seq int64
	for {
		ch, err := s.FindUserChanges(ctx, inst, seq, 97)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ch.Changes {
			if c.User == nil {
				delete(got, c.ID)
			} else {
				got[c.ID] = *c.User
			}
		}
		inst, seq = ch.Installation, ch.Seq
		if !ch.HasMore {
			break
		}
	}
	n := 0
	for page := 0; ; page++ {
		users, total, err := s.FindUsers(ctx, roster.UserFilter{Page: roster.Page{Limit: 500, Offset: page * 500}})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if got[u.ID] != *u {
				t.Fatalf("user %d: feed has %+v, list %+v", u.ID, got[u.ID], *u)
			}
			n++
		}
		if (page+1)*500 >= total {
			break
		}
	}
	if n != len(got) {
		t.Fatalf("feed has %d users, the list %d", len(got), n)
	}
}
