package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// searchUser stores a user with the given searchable fields.
func (e *env) searchUser(username, email, first, last string) *roster.User {
	e.t.Helper()
	u := &roster.User{Username: username, Email: email, FirstName: first, LastName: last, IsActive: true,
		Timezone: "UTC", Locale: "en"}
	if err := e.db.CreateUser(context.Background(), 0, u, ""); err != nil {
		e.t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// search runs GET /users/search with q and extra query parameters (key,
// value pairs) and returns the 200 envelope.
func (e *env) search(q string, extra ...string) map[string]any {
	e.t.Helper()
	v := url.Values{"q": {q}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return e.do("GET", "/api/v3/users/search?"+v.Encode(), e.AdminToken, nil).expect(e.t, http.StatusOK).JSON(e.t)
}

// resultIDs returns the ids of an envelope's results, in order.
func resultIDs(t *testing.T, page map[string]any) []int64 {
	t.Helper()
	rs, ok := page["results"].([]any)
	if !ok {
		t.Fatalf("results is not an array: %v", page)
	}
	ids := []int64{}
	for _, r := range rs {
		ids = append(ids, int64(r.(map[string]any)["id"].(float64)))
	}
	return ids
}

func ids(us ...*roster.User) []int64 {
	out := []int64{}
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

// expectSearch checks that q finds exactly want, in that order, with a
// matching count.
func (e *env) expectSearch(q string, want ...*roster.User) {
	e.t.Helper()
	page := e.search(q)
	got := resultIDs(e.t, page)
	if !reflect.DeepEqual(got, ids(want...)) {
		e.t.Errorf("search %q = %v, want %v", q, got, ids(want...))
	}
	if page["count"] != float64(len(want)) {
		e.t.Errorf("search %q: count %v, want %d", q, page["count"], len(want))
	}
}

func TestSearchQueryValidation(t *testing.T) { eachStore(t, testSearchQueryValidation) }

func testSearchQueryValidation(t *testing.T) {
	e := newEnv(t)
	for name, query := range map[string]string{
		"missing":                "",
		"empty":                  "?q=",
		"blank":                  "?q=%20%20%20",
		"tabs":                   "?q=%09%0A",
		"too long":               "?q=" + strings.Repeat("a", roster.MaxSearchLen+1),
		"too long in characters": "?q=" + url.QueryEscape(strings.Repeat("é", roster.MaxSearchLen+1)),
	} {
		r := e.do("GET", "/api/v3/users/search"+query, e.AdminToken, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, r.Status, r.Body)
			continue
		}
		r.expect(t, http.StatusBadRequest)
		expectFieldMessage(t, fieldErrors(t, r), "q", "")
	}
	// 256 characters (of two bytes each) is still fine.
	page := e.search(strings.Repeat("é", roster.MaxSearchLen))
	if page["count"] != float64(0) {
		t.Errorf("count = %v", page["count"])
	}
	expectFieldMessage(t, fieldErrors(t, e.do("GET", "/api/v3/users/search?q=admin&isActive=maybe", e.AdminToken, nil).
		expect(t, http.StatusBadRequest)), "isActive", "")
	e.do("GET", "/api/v3/users/search?q=admin&page_size=0", e.AdminToken, nil).expect(t, http.StatusBadRequest)
	e.do("GET", "/api/v3/users/search?q=admin&page=0", e.AdminToken, nil).expect(t, http.StatusNotFound)
	expectUnauthorized(t, e.do("GET", "/api/v3/users/search?q=admin", "", nil))

	// Any user may search, not only admins.
	plain := e.createUser("plain", false, "")
	r := e.do("GET", "/api/v3/users/search?q=admin", e.token(plain), nil).expect(t, http.StatusOK).JSON(t)
	if got := resultIDs(t, r); !reflect.DeepEqual(got, ids(e.Admin)) {
		t.Errorf("plain user's search = %v", got)
	}
}

func TestSearchMatchesEachField(t *testing.T) { eachStore(t, testSearchMatchesEachField) }

func testSearchMatchesEachField(t *testing.T) {
	e := newEnv(t)
	u := e.searchUser("zeta1", "qux@alpha.test", "Borislav", "Wexford")
	other := e.searchUser("omega", "omega@beta.test", "Ann", "Lee")

	page := e.search("zeta")
	if got := resultIDs(t, page); !reflect.DeepEqual(got, ids(u)) {
		t.Fatalf("search zeta = %v", got)
	}
	res := page["results"].([]any)[0].(map[string]any)
	want := map[string]any{"id": float64(u.ID), "username": "zeta1", "email": "qux@alpha.test", "firstName": "Borislav",
		"lastName": "Wexford", "isActive": true}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("result = %v, want the summary %v", res, want)
	}
	if page["next"] != nil || page["previous"] != nil {
		t.Errorf("envelope = %v", page)
	}

	e.expectSearch("alpha.te", u) // email
	e.expectSearch("orisla", u)   // first name
	e.expectSearch("xford", u)    // last name
	e.expectSearch("ZETA1", u)    // whole username, other case
	e.expectSearch("beta.test", other)
	e.expectSearch(".test", u, other)
	e.expectSearch("nothing-like-this")
	page = e.search("nothing-like-this")
	if rs, ok := page["results"].([]any); !ok || len(rs) != 0 {
		t.Errorf("empty search results = %v, want []", page["results"])
	}
}

func TestSearchUnicodeFolding(t *testing.T) { eachStore(t, testSearchUnicodeFolding) }

func testSearchUnicodeFolding(t *testing.T) {
	e := newEnv(t)
	ang := e.searchUser("anders", "anders@example.org", "Anders", "Ångström")
	strasse := e.searchUser("gstr", "g@example.org", "Gerd", "Straße")
	upper := e.searchUser("hstr", "h@example.org", "Heinz", "STRASSE")
	greek := e.searchUser("sisyphus", "s@example.org", "Σίσυφος", "Αιολίδης")
	russian := e.searchUser("pyotr", "p@example.org", "Пётр", "Чайковский")

	e.expectSearch("ångström", ang)
	e.expectSearch("ÅNGSTRÖM", ang)
	e.expectSearch("ngstr", ang)
	e.expectSearch("angstrom") // no diacritic folding: å is not a
	// Full case folding: ß folds to ss, so every spelling finds both.
	e.expectSearch("straße", strasse, upper)
	e.expectSearch("STRASSE", strasse, upper)
	e.expectSearch("strasse", strasse, upper)
	e.expectSearch("ß", strasse, upper)
	// Final sigma folds to sigma.
	e.expectSearch("ΣΊΣΥΦΟΣ", greek)
	e.expectSearch("σίσυφοσ", greek)
	e.expectSearch("ΑΙΟΛ", greek)
	e.expectSearch("ПЁТР", russian)
	e.expectSearch("чайковский", russian)
	e.expectSearch("ЙК", russian)
	e.expectSearch("ё", russian)
}

func TestSearchWildcardsAreLiteral(t *testing.T) { eachStore(t, testSearchWildcardsAreLiteral) }

func testSearchWildcardsAreLiteral(t *testing.T) {
	e := newEnv(t)
	ab := e.searchUser("a_b", "first@x.test", "", "")
	axb := e.searchUser("axb", "second@x.test", "", "")
	pct := e.searchUser("cotton", "third@x.test", "100%", "Cotton")
	thousand := e.searchUser("wool", "fourth@x.test", "1000", "Wool")

	e.expectSearch("a_b", ab)
	e.expectSearch("_", ab)
	e.expectSearch("a_", ab)
	e.expectSearch("axb", axb)
	e.expectSearch("100%", pct)
	e.expectSearch("%", pct)
	e.expectSearch("0%", pct)
	e.expectSearch("100", pct, thousand)
	e.expectSearch("*")
	e.expectSearch(`"`)
	e.expectSearch(`a"b`)
	e.expectSearch("a*b")
	e.expectSearch("a OR b")
	e.expectSearch(`x.test" OR "`)
}

func TestSearchEveryTermMustMatch(t *testing.T) { eachStore(t, testSearchEveryTermMustMatch) }

func testSearchEveryTermMustMatch(t *testing.T) {
	e := newEnv(t)
	janeDoe := e.searchUser("jdoe", "jd@x.test", "Jane", "Doe")
	janeSmith := e.searchUser("jsmith", "js@x.test", "Jane", "Smith")
	johnDoe := e.searchUser("johnd", "jo@x.test", "John", "Doe")

	e.expectSearch("jane", janeDoe, janeSmith)
	e.expectSearch("doe", janeDoe, johnDoe)
	e.expectSearch("jane doe", janeDoe)
	e.expectSearch("  DOE \t jane  ", janeDoe)
	e.expectSearch("jane smith", janeSmith)
	e.expectSearch("jane nobody")
	e.expectSearch("jsmith x.test", janeSmith) // username and email
	e.expectSearch("jsmith jsmith", janeSmith)
}

func TestSearchDoesNotMatchAcrossFields(t *testing.T) {
	eachStore(t, testSearchDoesNotMatchAcrossFields)
}

func testSearchDoesNotMatchAcrossFields(t *testing.T) {
	e := newEnv(t)
	u := e.searchUser("alpha", "beta@gamma.test", "Rosa", "Linde")

	e.expectSearch("alpha", u)
	e.expectSearch("alphabeta") // end of username + start of email
	e.expectSearch("phabe")     // the same, all trigrams
	e.expectSearch("ab")        // two characters across username | email
	e.expectSearch("testrosa")  // email | first name
	e.expectSearch("tr")        // email | first name, short
	e.expectSearch("salin")     // first | last name
	e.expectSearch("sal")       // first | last name, one trigram
	e.expectSearch("alpha beta", u)
	// The separator of the indexed text is not a character of any field.
	e.expectSearch("alpha\x1fbeta")
	e.expectSearch("a\x1fb")
	e.expectSearch("\x1f")
	e.expectSearch("test\x1frosa\x1flinde")
	// Nor is any other control character.
	e.expectSearch("alpha\x00")
	e.expectSearch("\x00beta")
	e.expectSearch("a\x00")
	e.expectSearch("lin\x01de")
}

func TestSearchRanking(t *testing.T) { eachStore(t, testSearchRanking) }

func testSearchRanking(t *testing.T) {
	e := newEnv(t)
	// Created so that id order is the opposite of rank order.
	substr := e.searchUser("thebobcat", "cat@x.test", "", "")
	substrEmail := e.searchUser("jim", "jimbob@x.test", "", "")
	firstPrefix := e.searchUser("zed", "zed@x.test", "Bobbie", "")
	emailPrefix := e.searchUser("rob", "bob@x.test", "", "")
	userPrefix := e.searchUser("bobby", "b1@x.test", "", "")
	exact := e.searchUser("Bob", "robert@x.test", "", "")
	lastPrefix := e.searchUser("kim", "kim@x.test", "", "bobson")

	e.expectSearch("bob", exact, firstPrefix, emailPrefix, userPrefix, lastPrefix, substr, substrEmail)
	e.expectSearch("BOB", exact, firstPrefix, emailPrefix, userPrefix, lastPrefix, substr, substrEmail)
	// An exact email match comes first, then the email that starts with it.
	longer := e.searchUser("rob2", "bob@x.test.org", "", "")
	e.expectSearch("bob@x.test", emailPrefix, longer, substrEmail)
	// Several terms: a prefix match needs every term to be a prefix.
	marjane := e.searchUser("mdoe", "m@y.test", "Marjane", "Doe")
	jane := e.searchUser("jdoe", "j@y.test", "Jane", "Doe")
	e.expectSearch("jane do", jane, marjane)
	e.expectSearch("do jane", jane, marjane)
}

func TestSearchPagination(t *testing.T) { eachStore(t, testSearchPagination) }

func testSearchPagination(t *testing.T) {
	e := newEnv(t)
	var pagers []*roster.User
	for i := 1; i <= 5; i++ {
		pagers = append(pagers, e.searchUser("pager"+strconv.Itoa(i), "p"+strconv.Itoa(i)+"@x.test", "", ""))
	}
	page := e.search("PAGER", "page_size", "2", "isActive", "true")
	if page["count"] != float64(5) || page["previous"] != nil {
		t.Fatalf("page 1 = %v", page)
	}
	if got := resultIDs(t, page); !reflect.DeepEqual(got, ids(pagers[:2]...)) {
		t.Fatalf("page 1 ids = %v", got)
	}
	var all []int64
	all = append(all, resultIDs(t, page)...)
	for n := 2; page["next"] != nil; n++ {
		next, _ := page["next"].(string)
		nu, err := url.Parse(next)
		if err != nil || !strings.HasPrefix(next, e.URL+"/api/v3/users/search?") {
			t.Fatalf("next = %q", next)
		}
		q := nu.Query()
		if q.Get("q") != "PAGER" || q.Get("page_size") != "2" || q.Get("isActive") != "true" || q.Get("page") != strconv.Itoa(n) {
			t.Fatalf("next %q does not keep the query", next)
		}
		page = e.do("GET", strings.TrimPrefix(next, e.URL), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
		prev, _ := page["previous"].(string)
		pu, err := url.Parse(prev)
		if err != nil || pu.Query().Get("q") != "PAGER" {
			t.Fatalf("previous = %q", prev)
		}
		all = append(all, resultIDs(t, page)...)
	}
	if !reflect.DeepEqual(all, ids(pagers...)) {
		t.Fatalf("walked ids = %v, want %v", all, ids(pagers...))
	}
	r := e.do("GET", "/api/v3/users/search?q=pager&page_size=2&page=4", e.AdminToken, nil).expect(t, http.StatusNotFound)
	if r.JSON(t)["detail"] != "Invalid page." {
		t.Errorf("past the last page: %s", r.Body)
	}
	// Page 1 of no results is fine.
	if page := e.search("no-such-user"); page["count"] != float64(0) || page["next"] != nil {
		t.Errorf("empty search = %v", page)
	}
}

func TestSearchIsActiveFilter(t *testing.T) { eachStore(t, testSearchIsActiveFilter) }

func testSearchIsActiveFilter(t *testing.T) {
	e := newEnv(t)
	on := e.searchUser("kit1", "kit1@x.test", "", "")
	off := e.searchUser("kit2", "kit2@x.test", "", "")
	f := false
	if _, err := e.db.UpdateUser(context.Background(), e.Admin.ID, off.ID, roster.UserUpdate{IsActive: &f}); err != nil {
		t.Fatal(err)
	}
	e.expectSearch("kit", on, off)
	for param, want := range map[string][]int64{"true": ids(on), "false": ids(off), "1": ids(on), "0": ids(off)} {
		page := e.search("kit", "isActive", param)
		if got := resultIDs(t, page); !reflect.DeepEqual(got, want) || page["count"] != float64(len(want)) {
			t.Errorf("isActive=%s: %v (count %v), want %v", param, got, page["count"], want)
		}
	}
	page := e.search("kit2", "isActive", "false")
	if res := page["results"].([]any); len(res) != 1 || res[0].(map[string]any)["isActive"] != false {
		t.Errorf("inactive result = %v", page["results"])
	}
}

func TestSearchShortAndMixedTerms(t *testing.T) { eachStore(t, testSearchShortAndMixedTerms) }

func testSearchShortAndMixedTerms(t *testing.T) {
	e := newEnv(t)
	zoe := e.searchUser("u1", "u1@x.test", "Zoë", "Ziggurat")
	zora := e.searchUser("u2", "u2@x.test", "Zora", "Brown")
	al := e.searchUser("u3", "u3@x.test", "Al", "Ziggurat")

	e.expectSearch("q")
	e.expectSearch("ë", zoe)
	e.expectSearch("w", zora)
	e.expectSearch("zo", zoe, zora)
	e.expectSearch("zi", zoe, al)
	e.expectSearch("zig", zoe, al)
	e.expectSearch("zo ziggurat", zoe)
	e.expectSearch("ziggurat zo", zoe)
	e.expectSearch("zi al", al)
	e.expectSearch("z a l", al)
	e.expectSearch("r w", zora)
	e.expectSearch("zor zig")
	e.expectSearch("u zora", zora)
	e.expectSearch("x.test u2", zora)
	e.expectSearch("x.test zz")
}

func TestSearchReflectsUpdatesAndDeletes(t *testing.T) {
	eachStore(t, testSearchReflectsUpdatesAndDeletes)
}

func testSearchReflectsUpdatesAndDeletes(t *testing.T) {
	e := newEnv(t)
	u := e.searchUser("lena", "lena@x.test", "Oldfirst", "Oldlast")
	path := "/api/v3/users/" + strconv.FormatInt(u.ID, 10)
	e.expectSearch("oldfirst", u)

	e.do("PATCH", path, e.AdminToken, map[string]any{"firstName": "Newfirst"}).expect(t, http.StatusOK)
	e.expectSearch("oldfirst")
	e.expectSearch("newfirst", u)
	e.expectSearch("oldlast", u)
	e.expectSearch("newfirst oldlast", u)

	e.do("PATCH", path, e.AdminToken, map[string]any{"username": "magda", "email": "magda@y.test"}).expect(t, http.StatusOK)
	e.expectSearch("lena")
	e.expectSearch("en")
	e.expectSearch("magda", u)
	e.expectSearch("y.test", u)

	e.do("DELETE", path, e.AdminToken, nil).expect(t, http.StatusNoContent)
	e.expectSearch("magda")
	e.expectSearch("newfirst")
	e.expectSearch("ma")

	// A new user may take the freed name and is found, the old one is not.
	n := e.searchUser("magda", "magda@y.test", "", "")
	e.expectSearch("magda", n)
}

// walkSearch follows next links from page 1 of q with page_size size and
// returns every id, checking that each page reports the same count.
func (e *env) walkSearch(q string, size int, extra ...string) ([]int64, float64) {
	e.t.Helper()
	page := e.search(q, append([]string{"page_size", strconv.Itoa(size)}, extra...)...)
	count := page["count"].(float64)
	all := resultIDs(e.t, page)
	for page["next"] != nil {
		page = e.do("GET", strings.TrimPrefix(page["next"].(string), e.URL), e.AdminToken, nil).expect(e.t, http.StatusOK).JSON(e.t)
		if page["count"] != count {
			e.t.Fatalf("search %q: count %v on a later page, %v on page 1", q, page["count"], count)
		}
		all = append(all, resultIDs(e.t, page)...)
	}
	return all, count
}

// A short term's pages cross from the exact match to the prefix matches to
// the rest, and follow deactivations, renames and deletes made over HTTP.
func TestSearchShortTermPagesAcrossRanks(t *testing.T) {
	eachStore(t, testSearchShortTermPagesAcrossRanks)
}

func testSearchShortTermPagesAcrossRanks(t *testing.T) {
	e := newEnv(t)
	rest1 := e.searchUser("azo1", "r1@x.test", "", "")
	prefix1 := e.searchUser("u1", "u1@x.test", "Zoë", "")
	exact := e.searchUser("ZO", "zz@x.test", "", "")
	rest2 := e.searchUser("u2", "u2@x.test", "", "Mazo")
	prefix2 := e.searchUser("u3", "zorro@x.test", "", "")
	rest3 := e.searchUser("u4", "u4@x.test", "Bozo", "")
	prefix3 := e.searchUser("u5", "u5@x.test", "", "ZOLA")
	want := ids(exact, prefix1, prefix2, prefix3, rest1, rest2, rest3)
	for _, size := range []int{1, 2, 3, 4, 1000} {
		if got, n := e.walkSearch("zo", size); !reflect.DeepEqual(got, want) || n != float64(len(want)) {
			t.Errorf("page_size %d: %v (count %v), want %v", size, got, n, want)
		}
	}

	e.do("PATCH", "/api/v3/users/"+strconv.FormatInt(prefix2.ID, 10), e.AdminToken, map[string]any{"isActive": false}).expect(t, http.StatusOK)
	e.do("PATCH", "/api/v3/users/"+strconv.FormatInt(rest2.ID, 10), e.AdminToken, map[string]any{"lastName": "Zorn"}).expect(t, http.StatusOK)
	e.do("DELETE", "/api/v3/users/"+strconv.FormatInt(rest3.ID, 10), e.AdminToken, nil).expect(t, http.StatusNoContent)
	for _, c := range []struct {
		active string
		want   []int64
	}{
		{"", ids(exact, prefix1, rest2, prefix2, prefix3, rest1)},
		{"true", ids(exact, prefix1, rest2, prefix3, rest1)},
		{"false", ids(prefix2)},
	} {
		var extra []string
		if c.active != "" {
			extra = []string{"isActive", c.active}
		}
		for _, size := range []int{1, 2, 1000} {
			if got, n := e.walkSearch("zo", size, extra...); !reflect.DeepEqual(got, c.want) || n != float64(len(c.want)) {
				t.Errorf("isActive %q page_size %d: %v (count %v), want %v", c.active, size, got, n, c.want)
			}
		}
	}
}
