// Package console serves Roster's browser front end: the admin console
// under /admin/ and the API reference page at /api/v3/docs. Both are plain
// HTML, JavaScript and CSS embedded in the binary, with no build step and
// nothing loaded from another origin; they talk to the API like any client.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// Assets is the console's files (index.html, app.js, ...), as served.
var Assets, _ = fs.Sub(assets, "assets")

// securityHeaders are set on every answer of the console. The pages only
// load their own scripts and styles and only call their own origin; avatars
// may come from anywhere over http(s).
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
		"img-src 'self' data: https: http:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// The files change only with the binary, which sends no validators for
	// embedded files: make browsers ask again rather than keep a stale app.
	h.Set("Cache-Control", "no-cache")
}

// Handler serves the admin console's files for requests under prefix
// (such as "/admin/"): prefix itself is the app. The files are public; the
// app signs in against the API and keeps its token in sessionStorage.
func Handler(prefix string) http.Handler {
	files := http.StripPrefix(prefix, http.FileServerFS(Assets))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		files.ServeHTTP(w, r)
	})
}

// Docs serves the API reference page, which renders the OpenAPI document
// at ./openapi.json (relative to the page) in the browser.
func Docs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		http.ServeFileFS(w, r, Assets, "docs.html")
	})
}
