package httpapi

import (
	"fmt"
	"net/http"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// routeScopes reads the scope of every authenticated operation from the
// embedded OpenAPI document. An operation that names no scope, more than
// one, or one Roster does not know is left out: its route then refuses
// every token (see checkScope), and TestOpenAPIScopes fails.
func routeScopes() map[string]roster.Scope {
	ops, err := api.OperationSecurity(api.OpenAPI)
	if err != nil {
		panic("api/openapi.json: " + err.Error()) // embedded at build time; the tests parse it too
	}
	scopes := map[string]roster.Scope{}
	for pattern, sec := range ops {
		if len(sec.Scopes) == 1 && roster.Scope(sec.Scopes[0]).Known() {
			scopes[pattern] = roster.Scope(sec.Scopes[0])
		}
	}
	return scopes
}

// checkScope lets a request through when its token holds the scope its
// route declares, narrowed to what the token's owner may do now; else 403
// insufficient_scope. It also notes the token's use (written in batches).
func (s *Server) checkScope(r *http.Request, sess *roster.Session) error {
	scope, ok := s.scopes[r.Pattern]
	if !ok {
		return fmt.Errorf("route %q declares no single known scope in api/openapi.json", r.Pattern)
	}
	if !sess.Allows(scope) {
		return roster.ErrInsufficientScope(scope)
	}
	s.store.MarkTokenUsed(sess.TokenID, s.now())
	return nil
}
