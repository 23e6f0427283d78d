package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

type actorJSON struct {
	ID       int64   `json:"id"`
	Username *string `json:"username"`
}

type workspaceRefJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type activityJSON struct {
	ID        int64                  `json:"id"`
	Actor     actorJSON              `json:"actor"`
	Verb      string                 `json:"verb"`
	Object    *roster.ActivityObject `json:"object"`
	Workspace *workspaceRefJSON      `json:"workspace"`
	Data      json.RawMessage        `json:"data"`
	Published apiTime                `json:"published"`
}

func activityOut(a *roster.Activity) activityJSON {
	out := activityJSON{ID: a.ID, Actor: actorJSON{ID: a.ActorID, Username: a.ActorUsername}, Verb: a.Verb, Object: a.Object,
		Data: a.Data, Published: apiTime(a.Published)}
	if a.WorkspaceID != nil {
		out.Workspace = &workspaceRefJSON{ID: *a.WorkspaceID, Name: a.WorkspaceName}
	}
	if len(out.Data) == 0 {
		out.Data = json.RawMessage("{}")
	}
	return out
}

// ActivityJSON encodes a as the feeds show it; webhooks and the message
// bus send the same bytes.
func ActivityJSON(a *roster.Activity) ([]byte, error) { return json.Marshal(activityOut(a)) }

// FormatTime formats t as the API does (RFC 3339, UTC, microseconds).
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func activitiesOut(list []*roster.Activity) []activityJSON {
	out := make([]activityJSON, len(list))
	for i, a := range list {
		out[i] = activityOut(a)
	}
	return out
}

// addFieldErrors copies the field messages of a roster error into b.
func (b *body) addFieldErrors(err error) {
	if e, ok := asError(err); ok {
		for f, msgs := range e.Fields {
			for _, m := range msgs {
				b.errors.Add(f, m)
			}
		}
	}
}

// queryInt parses an optional positive integer query parameter.
func queryInt(r *http.Request, name string) (int64, bool, error) {
	v, ok := r.URL.Query()[name]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || n < 1 {
		return 0, false, roster.FieldError(roster.EINVALID, name, "A positive integer is required.")
	}
	return n, true, nil
}

func queryTime(r *http.Request, name string) (*time.Time, error) {
	v, ok := r.URL.Query()[name]
	if !ok {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v[0])
	if err != nil {
		return nil, roster.FieldError(roster.EINVALID, name, "Enter an RFC 3339 date-time, e.g. 2026-11-27T10:11:12Z.")
	}
	return &t, nil
}

// parseActivityFilter reads the feed filters: workspace, verb, since,
// until and before.
func parseActivityFilter(r *http.Request) (roster.ActivityFilter, error) {
	f := roster.ActivityFilter{Viewer: viewer(r)}
	if ws, ok, err := queryInt(r, "workspace"); err != nil {
		return f, err
	} else if ok {
		f.WorkspaceID = &ws
	}
	if v, ok := r.URL.Query()["verb"]; ok {
		if !roster.ValidVerbFilter(v[0]) {
			return f, roster.FieldError(roster.EINVALID, "verb", "Enter a verb such as document.created, or a prefix such as document.*.")
		}
		f.Verb = v[0]
	}
	var err error
	if f.Since, err = queryTime(r, "since"); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(r, "until"); err != nil {
		return f, err
	}
	if f.Before, _, err = queryInt(r, "before"); err != nil {
		return f, err
	}
	return f, nil
}

// pathUser returns the id of an existing user named by the path.
func (s *Server) pathUser(r *http.Request) (int64, error) {
	id, err := parseID(r, "id")
	if err != nil {
		return 0, err
	}
	if err := s.store.UserExists(r.Context(), id); err != nil {
		return 0, err
	}
	return id, nil
}

// writeActivityPage counts and lists one page of a filtered feed.
func (s *Server) writeActivityPage(w http.ResponseWriter, r *http.Request, f roster.ActivityFilter) error {
	p, err := parsePage(r)
	if err != nil {
		if f.ActorID != nil { // a missing user's 404 comes first
			if err := s.store.UserExists(r.Context(), *f.ActorID); err != nil {
				return err
			}
		}
		return err
	}
	total, err := s.store.CountActivities(r.Context(), f)
	if err != nil {
		return err
	}
	list := []*roster.Activity{}
	if off := p.page().Offset; off < total {
		f.Page = p.page()
		if list, err = s.store.FindActivities(r.Context(), f); err != nil {
			return err
		}
	}
	return writePage(w, r, p, total, activitiesOut(list))
}

// userActivityFilter is the feed filter of /users/{id}/activities and its
// count: the path's user as actor plus the query's filters. The user's
// existence is checked by CountActivities, which both routes call, in the
// statement that counts; when the filters are bad, a missing user's 404
// still comes first.
func (s *Server) userActivityFilter(r *http.Request) (roster.ActivityFilter, error) {
	id, err := parseID(r, "id")
	if err != nil {
		return roster.ActivityFilter{}, err
	}
	f, err := parseActivityFilter(r)
	if err != nil {
		if err := s.store.UserExists(r.Context(), id); err != nil {
			return roster.ActivityFilter{}, err
		}
		return roster.ActivityFilter{}, err
	}
	f.ActorID = &id
	return f, nil
}

func (s *Server) handleUserActivities(w http.ResponseWriter, r *http.Request) error {
	f, err := s.userActivityFilter(r)
	if err != nil {
		return err
	}
	return s.writeActivityPage(w, r, f)
}

func (s *Server) handleUserActivityCount(w http.ResponseWriter, r *http.Request) error {
	f, err := s.userActivityFilter(r)
	if err != nil {
		return err
	}
	n, err := s.store.CountActivities(r.Context(), f)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, map[string]int{"count": n})
}

// handleActivityList is the site-wide feed (the audit view of admins): every
// activity the viewer may see, with the feed filters plus actor.
func (s *Server) handleActivityList(w http.ResponseWriter, r *http.Request) error {
	f, err := parseActivityFilter(r)
	if err != nil {
		return err
	}
	if actor, ok, err := queryInt(r, "actor"); err != nil {
		return err
	} else if ok {
		f.ActorID = &actor
	}
	if f.ActorID != nil { // an absent actor is an empty feed here, not a 404
		if err := s.store.UserExists(r.Context(), *f.ActorID); err != nil {
			if roster.ErrorCode(err) != roster.ENOTFOUND {
				return err
			}
			p, err := parsePage(r)
			if err != nil {
				return err
			}
			return writePage(w, r, p, 0, []activityJSON{})
		}
	}
	return s.writeActivityPage(w, r, f)
}

func (s *Server) handleWorkspaceActivities(w http.ResponseWriter, r *http.Request) error {
	ws, _, err := s.workspaceAccess(r)
	if err != nil {
		return err
	}
	f, err := parseActivityFilter(r)
	if err != nil {
		return err
	}
	if f.WorkspaceID != nil && *f.WorkspaceID != ws.ID {
		// Another workspace's filter matches nothing; page and page_size still apply.
		p, err := parsePage(r)
		if err != nil {
			return err
		}
		return writePage(w, r, p, 0, []activityJSON{})
	}
	f.WorkspaceID = &ws.ID
	return s.writeActivityPage(w, r, f)
}

type activeWorkspaceJSON struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	Slug          string   `json:"slug"`
	Role          string   `json:"role"`
	Via           []string `json:"via"`
	LastActiveAt  apiTime  `json:"lastActiveAt"`
	ActivityCount int      `json:"activityCount"`
}

func (s *Server) handleUserActiveWorkspaces(w http.ResponseWriter, r *http.Request) error {
	id, err := s.pathUser(r)
	if err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	days := int64(30)
	if v, ok := r.URL.Query()["days"]; ok {
		d, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil || d < 1 || d > 3650 {
			return roster.FieldError(roster.EINVALID, "days", "Enter a whole number of days between 1 and 3650.")
		}
		days = d
	}
	list, total, err := s.store.FindActiveWorkspaces(r.Context(), roster.ActiveWorkspaceFilter{Viewer: viewer(r), ActorID: id,
		Since: s.now().Add(-time.Duration(days) * 24 * time.Hour), Page: p.page()})
	if err != nil {
		return err
	}
	out := make([]activeWorkspaceJSON, len(list))
	for i, a := range list {
		out[i] = activeWorkspaceJSON{ID: a.ID, Name: a.Name, Slug: a.Slug, Role: a.Role.String(), Via: a.Via,
			LastActiveAt: apiTime(a.LastActiveAt), ActivityCount: a.ActivityCount}
	}
	return writePage(w, r, p, total, out)
}

// Limits of the object of a posted activity.
const (
	maxObjectType = 64
	maxObjectText = 255
)

// handleActivityCreate records an activity of the caller (or, for an
// admin, of another actor). Non-admins are limited per user
// (ActivityRate/ActivityBurst, 429 with Retry-After), and the verb
// namespaces of the server's own activities are refused.
func (s *Server) handleActivityCreate(w http.ResponseWriter, r *http.Request) error {
	me := viewer(r)
	if roster.ActivityPostsLimited(me) {
		if ok, wait := s.activityLimit.take(strconv.FormatInt(me.ID, 10), s.now()); !ok {
			return &roster.Error{Code: roster.ETHROTTLED, Message: "Too many activities posted; slow down.", RetryAfter: wait}
		}
	}
	b, err := decodeBody(w, r, []string{"verb", "object", "workspace", "data", "actor"}, []string{"id", "published"})
	if err != nil {
		return err
	}
	b.require("verb")
	a := &roster.Activity{ActorID: me.ID, Data: json.RawMessage("{}")}
	if v := b.str("verb"); v != nil {
		if !roster.ValidVerb(*v) {
			b.errors.Add("verb", "Enter a verb of lower-case dotted words, e.g. document.created (at most 64 characters).")
		} else if roster.ReservedVerb(*v) {
			b.errors.Add("verb", "The namespaces user, auth, workspace, group, token and webhook are reserved for the server's own activities.")
		}
		a.Verb = *v
	}
	if raw, ok := b.raw["object"]; ok && string(raw) != "null" {
		a.Object = readObject(b, raw)
	}
	if raw, ok := b.raw["workspace"]; ok && string(raw) != "null" {
		if ws := b.integer("workspace"); ws != nil {
			if *ws < 1 {
				b.errors.Add("workspace", "A positive integer is required.")
			}
			a.WorkspaceID = ws
		}
	}
	if raw, ok := b.raw["data"]; ok && string(raw) != "null" {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil || obj == nil {
			b.errors.Add("data", "Must be a JSON object.")
		} else if !validJSONText(raw) {
			b.errors.Add("data", "Strings in data may not contain NUL, control or format (bidi, zero-width) characters other than newlines and tabs.")
		} else {
			var compact bytes.Buffer
			_ = json.Compact(&compact, raw)
			if compact.Len() > roster.MaxDataSize {
				b.errors.Add("data", "Ensure this object has at most 8192 bytes.")
			}
			a.Data = compact.Bytes()
		}
	}
	if raw, ok := b.raw["actor"]; ok && string(raw) != "null" {
		if id := b.integer("actor"); id != nil {
			a.ActorID = *id
		}
	}
	if err := b.err(); err != nil {
		return err
	}
	post, err := s.activityPost(r, me, a)
	if err != nil {
		return err
	}
	if err := roster.CanPostActivity(me, post); err != nil {
		return err
	}
	if err := s.store.CreateActivity(r.Context(), a); err != nil {
		return err
	}
	return encode(w, http.StatusCreated, activityOut(a))
}

// activityPost gathers what roster.CanPostActivity decides on: whether the
// actor and the workspace exist and the actor's role there. Only "not
// found" is a fact; any other error of the store is returned as it is.
func (s *Server) activityPost(r *http.Request, me *roster.User, a *roster.Activity) (roster.ActivityPost, error) {
	p := roster.ActivityPost{ActorID: a.ActorID, ActorExists: true, HasWorkspace: a.WorkspaceID != nil}
	if !roster.CanRecordFor(me, a.ActorID) {
		return p, nil // decided without looking anything up
	}
	if a.ActorID != me.ID {
		_, err := s.store.FindUserByID(r.Context(), a.ActorID)
		if roster.ErrorCode(err) == roster.ENOTFOUND {
			p.ActorExists = false
			return p, nil
		} else if err != nil {
			return p, err
		}
	}
	if a.WorkspaceID == nil {
		return p, nil
	}
	var err error
	if p.ActorRole, err = s.store.WorkspaceRole(r.Context(), a.ActorID, *a.WorkspaceID); err != nil {
		return p, err
	}
	_, err = s.store.FindWorkspaceByID(r.Context(), *a.WorkspaceID)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return p, nil
	} else if err != nil {
		return p, err
	}
	p.WorkspaceExists = true
	return p, nil
}

// readObject decodes {"type", "id", "name"}: type required, all strings.
func readObject(b *body, raw json.RawMessage) *roster.ActivityObject {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		b.errors.Add("object", "Must be a JSON object with type, id and name, or null.")
		return nil
	}
	obj := &roster.ActivityObject{}
	for k, v := range fields {
		var dst *string
		switch k {
		case "type":
			dst = &obj.Type
		case "id":
			dst = &obj.ID
		case "name":
			dst = &obj.Name
		default:
			b.errors.Add("object", "Unknown field "+strconv.Quote(k)+".")
			continue
		}
		var n json.Number
		if json.Unmarshal(v, dst) != nil {
			if k == "id" && json.Unmarshal(v, &n) == nil { // numeric ids are kept as their text
				*dst = n.String()
				continue
			}
			b.errors.Add("object", "object."+k+" must be a string.")
		}
	}
	switch {
	case obj.Type == "":
		b.errors.Add("object", "object.type is required.")
	case utf8.RuneCountInString(obj.Type) > maxObjectType:
		b.errors.Add("object", "object.type is too long.")
	case utf8.RuneCountInString(obj.ID) > maxObjectText || utf8.RuneCountInString(obj.Name) > maxObjectText:
		b.errors.Add("object", "object.id and object.name may have at most 255 characters.")
	case !roster.ValidText(obj.Type, false) || !roster.ValidText(obj.ID, false) || !roster.ValidText(obj.Name, false):
		b.errors.Add("object", "object fields may not contain NUL, control or format (bidi, zero-width) characters.")
	}
	return obj
}

// validJSONText reports whether every key and string of a JSON value passes
// roster.ValidText (multi-line allowed).
func validJSONText(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	var ok func(v any) bool
	ok = func(v any) bool {
		switch x := v.(type) {
		case string:
			return roster.ValidText(x, true)
		case []any:
			for _, e := range x {
				if !ok(e) {
					return false
				}
			}
		case map[string]any:
			for k, e := range x {
				if !roster.ValidText(k, true) || !ok(e) {
					return false
				}
			}
		}
		return true
	}
	return ok(v)
}
