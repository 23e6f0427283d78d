package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rosterhq/roster/api"
)

// The checks below hold the document to what third-party tools (Redocly and
// Spectral lint, Prism, oapi-codegen) read in it, beside the route checks of
// openapi_test.go.

// lintDoc is the part of the document these checks read.
type lintDoc struct {
	Info struct {
		Contact *struct {
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"contact"`
		License *struct {
			Name       string `json:"name"`
			Identifier string `json:"identifier"`
		} `json:"license"`
	} `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components map[string]map[string]json.RawMessage `json:"components"`
}

func parseLintDoc(t *testing.T) lintDoc {
	t.Helper()
	var doc lintDoc
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestOpenAPILint checks what the linters warned about: info has a contact
// and a license, every operation (the operational routes too) documents a
// 4XX answer, and every component is used.
func TestOpenAPILint(t *testing.T) {
	doc := parseLintDoc(t)
	if c := doc.Info.Contact; c == nil || c.Name == "" || c.URL == "" {
		t.Errorf("info.contact = %+v, want a name and a url", c)
	}
	if l := doc.Info.License; l == nil || l.Name == "" || l.Identifier == "" {
		t.Errorf("info.license = %+v, want a name and an SPDX identifier", l)
	}
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				continue // not an operation (parameters, summary, ...)
			}
			has4xx := false
			for code := range op.Responses {
				has4xx = has4xx || strings.HasPrefix(code, "4")
			}
			if !has4xx {
				t.Errorf("%s %s documents no 4XX answer", strings.ToUpper(method), path)
			}
		}
	}
	text := string(api.OpenAPI)
	for kind, items := range doc.Components {
		if kind == "securitySchemes" { // used by name in security, not by $ref
			continue
		}
		for name := range items {
			if ref := `"#/components/` + kind + "/" + name + `"`; !strings.Contains(text, ref) {
				t.Errorf("components.%s.%s is never used", kind, name)
			}
		}
	}
	// Generators name types after components: a parameter component and a
	// schema whose names differ only in case collide (oapi-codegen's
	// "Workspace" schema and "workspace" parameter did).
	seen := map[string]string{}
	for kind, items := range doc.Components {
		if kind == "securitySchemes" || kind == "headers" {
			continue
		}
		for name := range items {
			key := strings.ToLower(strings.ReplaceAll(name, "_", ""))
			if other, ok := seen[key]; ok {
				t.Errorf("components %s and %s.%s differ only in case: generated type names collide", other, kind, name)
			}
			seen[key] = kind + "." + name
		}
	}
}

// TestOpenAPIBooleanQueryAgrees holds the document's schema of the boolean
// query parameters (isActive, isService) to the server: a value the server
// accepts matches the schema, and one it refuses with a 400 does not.
func TestOpenAPIBooleanQueryAgrees(t *testing.T) { eachStore(t, testOpenAPIBooleanQueryAgrees) }

func testOpenAPIBooleanQueryAgrees(t *testing.T) {
	doc := parseLintDoc(t)
	e := newEnv(t)
	for _, name := range []string{"isActive", "isService"} {
		var p struct {
			Schema struct {
				Type    string   `json:"type"`
				Pattern string   `json:"pattern"`
				Enum    []string `json:"enum"`
			} `json:"schema"`
		}
		if err := json.Unmarshal(doc.Components["parameters"][name], &p); err != nil {
			t.Fatalf("parameters.%s: %v", name, err)
		}
		if p.Schema.Type != "string" || p.Schema.Pattern == "" || p.Schema.Enum != nil {
			t.Fatalf("parameters.%s.schema = %+v, want a string with a pattern", name, p.Schema)
		}
		re := regexp.MustCompile(p.Schema.Pattern) // the pattern uses only the ECMA-262 subset Go shares
		for _, v := range []string{"true", "false", "True", "False", "TRUE", "fAlSe", "1", "0",
			"yes", "no", "t", "f", "2", "-1", "", " true", "true ", "truee", "on"} {
			res := e.do("GET", utUsers+"?"+name+"="+url.QueryEscape(v), e.AdminToken, nil)
			switch accepted := res.Status == http.StatusOK; {
			case res.Status != http.StatusOK && res.Status != http.StatusBadRequest:
				t.Errorf("%s=%q: status %d", name, v, res.Status)
			case accepted != re.MatchString(v):
				t.Errorf("%s=%q: server status %d but the document's pattern %s matches: %v",
					name, v, res.Status, p.Schema.Pattern, re.MatchString(v))
			}
		}
	}
}

// TestUserWrongTypeOneMessage: a field of the wrong type gets one message
// ("Not a valid string."), not also the message of the value it did not
// set ("This field may not be blank.").
func TestUserWrongTypeOneMessage(t *testing.T) { eachStore(t, testUserWrongTypeOneMessage) }

func testUserWrongTypeOneMessage(t *testing.T) {
	e := newEnv(t)
	want := map[string][]string{"email": {"Not a valid string."}, "username": {"Not a valid string."},
		"timezone": {"Not a valid string."}, "locale": {"Not a valid string."}}
	check := func(r *resp) {
		t.Helper()
		utExpect(t, r, http.StatusBadRequest)
		got := utErrors(t, r)
		for f, msgs := range want {
			if strings.Join(got[f], "|") != strings.Join(msgs, "|") {
				t.Errorf("errors[%s] = %q, want %q; body %s", f, got[f], msgs, r.Body)
			}
		}
		if !strings.Contains(string(r.Body), `"detail":"Invalid input."`) {
			t.Errorf("detail: %s", r.Body)
		}
	}
	check(e.do("POST", utUsers, e.AdminToken, map[string]any{"email": 5, "username": true, "timezone": 1, "locale": []int{}}))
	check(e.do("PATCH", utPath(e.Admin.ID), e.AdminToken, map[string]any{"email": 5, "username": true, "timezone": 1, "locale": []int{}}))

	r := utExpect(t, e.do("POST", utUsers, e.AdminToken, map[string]any{"email": 5}), http.StatusBadRequest)
	got := utErrors(t, r)
	if len(got) != 2 || strings.Join(got["email"], "|") != "Not a valid string." || strings.Join(got["username"], "|") != "This field is required." {
		t.Errorf(`POST {"email": 5}: errors %q, want one message each for email and username`, got)
	}
}
