package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/internal/rostertest"
)

// openAPIDoc is the part of the OpenAPI document the route checks read.
type openAPIDoc struct {
	OpenAPI  string                                `json:"openapi"`
	Security []map[string][]string                 `json:"security"`
	Paths    map[string]map[string]json.RawMessage `json:"paths"`
}

type openAPIOperation struct {
	Security *[]map[string][]string `json:"security"`
}

var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func parseOpenAPI(t *testing.T, data []byte) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("api/openapi.json is not valid JSON: %v", err)
	}
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(doc.OpenAPI) {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	return doc
}

// documentedOperations returns "METHOD /path" for every operation of the
// document, in the form of ServeMux patterns, with whether it is public
// (security: []).
func documentedOperations(t *testing.T, doc openAPIDoc) map[string]bool {
	t.Helper()
	ops := map[string]bool{}
	for path, item := range doc.Paths {
		for _, m := range openAPIMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", m, path, err)
			}
			ops[strings.ToUpper(m)+" "+path] = op.Security != nil && len(*op.Security) == 0
		}
	}
	return ops
}

// newOpenAPIServer is a server on a fresh store, for route checks.
func newOpenAPIServer(t *testing.T) *httpapi.Server {
	t.Helper()
	return rostertest.Start(t, rostertest.Options{}).API
}

// outsideAPI reports whether a registered route lies outside the documented
// API, so that the document need not describe it: only the admin console's
// static files under /admin/ (a web app served by the same binary, not an
// API operation) and the redirect of / to them. Every other route, every
// /api/v3 route above all, must be documented.
func outsideAPI(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	return strings.HasPrefix(path, "/admin/") || path == "/{$}"
}

// TestOpenAPIDescribesEveryRoute holds the document and the router to each
// other: every registered route is documented and every documented
// operation is registered.
func TestOpenAPIDescribesEveryRoute(t *testing.T) { eachStore(t, testOpenAPIDescribesEveryRoute) }

func testOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := parseOpenAPI(t, api.OpenAPI)
	ops := documentedOperations(t, doc)
	srv := newOpenAPIServer(t)

	registered := map[string]bool{}
	for _, pattern := range srv.Routes() {
		if !outsideAPI(pattern) {
			registered[pattern] = true
		}
	}
	var undocumented, unregistered []string
	for pattern := range registered {
		if _, ok := ops[pattern]; !ok {
			undocumented = append(undocumented, pattern)
		}
	}
	for op := range ops {
		if !registered[op] {
			unregistered = append(unregistered, op)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unregistered)
	if len(undocumented) > 0 {
		t.Errorf("registered routes missing from api/openapi.json:\n\t%s", strings.Join(undocumented, "\n\t"))
	}
	if len(unregistered) > 0 {
		t.Errorf("operations in api/openapi.json that are not registered:\n\t%s", strings.Join(unregistered, "\n\t"))
	}
}

// TestOpenAPIServed checks that /api/v3/openapi.json serves the embedded
// document as it is, without authentication.
func TestOpenAPIServed(t *testing.T) { eachStore(t, testOpenAPIServed) }

func testOpenAPIServed(t *testing.T) {
	ts := httptest.NewServer(newOpenAPIServer(t))
	defer ts.Close()
	res, err := http.Get(ts.URL + "/api/v3/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200; body: %s", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !bytes.Equal(body, api.OpenAPI) {
		t.Errorf("served document differs from api.OpenAPI (%d bytes served, %d embedded)", len(body), len(api.OpenAPI))
	}
	parseOpenAPI(t, body)
}

// TestOpenAPISecurity checks the document's security against the server:
// routes marked security: [] answer without a token, every other registered
// route answers 401 with WWW-Authenticate when there is none.
func TestOpenAPISecurity(t *testing.T) { eachStore(t, testOpenAPISecurity) }

func testOpenAPISecurity(t *testing.T) {
	doc := parseOpenAPI(t, api.OpenAPI)
	if len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Fatalf("global security = %v, want [{bearerAuth: []}]", doc.Security)
	}
	ops := documentedOperations(t, doc)
	srv := newOpenAPIServer(t)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	params := regexp.MustCompile(`\{[^}]+\}`)
	for _, pattern := range srv.Routes() {
		public, ok := ops[pattern]
		if !ok {
			continue // reported by TestOpenAPIDescribesEveryRoute
		}
		method, path, _ := strings.Cut(pattern, " ")
		req, err := http.NewRequest(method, ts.URL+params.ReplaceAllString(path, "1"), nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", pattern, err)
		}
		res.Body.Close()
		switch {
		case public && res.StatusCode == http.StatusUnauthorized:
			t.Errorf("%s is documented as public (security: []) but answers 401 without a token", pattern)
		case !public && res.StatusCode != http.StatusUnauthorized:
			t.Errorf("%s without a token: status %d, want 401 (the document says it needs a token)", pattern, res.StatusCode)
		case !public && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer"):
			t.Errorf("%s: 401 without WWW-Authenticate: Bearer", pattern)
		}
	}
}
