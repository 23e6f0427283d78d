package scim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// groupOut is the SCIM representation of g; members (nil: not read) are
// listed when the selection wants them.
func (h *Handler) groupOut(r *http.Request, g *roster.Group, members []roster.MemberRef) map[string]any {
	id := strconv.FormatInt(g.ID, 10)
	m := map[string]any{
		"schemas":     []string{schemaGroup},
		"id":          id,
		"displayName": g.Name,
		"meta":        meta(h.base(r)+"/Groups/"+id, "Group", g.CreatedAt, g.ModifiedAt, g.Version),
	}
	if g.ExternalID != "" {
		m["externalId"] = g.ExternalID
	}
	if members != nil {
		list := make([]map[string]any, len(members))
		base := h.base(r) + "/Users/"
		for i, u := range members {
			uid := strconv.FormatInt(u.ID, 10)
			list[i] = map[string]any{"value": uid, "display": u.Username, "$ref": base + uid, "type": "User"}
		}
		m["members"] = list
	}
	return m
}

// groupWithMembers renders g, reading its members only when the request's
// selection returns them (excludedAttributes=members is one query less).
func (h *Handler) groupWithMembers(r *http.Request, g *roster.Group, sel selection) (map[string]any, error) {
	var members []roster.MemberRef
	if sel.wants("members") {
		var err error
		if members, err = h.store.FindMemberRefs(r.Context(), g.ID); err != nil {
			return nil, err
		}
	}
	return sel.apply(h.groupOut(r, g, members)), nil
}

// ListGroups serves GET /Groups.
func (h *Handler) ListGroups(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	if err := roster.RequireAdmin(caller); err != nil {
		return err
	}
	lq, err := parseListQuery(r, groupResource)
	if err != nil {
		return err
	}
	groups, total, err := h.store.FindGroupsWhere(r.Context(), lq.filter, lq.page())
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(groups))
	for i, g := range groups {
		if out[i], err = h.groupWithMembers(r, g, lq.sel); err != nil {
			return err
		}
	}
	return write(w, http.StatusOK, listResponse(total, lq, out))
}

func (h *Handler) findGroup(r *http.Request, caller *roster.User) (*roster.Group, error) {
	if err := roster.RequireAdmin(caller); err != nil {
		return nil, err
	}
	id, err := pathID(r, "Group")
	if err != nil {
		return nil, err
	}
	return h.store.FindGroupByID(r.Context(), id)
}

// GetGroup serves GET /Groups/{id}.
func (h *Handler) GetGroup(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	g, err := h.findGroup(r, caller)
	if err != nil {
		return err
	}
	return h.writeGroup(w, r, http.StatusOK, g)
}

func (h *Handler) writeGroup(w http.ResponseWriter, r *http.Request, status int, g *roster.Group) error {
	out, err := h.groupWithMembers(r, g, parseSelection(r))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(g.Version))
	return write(w, status, out)
}

// groupFields is what a Group body (POST, PUT) sets.
type groupFields struct {
	name, externalID string
	members          []int64
}

func readGroup(m map[string]any) (groupFields, error) {
	var f groupFields
	for k, v := range m {
		var err error
		switch strings.ToLower(k) {
		case "schemas", "id", "meta":
		case "displayname":
			f.name, err = str("displayName", v, true)
		case "externalid":
			f.externalID, err = str("externalId", v, false)
		case "members":
			f.members, err = memberIDs(v)
		default:
			if !strings.HasPrefix(strings.ToLower(k), "urn:") {
				err = invalid("invalidSyntax", "Unknown attribute "+strconv.Quote(k)+".")
			}
		}
		if err != nil {
			return f, err
		}
	}
	if strings.TrimSpace(f.name) == "" {
		return f, invalid("invalidValue", "displayName is required.")
	}
	return f, roster.ValidateName("displayName", f.name)
}

// memberIDs reads a members value: an array of {"value": "<user id>"} (one
// object alone is taken as an array of one).
func memberIDs(v any) ([]int64, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	ids := make([]int64, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, invalid("invalidValue", "Each member is an object with a value.")
		}
		val, _ := lookup(m, "value")
		id, err := strconv.ParseInt(literalString(val), 10, 64)
		if err != nil || id <= 0 {
			return nil, invalid("invalidValue", "A member's value is the id of a user.")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// CreateGroup serves POST /Groups: 201, or 409 uniqueness for a taken
// displayName.
func (h *Handler) CreateGroup(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	if err := roster.RequireAdmin(caller); err != nil {
		return err
	}
	body, err := decode(w, r)
	if err != nil {
		return err
	}
	f, err := readGroup(body)
	if err != nil {
		return err
	}
	g := &roster.Group{Name: f.name, ExternalID: f.externalID}
	if err := h.store.CreateGroup(r.Context(), caller.ID, g); err != nil {
		return err
	}
	if len(f.members) > 0 {
		if g, err = h.store.PatchGroup(r.Context(), caller.ID, g.ID, roster.GroupPatch{Add: f.members}); err != nil {
			return err
		}
	}
	w.Header().Set("Location", h.base(r)+"/Groups/"+strconv.FormatInt(g.ID, 10))
	return h.writeGroup(w, r, http.StatusCreated, g)
}

// ReplaceGroup serves PUT /Groups/{id}: name, externalId and the whole
// member list.
func (h *Handler) ReplaceGroup(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	g, err := h.findGroup(r, caller)
	if err != nil {
		return err
	}
	body, err := decode(w, r)
	if err != nil {
		return err
	}
	f, err := readGroup(body)
	if err != nil {
		return err
	}
	ver, err := ifMatch(r, g.Version)
	if err != nil {
		return err
	}
	g, err = h.store.PatchGroup(r.Context(), caller.ID, g.ID, roster.GroupPatch{Name: &f.name, ExternalID: &f.externalID,
		ReplaceMembers: true, Add: f.members, IfVersion: ver})
	if err != nil {
		return err
	}
	return h.writeGroup(w, r, http.StatusOK, g)
}

// PatchGroup serves PATCH /Groups/{id}. Member changes name only the
// members they add or remove, so a group of any size is patched in one
// small transaction. The answer is 204 with the new ETag (RFC 7644
// section 3.5.2), unless attributes asks for the group back.
func (h *Handler) PatchGroup(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	g, err := h.findGroup(r, caller)
	if err != nil {
		return err
	}
	body, err := decode(w, r)
	if err != nil {
		return err
	}
	ops, err := parsePatch(body)
	if err != nil {
		return err
	}
	var p roster.GroupPatch
	for _, op := range ops {
		if err := patchGroup(&p, op); err != nil {
			return err
		}
	}
	if p.IfVersion, err = ifMatch(r, g.Version); err != nil {
		return err
	}
	if g, err = h.store.PatchGroup(r.Context(), caller.ID, g.ID, p); err != nil {
		return err
	}
	if r.URL.Query().Get("attributes") != "" {
		return h.writeGroup(w, r, http.StatusOK, g)
	}
	w.Header().Set("ETag", etag(g.Version))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchGroup adds one operation to p.
func patchGroup(p *roster.GroupPatch, op patchOp) error {
	if op.path == "" {
		obj, ok := op.value.(map[string]any)
		if !ok {
			return invalid("invalidValue", "An operation without a path needs an object value.")
		}
		for k, v := range obj {
			switch strings.ToLower(k) {
			case "id", "schemas", "meta":
				continue // Okta sends the id beside the new displayName
			}
			if err := patchGroup(p, patchOp{op: op.op, path: k, value: v}); err != nil {
				return err
			}
		}
		return nil
	}
	pp, err := parsePatchPath(op.path)
	if err != nil {
		return err
	}
	if pp.uri != "" && !strings.EqualFold(pp.uri, schemaGroup) {
		return invalid("invalidPath", "Unknown attribute "+strconv.Quote(op.path)+".")
	}
	switch strings.ToLower(pp.attr) {
	case "displayname":
		if op.op == "remove" || pp.filter != nil || pp.sub != "" {
			return invalid("mutability", "displayName is required.")
		}
		name, err := str("displayName", op.value, true)
		if err != nil {
			return err
		}
		if err := roster.ValidateName("displayName", name); err != nil {
			return err
		}
		p.Name = &name
	case "externalid":
		ext := ""
		if op.op != "remove" {
			if ext, err = str("externalId", op.value, true); err != nil {
				return err
			}
		}
		p.ExternalID = &ext
	case "members":
		return patchMembers(p, op, pp)
	default:
		return invalid("invalidPath", "Unknown attribute "+strconv.Quote(op.path)+".")
	}
	return nil
}

// patchMembers adds a members operation: add (the listed users), remove
// (the listed users, those the value filter selects, or everyone), replace
// (the list becomes the members).
func patchMembers(p *roster.GroupPatch, op patchOp, pp patchPath) error {
	if pp.sub != "" && !strings.EqualFold(pp.sub, "value") {
		return invalid("invalidPath", "Members change by value only.")
	}
	if pp.filter != nil {
		if op.op != "remove" {
			return invalid("invalidPath", "A members value filter can only be removed; add members with path \"members\".")
		}
		ids, err := filterIDs(pp.filter)
		if err != nil {
			return err
		}
		removeMembers(p, ids)
		return nil
	}
	ids, err := memberIDs(op.value)
	if err != nil {
		return err
	}
	switch op.op {
	case "add":
		p.Add = append(p.Add, ids...)
		p.Remove = without(p.Remove, ids)
	case "replace":
		p.ReplaceMembers, p.Add, p.Remove = true, ids, nil
	case "remove":
		if op.value == nil {
			p.ReplaceMembers, p.Add, p.Remove = true, nil, nil
			return nil
		}
		removeMembers(p, ids)
	}
	return nil
}

func removeMembers(p *roster.GroupPatch, ids []int64) {
	p.Add = without(p.Add, ids)
	if !p.ReplaceMembers {
		p.Remove = append(p.Remove, ids...)
	}
}

func without(list, ids []int64) []int64 {
	drop := map[int64]bool{}
	for _, id := range ids {
		drop[id] = true
	}
	out := list[:0:0]
	for _, id := range list {
		if !drop[id] {
			out = append(out, id)
		}
	}
	return out
}

// filterIDs reads the user ids of a members value filter: value eq "id",
// joined by or.
func filterIDs(e *expr) ([]int64, error) {
	switch {
	case e.op == "or":
		a, err := filterIDs(e.args[0])
		if err != nil {
			return nil, err
		}
		b, err := filterIDs(e.args[1])
		return append(a, b...), err
	case e.op == "eq" && strings.EqualFold(e.path.attr, "value") && e.path.sub == "":
		s := literalString(e.value)
		if n, ok := e.value.(json.Number); ok {
			s = n.String()
		}
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, nil // names no user: nothing to remove
		}
		return []int64{id}, nil
	}
	return nil, invalid("invalidFilter", "A members filter compares value with eq (joined by or).")
}

// DeleteGroup serves DELETE /Groups/{id}.
func (h *Handler) DeleteGroup(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	g, err := h.findGroup(r, caller)
	if err != nil {
		return err
	}
	if _, err := ifMatch(r, g.Version); err != nil {
		return err
	}
	if err := h.store.DeleteGroup(r.Context(), caller.ID, g.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
