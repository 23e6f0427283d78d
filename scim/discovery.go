package scim

import (
	"net/http"
	"strings"

	"github.com/rosterhq/roster"
)

// The discovery documents (RFC 7643 sections 5 to 7) say what this server
// does, no more: PATCH, filters (at most MaxResults a page) and ETags; no
// bulk, no sorting, no password change; the attributes Roster keeps.

const (
	schemaSPC          = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	schemaResourceType = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// ServiceProviderConfig serves GET /ServiceProviderConfig.
func (h *Handler) ServiceProviderConfig(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	if err := roster.RequireAdmin(caller); err != nil {
		return err
	}
	return write(w, http.StatusOK, map[string]any{
		"schemas":          []string{schemaSPC},
		"documentationUri": h.origin(r) + "/api/v3/docs",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": MaxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "A Roster access token with the scim scope, made by an admin for a service account.",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": h.base(r) + "/ServiceProviderConfig"},
	})
}

func (h *Handler) resourceTypes(r *http.Request) []map[string]any {
	rt := func(id, endpoint, schema, desc string) map[string]any {
		return map[string]any{"schemas": []string{schemaResourceType}, "id": id, "name": id, "endpoint": endpoint,
			"description": desc, "schema": schema, "schemaExtensions": []any{},
			"meta": map[string]any{"resourceType": "ResourceType", "location": h.base(r) + "/ResourceTypes/" + id}}
	}
	return []map[string]any{
		rt("User", "/Users", schemaUser, "A Roster user."),
		rt("Group", "/Groups", schemaGroup, "A Roster group."),
	}
}

// ResourceTypes serves GET /ResourceTypes.
func (h *Handler) ResourceTypes(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	if err := roster.RequireAdmin(caller); err != nil {
		return err
	}
	list := h.resourceTypes(r)
	return write(w, http.StatusOK, map[string]any{"schemas": []string{schemaList}, "totalResults": len(list),
		"startIndex": 1, "itemsPerPage": len(list), "Resources": list})
}

// ResourceType serves GET /ResourceTypes/{id}.
func (h *Handler) ResourceType(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	if err := roster.RequireAdmin(caller); err != nil {
		return err
	}
	for _, rt := range h.resourceTypes(r) {
		if strings.EqualFold(rt["id"].(string), r.PathValue("id")) {
			return write(w, http.StatusOK, rt)
		}
	}
	return &roster.Error{Code: roster.ENOTFOUND, Message: "Resource type not found."}
}

func attr(name, typ, desc, mutability, returned, uniqueness string, required, caseExact bool, subs ...map[string]any) map[string]any {
	a := map[string]any{"name": name, "type": typ, "multiValued": false, "description": desc, "required": required,
		"caseExact": caseExact, "mutability": mutability, "returned": returned, "uniqueness": uniqueness}
	if len(subs) > 0 {
		a["subAttributes"] = subs
	}
	return a
}

func multi(a map[string]any) map[string]any { a["multiValued"] = true; return a }

func (h *Handler) schemas(r *http.Request) []map[string]any {
	schema := func(id, name, desc string, attrs ...map[string]any) map[string]any {
		return map[string]any{"schemas": []string{schemaSchema}, "id": id, "name": name, "description": desc, "attributes": attrs,
			"meta": map[string]any{"resourceType": "Schema", "location": h.base(r) + "/Schemas/" + id}}
	}
	const rw, ro, def, always = "readWrite", "readOnly", "default", "always"
	user := schema(schemaUser, "User", "A Roster user. Core attributes not listed here are accepted and ignored.",
		attr("userName", "string", "Roster's username: letters, digits and @.+-_, unique case-insensitively.", rw, def, "server", true, false),
		attr("name", "complex", "The user's name.", rw, def, "none", false, false,
			attr("givenName", "string", "Roster's firstName.", rw, def, "none", false, false),
			attr("familyName", "string", "Roster's lastName.", rw, def, "none", false, false)),
		attr("displayName", "string", "The given and family name, or the userName; derived, ignored on input.", ro, def, "none", false, false),
		multi(attr("emails", "complex", "Roster's one email address (the primary one of a request, else its first); unique case-insensitively.", rw, def, "none", true, false,
			attr("value", "string", "The address.", rw, def, "server", true, false),
			attr("type", "string", "Always \"work\".", rw, def, "none", false, false),
			attr("primary", "boolean", "Always true.", rw, def, "none", false, false))),
		attr("active", "boolean", "Roster's isActive: false ends the user's sessions and streams.", rw, def, "none", false, false),
		multi(attr("groups", "complex", "The groups the user belongs to.", ro, def, "none", false, false,
			attr("value", "string", "The group's id.", ro, def, "none", false, false),
			attr("display", "string", "The group's name.", ro, def, "none", false, false),
			attr("$ref", "reference", "The group's URI.", ro, def, "none", false, false))),
		attr("externalId", "string", "The identity provider's id of the user.", rw, def, "none", false, true),
		attr("id", "string", "The Roster user id.", ro, always, "server", false, true),
	)
	group := schema(schemaGroup, "Group", "A Roster group.",
		attr("displayName", "string", "The group's name, unique case-insensitively.", rw, def, "server", true, false),
		multi(attr("members", "complex", "The group's members (users); changed one by one with PATCH.", rw, def, "none", false, false,
			attr("value", "string", "The user's id.", "immutable", def, "none", false, false),
			attr("display", "string", "The user's userName.", ro, def, "none", false, false),
			attr("$ref", "reference", "The user's URI.", ro, def, "none", false, false))),
		attr("externalId", "string", "The identity provider's id of the group.", rw, def, "none", false, true),
		attr("id", "string", "The Roster group id.", ro, always, "server", false, true),
	)
	return []map[string]any{user, group}
}

// Schemas serves GET /Schemas.
func (h *Handler) Schemas(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	if err := roster.RequireAdmin(caller); err != nil {
		return err
	}
	list := h.schemas(r)
	return write(w, http.StatusOK, map[string]any{"schemas": []string{schemaList}, "totalResults": len(list),
		"startIndex": 1, "itemsPerPage": len(list), "Resources": list})
}

// Schema serves GET /Schemas/{id}.
func (h *Handler) Schema(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	if err := roster.RequireAdmin(caller); err != nil {
		return err
	}
	for _, s := range h.schemas(r) {
		if s["id"] == r.PathValue("id") {
			return write(w, http.StatusOK, s)
		}
	}
	return &roster.Error{Code: roster.ENOTFOUND, Message: "Schema not found."}
}
