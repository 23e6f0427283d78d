package httpapi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes registers every route of the API. Each is wrapped by instrument
// (metrics and logs, labelled by pattern) and, unless public, by authed.
func (s *Server) routes(mux *http.ServeMux) {
	handle := func(pattern string, h http.Handler) {
		s.patterns = append(s.patterns, pattern)
		mux.Handle(pattern, s.instrument(pattern, h))
	}

	handle("GET /healthz", s.handle(s.handleHealthz))
	handle("GET /readyz", s.handle(s.handleReadyz))
	handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	handle("GET /api/v3/openapi.json", s.handle(s.handleOpenAPI))

	handle("POST /api/v3/auth/token", s.handle(s.handleLogin))
	handle("DELETE /api/v3/auth/token", s.authed(s.handleLogout))

	handle("GET /api/v3/users", s.authed(s.handleUserList))
	handle("POST /api/v3/users", s.authed(s.handleUserCreate))
	handle("GET /api/v3/users/me", s.authed(s.handleUserMe))
	handle("GET /api/v3/users/search", s.authed(s.handleUserSearch))
	handle("GET /api/v3/users/{id}", s.authed(s.handleUserGet))
	handle("PUT /api/v3/users/{id}", s.authed(s.handleUserPut))
	handle("PATCH /api/v3/users/{id}", s.authed(s.handleUserPatch))
	handle("DELETE /api/v3/users/{id}", s.authed(s.handleUserDelete))
}

// Routes lists the patterns of every registered route ("METHOD /path"), so
// that tests can hold the OpenAPI document to them.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }
