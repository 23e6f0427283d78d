// Package scim serves SCIM 2.0 (RFC 7643 and 7644) so that identity
// providers provision Roster's users and groups: the discovery documents,
// /Users and /Groups with filters, paging, attribute selection, PATCH and
// ETags. It speaks to the database only through the root's services, so
// that every change is the same change (and activity) as through the API;
// routes, authentication and the status of each error are httpapi's.
package scim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// Store is what SCIM needs from the database.
type Store interface {
	FindUserByID(ctx context.Context, id int64) (*roster.User, error)
	CreateUser(ctx context.Context, actor int64, u *roster.User, passwordHash string) error
	UpdateUser(ctx context.Context, actor, id int64, upd roster.UserUpdate) (*roster.User, error)
	DeleteUser(ctx context.Context, actor, id int64) error
	FindGroupByID(ctx context.Context, id int64) (*roster.Group, error)
	CreateGroup(ctx context.Context, actor int64, g *roster.Group) error
	DeleteGroup(ctx context.Context, actor, id int64) error
	roster.ProvisioningService
}

// HandlerFunc serves one SCIM route for an authenticated caller; errors go
// to the caller's error writer (see WriteError).
type HandlerFunc func(w http.ResponseWriter, r *http.Request, caller *roster.User) error

// Handler serves /scim/v2.
type Handler struct {
	store Store
	// origin returns the scheme, host and path prefix links start with.
	origin func(*http.Request) string
}

// Prefix is the path of the SCIM service.
const Prefix = "/scim/v2"

// MaxResults is the largest page (ServiceProviderConfig filter.maxResults).
const MaxResults = 1000

// maxBody bounds request bodies, as the API's.
const maxBody = 1 << 20

// ContentType is the media type of SCIM bodies.
const ContentType = "application/scim+json"

// New returns the handler; origin gives the absolute origin of links.
func New(store Store, origin func(*http.Request) string) *Handler {
	return &Handler{store: store, origin: origin}
}

func (h *Handler) base(r *http.Request) string { return h.origin(r) + Prefix }

// scimError is the body of an error (RFC 7644 section 3.12).
type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
}

// WriteError writes err as a SCIM error with the given status (which the
// caller's one error table chose). Conflicts are "uniqueness" and bad input
// "invalidValue" unless err names its scimType.
func WriteError(w http.ResponseWriter, status int, err error) {
	var e *roster.Error
	scimType := ""
	if errors.As(err, &e) {
		scimType = e.SCIMType
		if scimType == "" && status == http.StatusConflict && len(e.Fields) > 0 {
			scimType = "uniqueness"
		}
		if scimType == "" && status == http.StatusBadRequest {
			scimType = "invalidValue"
		}
	}
	detail := roster.ErrorMessage(err)
	if e != nil && len(e.Fields) > 0 {
		var parts []string
		for f, msgs := range e.Fields {
			parts = append(parts, f+": "+strings.Join(msgs, " "))
		}
		detail += " " + strings.Join(sortedStrings(parts), "; ")
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Del("ETag")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(scimError{Schemas: []string{schemaError}, Status: strconv.Itoa(status), ScimType: scimType, Detail: detail})
}

func sortedStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func invalid(scimType, msg string) error {
	return &roster.Error{Code: roster.EINVALID, Message: msg, SCIMType: scimType}
}

// write sends a SCIM body.
func write(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

// decode reads a JSON object body of SCIM (or plain JSON) media type.
func decode(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !(mt == ContentType || mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil, &roster.Error{Code: roster.EUNSUPPORTED, Message: "The body must be application/scim+json or application/json."}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &roster.Error{Code: roster.ETOOLARGE, Message: "The body is larger than 1 MiB."}
		}
		return nil, invalid("invalidSyntax", "The body could not be read.")
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, invalid("invalidSyntax", "The body is not a JSON object.")
	}
	return m, nil
}

// pathID reads the {id} of a resource path; one that is not a positive
// integer names nothing (404).
func pathID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != r.PathValue("id") {
		return 0, &roster.Error{Code: roster.ENOTFOUND, Message: what + " not found."}
	}
	return id, nil
}

// etag is the weak ETag of a resource version.
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the version If-Match names (0: no If-Match or "*"), or
// EPRECONDITION when it names none that equals current.
func ifMatch(r *http.Request, current int64) (int64, error) {
	h := r.Header.Get("If-Match")
	if h == "" {
		return 0, nil
	}
	tag := etag(current)
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return 0, nil
		}
		if t == tag || "W/"+t == tag {
			return current, nil
		}
	}
	return 0, roster.Errorf(roster.EPRECONDITION, "The resource has changed since it was read (If-Match failed).")
}

// listQuery is a list request's filter, page and attribute selection.
type listQuery struct {
	filter     *roster.Filter
	startIndex int
	count      int
	sel        selection
}

func parseListQuery(r *http.Request, res resource) (listQuery, error) {
	q := r.URL.Query()
	lq := listQuery{startIndex: 1, count: 100}
	if s := q.Get("filter"); s != "" {
		e, err := parseFilter(s)
		if err != nil {
			return lq, err
		}
		if lq.filter, err = res.toFilter(e); err != nil {
			return lq, err
		}
	}
	if s := q.Get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return lq, invalid("invalidValue", "startIndex must be an integer.")
		}
		lq.startIndex = max(n, 1) // RFC 7644 section 3.4.2.4: less than 1 is 1
	}
	if s := q.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return lq, invalid("invalidValue", "count must be an integer.")
		}
		lq.count = min(max(n, 0), MaxResults) // negative is 0
	}
	if q.Get("sortBy") != "" {
		return lq, &roster.Error{Code: roster.EINVALID, Message: "Sorting is not supported (see /ServiceProviderConfig).", SCIMType: "invalidValue"}
	}
	lq.sel = parseSelection(r)
	return lq, nil
}

func (lq listQuery) page() roster.Page {
	return roster.Page{Offset: lq.startIndex - 1, Limit: lq.count}
}

// listResponse is the envelope of a query (RFC 7644 section 3.4.2).
func listResponse(total int, lq listQuery, resources []map[string]any) map[string]any {
	return map[string]any{"schemas": []string{schemaList}, "totalResults": total, "startIndex": lq.startIndex,
		"itemsPerPage": len(resources), "Resources": resources}
}

// selection is the attributes / excludedAttributes of a request.
type selection struct {
	only, except map[string]bool // lower-cased "attr" and "attr.sub"
}

func parseSelection(r *http.Request) selection {
	q := r.URL.Query()
	read := func(name string) map[string]bool {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		set := map[string]bool{}
		for _, a := range strings.Split(v, ",") {
			a = strings.TrimSpace(a)
			if p, err := parseAttrPath(a); err == nil {
				set[strings.ToLower(p.String())] = true
			}
		}
		return set
	}
	return selection{only: read("attributes"), except: read("excludedAttributes")}
}

// wants reports whether the selection returns attr (lower-cased) at all.
func (s selection) wants(attr string) bool {
	if s.only != nil {
		if s.only[attr] {
			return true
		}
		for k := range s.only {
			if strings.HasPrefix(k, attr+".") {
				return true
			}
		}
		return false
	}
	return !s.except[attr]
}

// apply removes what the selection leaves out; schemas and id are always
// returned (RFC 7643 section 7, returned "always").
func (s selection) apply(m map[string]any) map[string]any {
	if s.only == nil && s.except == nil {
		return m
	}
	out := map[string]any{}
	for k, v := range m {
		lk := strings.ToLower(k)
		if lk == "schemas" || lk == "id" {
			out[k] = v
			continue
		}
		if s.except[lk] {
			continue
		}
		sub, isObj := v.(map[string]any)
		if s.only != nil && !s.only[lk] {
			if !s.wants(lk) || !isObj {
				continue
			}
			kept := map[string]any{}
			for sk, sv := range sub {
				if s.only[lk+"."+strings.ToLower(sk)] {
					kept[sk] = sv
				}
			}
			out[k] = kept
			continue
		}
		if isObj && s.except != nil {
			kept := map[string]any{}
			for sk, sv := range sub {
				if !s.except[lk+"."+strings.ToLower(sk)] {
					kept[sk] = sv
				}
			}
			v = kept
		}
		out[k] = v
	}
	return out
}

// patchOp is one operation of a PATCH request.
type patchOp struct {
	op    string // add, replace or remove, lower-cased (Entra sends "Replace")
	path  string
	value any
}

func parsePatch(body map[string]any) ([]patchOp, error) {
	raw, _ := lookup(body, "Operations")
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, invalid("invalidSyntax", "A PATCH body needs a non-empty Operations array.")
	}
	ops := make([]patchOp, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, invalid("invalidSyntax", "Each operation is a JSON object.")
		}
		opv, _ := lookup(m, "op")
		op, _ := opv.(string)
		op = strings.ToLower(op)
		if op != "add" && op != "replace" && op != "remove" {
			return nil, invalid("invalidSyntax", "op must be add, replace or remove.")
		}
		pv, _ := lookup(m, "path")
		path, _ := pv.(string)
		value, _ := lookup(m, "value")
		if op == "remove" && path == "" {
			return nil, invalid("noTarget", "remove needs a path.")
		}
		if op != "remove" && value == nil {
			return nil, invalid("invalidValue", op+" needs a value.")
		}
		ops = append(ops, patchOp{op: op, path: path, value: value})
	}
	return ops, nil
}
