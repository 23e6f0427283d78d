package roster

import "testing"

func TestScopes(t *testing.T) {
	if EveryScope != ScopesOf(AllScopes...) || len(EveryScope.List()) != len(AllScopes) {
		t.Fatalf("EveryScope = %b, want one bit per entry of AllScopes (%d)", EveryScope, len(AllScopes))
	}
	set := ScopesOf(ScopeActivitiesWrite, ScopeUsersRead)
	if got := set.String(); got != "users:read activities:write" {
		t.Errorf("String() = %q", got)
	}
	if ParseScopes(set.String()) != set || ParseScopes("users:read bogus") != ScopesOf(ScopeUsersRead) {
		t.Error("ParseScopes does not round-trip, or keeps an unknown name")
	}
	if Scope("bogus").Known() || ScopesOf("bogus") != 0 || set.Has("bogus") {
		t.Error("an unknown scope counts")
	}
	admin, person := &User{IsAdmin: true}, &User{}
	if !ScopesFor(admin).Has(ScopeSCIM) || ScopesFor(person).Has(ScopeWebhooks) || !ScopesFor(person).Has(ScopeTokens) {
		t.Error("ScopesFor gives admin-only scopes to the wrong users")
	}
	for _, tc := range []struct {
		kind  TokenKind
		set   Scopes
		owner *User
		scope Scope
		want  bool
	}{
		{TokenSession, 0, person, ScopeUsersWrite, true},
		{TokenSession, 0, person, ScopeSCIM, false},
		{TokenSession, 0, admin, ScopeSCIM, true},
		{TokenPersonal, set, person, ScopeUsersRead, true},
		{TokenPersonal, set, person, ScopeUsersWrite, false},
		{TokenPersonal, ScopesOf(ScopeWebhooks), admin, ScopeWebhooks, true},
		{TokenPersonal, ScopesOf(ScopeWebhooks), person, ScopeWebhooks, false}, // a demoted admin's token
	} {
		s := &Session{TokenKind: tc.kind, Scopes: tc.set, User: tc.owner}
		if got := s.Allows(tc.scope); got != tc.want {
			t.Errorf("%s token with %q of admin=%v allows %s = %v", tc.kind, tc.set, tc.owner.IsAdmin, tc.scope, got)
		}
	}
}
