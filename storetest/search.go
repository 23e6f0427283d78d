package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// newSearch builds a UserSearch from a raw query as the HTTP layer does.
func newSearch(q string, isActive *bool, offset, limit int) roster.UserSearch {
	terms := roster.SearchTerms(q)
	return roster.UserSearch{Terms: terms, Query: strings.Join(terms, " "), IsActive: isActive,
		Page: roster.Page{Offset: offset, Limit: limit}}
}

// searchIDs returns the ids of every match of q, best first, and checks that
// the total agrees with them.
func (h *harness) searchIDs(q string, isActive *bool) []int64 {
	h.t.Helper()
	users, n, err := h.s.SearchUsers(h.ctx, newSearch(q, isActive, 0, 1000))
	if err != nil {
		h.t.Fatalf("SearchUsers(%q): %v", q, err)
	}
	if n != len(users) {
		h.t.Errorf("SearchUsers(%q): %d results but total %d", q, len(users), n)
	}
	if users == nil {
		h.t.Errorf("SearchUsers(%q): nil slice, want an empty list", q)
	}
	return ids(users)
}

// person creates an active user with the four searchable fields.
func (h *harness) person(username, email, first, last string) int64 {
	h.t.Helper()
	u := user2(username, email)
	u.FirstName, u.LastName = first, last
	return h.create(u).ID
}

// wantSearch checks that q finds exactly want, in that order.
func (h *harness) wantSearch(q string, isActive *bool, want ...int64) {
	h.t.Helper()
	if want == nil {
		want = []int64{}
	}
	if got := h.searchIDs(q, isActive); !equalIDs(got, want) {
		h.t.Errorf("search %q (isActive %v) = %v, want %v", q, fmtBool(isActive), got, want)
	}
}

// wantSearchSet checks that q finds exactly the users of want, in any order.
func (h *harness) wantSearchSet(q string, want ...int64) {
	h.t.Helper()
	got := h.searchIDs(q, nil)
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !equalIDs(got, want) {
		h.t.Errorf("search %q = %v, want (in any order) %v", q, got, want)
	}
}

func fmtBool(b *bool) string {
	if b == nil {
		return "any"
	}
	return fmt.Sprint(*b)
}

func testSearchSubstring(t *testing.T, h *harness) {
	byUser := h.person("xjohnx", "a@example.com", "", "")
	byEmail := h.person("u2", "bjohnb@example.com", "", "")
	byFirst := h.person("u3", "c@example.com", "Johnny", "")
	byLast := h.person("u4", "d@example.com", "", "Littlejohn")
	jon := h.person("jon", "jon@example.com", "Jon", "Jonsson")
	h.wantSearchSet("john", byUser, byEmail, byFirst, byLast)
	h.wantSearchSet("JOHN", byUser, byEmail, byFirst, byLast)
	h.wantSearchSet("ohn", byUser, byEmail, byFirst, byLast)
	h.wantSearchSet("johnb@example", byEmail)
	h.wantSearchSet("example.com", byUser, byEmail, byFirst, byLast, jon)
	h.wantSearchSet("johnnyx")
	h.wantSearchSet("nobody")
	// The domain of every email matches; the separator between fields is no character of any field.
	h.wantSearchSet("@", byUser, byEmail, byFirst, byLast, jon)
}

func testSearchAllTerms(t *testing.T, h *harness) {
	janeDoe := h.person("jd", "jd@example.com", "Jane", "Doe")
	janeSmith := h.person("js", "js@example.com", "Jane", "Smith")
	johnDoe := h.person("jo", "jo@example.com", "John", "Doe")
	h.wantSearchSet("jane doe", janeDoe)
	h.wantSearchSet("  doe   JANE ", janeDoe)
	h.wantSearchSet("jane", janeDoe, janeSmith)
	h.wantSearchSet("doe", janeDoe, johnDoe)
	h.wantSearchSet("jane doe smith")
	// Terms may repeat and may match the same field.
	h.wantSearchSet("jan ane", janeDoe, janeSmith)
	h.wantSearchSet("smith smith", janeSmith)
	// A term and the email's domain.
	h.wantSearchSet("john example.com", johnDoe)
}

func testSearchNoCrossFieldMatch(t *testing.T, h *harness) {
	// Every pair of neighbouring fields, long and short terms.
	u1 := h.person("abc", "def@example.com", "ghi", "jkl")
	u2 := h.person("mn", "o@example.com", "pq", "rs")
	for _, q := range []string{"abcdef", "cdef", "cd", "comghi", "mghi", "mg", "ijkl", "ij", "cdeghi", "mno", "no",
		"comp", "compq", "pqrs", "qr", "qrs", "abcjkl", "cd ij", "c\x1fd", "m\x1fo", "\x1f"} {
		h.wantSearchSet(q)
	}
	// Within one field everything is found.
	h.wantSearchSet("bc", u1)
	h.wantSearchSet("def@ex", u1)
	h.wantSearchSet("om", u1, u2)
}

func testSearchUnicodeFolding(t *testing.T, h *harness) {
	ang := h.person("Ångström", "anders@example.com", "Anders", "ÅNGSTRÖM")
	strasse := h.person("fritz", "fritz@example.com", "Fritz", "Straße")
	sigma := h.person("odys", "o@example.com", "ΟΔΥΣΣΕΥΣ", "")
	h.person("angstrom", "plain@example.com", "", "") // no diacritics: folding is not accent stripping
	for _, q := range []string{"ångström", "ÅNGSTRÖM", "Ångström", "ngströ", "NGSTRÖ", "ÅN", "öm"} {
		h.wantSearchSet(q, ang)
	}
	for _, q := range []string{"straße", "STRASSE", "strasse", "SS", "aß", "traß"} {
		h.wantSearchSet(q, strasse)
	}
	h.wantSearchSet("οδυσσευς", sigma)
	h.wantSearchSet("ΟΔΥΣΣΕΥς", sigma)
	h.wantSearchSet("δυσ", sigma)
}

func testSearchLiteralWildcards(t *testing.T, h *harness) {
	underscore := h.person("a_b", "ab@example.com", "", "")
	percent := h.person("pct", "pct@example.com", "100%", "")
	plain := h.person("axb", "axb@example.com", "100x", "")
	star := h.person("star", "star@example.com", "*", "")
	quote := h.person("quote", "q@example.com", `"a"`, "O'Brien")
	backslash := h.person("bs", "bs@example.com", `a\b`, "")
	h.wantSearchSet("_", underscore)
	h.wantSearchSet("a_b", underscore)
	h.wantSearchSet("a_", underscore)
	h.wantSearchSet("%", percent)
	h.wantSearchSet("0%", percent)
	h.wantSearchSet("100%", percent)
	h.wantSearchSet("100", percent, plain)
	h.wantSearchSet("*", star)
	h.wantSearchSet(`"a"`, quote)
	h.wantSearchSet(`"`, quote)
	h.wantSearchSet(`o'b`, quote)
	h.wantSearchSet(`'`, quote)
	h.wantSearchSet(`a\b`, backslash)
	h.wantSearchSet(`\`, backslash)
	// FTS query syntax is not interpreted.
	h.wantSearchSet("a AND b")
	h.wantSearchSet("NEAR(a b)")
	h.wantSearchSet("ab*")
}

func testSearchRanking(t *testing.T, h *harness) {
	// Created in an order that differs from the ranking.
	rest1 := h.person("xanna", "x1@example.com", "", "")            // substring only
	prefixFirst := h.person("u1", "u1@example.com", "Anna", "Berg") // prefix of first name
	exact := h.person("Anna", "a1@example.com", "", "")             // exact username (folded)
	prefixUser := h.person("annabel", "b@example.com", "", "")      // prefix of username
	rest2 := h.person("u2", "u2@example.com", "Joanna", "")         // substring only
	prefixEmail := h.person("u4", "anna.k@example.com", "", "")     // prefix of email
	prefixLast := h.person("u5", "u5@example.com", "", "Annan")     // prefix of last name
	h.wantSearch("anna", nil, exact, prefixFirst, prefixUser, prefixEmail, prefixLast, rest1, rest2)
	h.wantSearch("ANNA", nil, exact, prefixFirst, prefixUser, prefixEmail, prefixLast, rest1, rest2)
	// An exact email ranks with exact usernames. A username may not equal
	// another user's email (issue 16), so the exact username goes first.
	if err := h.s.DeleteUser(h.ctx, 0, exact); err != nil {
		t.Fatal(err)
	}
	exactEmail := h.person("u3", "anna", "", "") // exact email (stores do not validate)
	h.wantSearch("anna", nil, exactEmail, prefixFirst, prefixUser, prefixEmail, prefixLast, rest1, rest2)
	h.wantSearch("ANNA", nil, exactEmail, prefixFirst, prefixUser, prefixEmail, prefixLast, rest1, rest2)

	// Exact email match of the whole query.
	bob := h.person("bob", "bob@example.com", "", "")
	bobOld := h.person("bob@example.com.old", "bo@example.com", "", "")
	rob := h.person("rob", "xbob@example.com", "", "")
	h.wantSearch("BOB@example.com", nil, bob, bobOld, rob)

	// Several terms: a user is a prefix match when every term is a prefix of
	// one of its fields.
	js := h.person("jsmith", "j@example.com", "John", "Smith")
	sj := h.person("sj", "s@example.com", "Smithers", "Johnson")
	mixed := h.person("mj", "m@example.com", "Ajohn", "Smith") // "jo" is not a prefix here
	h.wantSearch("jo sm", nil, js, sj, mixed)
	h.wantSearch("sm jo", nil, js, sj, mixed)
	// Ties within a rank go by id.
	h.wantSearch("smith", nil, js, sj, mixed)
}

func testSearchShortTerms(t *testing.T, h *harness) {
	al := h.person("al", "al@example.com", "Al", "Bundy")
	alan := h.person("alan", "alan@example.com", "Alan", "Turing")
	sal := h.person("sal", "sal@example.com", "Sally", "Ride")
	bo := h.person("bo", "bo@example.com", "Bo", "Peep")
	x := h.person("x", "x@example.com", "", "")
	h.wantSearch("al", nil, al, alan, sal)
	h.wantSearch("a", nil, al, alan, sal, bo, x) // every "example.com"
	h.wantSearch("x", nil, x, al, alan, sal, bo)
	h.wantSearch("bo", nil, bo)
	h.wantSearch("al tu", nil, alan)
	h.wantSearch("al ride", nil, sal)
	h.wantSearch("Ri dy", nil)
	h.wantSearch("a b", nil, al, bo)
	// One short and one long term.
	h.wantSearch("al bundy", nil, al)
	h.wantSearch("bundy al", nil, al)
	h.wantSearch("turing al", nil, alan)
}

func testSearchIsActive(t *testing.T, h *harness) {
	h.admin("admin")
	a := h.person("kim1", "k1@example.com", "", "")
	b := h.person("kim2", "k2@example.com", "", "")
	c := h.person("kim3", "k3@example.com", "", "")
	h.update(b, roster.UserUpdate{IsActive: ptr(false)})
	h.wantSearch("kim", nil, a, b, c)
	h.wantSearch("kim", ptr(true), a, c)
	h.wantSearch("kim", ptr(false), b)
	h.wantSearch("k", ptr(false), b)
	users, n, err := h.s.SearchUsers(h.ctx, newSearch("kim", ptr(true), 1, 1))
	if err != nil || n != 2 || !equalIDs(ids(users), []int64{c}) {
		t.Errorf("isActive page 2 of 1: %v, %d, %v; want [%d], 2", ids(users), n, err, c)
	}
}

func testSearchPages(t *testing.T, h *harness) {
	var want []int64
	want = append(want, h.person("page", "x@example.com", "", "")) // exact first
	for i := range 9 {
		want = append(want, h.person(fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@example.com", i), "", fmt.Sprintf("Xpage%d", i)))
	}
	// Prefix matches come before the substring matches above.
	p1 := h.person("pager", "p@example.com", "", "")
	want = slices.Insert(want, 1, p1)
	h.wantSearch("page", nil, want...)
	for _, limit := range []int{1, 3, 4, 10, 11} {
		var got []int64
		for off := 0; off < len(want); off += limit {
			users, n, err := h.s.SearchUsers(h.ctx, newSearch("page", nil, off, limit))
			if err != nil {
				t.Fatal(err)
			}
			if n != len(want) {
				t.Errorf("limit %d offset %d: total %d, want %d", limit, off, n, len(want))
			}
			got = append(got, ids(users)...)
		}
		if !equalIDs(got, want) {
			t.Errorf("limit %d: pages = %v, want %v", limit, got, want)
		}
	}
	users, n, err := h.s.SearchUsers(h.ctx, newSearch("page", nil, len(want), 5))
	if err != nil || len(users) != 0 || users == nil || n != len(want) {
		t.Errorf("past the end: %v, %d, %v; want an empty page and total %d", ids(users), n, err, len(want))
	}
	users, n, err = h.s.SearchUsers(h.ctx, newSearch("nothing", nil, 0, 5))
	if err != nil || len(users) != 0 || users == nil || n != 0 {
		t.Errorf("no match: %v, %d, %v; want an empty page and 0", ids(users), n, err)
	}
}
