package httpapi

import (
	"net/http"

	"github.com/rosterhq/roster/console"
)

// routes registers every route of the API. Each is wrapped by instrument
// (metrics and logs, labelled by pattern) and, unless public, by authed,
// which also enforces the token scope that api/openapi.json declares on
// the route's operation.
func (s *Server) routes(mux *http.ServeMux) {
	handle := func(pattern string, h http.Handler) {
		s.patterns = append(s.patterns, pattern)
		mux.Handle(pattern, s.instrument(pattern, h))
	}

	handle("GET /healthz", s.handle(s.handleHealthz))
	handle("GET /readyz", s.handle(s.handleReadyz))
	if !s.noMetrics {
		handle("GET /metrics", s.MetricsHandler())
	}
	handle("GET /api/v3/openapi.json", s.handle(s.handleOpenAPI))
	handle("GET /api/v3/docs", console.Docs())
	handle("GET /admin/", console.Handler("/admin/"))
	handle("GET /{$}", http.HandlerFunc(toConsole))

	handle("POST /api/v3/auth/token", s.handle(s.handleLogin))
	handle("DELETE /api/v3/auth/token", s.authed(s.handleLogout))
	handle("GET /api/v3/auth/providers", s.handle(s.handleProviderList))
	handle("POST /api/v3/auth/providers", s.authed(s.handleProviderCreate))
	handle("GET /api/v3/auth/providers/{name}", s.authed(s.handleProviderGet))
	handle("PATCH /api/v3/auth/providers/{name}", s.authed(s.handleProviderPatch))
	handle("DELETE /api/v3/auth/providers/{name}", s.authed(s.handleProviderDelete))
	handle("GET /api/v3/auth/oidc/{name}/login", s.handle(s.handleOIDCLogin))
	handle("GET /api/v3/auth/oidc/{name}/callback", s.handle(s.handleOIDCCallback))

	handle("GET /api/v3/users", s.authed(s.handleUserList))
	handle("POST /api/v3/users", s.authed(s.handleUserCreate))
	handle("GET /api/v3/users/me", s.authed(s.handleUserMe))
	handle("GET /api/v3/users/search", s.authed(s.handleUserSearch))
	handle("GET /api/v3/users/changes", s.authed(s.handleUserChanges))
	handle("GET /api/v3/users/{id}", s.authed(s.handleUserGet))
	handle("PUT /api/v3/users/{id}", s.authed(s.handleUserPut))
	handle("PATCH /api/v3/users/{id}", s.authed(s.handleUserPatch))
	handle("DELETE /api/v3/users/{id}", s.authed(s.handleUserDelete))
	handle("GET /api/v3/users/{id}/activeworkspaces", s.authed(s.handleUserActiveWorkspaces))
	handle("GET /api/v3/users/{id}/activities", s.authed(s.handleUserActivities))
	handle("GET /api/v3/users/{id}/activities/count", s.authed(s.handleUserActivityCount))
	handle("GET /api/v3/users/{id}/stream", s.authedWith(streamToken, s.handleUserStream))
	handle("GET /api/v3/users/{id}/identities", s.authed(s.handleIdentityList))
	handle("DELETE /api/v3/users/{id}/identities/{provider}", s.authed(s.handleIdentityDelete))

	handle("GET /api/v3/workspaces", s.authed(s.handleWorkspaceList))
	handle("POST /api/v3/workspaces", s.authed(s.handleWorkspaceCreate))
	handle("GET /api/v3/workspaces/{id}", s.authed(s.handleWorkspaceGet))
	handle("PATCH /api/v3/workspaces/{id}", s.authed(s.handleWorkspacePatch))
	handle("DELETE /api/v3/workspaces/{id}", s.authed(s.handleWorkspaceDelete))
	handle("GET /api/v3/workspaces/{id}/permissions", s.authed(s.handleGrantList))
	handle("PUT /api/v3/workspaces/{id}/permissions/users/{userId}", s.authed(s.handleGrantPut("user", "userId")))
	handle("DELETE /api/v3/workspaces/{id}/permissions/users/{userId}", s.authed(s.handleGrantDelete("user", "userId")))
	handle("PUT /api/v3/workspaces/{id}/permissions/groups/{groupId}", s.authed(s.handleGrantPut("group", "groupId")))
	handle("DELETE /api/v3/workspaces/{id}/permissions/groups/{groupId}", s.authed(s.handleGrantDelete("group", "groupId")))
	handle("GET /api/v3/workspaces/{id}/members", s.authed(s.handleWorkspaceMembers))
	handle("GET /api/v3/workspaces/{id}/activities", s.authed(s.handleWorkspaceActivities))

	handle("GET /api/v3/groups", s.authed(s.handleGroupList))
	handle("POST /api/v3/groups", s.authed(s.handleGroupCreate))
	handle("GET /api/v3/groups/{id}", s.authed(s.handleGroupGet))
	handle("PATCH /api/v3/groups/{id}", s.authed(s.handleGroupPatch))
	handle("DELETE /api/v3/groups/{id}", s.authed(s.handleGroupDelete))
	handle("GET /api/v3/groups/{id}/members", s.authed(s.handleGroupMembers))
	handle("PUT /api/v3/groups/{id}/members/{userId}", s.authed(s.handleGroupMemberPut))
	handle("DELETE /api/v3/groups/{id}/members/{userId}", s.authed(s.handleGroupMemberDelete))

	handle("GET /api/v3/activities", s.authed(s.handleActivityList))
	handle("POST /api/v3/activities", s.authed(s.handleActivityCreate))

	handle("GET /api/v3/tokens", s.authed(s.handleTokenList))
	handle("POST /api/v3/tokens", s.authed(s.handleTokenCreate))
	handle("DELETE /api/v3/tokens/{id}", s.authed(s.handleTokenDelete))
	handle("GET /api/v3/users/{id}/tokens", s.authed(s.handleUserTokenList))
	handle("POST /api/v3/users/{id}/tokens", s.authed(s.handleUserTokenCreate))

	handle("GET /api/v3/webhooks", s.authed(s.handleWebhookList))
	handle("POST /api/v3/webhooks", s.authed(s.handleWebhookCreate))
	handle("GET /api/v3/webhooks/{id}", s.authed(s.handleWebhookGet))
	handle("PATCH /api/v3/webhooks/{id}", s.authed(s.handleWebhookPatch))
	handle("DELETE /api/v3/webhooks/{id}", s.authed(s.handleWebhookDelete))
	handle("POST /api/v3/webhooks/{id}/rotate-secret", s.authed(s.handleWebhookRotate))
	handle("POST /api/v3/webhooks/{id}/test", s.authed(s.handleWebhookTest))
	handle("GET /api/v3/webhooks/{id}/deliveries", s.authed(s.handleWebhookDeliveries))

	// SCIM 2.0 provisioning (package scim); every route needs the scim scope.
	handle("GET /scim/v2/ServiceProviderConfig", s.scimAuthed(s.scim.ServiceProviderConfig))
	handle("GET /scim/v2/ResourceTypes", s.scimAuthed(s.scim.ResourceTypes))
	handle("GET /scim/v2/ResourceTypes/{id}", s.scimAuthed(s.scim.ResourceType))
	handle("GET /scim/v2/Schemas", s.scimAuthed(s.scim.Schemas))
	handle("GET /scim/v2/Schemas/{id}", s.scimAuthed(s.scim.Schema))
	handle("GET /scim/v2/Users", s.scimAuthed(s.scim.ListUsers))
	handle("POST /scim/v2/Users", s.scimAuthed(s.scim.CreateUser))
	handle("GET /scim/v2/Users/{id}", s.scimAuthed(s.scim.GetUser))
	handle("PUT /scim/v2/Users/{id}", s.scimAuthed(s.scim.ReplaceUser))
	handle("PATCH /scim/v2/Users/{id}", s.scimAuthed(s.scim.PatchUser))
	handle("DELETE /scim/v2/Users/{id}", s.scimAuthed(s.scim.DeleteUser))
	handle("GET /scim/v2/Groups", s.scimAuthed(s.scim.ListGroups))
	handle("POST /scim/v2/Groups", s.scimAuthed(s.scim.CreateGroup))
	handle("GET /scim/v2/Groups/{id}", s.scimAuthed(s.scim.GetGroup))
	handle("PUT /scim/v2/Groups/{id}", s.scimAuthed(s.scim.ReplaceGroup))
	handle("PATCH /scim/v2/Groups/{id}", s.scimAuthed(s.scim.PatchGroup))
	handle("DELETE /scim/v2/Groups/{id}", s.scimAuthed(s.scim.DeleteGroup))
}

// Routes lists the patterns of every registered route ("METHOD /path"), so
// that tests can hold the OpenAPI document to them.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

// toConsole sends a browser at / to the admin console. The Location is
// relative, so that it keeps the path prefix of a reverse proxy.
func toConsole(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Location", "admin/")
	w.WriteHeader(http.StatusFound)
}
