package roster

import (
	"math/bits"
	"slices"
	"strings"
)

// Scope names what a personal access token may be used for. Each route of
// the API needs exactly one scope, declared on its operation in the OpenAPI
// document; a token's rights are its owner's rights narrowed to its scopes.
type Scope string

// The scopes of the contract.
const (
	ScopeUsersRead       Scope = "users:read"
	ScopeUsersWrite      Scope = "users:write"
	ScopeWorkspacesRead  Scope = "workspaces:read"
	ScopeWorkspacesWrite Scope = "workspaces:write"
	ScopeGroupsRead      Scope = "groups:read"
	ScopeGroupsWrite     Scope = "groups:write"
	ScopeActivitiesRead  Scope = "activities:read"
	ScopeActivitiesWrite Scope = "activities:write"
	ScopeTokens          Scope = "tokens"   // manage the owner's tokens
	ScopeWebhooks        Scope = "webhooks" // admin owners only
	ScopeSCIM            Scope = "scim"     // admin owners only
)

// AllScopes lists every scope, in the order the contract names them; a
// Scopes set has one bit per entry, in this order.
var AllScopes = []Scope{ScopeUsersRead, ScopeUsersWrite, ScopeWorkspacesRead, ScopeWorkspacesWrite,
	ScopeGroupsRead, ScopeGroupsWrite, ScopeActivitiesRead, ScopeActivitiesWrite, ScopeTokens, ScopeWebhooks, ScopeSCIM}

// adminOnlyScopes may be held only by tokens of admins.
var adminOnlyScopes = []Scope{ScopeWebhooks, ScopeSCIM}

// Scopes is a set of scopes, cheap to copy and to test.
type Scopes uint32

// EveryScope is the set of all scopes (one bit per entry of AllScopes):
// what a login session carries.
const EveryScope Scopes = 1<<11 - 1

func (s Scope) bit() Scopes {
	if i := slices.Index(AllScopes, s); i >= 0 {
		return 1 << i
	}
	return 0
}

// Known reports whether s is one of AllScopes.
func (s Scope) Known() bool { return s.bit() != 0 }

// AdminOnly reports whether only admins' tokens may hold s.
func (s Scope) AdminOnly() bool { return slices.Contains(adminOnlyScopes, s) }

// ScopesOf returns the set of the given scopes; unknown names are ignored.
func ScopesOf(list ...Scope) Scopes {
	var set Scopes
	for _, s := range list {
		set |= s.bit()
	}
	return set
}

// Has reports whether the set holds s.
func (set Scopes) Has(s Scope) bool { b := s.bit(); return b != 0 && set&b == b }

// List returns the scopes of the set in the order of AllScopes.
func (set Scopes) List() []Scope {
	out := make([]Scope, 0, bits.OnesCount32(uint32(set)))
	for i, s := range AllScopes {
		if set&(1<<i) != 0 {
			out = append(out, s)
		}
	}
	return out
}

// String joins the set's names with spaces (the stored form, and the form
// of an OAuth scope parameter).
func (set Scopes) String() string {
	names := make([]string, 0, len(AllScopes))
	for _, s := range set.List() {
		names = append(names, string(s))
	}
	return strings.Join(names, " ")
}

// ParseScopes reads the stored form of a set (names separated by spaces);
// names it does not know are dropped, so a scope removed from a later
// version grants nothing.
func ParseScopes(stored string) Scopes {
	var set Scopes
	for _, name := range strings.Fields(stored) {
		set |= Scope(name).bit()
	}
	return set
}

// ScopesFor returns the scopes a token of u may hold: every scope for an
// admin, all but the admin-only ones for anyone else.
func ScopesFor(u *User) Scopes {
	if u.IsAdmin {
		return EveryScope
	}
	return EveryScope &^ ScopesOf(adminOnlyScopes...)
}

// ErrInsufficientScope is the 403 of a token that lacks the scope a route
// needs; the HTTP layer adds the RFC 6750 WWW-Authenticate challenge.
func ErrInsufficientScope(needed Scope) error {
	return &Error{Code: EFORBIDDEN, Scope: needed,
		Message: "This token does not have the scope \"" + string(needed) + "\" that this operation needs."}
}
