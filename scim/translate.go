package scim

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// Schema URNs.
const (
	schemaUser  = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaGroup = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaList  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaError = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// resource says how one resource type's filters reach the store.
type resource struct {
	schema string
	// attr maps a lower-cased "attr" or "attr.sub" to a roster.Filter
	// attribute, or to a constant (see constants).
	attr map[string]string
	// multi names the multi-valued attributes whose value filters
	// (emails[type eq "work"]) are translated element-wise: each maps the
	// lower-cased sub-attribute to its roster.Filter attribute.
	multi map[string]map[string]string
	// constants are sub-attributes whose value is the same for every
	// resource ("emails.type" is "work" for Roster's one email).
	constants map[string]any
}

var userResource = resource{
	schema: schemaUser,
	attr: map[string]string{
		"id": roster.AttrID, "externalid": roster.AttrExternalID, "username": roster.AttrUsername,
		"name.givenname": roster.AttrFirstName, "name.familyname": roster.AttrLastName,
		"emails": roster.AttrEmail, "emails.value": roster.AttrEmail, "active": roster.AttrActive,
		"meta.created": roster.AttrCreated, "meta.lastmodified": roster.AttrLastModified,
	},
	multi:     map[string]map[string]string{"emails": {"value": roster.AttrEmail}},
	constants: map[string]any{"emails.type": "work", "emails.primary": true},
}

var groupResource = resource{
	schema: schemaGroup,
	attr: map[string]string{
		"id": roster.AttrID, "externalid": roster.AttrExternalID, "displayname": roster.AttrName,
		"members": roster.AttrMember, "members.value": roster.AttrMember,
		"meta.created": roster.AttrCreated, "meta.lastmodified": roster.AttrLastModified,
	},
	multi: map[string]map[string]string{"members": {"value": roster.AttrMember}},
}

// toFilter translates a parsed filter into the store's roster.Filter.
func (r resource) toFilter(e *expr) (*roster.Filter, error) {
	return r.translate(e, "")
}

func (r resource) translate(e *expr, within string) (*roster.Filter, error) {
	switch e.op {
	case "and", "or", "not":
		f := &roster.Filter{Op: roster.FilterOp(e.op)}
		for _, a := range e.args {
			t, err := r.translate(a, within)
			if err != nil {
				return nil, err
			}
			f.Args = append(f.Args, t)
		}
		return f, nil
	case "[]":
		if within != "" {
			return nil, filterError("value filters do not nest")
		}
		if err := r.checkURI(e.path); err != nil {
			return nil, err
		}
		name := strings.ToLower(e.path.attr)
		if _, ok := r.multi[name]; !ok {
			return nil, filterError(e.path.attr + " is not a multi-valued attribute")
		}
		return r.translate(e.args[0], name)
	}
	if err := r.checkURI(e.path); err != nil {
		return nil, err
	}
	key := strings.ToLower(e.path.String())
	if within != "" {
		if e.path.sub != "" {
			return nil, filterError("bad attribute " + e.path.String() + " in a value filter")
		}
		key = within + "." + strings.ToLower(e.path.attr)
	}
	if c, ok := r.constants[key]; ok {
		if compareValue(e.op, c, e.value) {
			return &roster.Filter{Op: roster.FilterTrue}, nil
		}
		return &roster.Filter{Op: roster.FilterFalse}, nil
	}
	attr, ok := r.attr[key]
	if !ok {
		return nil, filterError("unknown or unfilterable attribute " + strconv.Quote(e.path.String()))
	}
	v, err := filterValue(attr, e.value, e.op)
	if err != nil {
		return nil, err
	}
	return &roster.Filter{Op: roster.FilterOp(e.op), Attr: attr, Value: v}, nil
}

// checkURI accepts a path without a URI or with the resource's schema.
func (r resource) checkURI(p attrPath) error {
	if p.uri != "" && !strings.EqualFold(p.uri, r.schema) {
		return filterError("attributes of " + p.uri + " cannot be filtered")
	}
	return nil
}

// filterValue converts a filter's literal to the type the attribute's
// store column compares with.
func filterValue(attr string, v any, op string) (any, error) {
	if op == "pr" {
		return nil, nil
	}
	switch attr {
	case roster.AttrID, roster.AttrMember:
		s := literalString(v)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			return n, nil
		}
		return s, nil // names no resource; the store answers accordingly
	case roster.AttrActive:
		if b, ok := parseBool(v); ok {
			return b, nil
		}
		return nil, filterError("active compares with true or false")
	case roster.AttrCreated, roster.AttrLastModified:
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, filterError("dates compare with an RFC 3339 date-time")
		}
		return t, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, filterError("the attribute compares with a string")
	}
	return s, nil
}

func literalString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// parseBool reads a boolean as JSON has it or as the strings "true" and
// "false" in any case ("True", as Microsoft Entra ID sends).
func parseBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// compareValue evaluates "actual op want" for a value held in memory
// (strings case-insensitively, as SCIM compares caseExact=false ones).
func compareValue(op string, actual, want any) bool {
	if op == "pr" {
		return actual != nil && actual != ""
	}
	if ab, ok := actual.(bool); ok {
		wb, ok := parseBool(want)
		switch op {
		case "eq":
			return ok && ab == wb
		case "ne":
			return !ok || ab != wb
		}
		return false
	}
	a := strings.ToLower(literalString(actual))
	w := strings.ToLower(literalString(want))
	switch op {
	case "eq":
		return a == w
	case "ne":
		return a != w
	case "co":
		return strings.Contains(a, w)
	case "sw":
		return strings.HasPrefix(a, w)
	case "ew":
		return strings.HasSuffix(a, w)
	case "gt":
		return a > w
	case "ge":
		return a >= w
	case "lt":
		return a < w
	case "le":
		return a <= w
	}
	return false
}

// matchElement evaluates a value filter against one element of a
// multi-valued attribute (a JSON object), for PATCH paths such as
// emails[type eq "work"].value.
func matchElement(e *expr, elem map[string]any) bool {
	switch e.op {
	case "and":
		return matchElement(e.args[0], elem) && matchElement(e.args[1], elem)
	case "or":
		return matchElement(e.args[0], elem) || matchElement(e.args[1], elem)
	case "not":
		return !matchElement(e.args[0], elem)
	case "[]":
		return false
	}
	v, ok := lookup(elem, e.path.attr)
	if !ok {
		return e.op == "ne"
	}
	return compareValue(e.op, v, e.value)
}

// lookup finds a key of m case-insensitively.
func lookup(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}
