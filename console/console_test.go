package console_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rosterhq/roster/console"
)

// TestHandlerServesEmbeddedFiles checks the console's files, their types and
// security headers, without a browser.
func TestHandlerServesEmbeddedFiles(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /admin/", console.Handler("/admin/"))
	mux.Handle("GET /api/v3/docs", console.Docs())
	ts := httptest.NewServer(mux)
	defer ts.Close()

	for _, c := range []struct {
		path, contentType, contains string
	}{
		{"/admin/", "text/html", `<script src="app.js" defer></script>`},
		{"/admin/app.js", "text/javascript", "EventSource"},
		{"/admin/console.css", "text/css", ":focus-visible"},
		{"/admin/docs.js", "text/javascript", "openapi.json"},
		{"/admin/favicon.svg", "image/svg+xml", "<svg"},
		{"/api/v3/docs", "text/html", `src="../../admin/docs.js"`},
	} {
		res, err := http.Get(ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", c.path, res.StatusCode)
			continue
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.contentType) {
			t.Errorf("GET %s: Content-Type %q, want %s", c.path, ct, c.contentType)
		}
		if !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", c.path)
		}
	}

	res, err := http.Get(ts.URL + "/admin/missing.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /admin/missing.js: status %d, want 404", res.StatusCode)
	}
}

// TestAssetsLoadNothingFromElsewhere keeps the console free of CDNs: no
// file refers to another origin.
func TestAssetsLoadNothingFromElsewhere(t *testing.T) {
	for _, name := range []string{"index.html", "docs.html", "app.js", "docs.js", "console.css"} {
		data, err := fs.ReadFile(console.Assets, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "unpkg", "jsdelivr"} {
			if strings.Contains(string(data), bad) {
				t.Errorf("%s mentions %q", name, bad)
			}
		}
	}
}
