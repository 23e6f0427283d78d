package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// serviceTests cover the workspace, group and activity services and the
// visibility rule of activities, which the store applies in SQL.
var serviceTests = []struct {
	name string
	fn   func(t *testing.T, h *harness)
}{
	{"Workspaces", testWorkspaces},
	{"WorkspaceListFollowsAccess", testWorkspaceListFollowsAccess},
	{"GrantsAndMembers", testGrantsAndMembers},
	{"Groups", testGroups},
	{"ActivityVisibility", testActivityVisibility},
	{"ConcurrentPosts", testConcurrentPosts},
	{"ActiveWorkspaces", testActiveWorkspaces},
	{"SearchGroupsAndWorkspaces", testSearchGroupsAndWorkspaces},
}

var allRows = roster.Page{Limit: 1000}

func (h *harness) workspace(name string) *roster.Workspace {
	h.t.Helper()
	w := &roster.Workspace{Name: name}
	if err := h.s.CreateWorkspace(h.ctx, 0, w); err != nil {
		h.t.Fatalf("CreateWorkspace(%q): %v", name, err)
	}
	return w
}

func (h *harness) group(name string) *roster.Group {
	h.t.Helper()
	g := &roster.Group{Name: name}
	if err := h.s.CreateGroup(h.ctx, 0, g); err != nil {
		h.t.Fatalf("CreateGroup(%q): %v", name, err)
	}
	return g
}

func (h *harness) grant(ws int64, s roster.Subject, role roster.Role) {
	h.t.Helper()
	if err := h.s.SetGrant(h.ctx, 0, ws, &roster.Grant{Subject: s, Role: role}); err != nil {
		h.t.Fatalf("SetGrant(workspace %d, %+v): %v", ws, s, err)
	}
}

func (h *harness) addMember(group, user int64) {
	h.t.Helper()
	if err := h.s.AddGroupMember(h.ctx, 0, group, user); err != nil {
		h.t.Fatalf("AddGroupMember(%d, %d): %v", group, user, err)
	}
}

func userSubject(id int64) roster.Subject  { return roster.Subject{Type: "user", ID: id} }
func groupSubject(id int64) roster.Subject { return roster.Subject{Type: "group", ID: id} }

func testWorkspaces(t *testing.T, h *harness) {
	w := h.workspace("Design Team")
	if w.ID == 0 || w.Slug != "design-team" || !w.CreatedAt.Equal(micro(h.clock.Now())) {
		t.Errorf("created %+v, want an id, slug design-team and the store's clock", w)
	}
	if w2 := h.workspace("Design team!"); w2.Slug != "design-team-2" {
		t.Errorf("second derived slug = %q, want design-team-2", w2.Slug)
	}
	err := h.s.CreateWorkspace(h.ctx, 0, &roster.Workspace{Name: "Other", Slug: "design-team"})
	wantCode(t, err, roster.ECONFLICT)
	got, err := h.s.FindWorkspaceByID(h.ctx, w.ID)
	if err != nil || got.Name != "Design Team" || got.Slug != "design-team" || !got.CreatedAt.Equal(w.CreatedAt) {
		t.Fatalf("FindWorkspaceByID = %+v, %v; want %+v", got, err, w)
	}
	_, err = h.s.FindWorkspaceByID(h.ctx, w.ID+100)
	wantCode(t, err, roster.ENOTFOUND)

	upd, err := h.s.UpdateWorkspace(h.ctx, 0, w.ID, roster.WorkspaceUpdate{Name: ptr("Design"), Slug: ptr("design")})
	if err != nil || upd.Name != "Design" || upd.Slug != "design" {
		t.Fatalf("UpdateWorkspace = %+v, %v", upd, err)
	}
	_, err = h.s.UpdateWorkspace(h.ctx, 0, w.ID, roster.WorkspaceUpdate{Slug: ptr("design-team-2")})
	wantCode(t, err, roster.ECONFLICT)
	_, err = h.s.UpdateWorkspace(h.ctx, 0, w.ID+100, roster.WorkspaceUpdate{Name: ptr("x")})
	wantCode(t, err, roster.ENOTFOUND)
	if got, _ := h.s.FindWorkspaceByID(h.ctx, w.ID); got.Slug != "design" {
		t.Errorf("after a refused update the slug is %q, want design", got.Slug)
	}

	if err := h.s.DeleteWorkspace(h.ctx, 0, w.ID); err != nil {
		t.Fatal(err)
	}
	_, err = h.s.FindWorkspaceByID(h.ctx, w.ID)
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, h.s.DeleteWorkspace(h.ctx, 0, w.ID), roster.ENOTFOUND)
	// The slug is free again.
	if w3 := h.workspace("Design"); w3.Slug != "design" {
		t.Errorf("slug after delete = %q, want design", w3.Slug)
	}
}

func testWorkspaceListFollowsAccess(t *testing.T, h *harness) {
	admin := h.admin("root")
	direct, viaGroup, none := h.createNamed("direct"), h.createNamed("viagroup"), h.createNamed("none")
	var ws []*roster.Workspace
	for _, n := range []string{"a", "b", "c", "d"} {
		ws = append(ws, h.workspace(n))
	}
	g := h.group("team")
	h.addMember(g.ID, viaGroup.ID)
	h.grant(ws[0].ID, userSubject(direct.ID), roster.RoleViewer)
	h.grant(ws[2].ID, userSubject(direct.ID), roster.RoleAdmin)
	h.grant(ws[1].ID, groupSubject(g.ID), roster.RoleMember)
	h.grant(ws[2].ID, groupSubject(g.ID), roster.RoleViewer)

	check := func(viewer *roster.User, want ...*roster.Workspace) {
		t.Helper()
		var wantIDs []int64
		for _, w := range want {
			wantIDs = append(wantIDs, w.ID)
		}
		list, total, err := h.s.FindWorkspaces(h.ctx, viewer, allRows)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, w := range list {
			got = append(got, w.ID)
		}
		if !equalIDs(got, wantIDs) || total != len(wantIDs) {
			t.Errorf("FindWorkspaces(%s) = %v (total %d), want %v", viewer.Username, got, total, wantIDs)
		}
		// A page keeps the total of the whole list.
		if page, total, err := h.s.FindWorkspaces(h.ctx, viewer, roster.Page{Limit: 1, Offset: 1}); err != nil || total != len(wantIDs) ||
			len(page) != min(1, max(len(wantIDs)-1, 0)) {
			t.Errorf("FindWorkspaces(%s, second page of 1) = %d rows, total %d, %v", viewer.Username, len(page), total, err)
		}
	}
	check(admin, ws...)
	check(direct, ws[0], ws[2])
	check(viaGroup, ws[1], ws[2])
	check(none)

	if err := h.s.RemoveGroupMember(h.ctx, 0, g.ID, viaGroup.ID); err != nil {
		t.Fatal(err)
	}
	check(viaGroup)
	if err := h.s.DeleteGrant(h.ctx, 0, ws[0].ID, userSubject(direct.ID)); err != nil {
		t.Fatal(err)
	}
	check(direct, ws[2])
}

func testGrantsAndMembers(t *testing.T, h *harness) {
	w := h.workspace("w")
	alice, bob := h.createNamed("alice"), h.createNamed("bob")
	g1, g2 := h.group("g1"), h.group("g2")
	h.addMember(g1.ID, bob.ID)
	h.addMember(g2.ID, bob.ID)
	h.grant(w.ID, userSubject(alice.ID), roster.RoleViewer)
	h.grant(w.ID, userSubject(bob.ID), roster.RoleViewer)
	h.grant(w.ID, groupSubject(g1.ID), roster.RoleAdmin)
	h.grant(w.ID, groupSubject(g2.ID), roster.RoleMember)
	h.grant(w.ID, userSubject(alice.ID), roster.RoleMember) // changes the role

	for _, c := range []struct {
		user int64
		want roster.Role
	}{{alice.ID, roster.RoleMember}, {bob.ID, roster.RoleAdmin}} {
		if role, err := h.s.WorkspaceRole(h.ctx, c.user, w.ID); err != nil || role != c.want {
			t.Errorf("WorkspaceRole(user %d) = %v, %v; want %v", c.user, role, err, c.want)
		}
	}
	carol := h.createNamed("carol")
	if role, err := h.s.WorkspaceRole(h.ctx, carol.ID, w.ID); err != nil || role != roster.NoRole {
		t.Errorf("WorkspaceRole(no grant) = %v, %v; want NoRole", role, err)
	}

	grants, total, err := h.s.FindGrants(h.ctx, w.ID, allRows)
	if err != nil || total != 4 || len(grants) != 4 {
		t.Fatalf("FindGrants = %d grants, total %d, %v; want 4", len(grants), total, err)
	}
	if s := grants[0].Subject; s.Type != "user" || s.ID != alice.ID || s.Name != "alice" || grants[0].Role != roster.RoleMember {
		t.Errorf("first grant = %+v, want alice as member", grants[0])
	}
	if s := grants[3].Subject; s.Type != "group" || s.ID != g2.ID || s.Name != "g2" {
		t.Errorf("last grant = %+v, want group g2", grants[3])
	}

	members, total, err := h.s.FindMembers(h.ctx, w.ID, allRows)
	if err != nil || total != 2 || len(members) != 2 {
		t.Fatalf("FindMembers = %d members, total %d, %v; want 2", len(members), total, err)
	}
	if m := members[0]; m.User.ID != alice.ID || m.Role != roster.RoleMember || !slices.Equal(m.Via, []string{"direct"}) {
		t.Errorf("member alice = %+v role %v via %v", m.User.ID, m.Role, m.Via)
	}
	if m := members[1]; m.User.ID != bob.ID || m.Role != roster.RoleAdmin || !slices.Equal(m.Via, []string{"direct", "g1", "g2"}) {
		t.Errorf("member bob = %+v role %v via %v, want admin via direct, g1, g2", m.User.ID, m.Role, m.Via)
	}

	// Absent subjects, workspaces and grants are ENOTFOUND and change nothing.
	wantCode(t, h.s.SetGrant(h.ctx, 0, w.ID, &roster.Grant{Subject: userSubject(carol.ID + 100), Role: roster.RoleViewer}), roster.ENOTFOUND)
	wantCode(t, h.s.SetGrant(h.ctx, 0, w.ID, &roster.Grant{Subject: groupSubject(g2.ID + 100), Role: roster.RoleViewer}), roster.ENOTFOUND)
	wantCode(t, h.s.SetGrant(h.ctx, 0, w.ID+100, &roster.Grant{Subject: userSubject(carol.ID), Role: roster.RoleViewer}), roster.ENOTFOUND)
	wantCode(t, h.s.DeleteGrant(h.ctx, 0, w.ID, userSubject(carol.ID)), roster.ENOTFOUND)
	_, _, err = h.s.FindMembers(h.ctx, w.ID+100, allRows)
	wantCode(t, err, roster.ENOTFOUND)

	if err := h.s.DeleteGrant(h.ctx, 0, w.ID, groupSubject(g1.ID)); err != nil {
		t.Fatal(err)
	}
	if role, _ := h.s.WorkspaceRole(h.ctx, bob.ID, w.ID); role != roster.RoleMember {
		t.Errorf("bob's role after g1's grant is revoked = %v, want member (g2)", role)
	}
	// Deleting a group removes its grants; deleting a user its own.
	if err := h.s.DeleteGroup(h.ctx, 0, g2.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.s.DeleteUser(h.ctx, 0, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, total, err := h.s.FindGrants(h.ctx, w.ID, allRows); err != nil || total != 1 {
		t.Errorf("grants after deleting g2 and alice: total %d, %v; want 1 (bob)", total, err)
	}
}

func testGroups(t *testing.T, h *harness) {
	g := h.group("Ops")
	if g.ID == 0 {
		t.Fatal("CreateGroup did not set the ID")
	}
	err := h.s.CreateGroup(h.ctx, 0, &roster.Group{Name: "OPS"})
	wantCode(t, err, roster.ECONFLICT)
	other := h.group("Dev")
	_, err = h.s.UpdateGroup(h.ctx, 0, other.ID, "ops")
	wantCode(t, err, roster.ECONFLICT)
	if got, err := h.s.UpdateGroup(h.ctx, 0, other.ID, "Developers"); err != nil || got.Name != "Developers" {
		t.Fatalf("UpdateGroup = %+v, %v", got, err)
	}
	_, err = h.s.UpdateGroup(h.ctx, 0, other.ID+100, "x")
	wantCode(t, err, roster.ENOTFOUND)

	a, b := h.createNamed("a"), h.createNamed("b")
	before := h.countVerb(roster.VerbGroupMemberAdded)
	h.addMember(g.ID, a.ID)
	h.addMember(g.ID, b.ID)
	h.addMember(g.ID, a.ID) // idempotent, recorded once
	if n := h.countVerb(roster.VerbGroupMemberAdded) - before; n != 2 {
		t.Errorf("group.member_added recorded %d times, want 2", n)
	}
	wantCode(t, h.s.AddGroupMember(h.ctx, 0, g.ID, b.ID+100), roster.ENOTFOUND)
	wantCode(t, h.s.AddGroupMember(h.ctx, 0, g.ID+100, a.ID), roster.ENOTFOUND)

	if got, err := h.s.FindGroupByID(h.ctx, g.ID); err != nil || got.Name != "Ops" || got.MemberCount != 2 {
		t.Errorf("FindGroupByID = %+v, %v; want Ops with 2 members", got, err)
	}
	members, total, err := h.s.FindGroupMembers(h.ctx, g.ID, allRows)
	if err != nil || total != 2 || !equalIDs(ids(members), []int64{a.ID, b.ID}) {
		t.Errorf("FindGroupMembers = %v (total %d), %v; want %v", ids(members), total, err, []int64{a.ID, b.ID})
	}
	if u := h.find(a.ID); len(u.Groups) != 1 || u.Groups[0].ID != g.ID || u.Groups[0].Name != "Ops" {
		t.Errorf("a's groups = %+v, want Ops", u.Groups)
	}
	groups, total, err := h.s.FindGroups(h.ctx, allRows)
	if err != nil || total != 2 || len(groups) != 2 {
		t.Errorf("FindGroups = %d groups, total %d, %v; want 2", len(groups), total, err)
	}

	if err := h.s.RemoveGroupMember(h.ctx, 0, g.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.s.RemoveGroupMember(h.ctx, 0, g.ID, a.ID), roster.ENOTFOUND)
	if err := h.s.DeleteUser(h.ctx, 0, b.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.s.FindGroupByID(h.ctx, g.ID); got.MemberCount != 0 {
		t.Errorf("MemberCount after removing a and deleting b = %d, want 0", got.MemberCount)
	}
	if err := h.s.DeleteGroup(h.ctx, 0, g.ID); err != nil {
		t.Fatal(err)
	}
	_, err = h.s.FindGroupByID(h.ctx, g.ID)
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, h.s.DeleteGroup(h.ctx, 0, g.ID), roster.ENOTFOUND)
}

// countVerb counts every activity of verb, as an admin sees them.
func (h *harness) countVerb(verb string) int {
	h.t.Helper()
	n, err := h.s.CountActivities(h.ctx, roster.ActivityFilter{Viewer: &roster.User{IsAdmin: true}, Verb: verb})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) post(actor int64, verb string, ws *roster.Workspace) *roster.Activity {
	h.t.Helper()
	a := &roster.Activity{ActorID: actor, Verb: verb}
	if ws != nil {
		a.WorkspaceID = &ws.ID
	}
	if err := h.s.CreateActivity(h.ctx, a); err != nil {
		h.t.Fatalf("CreateActivity(%d, %s): %v", actor, verb, err)
	}
	return a
}

// testActivityVisibility holds the store to the rule: an activity of actor
// X in workspace W is visible to V iff V is an admin, V is X, or W is set
// and V has access to W, directly or through a group. Lists and counts
// follow it for every filter, and follow changes of access at once.
func testActivityVisibility(t *testing.T, h *harness) {
	admin := h.admin("admin")
	x := h.createNamed("x")
	direct, viaGroup, none := h.createNamed("direct"), h.createNamed("viagroup"), h.createNamed("none")
	w1, w2 := h.workspace("w1"), h.workspace("w2")
	g := h.group("g")
	h.addMember(g.ID, viaGroup.ID)
	h.grant(w1.ID, userSubject(direct.ID), roster.RoleViewer)
	h.grant(w1.ID, groupSubject(g.ID), roster.RoleViewer)

	type posted struct {
		a  *roster.Activity
		ws *roster.Workspace
	}
	var all []posted
	for _, p := range []struct {
		actor *roster.User
		ws    *roster.Workspace
	}{{x, w1}, {x, w2}, {x, nil}, {none, nil}, {none, w1}, {direct, w2}, {x, w1}} {
		all = append(all, posted{h.post(p.actor.ID, "test.done", p.ws), p.ws})
	}
	// access is who reaches each workspace, kept in step with the grants.
	access := map[int64]map[int64]bool{w1.ID: {direct.ID: true, viaGroup.ID: true}, w2.ID: {}}
	visible := func(v *roster.User, p posted) bool {
		return v.IsAdmin || v.ID == p.a.ActorID || (p.ws != nil && access[p.ws.ID][v.ID])
	}
	check := func(stage string) {
		t.Helper()
		for _, v := range []*roster.User{admin, x, direct, viaGroup, none} {
			filters := map[string]roster.ActivityFilter{
				"all":         {},
				"actor x":     {ActorID: &x.ID},
				"actor none":  {ActorID: &none.ID},
				"workspace 1": {WorkspaceID: &w1.ID},
				"workspace 2": {WorkspaceID: &w2.ID},
			}
			for name, f := range filters {
				f.Viewer, f.Verb, f.Page = v, "test.*", allRows
				var want []int64
				for i := len(all) - 1; i >= 0; i-- { // newest first
					p := all[i]
					if (f.ActorID == nil || *f.ActorID == p.a.ActorID) && (f.WorkspaceID == nil || (p.ws != nil && *f.WorkspaceID == p.ws.ID)) && visible(v, p) {
						want = append(want, p.a.ID)
					}
				}
				list, err := h.s.FindActivities(h.ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, a := range list {
					got = append(got, a.ID)
				}
				if !equalIDs(got, want) {
					t.Errorf("%s: FindActivities(viewer %s, %s) = %v, want %v", stage, v.Username, name, got, want)
				}
				if n, err := h.s.CountActivities(h.ctx, f); err != nil || n != len(want) {
					t.Errorf("%s: CountActivities(viewer %s, %s) = %d, %v; want %d", stage, v.Username, name, n, err, len(want))
				}
			}
		}
	}
	check("initial")

	if err := h.s.RemoveGroupMember(h.ctx, 0, g.ID, viaGroup.ID); err != nil {
		t.Fatal(err)
	}
	delete(access[w1.ID], viaGroup.ID)
	check("after leaving the group")

	h.grant(w2.ID, groupSubject(g.ID), roster.RoleMember)
	h.addMember(g.ID, none.ID)
	access[w2.ID][none.ID], access[w1.ID][none.ID] = true, true // g's grants: w1 and w2
	check("after a group grant on w2")

	if err := h.s.DeleteGrant(h.ctx, 0, w1.ID, userSubject(direct.ID)); err != nil {
		t.Fatal(err)
	}
	delete(access[w1.ID], direct.ID)
	check("after revoking direct's grant")

	// A deleted workspace leaves its activities (still filtered by its id)
	// to their actors and admins.
	if err := h.s.DeleteWorkspace(h.ctx, 0, w2.ID); err != nil {
		t.Fatal(err)
	}
	delete(access, w2.ID)
	check("after deleting w2")

	// The actor of a filter must exist, whatever the viewer sees.
	ghost := x.ID + 1000
	_, err := h.s.CountActivities(h.ctx, roster.ActivityFilter{Viewer: admin, ActorID: &ghost})
	wantCode(t, err, roster.ENOTFOUND)
	if last, err := h.s.LastActivityID(h.ctx); err != nil || last < all[len(all)-1].a.ID {
		t.Errorf("LastActivityID = %d, %v; want at least %d", last, err, all[len(all)-1].a.ID)
	}
}

func testActiveWorkspaces(t *testing.T, h *harness) {
	x, viewer := h.createNamed("x"), h.createNamed("viewer")
	admin := h.admin("admin")
	w1, w2, w3 := h.workspace("w1"), h.workspace("w2"), h.workspace("w3")
	g := h.group("g")
	h.addMember(g.ID, x.ID)
	h.grant(w1.ID, userSubject(x.ID), roster.RoleMember)
	h.grant(w1.ID, groupSubject(g.ID), roster.RoleAdmin)
	h.grant(w2.ID, groupSubject(g.ID), roster.RoleViewer)
	h.grant(w2.ID, userSubject(viewer.ID), roster.RoleViewer)
	since := h.clock.Now()
	h.post(x.ID, "test.a", w1)
	h.clock.Advance(time.Minute)
	h.post(x.ID, "test.b", w2)
	h.post(x.ID, "test.c", w2)
	h.post(x.ID, "test.d", w3) // x has no access to w3: not listed
	h.post(x.ID, "test.e", nil)

	list, total, err := h.s.FindActiveWorkspaces(h.ctx, roster.ActiveWorkspaceFilter{Viewer: admin, ActorID: x.ID, Since: since, Page: allRows})
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("FindActiveWorkspaces(admin) = %d, total %d, %v; want w2, w1", len(list), total, err)
	}
	if a := list[0]; a.ID != w2.ID || a.ActivityCount != 2 || a.Role != roster.RoleViewer || !slices.Equal(a.Via, []string{"g"}) ||
		!a.LastActiveAt.Equal(micro(h.clock.Now())) {
		t.Errorf("first active workspace = %+v, want w2 with 2 activities, viewer via g", a)
	}
	if a := list[1]; a.ID != w1.ID || a.ActivityCount != 1 || a.Role != roster.RoleAdmin || !slices.Equal(a.Via, []string{"direct", "g"}) {
		t.Errorf("second active workspace = %+v, want w1 with 1 activity, admin via direct and g", a)
	}
	// Another viewer sees only the workspaces it can access too.
	list, total, err = h.s.FindActiveWorkspaces(h.ctx, roster.ActiveWorkspaceFilter{Viewer: viewer, ActorID: x.ID, Since: since, Page: allRows})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != w2.ID {
		t.Errorf("FindActiveWorkspaces(viewer) = %d, total %d, %v; want w2 only", len(list), total, err)
	}
	// Since bounds the activities counted.
	list, total, err = h.s.FindActiveWorkspaces(h.ctx, roster.ActiveWorkspaceFilter{Viewer: x, ActorID: x.ID, Since: h.clock.Now(), Page: allRows})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != w2.ID {
		t.Errorf("FindActiveWorkspaces(since the last minute) = %d, total %d, %v; want w2 only", len(list), total, err)
	}
}

// testSearchGroupsAndWorkspaces: the searches match a substring of the name
// (or a workspace's slug) ignoring ASCII case, take % and _ literally, keep
// the viewer's access, and count the whole result beside one page.
func testSearchGroupsAndWorkspaces(t *testing.T, h *harness) {
	admin := h.admin("root")
	member := h.createNamed("member")
	design, devops, sales := h.group("Design"), h.group("DevOps"), h.group("100%_sales")
	groupIDs := func(q string, p roster.Page) ([]int64, int) {
		t.Helper()
		list, total, err := h.s.SearchGroups(h.ctx, q, p)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, g := range list {
			got = append(got, g.ID)
		}
		return got, total
	}
	for _, c := range []struct {
		q    string
		want []int64
	}{
		{"de", []int64{design.ID, devops.ID}}, {"DEV", []int64{devops.ID}}, {"sign", []int64{design.ID}},
		{"%", []int64{sales.ID}}, {"0%_", []int64{sales.ID}}, {"_", []int64{sales.ID}}, {"x", nil},
	} {
		if got, total := groupIDs(c.q, allRows); !equalIDs(got, c.want) || total != len(c.want) {
			t.Errorf("SearchGroups(%q) = %v (total %d), want %v", c.q, got, total, c.want)
		}
	}
	if got, total := groupIDs("e", roster.Page{Limit: 1, Offset: 1}); !equalIDs(got, []int64{devops.ID}) || total != 3 {
		t.Errorf("SearchGroups(e, second page of 1) = %v (total %d), want [%d] of 3", got, total, devops.ID)
	}

	mkt, ops, other := h.workspace("Marketing"), h.workspace("Ops Team"), h.workspace("Market research")
	h.grant(mkt.ID, userSubject(member.ID), roster.RoleViewer)
	h.grant(ops.ID, userSubject(member.ID), roster.RoleViewer)
	wsIDs := func(viewer *roster.User, q string) []int64 {
		t.Helper()
		list, total, err := h.s.SearchWorkspaces(h.ctx, viewer, q, allRows)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, w := range list {
			got = append(got, w.ID)
		}
		if total != len(got) {
			t.Errorf("SearchWorkspaces(%s, %q): total %d for %d rows", viewer.Username, q, total, len(got))
		}
		return got
	}
	for _, c := range []struct {
		viewer *roster.User
		q      string
		want   []int64
	}{
		{admin, "MARKET", []int64{mkt.ID, other.ID}}, {member, "market", []int64{mkt.ID}},
		{admin, "ops-team", []int64{ops.ID}}, {member, "team", []int64{ops.ID}}, {member, "research", nil},
	} {
		if got := wsIDs(c.viewer, c.q); !equalIDs(got, c.want) {
			t.Errorf("SearchWorkspaces(%s, %q) = %v, want %v", c.viewer.Username, c.q, got, c.want)
		}
	}
}

// testConcurrentPosts posts activities from many goroutines at once, so
// that the store's group commit inserts them together (in one statement
// where it can): each valid post is stored once with its own id, actor's
// username and workspace's name, and a post by a deleted actor or to a
// deleted workspace fails with ENOTFOUND without failing the others.
func testConcurrentPosts(t *testing.T, h *harness) {
	admin := h.admin("admin")
	a, b := h.createNamed("alice"), h.createNamed("bob")
	gone := h.createNamed("gone")
	if err := h.s.DeleteUser(h.ctx, admin.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	w, wGone := h.workspace("w"), h.workspace("gone")
	if err := h.s.DeleteWorkspace(h.ctx, admin.ID, wGone.ID); err != nil {
		t.Fatal(err)
	}
	type post struct {
		a       *roster.Activity
		want    string // username, or "" when the post must fail
		wantWS  string
		err     error
		invalid bool
	}
	stored := 0
	for round := range 6 {
		posts := make([]*post, 48)
		for i := range posts {
			p := &post{a: &roster.Activity{ActorID: a.ID, Verb: "probe.posted", Data: json.RawMessage(fmt.Sprintf(`{"round":%d,"i":%d}`, round, i))}, want: "alice"}
			if i%2 == 1 {
				p.a.ActorID, p.want = b.ID, "bob"
			}
			if i%3 == 0 {
				p.a.WorkspaceID, p.wantWS = &w.ID, "w"
			}
			// Rounds 0 and 1 are all valid; later ones mix in failures.
			switch {
			case round >= 2 && i%7 == 3:
				p.a.ActorID, p.invalid = gone.ID, true
			case round >= 2 && i%11 == 5:
				p.a.WorkspaceID, p.invalid = &wGone.ID, true
			}
			posts[i] = p
		}
		var wg sync.WaitGroup
		for _, p := range posts {
			wg.Go(func() { p.err = h.s.CreateActivity(h.ctx, p.a) })
		}
		wg.Wait()
		seen := map[int64]bool{}
		for i, p := range posts {
			if p.invalid {
				wantCode(t, p.err, roster.ENOTFOUND)
				continue
			}
			if p.err != nil {
				t.Fatalf("round %d post %d: %v", round, i, p.err)
			}
			stored++
			if p.a.ID <= 0 || seen[p.a.ID] {
				t.Fatalf("round %d post %d: id %d (duplicate or unset)", round, i, p.a.ID)
			}
			seen[p.a.ID] = true
			if p.a.ActorUsername == nil || *p.a.ActorUsername != p.want || p.a.WorkspaceName != p.wantWS {
				t.Errorf("round %d post %d: actor %v, workspace %q; want %q, %q", round, i, p.a.ActorUsername, p.a.WorkspaceName, p.want, p.wantWS)
			}
			got, err := h.s.FindActivities(h.ctx, roster.ActivityFilter{Viewer: admin, UpTo: p.a.ID, After: p.a.ID - 1, Page: roster.Page{Limit: 2}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].ActorID != p.a.ActorID || string(got[0].Data) != string(p.a.Data) ||
				(p.wantWS != "") != (got[0].WorkspaceID != nil) {
				t.Errorf("round %d post %d: stored %+v, posted %+v", round, i, got, p.a)
			}
		}
	}
	if n := h.countVerb("probe.posted"); n != stored {
		t.Errorf("%d probe.posted activities stored, want %d", n, stored)
	}
}
