package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/sqlstore"
)

// outageStore is a real store whose database goes away (is closed) the
// moment one chosen look-up runs, so that look-up, and only it, meets the
// outage: the answers it gives are the real store's.
type outageStore struct {
	httpapi.Store
	db     *sqlstore.DB
	method string
	id     int64
	cut    atomic.Bool
}

func (o *outageStore) at(method string, id int64) {
	if method == o.method && id == o.id && o.cut.CompareAndSwap(false, true) {
		o.db.Close()
	}
}

func (o *outageStore) FindUserByID(ctx context.Context, id int64) (*roster.User, error) {
	o.at("FindUserByID", id)
	return o.Store.FindUserByID(ctx, id)
}

func (o *outageStore) FindWorkspaceByID(ctx context.Context, id int64) (*roster.Workspace, error) {
	o.at("FindWorkspaceByID", id)
	return o.Store.FindWorkspaceByID(ctx, id)
}

func (o *outageStore) FindPasswordHash(ctx context.Context, id int64) (string, error) {
	o.at("FindPasswordHash", id)
	return o.Store.FindPasswordHash(ctx, id)
}

// TestOutageIsNotBadInput drives each look-up whose "not found" the API
// turns into a 400 or 403 with the database gone at that moment: the
// answer must be the store's own failure (500 or 503), logged, never the
// "wrong password", "unknown user" or "no access" of bad input.
func TestOutageIsNotBadInput(t *testing.T) { eachStore(t, testOutageIsNotBadInput) }

func testOutageIsNotBadInput(t *testing.T) {
	for _, c := range []struct {
		name   string
		method string
		// do sends the request; ids are the admin, a user with password
		// "bob-password" and a workspace the user has no role in.
		do func(e *env, admin, bob string, bobID, wsID int64) *resp
		// target picks the id whose look-up meets the outage.
		target func(bobID, wsID int64) int64
	}{
		{"current password of a password change", "FindPasswordHash",
			func(e *env, admin, bob string, bobID, wsID int64) *resp {
				return e.do("PATCH", "/api/v3/users/"+strconv.FormatInt(bobID, 10), bob,
					map[string]any{"password": "new-password-1", "currentPassword": "bob-password"})
			}, func(bobID, _ int64) int64 { return bobID }},
		{"actor of an activity posted by an admin", "FindUserByID",
			func(e *env, admin, bob string, bobID, wsID int64) *resp {
				return e.do("POST", "/api/v3/activities", admin, map[string]any{"verb": "outage.probe", "actor": bobID})
			}, func(bobID, _ int64) int64 { return bobID }},
		{"workspace of an activity posted by a user", "FindWorkspaceByID",
			func(e *env, admin, bob string, bobID, wsID int64) *resp {
				return e.do("POST", "/api/v3/activities", bob, map[string]any{"verb": "outage.probe", "workspace": wsID})
			}, func(_, wsID int64) int64 { return wsID }},
		{"workspace of an activity posted by an admin", "FindWorkspaceByID",
			func(e *env, admin, bob string, bobID, wsID int64) *resp {
				return e.do("POST", "/api/v3/activities", admin, map[string]any{"verb": "outage.probe", "workspace": wsID})
			}, func(_, wsID int64) int64 { return wsID }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			bob := e.createUser("bob", false, "bob-password")
			ws := &roster.Workspace{Name: "Outage", Slug: "outage"}
			if err := e.db.CreateWorkspace(context.Background(), e.Admin.ID, ws); err != nil {
				t.Fatal(err)
			}
			bobToken := e.token(bob)
			var logs logBuffer
			store := &outageStore{Store: e.db, db: e.db, method: c.method, id: c.target(bob.ID, ws.ID)}
			srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Store: store, Hasher: e.hasher,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
			t.Cleanup(srv.Close)
			e.URL = srv.URL

			r := c.do(e, e.AdminToken, bobToken, bob.ID, ws.ID)
			if !store.cut.Load() {
				t.Fatalf("the request never reached %s(%d); status %d: %s", c.method, store.id, r.Status, r.Body)
			}
			if r.Status != http.StatusInternalServerError && r.Status != http.StatusServiceUnavailable {
				t.Fatalf("with the database gone: status %d, want 500 or 503; body: %s", r.Status, r.Body)
			}
			r.expect(t, r.Status)
			if p := r.JSON(t); p["errors"] != nil {
				t.Errorf("an outage answered with field errors: %s", r.Body)
			}
			if !strings.Contains(logs.String(), `"msg":"request failed"`) {
				t.Errorf("the failure was not logged; log:\n%s", logs.String())
			}
		})
	}
}
