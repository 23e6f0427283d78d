package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/stream"
)

// scimEnv is an env with an admin service account holding a scim token,
// made through the API as the README says.
type scimEnv struct {
	*env
	svcID int64
	tok   string
}

func newSCIMEnv(t *testing.T, e *env) *scimEnv {
	t.Helper()
	svc := e.do("POST", "/api/v3/users", e.AdminToken, map[string]any{"username": "idp-provisioner", "email": "idp@example.com",
		"isService": true, "isAdmin": true}).expect(t, http.StatusCreated).JSON(t)
	id := int64(svc["id"].(float64))
	tok := e.do("POST", fmt.Sprintf("/api/v3/users/%d/tokens", id), e.AdminToken, map[string]any{"name": "okta", "scopes": []string{"scim"}}).
		expect(t, http.StatusCreated).JSON(t)["token"].(string)
	return &scimEnv{env: e, svcID: id, tok: tok}
}

// scim sends a SCIM request with the service account's token.
func (s *scimEnv) scim(method, path string, body any, headers ...string) *resp {
	s.t.Helper()
	return s.do(method, "/scim/v2"+path, s.tok, body, append([]string{"Content-Type", "application/scim+json"}, headers...)...)
}

// want checks a SCIM answer's status, and for errors the SCIM error body
// (with scimType when one is given).
func (r *resp) want(t *testing.T, status int, scimType ...string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if status == http.StatusNoContent {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/scim+json" {
		t.Fatalf("Content-Type = %q, want application/scim+json; body: %s", ct, r.Body)
	}
	m := r.JSON(t)
	if status >= 400 {
		if s, _ := m["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:Error" ||
			m["status"] != fmt.Sprint(status) || m["detail"] == "" {
			t.Fatalf("bad SCIM error body: %s", r.Body)
		}
		if len(scimType) > 0 && m["scimType"] != scimType[0] {
			t.Fatalf("scimType = %v, want %s; body: %s", m["scimType"], scimType[0], r.Body)
		}
	}
	return m
}

func q(filter string) string { return url.QueryEscape(filter) }

func resources(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	list, ok := m["Resources"].([]any)
	if !ok {
		t.Fatalf("no Resources: %v", m)
	}
	out := make([]map[string]any, len(list))
	for i, r := range list {
		out[i] = r.(map[string]any)
	}
	return out
}

// apiUser reads a user through the normal API.
func (s *scimEnv) apiUser(id string) map[string]any {
	s.t.Helper()
	return s.do("GET", "/api/v3/users/"+id, s.AdminToken, nil).expect(s.t, http.StatusOK).JSON(s.t)
}

// verbs lists the verbs of the service account's activities, oldest first.
func (s *scimEnv) verbs() []string {
	s.t.Helper()
	m := s.do("GET", fmt.Sprintf("/api/v3/users/%d/activities?page_size=1000", s.svcID), s.AdminToken, nil).expect(s.t, http.StatusOK).JSON(s.t)
	var v []string
	for _, a := range m["results"].([]any) {
		v = append(v, a.(map[string]any)["verb"].(string))
	}
	slices.Reverse(v)
	return v
}

func TestSCIMOkta(t *testing.T) { eachStore(t, testSCIMOkta) }

// testSCIMOkta replays the requests Okta's SCIM 2.0 provisioning sends
// (its SCIM 2.0 reference): test connection, find by userName, create,
// read, profile update by PUT and by PATCH, deactivate, reactivate,
// groups (create, rename without path, add members, remove one by value
// path, delete).
func testSCIMOkta(t *testing.T) {
	s := newSCIMEnv(t, newEnv(t))
	// Test connection.
	m := s.scim("GET", "/Users?count=2&startIndex=1", nil).want(t, http.StatusOK)
	if m["totalResults"] != float64(2) || m["itemsPerPage"] != float64(2) || m["startIndex"] != float64(1) {
		t.Fatalf("test connection: %v", m)
	}
	// Does the user exist?
	m = s.scim("GET", "/Users?filter="+q(`userName eq "test.user@okta.local"`)+"&startIndex=1&count=100", nil).want(t, http.StatusOK)
	if m["totalResults"] != float64(0) || len(resources(t, m)) != 0 {
		t.Fatalf("unknown userName found: %v", m)
	}
	create := map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    "test.user@okta.local",
		"name":        map[string]any{"givenName": "Test", "familyName": "User"},
		"emails":      []any{map[string]any{"primary": true, "value": "test.user@okta.local", "type": "work"}},
		"displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
		"groups": []any{}, "password": "1mz050nq", "active": true,
	}
	r := s.scim("POST", "/Users", create)
	u := r.want(t, http.StatusCreated)
	id := u["id"].(string)
	if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, "/scim/v2/Users/"+id) || !strings.HasPrefix(loc, "http") {
		t.Fatalf("Location = %q", loc)
	}
	if u["userName"] != "test.user@okta.local" || u["externalId"] != "00ujl29u0le5T6Aj10h7" || u["active"] != true ||
		u["displayName"] != "Test User" {
		t.Fatalf("created user: %v", u)
	}
	meta := u["meta"].(map[string]any)
	if meta["resourceType"] != "User" || meta["version"] != r.Header.Get("ETag") || !strings.HasPrefix(r.Header.Get("ETag"), `W/"`) {
		t.Fatalf("meta %v, ETag %q", meta, r.Header.Get("ETag"))
	}
	api := s.apiUser(id)
	if api["username"] != "test.user@okta.local" || api["email"] != "test.user@okta.local" || api["firstName"] != "Test" ||
		api["lastName"] != "User" || api["isActive"] != true {
		t.Fatalf("Roster user after create: %v", api)
	}
	// Found by userName now, case-insensitively, and by the filter's other forms.
	for _, f := range []string{`userName eq "TEST.USER@okta.local"`, `USERNAME Eq "test.user@okta.local"`,
		`externalId eq "00ujl29u0le5T6Aj10h7"`, `emails.value eq "test.user@okta.local"`, `emails[type eq "work" and value eq "test.user@okta.local"]`} {
		m = s.scim("GET", "/Users?filter="+q(f), nil).want(t, http.StatusOK)
		if rs := resources(t, m); len(rs) != 1 || rs[0]["id"] != id {
			t.Fatalf("filter %s: %v", f, m)
		}
	}
	s.scim("GET", "/Users/"+id, nil).want(t, http.StatusOK)

	// Profile update by PUT (the whole user, as Okta's AIW apps send it).
	put := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "id": id,
		"userName": "test.user@okta.local", "name": map[string]any{"givenName": "Another", "familyName": "User"},
		"emails":      []any{map[string]any{"primary": true, "value": "test.user@okta.local", "type": "work"}},
		"displayName": "Another User", "externalId": "00ujl29u0le5T6Aj10h7", "active": true, "meta": meta}
	u = s.scim("PUT", "/Users/"+id, put).want(t, http.StatusOK)
	if u["name"].(map[string]any)["givenName"] != "Another" || s.apiUser(id)["firstName"] != "Another" {
		t.Fatalf("PUT: %v", u)
	}
	// Profile update by PATCH, with a path and without.
	s.scim("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "name.familyName", "value": "Person"}}}).want(t, http.StatusOK)
	s.scim("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"name": map[string]any{"givenName": "Third", "familyName": "Person"}}}}}).
		want(t, http.StatusOK)
	if api = s.apiUser(id); api["firstName"] != "Third" || api["lastName"] != "Person" {
		t.Fatalf("after PATCH: %v", api)
	}
	// Deactivate, then reactivate.
	u = s.scim("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}}}).want(t, http.StatusOK)
	if u["active"] != false || s.apiUser(id)["isActive"] != false {
		t.Fatalf("deactivate: %v", u)
	}
	m = s.scim("GET", "/Users?filter="+q(`active eq false`), nil).want(t, http.StatusOK)
	if rs := resources(t, m); len(rs) != 1 || rs[0]["id"] != id {
		t.Fatalf("active eq false: %v", m)
	}
	s.scim("PATCH", "/Users/"+id, map[string]any{"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": true}}}}).
		want(t, http.StatusOK)
	if s.apiUser(id)["isActive"] != true {
		t.Fatal("reactivation did not reach Roster")
	}

	// Groups.
	s.scim("GET", "/Groups?startIndex=1&count=100", nil).want(t, http.StatusOK)
	g := s.scim("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Test SCIMv2", "members": []any{}}).want(t, http.StatusCreated)
	gid := g["id"].(string)
	m = s.scim("GET", "/Groups?filter="+q(`displayName eq "test scimv2"`), nil).want(t, http.StatusOK)
	if rs := resources(t, m); len(rs) != 1 || rs[0]["id"] != gid {
		t.Fatalf("group by displayName: %v", m)
	}
	s.scim("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": "Renamed SCIMv2"}}}}).
		want(t, http.StatusNoContent)
	other := s.createUser("other", false, "")
	s.scim("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{
			map[string]any{"value": id, "display": "test.user@okta.local"}, map[string]any{"value": fmt.Sprint(other.ID)}}}}}).
		want(t, http.StatusNoContent)
	members := s.do("GET", "/api/v3/groups/"+gid+"/members", s.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if members["count"] != float64(2) {
		t.Fatalf("members after add: %v", members)
	}
	if gr := s.do("GET", "/api/v3/groups/"+gid, s.AdminToken, nil).expect(t, http.StatusOK).JSON(t); gr["name"] != "Renamed SCIMv2" {
		t.Fatalf("group after rename: %v", gr)
	}
	s.scim("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "%d"]`, other.ID)}}}).
		want(t, http.StatusNoContent)
	g = s.scim("GET", "/Groups/"+gid, nil).want(t, http.StatusOK)
	if ms := g["members"].([]any); len(ms) != 1 || ms[0].(map[string]any)["value"] != id || ms[0].(map[string]any)["display"] != "test.user@okta.local" {
		t.Fatalf("members after remove: %v", g)
	}
	u = s.scim("GET", "/Users/"+id, nil).want(t, http.StatusOK)
	if gs := u["groups"].([]any); len(gs) != 1 || gs[0].(map[string]any)["value"] != gid {
		t.Fatalf("user's groups: %v", u)
	}
	s.scim("DELETE", "/Groups/"+gid, nil).want(t, http.StatusNoContent)
	s.do("GET", "/api/v3/groups/"+gid, s.AdminToken, nil).expect(t, http.StatusNotFound)
	s.scim("GET", "/Groups/"+gid, nil).want(t, http.StatusNotFound)

	// Every change is an activity of the service account.
	want := []string{"user.created", "user.updated", "user.updated", "user.updated", "user.updated", "user.updated",
		"group.created", "group.updated", "group.member_added", "group.member_added", "group.member_removed", "group.deleted"}
	if got := s.verbs(); !slices.Equal(got, want) {
		t.Fatalf("activities = %v, want %v", got, want)
	}
}

func TestSCIMEntra(t *testing.T) { eachStore(t, testSCIMEntra) }

// testSCIMEntra replays what Microsoft Entra ID's provisioning service
// sends (its SCIM endpoint tutorial): the enterprise extension on create,
// lookups by userName and externalId, PATCH with capitalised ops, value
// filtered email paths, string booleans, groups with excludedAttributes,
// member add and remove by value lists, rename, deletes.
func testSCIMEntra(t *testing.T) {
	s := newSCIMEnv(t, newEnv(t))
	m := s.scim("GET", "/Users?filter="+q(`userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"`), nil).want(t, http.StatusOK)
	if m["totalResults"] != float64(0) {
		t.Fatalf("lookup: %v", m)
	}
	u := s.scim("POST", "/Users", map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", "userName": "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081",
		"active": true, "emails": []any{map[string]any{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}},
		"meta": map[string]any{"resourceType": "User"}, "roles": []any{}, "title": "Engineer", "preferredLanguage": "en-US",
		"name": map[string]any{"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "R&D", "employeeNumber": "42"},
	}).want(t, http.StatusCreated)
	id := u["id"].(string)
	m = s.scim("GET", "/Users?filter="+q(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), nil).want(t, http.StatusOK)
	if rs := resources(t, m); len(rs) != 1 || rs[0]["id"] != id {
		t.Fatalf("by externalId: %v", m)
	}
	// externalId is case-exact.
	if m = s.scim("GET", "/Users?filter="+q(`externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"`), nil).want(t, http.StatusOK); m["totalResults"] != float64(0) {
		t.Fatalf("externalId matched in another case: %v", m)
	}
	// Multi-valued and single-valued updates.
	u = s.scim("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{
			map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "updatedEmail@microsoft.com"},
			map[string]any{"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
			map[string]any{"op": "Add", "path": "title", "value": "Manager"},
			map[string]any{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Ops"},
		}}).want(t, http.StatusOK)
	if em := u["emails"].([]any)[0].(map[string]any); em["value"] != "updatedEmail@microsoft.com" || em["primary"] != true {
		t.Fatalf("PATCH answer: %v", u)
	}
	api := s.apiUser(id)
	if api["email"] != "updatedEmail@microsoft.com" || api["lastName"] != "updatedFamilyName" {
		t.Fatalf("after multi-valued PATCH: %v", api)
	}
	s.scim("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}}}).
		want(t, http.StatusOK)
	if api = s.apiUser(id); api["username"] != "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com" {
		t.Fatalf("after userName PATCH: %v", api)
	}
	// Disable with a string boolean, as Entra sends it, then enable again.
	u = s.scim("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": "False"}}}).want(t, http.StatusOK)
	if u["active"] != false || s.apiUser(id)["isActive"] != false {
		t.Fatalf("disable: %v", u)
	}
	s.scim("PATCH", "/Users/"+id, map[string]any{"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": "True"}}}).
		want(t, http.StatusOK)
	if s.apiUser(id)["isActive"] != true {
		t.Fatal("enable did not reach Roster")
	}

	// Groups.
	g := s.scim("POST", "/Groups", map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/Group"},
		"externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName", "meta": map[string]any{"resourceType": "Group"},
	}).want(t, http.StatusCreated)
	gid := g["id"].(string)
	g = s.scim("GET", "/Groups/"+gid+"?excludedAttributes=members", nil).want(t, http.StatusOK)
	if _, ok := g["members"]; ok || g["externalId"] != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
		t.Fatalf("excludedAttributes=members: %v", g)
	}
	m = s.scim("GET", "/Groups?excludedAttributes=members&filter="+q(`displayName eq "displayName"`), nil).want(t, http.StatusOK)
	if rs := resources(t, m); len(rs) != 1 || rs[0]["id"] != gid || rs[0]["members"] != nil {
		t.Fatalf("group by displayName: %v", m)
	}
	s.scim("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Replace", "path": "displayName", "value": "1879db59updatedDisplayName"}}}).want(t, http.StatusNoContent)
	s.scim("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": id}}}}}).
		want(t, http.StatusNoContent)
	// Entra checks a membership with a filter on the group.
	m = s.scim("GET", "/Groups?excludedAttributes=members&filter="+q(fmt.Sprintf(`id eq "%s" and members[value eq "%s"]`, gid, id)), nil).want(t, http.StatusOK)
	if m["totalResults"] != float64(1) {
		t.Fatalf("membership filter: %v", m)
	}
	if api = s.apiUser(id); len(api["groups"].([]any)) != 1 {
		t.Fatalf("groups after add: %v", api)
	}
	s.scim("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": id}}}}}).
		want(t, http.StatusNoContent)
	if api = s.apiUser(id); len(api["groups"].([]any)) != 0 {
		t.Fatalf("groups after remove: %v", api)
	}
	if gr := s.do("GET", "/api/v3/groups/"+gid, s.AdminToken, nil).expect(t, http.StatusOK).JSON(t); gr["name"] != "1879db59updatedDisplayName" || gr["memberCount"] != float64(0) {
		t.Fatalf("group in Roster: %v", gr)
	}
	s.scim("DELETE", "/Groups/"+gid, nil).want(t, http.StatusNoContent)
	s.scim("DELETE", "/Users/"+id, nil).want(t, http.StatusNoContent)
	s.do("GET", "/api/v3/users/"+id, s.AdminToken, nil).expect(t, http.StatusNotFound)
	s.scim("GET", "/Users/"+id, nil).want(t, http.StatusNotFound)

	want := []string{"user.created", "user.updated", "user.updated", "user.updated", "user.updated",
		"group.created", "group.updated", "group.member_added", "group.member_removed", "group.deleted", "user.deleted"}
	if got := s.verbs(); !slices.Equal(got, want) {
		t.Fatalf("activities = %v, want %v", got, want)
	}
}

func TestSCIMErrors(t *testing.T) { eachStore(t, testSCIMErrors) }

// testSCIMErrors: authentication and scope, uniqueness, unknown
// attributes, bad filters and paths, If-Match, media types.
func testSCIMErrors(t *testing.T) {
	s := newSCIMEnv(t, newEnv(t))
	s.do("GET", "/scim/v2/Users", "", nil).want(t, http.StatusUnauthorized)
	noScope := s.do("POST", "/api/v3/tokens", s.AdminToken, map[string]any{"name": "read", "scopes": []string{"users:read"}}).
		expect(t, http.StatusCreated).JSON(t)["token"].(string)
	r := s.do("GET", "/scim/v2/Users", noScope, nil)
	r.want(t, http.StatusForbidden)
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `scope="scim"`) {
		t.Fatalf("403 WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
	}

	user := map[string]any{"userName": "jdoe", "emails": []any{map[string]any{"value": "jdoe@example.com", "primary": true}}}
	u := s.scim("POST", "/Users", user).want(t, http.StatusCreated)
	id := u["id"].(string)
	s.scim("POST", "/Users", user).want(t, http.StatusConflict, "uniqueness")
	s.scim("POST", "/Users", map[string]any{"userName": "JDOE", "emails": []any{map[string]any{"value": "x@example.com"}}}).
		want(t, http.StatusConflict, "uniqueness")
	s.scim("POST", "/Users", map[string]any{"userName": "other", "emails": []any{map[string]any{"value": "JDoe@example.com"}}}).
		want(t, http.StatusConflict, "uniqueness")
	s.scim("POST", "/Groups", map[string]any{"displayName": "g"}).want(t, http.StatusCreated)
	s.scim("POST", "/Groups", map[string]any{"displayName": "G"}).want(t, http.StatusConflict, "uniqueness")

	// Unknown attributes: refused on create and as a PATCH path; core
	// attributes Roster does not keep are accepted and dropped.
	s.scim("POST", "/Users", map[string]any{"userName": "x", "emails": []any{map[string]any{"value": "x@example.com"}}, "shoeSize": 42}).
		want(t, http.StatusBadRequest, "invalidSyntax")
	s.scim("PATCH", "/Users/"+id, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "shoeSize", "value": 1}}}).
		want(t, http.StatusBadRequest, "invalidPath")
	s.scim("PATCH", "/Users/"+id, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "emails[type eq", "value": 1}}}).
		want(t, http.StatusBadRequest, "invalidPath")
	s.scim("PATCH", "/Users/"+id, map[string]any{"Operations": []any{map[string]any{"op": "remove"}}}).
		want(t, http.StatusBadRequest, "noTarget")
	s.scim("PATCH", "/Users/"+id, map[string]any{"Operations": []any{map[string]any{"op": "move", "path": "userName"}}}).
		want(t, http.StatusBadRequest, "invalidSyntax")
	s.scim("POST", "/Users", map[string]any{"userName": "bad name!", "emails": []any{map[string]any{"value": "y@example.com"}}}).
		want(t, http.StatusBadRequest, "invalidValue")
	s.scim("POST", "/Users", map[string]any{"userName": "noemail"}).want(t, http.StatusBadRequest, "invalidValue")
	s.scim("POST", "/Groups", map[string]any{"displayName": "h", "members": []any{map[string]any{"value": "999999"}}}).
		want(t, http.StatusBadRequest, "invalidValue")

	for _, f := range []string{`userName eq`, `userName xx "a"`, `(userName eq "a"`, `userName eq "a" and`, `shoeSize eq 1`,
		`emails[type eq "work"`, `not userName eq "a"`, `userName eq "a" "b"`, `active eq "maybe"`, `meta.created gt "yesterday"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"`, strings.Repeat("(", 100) + `id eq "1"` + strings.Repeat(")", 100)} {
		s.scim("GET", "/Users?filter="+q(f), nil).want(t, http.StatusBadRequest, "invalidFilter")
	}
	s.scim("GET", "/Groups?filter="+q(`members co "1"`), nil).want(t, http.StatusBadRequest, "invalidFilter")

	// If-Match.
	r = s.scim("GET", "/Users/"+id, nil)
	r.want(t, http.StatusOK)
	tag := r.Header.Get("ETag")
	s.scim("PATCH", "/Users/"+id, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "name.givenName", "value": "J"}}},
		"If-Match", tag).want(t, http.StatusOK)
	s.scim("PATCH", "/Users/"+id, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "name.givenName", "value": "K"}}},
		"If-Match", tag).want(t, http.StatusPreconditionFailed)
	s.scim("PUT", "/Users/"+id, user, "If-Match", tag).want(t, http.StatusPreconditionFailed)
	s.scim("DELETE", "/Users/"+id, nil, "If-Match", tag).want(t, http.StatusPreconditionFailed)
	if s.apiUser(id)["firstName"] != "J" {
		t.Fatal("a 412 changed the user")
	}
	g := s.scim("GET", "/Groups?filter="+q(`displayName eq "g"`), nil).want(t, http.StatusOK)
	gid := resources(t, g)[0]["id"].(string)
	gtag := resources(t, g)[0]["meta"].(map[string]any)["version"].(string)
	s.scim("PATCH", "/Groups/"+gid, map[string]any{"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": id}}}}},
		"If-Match", gtag).want(t, http.StatusNoContent)
	s.scim("PATCH", "/Groups/"+gid, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "late"}}},
		"If-Match", gtag).want(t, http.StatusPreconditionFailed)

	// Media type, body, ids.
	s.do("POST", "/scim/v2/Users", s.tok, "userName=x", "Content-Type", "application/x-www-form-urlencoded").want(t, http.StatusUnsupportedMediaType)
	s.do("POST", "/scim/v2/Users", s.tok, map[string]any{"userName": "plain", "emails": []any{map[string]any{"value": "plain@example.com"}}}).
		want(t, http.StatusCreated) // application/json is accepted
	s.scim("POST", "/Users", "{not json").want(t, http.StatusBadRequest, "invalidSyntax")
	s.scim("GET", "/Users/abc", nil).want(t, http.StatusNotFound)
	s.scim("GET", "/Users/999999", nil).want(t, http.StatusNotFound)
	s.scim("GET", "/Groups/0", nil).want(t, http.StatusNotFound)
	s.scim("GET", "/Users?sortBy=userName", nil).want(t, http.StatusBadRequest)

	// Admins and service accounts are not SCIM's: a scim token that could
	// rename an admin's email could take the admin over through single
	// sign-on's link by email.
	adminID := fmt.Sprint(s.Admin.ID)
	s.scim("PATCH", "/Users/"+adminID, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "emails",
		"value": []any{map[string]any{"value": "attacker@example.net", "primary": true}}}}}).want(t, http.StatusForbidden)
	s.scim("PUT", "/Users/"+adminID, map[string]any{"userName": "taken-over", "emails": []any{map[string]any{"value": "attacker@example.net"}}}).
		want(t, http.StatusForbidden)
	s.scim("PATCH", "/Users/"+fmt.Sprint(s.svcID), map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}).
		want(t, http.StatusForbidden)
	s.scim("DELETE", "/Users/"+adminID, nil).want(t, http.StatusForbidden)
	if a := s.do("GET", "/api/v3/users/"+adminID, s.AdminToken, nil).expect(t, http.StatusOK).JSON(t); a["email"] == "attacker@example.net" || a["username"] == "taken-over" {
		t.Fatalf("SCIM changed an admin: %v", a)
	}
}

func TestSCIMQueries(t *testing.T) { eachStore(t, testSCIMQueries) }

// testSCIMQueries: the filter grammar against the database, paging
// (past the end too), attributes and excludedAttributes, discovery.
func testSCIMQueries(t *testing.T) {
	s := newSCIMEnv(t, newEnv(t))
	names := []string{"alice", "albert", "bob", "carol", "dave"}
	ids := map[string]string{}
	for i, n := range names {
		u := s.scim("POST", "/Users", map[string]any{"userName": n, "externalId": fmt.Sprintf("ext-%d", i),
			"name":   map[string]any{"givenName": strings.ToUpper(n[:1]) + n[1:], "familyName": "Q"},
			"emails": []any{map[string]any{"value": n + "@corp.example", "primary": true}}, "active": n != "dave"}).want(t, http.StatusCreated)
		ids[n] = u["id"].(string)
	}
	find := func(filter string) []string {
		t.Helper()
		m := s.scim("GET", "/Users?count=1000&filter="+q(filter), nil).want(t, http.StatusOK)
		var got []string
		for _, r := range resources(t, m) {
			if n := r["userName"].(string); slices.Contains(names, n) {
				got = append(got, n)
			}
		}
		if m["totalResults"] != float64(len(resources(t, m))) {
			t.Fatalf("%s: totalResults %v for %d resources", filter, m["totalResults"], len(resources(t, m)))
		}
		return got
	}
	cases := []struct {
		filter string
		want   []string
	}{
		{`userName sw "al"`, []string{"alice", "albert"}},
		{`userName ew "OL"`, []string{"carol"}},
		{`userName co "li"`, []string{"alice"}},
		{`userName ne "alice" and name.familyName eq "q"`, []string{"albert", "bob", "carol", "dave"}},
		{`userName gt "bob" and userName lt "dave"`, []string{"carol"}},
		{`userName ge "bob" and userName le "carol"`, []string{"bob", "carol"}},
		{`(userName eq "bob" or userName eq "carol") and active eq true`, []string{"bob", "carol"}},
		{`not (active eq true) and externalId pr`, []string{"dave"}},
		{`not (externalId eq "ext-0") and externalId sw "ext-"`, []string{"albert", "bob", "carol", "dave"}},
		{`emails co "@corp.example" and name.givenName eq "ALBERT"`, []string{"albert"}},
		{`emails[type eq "work" and value ew "corp.example"] and userName sw "b"`, []string{"bob"}},
		{`emails[type eq "home"]`, nil},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob"`, []string{"bob"}},
		{`id eq "` + ids["carol"] + `"`, []string{"carol"}},
		{`id eq "nope"`, nil},
		{`meta.created gt "2000-01-01T00:00:00Z" and userName eq "bob"`, []string{"bob"}},
		{`meta.lastModified lt "2000-01-01T00:00:00Z"`, nil},
		{`externalId eq "ext-1" or externalId eq "ext-3"`, []string{"albert", "carol"}},
	}
	for _, c := range cases {
		if got := find(c.filter); !slices.Equal(got, c.want) {
			t.Errorf("filter %s: got %v, want %v", c.filter, got, c.want)
		}
	}
	// Paging: 7 users (admin, service account, five), by id.
	m := s.scim("GET", "/Users?startIndex=3&count=2", nil).want(t, http.StatusOK)
	if rs := resources(t, m); m["totalResults"] != float64(7) || m["startIndex"] != float64(3) || len(rs) != 2 || rs[0]["id"] != ids["alice"] {
		t.Fatalf("page: %v", m)
	}
	m = s.scim("GET", "/Users?startIndex=50&count=10", nil).want(t, http.StatusOK)
	if m["totalResults"] != float64(7) || m["itemsPerPage"] != float64(0) || len(resources(t, m)) != 0 {
		t.Fatalf("past the end: %v", m)
	}
	m = s.scim("GET", "/Users?count=0", nil).want(t, http.StatusOK)
	if m["totalResults"] != float64(7) || len(resources(t, m)) != 0 {
		t.Fatalf("count=0: %v", m)
	}
	// attributes / excludedAttributes.
	u := s.scim("GET", "/Users/"+ids["bob"]+"?attributes=userName,name.givenName", nil).want(t, http.StatusOK)
	if len(u) != 4 || u["userName"] != "bob" || u["id"] == nil || u["schemas"] == nil || len(u["name"].(map[string]any)) != 1 {
		t.Fatalf("attributes: %v", u)
	}
	u = s.scim("GET", "/Users/"+ids["bob"]+"?excludedAttributes=emails,meta,name.familyName", nil).want(t, http.StatusOK)
	if u["emails"] != nil || u["meta"] != nil || u["userName"] != "bob" || u["name"].(map[string]any)["familyName"] != nil {
		t.Fatalf("excludedAttributes: %v", u)
	}
	// Discovery tells what is built.
	spc := s.scim("GET", "/ServiceProviderConfig", nil).want(t, http.StatusOK)
	if spc["patch"].(map[string]any)["supported"] != true || spc["bulk"].(map[string]any)["supported"] != false ||
		spc["filter"].(map[string]any)["maxResults"] != float64(1000) || spc["sort"].(map[string]any)["supported"] != false ||
		spc["etag"].(map[string]any)["supported"] != true {
		t.Fatalf("ServiceProviderConfig: %v", spc)
	}
	if rt := s.scim("GET", "/ResourceTypes", nil).want(t, http.StatusOK); rt["totalResults"] != float64(2) {
		t.Fatalf("ResourceTypes: %v", rt)
	}
	s.scim("GET", "/ResourceTypes/User", nil).want(t, http.StatusOK)
	sc := s.scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil).want(t, http.StatusOK)
	var attrs []string
	for _, a := range sc["attributes"].([]any) {
		attrs = append(attrs, a.(map[string]any)["name"].(string))
	}
	slices.Sort(attrs)
	if want := []string{"active", "displayName", "emails", "externalId", "groups", "id", "name", "userName"}; !slices.Equal(attrs, want) {
		t.Fatalf("User schema attributes = %v, want %v", attrs, want)
	}
	s.scim("GET", "/Schemas/urn:nope", nil).want(t, http.StatusNotFound)
}

func TestSCIMLargeGroup(t *testing.T) { eachStore(t, testSCIMLargeGroup) }

// testSCIMLargeGroup: a group of 10,000 members, filled in PATCHes of
// 1,000 and then patched one member at a time; no PATCH sends or gets the
// member list back, and excludedAttributes=members reads none.
func testSCIMLargeGroup(t *testing.T) {
	s := newSCIMEnv(t, newEnv(t))
	const n = 10_000
	res, err := s.db.Seed(context.Background(), sqlstore.SeedOptions{Users: n + 100})
	if err != nil {
		t.Fatal(err)
	}
	first := res.LastUserID - n - 99
	g := s.scim("POST", "/Groups", map[string]any{"displayName": "everyone"}).want(t, http.StatusCreated)
	gid := g["id"].(string)
	for start := first; start < first+n; start += 1000 {
		var members []any
		for id := start; id < start+1000; id++ {
			members = append(members, map[string]any{"value": fmt.Sprint(id)})
		}
		s.scim("PATCH", "/Groups/"+gid, map[string]any{"Operations": []any{map[string]any{"op": "add", "path": "members", "value": members}}}).
			want(t, http.StatusNoContent)
	}
	for i := range 50 {
		out, in := first+int64(i), first+n+int64(i)
		r := s.scim("PATCH", "/Groups/"+gid, map[string]any{"Operations": []any{
			map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "%d"]`, out)},
			map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": fmt.Sprint(in)}}}}})
		r.want(t, http.StatusNoContent)
		if len(r.Body) != 0 || r.Header.Get("ETag") == "" {
			t.Fatalf("PATCH answered %q, ETag %q", r.Body, r.Header.Get("ETag"))
		}
	}
	g = s.scim("GET", "/Groups/"+gid+"?excludedAttributes=members", nil).want(t, http.StatusOK)
	if g["members"] != nil {
		t.Fatal("excludedAttributes=members still lists members")
	}
	if gr := s.do("GET", "/api/v3/groups/"+gid, s.AdminToken, nil).expect(t, http.StatusOK).JSON(t); gr["memberCount"] != float64(n) {
		t.Fatalf("memberCount = %v, want %d", gr["memberCount"], n)
	}
	g = s.scim("GET", "/Groups/"+gid, nil).want(t, http.StatusOK)
	ms := g["members"].([]any)
	if len(ms) != n || ms[0].(map[string]any)["value"] != fmt.Sprint(first+50) || ms[n-1].(map[string]any)["value"] != fmt.Sprint(first+n+49) {
		t.Fatalf("%d members, first %v, last %v", len(ms), ms[0], ms[len(ms)-1])
	}
	m := s.scim("GET", "/Groups?filter="+q(fmt.Sprintf(`members[value eq "%d"]`, first+n+10))+"&excludedAttributes=members", nil).want(t, http.StatusOK)
	if m["totalResults"] != float64(1) {
		t.Fatalf("member filter: %v", m)
	}
	count := func(verb string) float64 {
		return s.do("GET", fmt.Sprintf("/api/v3/users/%d/activities/count?verb=%s", s.svcID, verb), s.AdminToken, nil).
			expect(t, http.StatusOK).JSON(t)["count"].(float64)
	}
	added, removed := count("group.member_added"), count("group.member_removed")
	if added != n+50 || removed != 50 {
		t.Fatalf("activities: %v added, %v removed", added, removed)
	}
}

func TestSCIMDeactivationEndsStream(t *testing.T) { eachStore(t, testSCIMDeactivationEndsStream) }

// testSCIMDeactivationEndsStream: active false over SCIM ends the user's
// open streams and tokens, as an API deactivation does.
func testSCIMDeactivationEndsStream(t *testing.T) {
	e := newEnvStream(t, httpapi.Config{}, stream.Options{RevalidateInterval: 50 * time.Millisecond})
	s := newSCIMEnv(t, e)
	u := e.createUser("leaver", false, "")
	tok := e.token(u)
	c := e.openStream(streamPath(u.ID, ""), tok)
	s.scim("PATCH", fmt.Sprint("/Users/", u.ID), map[string]any{"Operations": []any{
		map[string]any{"op": "Replace", "path": "active", "value": "False"}}}).want(t, http.StatusOK)
	if reason := c.ended(); !strings.Contains(reason, "no longer active") {
		t.Fatalf("stream ended with reason %q", reason)
	}
	e.do("GET", "/api/v3/users/me", tok, nil).expect(t, http.StatusUnauthorized)
	var acts struct {
		Results []struct {
			Verb string          `json:"verb"`
			Data json.RawMessage `json:"data"`
		} `json:"results"`
	}
	if err := json.Unmarshal(e.do("GET", fmt.Sprintf("/api/v3/users/%d/activities", s.svcID), e.AdminToken, nil).expect(t, http.StatusOK).Body, &acts); err != nil {
		t.Fatal(err)
	}
	if len(acts.Results) == 0 || acts.Results[0].Verb != "user.updated" || !strings.Contains(string(acts.Results[0].Data), "isActive") {
		t.Fatalf("deactivation activity: %+v", acts.Results)
	}
}
