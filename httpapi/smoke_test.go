package httpapi_test

import (
	"net/http"
	"testing"
)

func TestMeAndAuthRequired(t *testing.T) { eachStore(t, testMeAndAuthRequired) }

func testMeAndAuthRequired(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/api/v3/users/me", "", nil).expect(t, http.StatusUnauthorized)
	me := e.do("GET", "/api/v3/users/me", e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if me["username"] != "admin" || me["isAdmin"] != true {
		t.Fatalf("me = %v", me)
	}
}
