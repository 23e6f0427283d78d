package scim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// userAttrs are the core User attributes by lower-cased name, as written;
// the sub-attributes of name and emails follow.
var userAttrs = map[string]string{
	"schemas": "schemas", "id": "id", "externalid": "externalId", "username": "userName", "name": "name",
	"displayname": "displayName", "emails": "emails", "active": "active", "groups": "groups", "meta": "meta",
}

var userSubAttrs = map[string]map[string]string{
	"name":   {"givenname": "givenName", "familyname": "familyName"},
	"emails": {"value": "value", "type": "type", "primary": "primary", "display": "display"},
}

// userReadOnly are attributes a client may echo back and that are then
// ignored (RFC 7643 section 2.2, mutability readOnly).
var userReadOnly = map[string]bool{"schemas": true, "id": true, "displayName": true, "groups": true, "meta": true}

// userIgnored are core User attributes Roster does not keep. Providers
// send them from their default mappings (Entra ID: title,
// preferredLanguage, addresses...); they are accepted and dropped, and
// /Schemas does not list them.
var userIgnored = map[string]bool{
	"nickname": true, "profileurl": true, "title": true, "usertype": true, "preferredlanguage": true, "locale": true,
	"timezone": true, "password": true, "phonenumbers": true, "ims": true, "photos": true, "addresses": true,
	"entitlements": true, "roles": true, "x509certificates": true,
	"name.formatted": true, "name.middlename": true, "name.honorificprefix": true, "name.honorificsuffix": true,
}

// userOut is the SCIM representation of u.
func (h *Handler) userOut(r *http.Request, u *roster.User) map[string]any {
	id := strconv.FormatInt(u.ID, 10)
	m := map[string]any{
		"schemas":     []string{schemaUser},
		"id":          id,
		"userName":    u.Username,
		"displayName": displayName(u),
		"active":      u.IsActive,
		"emails":      []map[string]any{{"value": u.Email, "type": "work", "primary": true}},
		"meta":        meta(h.base(r)+"/Users/"+id, "User", u.DateJoined, u.ModifiedAt, u.Version),
	}
	name := map[string]any{}
	if u.FirstName != "" {
		name["givenName"] = u.FirstName
	}
	if u.LastName != "" {
		name["familyName"] = u.LastName
	}
	if len(name) > 0 {
		m["name"] = name
	}
	if u.ExternalID != "" {
		m["externalId"] = u.ExternalID
	}
	groups := make([]map[string]any, len(u.Groups))
	for i, g := range u.Groups {
		gid := strconv.FormatInt(g.ID, 10)
		groups[i] = map[string]any{"value": gid, "display": g.Name, "$ref": h.base(r) + "/Groups/" + gid, "type": "direct"}
	}
	m["groups"] = groups
	return m
}

// displayName is the user's full name, or its username when it has none.
func displayName(u *roster.User) string {
	if n := strings.TrimSpace(u.FirstName + " " + u.LastName); n != "" {
		return n
	}
	return u.Username
}

func meta(location, resourceType string, created time.Time, modified *time.Time, version int64) map[string]any {
	last := created
	if modified != nil {
		last = *modified
	}
	return map[string]any{"resourceType": resourceType, "created": created.UTC().Format(time.RFC3339Nano),
		"lastModified": last.UTC().Format(time.RFC3339Nano), "location": location, "version": etag(version)}
}

// userState is the writable part of a user, as a SCIM JSON object that
// PATCH operations edit.
func userState(u *roster.User) map[string]any {
	m := map[string]any{
		"userName": u.Username,
		"name":     map[string]any{"givenName": u.FirstName, "familyName": u.LastName},
		"emails":   []any{map[string]any{"value": u.Email, "type": "work", "primary": true}},
		"active":   u.IsActive,
	}
	if u.ExternalID != "" {
		m["externalId"] = u.ExternalID
	}
	return m
}

// userFields is what a SCIM user body sets.
type userFields struct {
	username, externalID, first, last, email string
	active                                   *bool
}

// readUser reads a User body (POST, PUT, or the state a PATCH left):
// userName is required; the email is the primary one (else the first), or
// the userName when it is an address and no email is given.
func readUser(m map[string]any) (userFields, error) {
	var f userFields
	for k, v := range m {
		name, ok := userAttrs[strings.ToLower(k)]
		switch {
		case strings.HasPrefix(strings.ToLower(k), "urn:"):
			continue // extension schemas (enterprise User): not kept
		case !ok:
			if userIgnored[strings.ToLower(k)] {
				continue
			}
			return f, invalid("invalidSyntax", "Unknown attribute "+strconv.Quote(k)+".")
		case userReadOnly[name]:
			continue
		}
		var err error
		switch name {
		case "userName":
			f.username, err = str(name, v, true)
		case "externalId":
			f.externalID, err = str(name, v, false)
		case "active":
			b, ok := parseBool(v)
			if !ok {
				return f, invalid("invalidValue", "active must be true or false.")
			}
			f.active = &b
		case "name":
			obj, ok := v.(map[string]any)
			if !ok && v != nil {
				return f, invalid("invalidValue", "name must be an object.")
			}
			for sk, sv := range obj {
				switch strings.ToLower(sk) {
				case "givenname":
					f.first, err = str("name.givenName", sv, false)
				case "familyname":
					f.last, err = str("name.familyName", sv, false)
				default:
					if !userIgnored["name."+strings.ToLower(sk)] {
						err = invalid("invalidSyntax", "Unknown attribute \"name."+sk+"\".")
					}
				}
				if err != nil {
					return f, err
				}
			}
		case "emails":
			f.email, err = primaryEmail(v)
		}
		if err != nil {
			return f, err
		}
	}
	if f.username == "" {
		return f, invalid("invalidValue", "userName is required.")
	}
	if f.email == "" {
		if !strings.Contains(f.username, "@") {
			return f, invalid("invalidValue", "emails is required: Roster users have an email address.")
		}
		f.email = f.username
	}
	return f, nil
}

func str(name string, v any, required bool) (string, error) {
	if v == nil && !required {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", invalid("invalidValue", name+" must be a string.")
	}
	return s, nil
}

// primaryEmail picks the primary email's value, else the first one's.
func primaryEmail(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	list, ok := v.([]any)
	if !ok {
		return "", invalid("invalidValue", "emails must be an array.")
	}
	email := ""
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return "", invalid("invalidValue", "Each email is an object.")
		}
		val, _ := lookup(m, "value")
		s, ok := val.(string)
		if !ok {
			continue
		}
		if p, _ := lookup(m, "primary"); func() bool { b, _ := parseBool(p); return b }() {
			return s, nil
		}
		if email == "" {
			email = s
		}
	}
	return email, nil
}

// apply sets the fields on u (active only when the body had it).
func (f userFields) apply(u *roster.User) {
	u.Username, u.ExternalID, u.FirstName, u.LastName, u.Email = f.username, f.externalID, f.first, f.last, f.email
	if f.active != nil {
		u.IsActive = *f.active
	}
}

// scimFieldNames maps the API's field names in validation errors to SCIM
// attributes.
var scimFieldNames = map[string]string{"username": "userName", "email": "emails", "firstName": "name.givenName", "lastName": "name.familyName"}

// scimFields renames the fields of a validation or uniqueness error to
// their SCIM attributes.
func scimFields(err error) error {
	e, ok := err.(*roster.Error)
	if !ok || len(e.Fields) == 0 {
		return err
	}
	out := *e
	out.Fields = map[string][]string{}
	for k, v := range e.Fields {
		if n, ok := scimFieldNames[k]; ok {
			k = n
		}
		out.Fields[k] = v
	}
	return &out
}

// ListUsers serves GET /Users.
func (h *Handler) ListUsers(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	if err := roster.RequireAdmin(caller); err != nil {
		return err
	}
	lq, err := parseListQuery(r, userResource)
	if err != nil {
		return err
	}
	users, total, err := h.store.FindUsersWhere(r.Context(), lq.filter, lq.page())
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(users))
	for i, u := range users {
		out[i] = lq.sel.apply(h.userOut(r, u))
	}
	return write(w, http.StatusOK, listResponse(total, lq, out))
}

// GetUser serves GET /Users/{id}.
func (h *Handler) GetUser(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	u, err := h.findUser(r, caller)
	if err != nil {
		return err
	}
	return h.writeUser(w, r, http.StatusOK, u)
}

func (h *Handler) findUser(r *http.Request, caller *roster.User) (*roster.User, error) {
	if err := roster.RequireAdmin(caller); err != nil {
		return nil, err
	}
	id, err := pathID(r, "User")
	if err != nil {
		return nil, err
	}
	return h.store.FindUserByID(r.Context(), id)
}

func (h *Handler) writeUser(w http.ResponseWriter, r *http.Request, status int, u *roster.User) error {
	w.Header().Set("ETag", etag(u.Version))
	return write(w, status, parseSelection(r).apply(h.userOut(r, u)))
}

// CreateUser serves POST /Users: 201, or 409 uniqueness.
func (h *Handler) CreateUser(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	if err := roster.RequireAdmin(caller); err != nil {
		return err
	}
	body, err := decode(w, r)
	if err != nil {
		return err
	}
	f, err := readUser(body)
	if err != nil {
		return err
	}
	u := &roster.User{IsActive: true, Timezone: "UTC", Locale: "en"}
	f.apply(u)
	if err := roster.ValidateUser(u); err != nil {
		return scimFields(err)
	}
	if err := h.store.CreateUser(r.Context(), caller.ID, u, ""); err != nil {
		return scimFields(err)
	}
	w.Header().Set("Location", h.base(r)+"/Users/"+strconv.FormatInt(u.ID, 10))
	return h.writeUser(w, r, http.StatusCreated, u)
}

// ReplaceUser serves PUT /Users/{id}: every writable attribute is set from
// the body (absent ones are cleared; an absent active stays as it is).
func (h *Handler) ReplaceUser(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	old, err := h.findUser(r, caller)
	if err != nil {
		return err
	}
	body, err := decode(w, r)
	if err != nil {
		return err
	}
	f, err := readUser(body)
	if err != nil {
		return err
	}
	return h.updateUser(w, r, caller, old, f)
}

// PatchUser serves PATCH /Users/{id}: the operations edit the user's SCIM
// state, which is then stored as one update (one user.updated activity).
func (h *Handler) PatchUser(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	old, err := h.findUser(r, caller)
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
	state := userState(old)
	for _, op := range ops {
		if err := patchUserState(state, op); err != nil {
			return err
		}
	}
	f, err := readUser(state)
	if err != nil {
		return err
	}
	return h.updateUser(w, r, caller, old, f)
}

// updateUser stores the fields that differ from old, honouring If-Match.
func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request, caller, old *roster.User, f userFields) error {
	ver, err := ifMatch(r, old.Version)
	if err != nil {
		return err
	}
	n := *old
	f.apply(&n)
	if err := roster.ValidateUser(&n); err != nil {
		return scimFields(err)
	}
	upd := roster.UserUpdate{IfVersion: ver}
	set := func(dst **string, now, was string) {
		if now != was {
			*dst = &now
		}
	}
	set(&upd.Username, n.Username, old.Username)
	set(&upd.Email, n.Email, old.Email)
	set(&upd.FirstName, n.FirstName, old.FirstName)
	set(&upd.LastName, n.LastName, old.LastName)
	set(&upd.ExternalID, n.ExternalID, old.ExternalID)
	if n.IsActive != old.IsActive {
		upd.IsActive = &n.IsActive
	}
	if err := roster.CanProvision(old); err != nil {
		return err
	}
	if err := roster.CanUpdateUser(caller, old, upd); err != nil {
		return err
	}
	u, err := h.store.UpdateUser(r.Context(), caller.ID, old.ID, upd)
	if err != nil {
		return scimFields(err)
	}
	return h.writeUser(w, r, http.StatusOK, u)
}

// DeleteUser serves DELETE /Users/{id}: the same as deleting the user in
// Roster.
func (h *Handler) DeleteUser(w http.ResponseWriter, r *http.Request, caller *roster.User) error {
	u, err := h.findUser(r, caller)
	if err != nil {
		return err
	}
	if _, err := ifMatch(r, u.Version); err != nil {
		return err
	}
	if err := roster.CanProvision(u); err != nil {
		return err
	}
	if err := h.store.DeleteUser(r.Context(), caller.ID, u.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchUserState applies one PATCH operation to a user's SCIM state.
func patchUserState(state map[string]any, op patchOp) error {
	if op.path == "" {
		obj, ok := op.value.(map[string]any)
		if !ok {
			return invalid("invalidValue", "An operation without a path needs an object value.")
		}
		for k, v := range obj {
			if err := patchUserState(state, patchOp{op: op.op, path: k, value: v}); err != nil {
				return err
			}
		}
		return nil
	}
	pp, err := parsePatchPath(op.path)
	if err != nil {
		return err
	}
	if pp.uri != "" && !strings.EqualFold(pp.uri, schemaUser) {
		if strings.HasPrefix(strings.ToLower(pp.uri), "urn:") {
			return nil // an extension schema's attribute (enterprise User): not kept
		}
		return invalid("invalidPath", "Unknown attribute "+strconv.Quote(op.path)+".")
	}
	lower := strings.ToLower(pp.attr)
	name, ok := userAttrs[lower]
	switch {
	case !ok && userIgnored[lower], ok && userReadOnly[name]:
		return nil
	case !ok:
		return invalid("invalidPath", "Unknown attribute "+strconv.Quote(op.path)+".")
	}
	sub := ""
	if pp.sub != "" {
		subs := userSubAttrs[name]
		if sub = subs[strings.ToLower(pp.sub)]; sub == "" {
			if userIgnored[lower+"."+strings.ToLower(pp.sub)] {
				return nil
			}
			return invalid("invalidPath", "Unknown attribute "+strconv.Quote(op.path)+".")
		}
	}
	switch {
	case pp.filter != nil:
		if name != "emails" {
			return invalid("invalidPath", "Only emails takes a value filter.")
		}
		return patchElements(state, name, pp.filter, sub, op)
	case name == "emails" && sub != "":
		// emails.value without a filter: every email (Roster has one).
		return patchElements(state, name, &expr{op: "pr", path: attrPath{attr: "value"}}, sub, op)
	case sub != "":
		obj, _ := state[name].(map[string]any)
		if obj == nil {
			obj = map[string]any{}
			state[name] = obj
		}
		if op.op == "remove" {
			delete(obj, sub)
		} else {
			obj[sub] = op.value
		}
	case op.op == "remove":
		delete(state, name)
	case name == "name" && op.op == "add":
		obj, ok := op.value.(map[string]any)
		if !ok {
			return invalid("invalidValue", "name must be an object.")
		}
		cur, _ := state[name].(map[string]any)
		if cur == nil {
			cur = map[string]any{}
		}
		for k, v := range obj {
			cur[k] = v
		}
		state[name] = cur
	case name == "emails":
		list, ok := op.value.([]any)
		if !ok {
			list = []any{op.value}
		}
		if op.op == "add" {
			// Roster keeps one email: an added primary one replaces it.
			if email, err := primaryEmail(list); err != nil || email == "" {
				return invalid("invalidValue", "emails must hold objects with a value.")
			}
		}
		state[name] = list
	default:
		state[name] = op.value
	}
	return nil
}

// patchElements applies op to the elements of a multi-valued attribute
// that filter selects (or, for sub, to their sub-attribute). When add or
// replace selects none, an element made of the filter's equalities is
// added (Entra ID replaces emails[type eq "work"].value on users it made).
func patchElements(state map[string]any, name string, filter *expr, sub string, op patchOp) error {
	list, _ := state[name].([]any)
	matched := false
	var kept []any
	for _, item := range list {
		elem, ok := item.(map[string]any)
		if !ok || !matchElement(filter, elem) {
			kept = append(kept, item)
			continue
		}
		matched = true
		switch {
		case op.op == "remove" && sub == "":
			continue
		case op.op == "remove":
			delete(elem, sub)
		case sub != "":
			elem[sub] = op.value
		default:
			obj, ok := op.value.(map[string]any)
			if !ok {
				return invalid("invalidValue", "The value of "+name+" elements is an object.")
			}
			for k, v := range obj {
				elem[k] = v
			}
		}
		kept = append(kept, elem)
	}
	if !matched && op.op != "remove" {
		elem := map[string]any{}
		equalities(filter, elem)
		if sub != "" {
			elem[sub] = op.value
		} else if obj, ok := op.value.(map[string]any); ok {
			for k, v := range obj {
				elem[k] = v
			}
		}
		kept = append(kept, elem)
	}
	state[name] = kept
	return nil
}

// equalities copies the "attr eq value" terms of an and-filter into elem.
func equalities(e *expr, elem map[string]any) {
	switch e.op {
	case "and":
		equalities(e.args[0], elem)
		equalities(e.args[1], elem)
	case "eq":
		elem[e.path.attr] = e.value
	}
}
