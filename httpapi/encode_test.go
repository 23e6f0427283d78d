package httpapi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// jsonTrickyStrings are strings whose encoding differs from a plain copy.
var jsonTrickyStrings = []string{"", "plain", `quo"te`, `back\slash`, "<a href='x'>&amp;</a>", "tab\there\nnl\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "zoë.müller", "日本語", "emoji 😀", "line\u2028sep\u2029par", "bad \xff\xfe utf8", "\xe2\x80", "end\xc3"}

// TestAppendJSONString holds appendJSONString to encoding/json without
// HTML escaping, on tricky and on random strings.
func TestAppendJSONString(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := append([]string{}, jsonTrickyStrings...)
	alphabet := []string{"a", "\"", "\\", "\n", "\x00", "\x1f", "<", "&", "é", "\u2028", "\xff", "\xe2\x80", "😀", "\x7f"}
	for range 2000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		inputs = append(inputs, sb.String())
	}
	for _, s := range inputs {
		var want bytes.Buffer
		if err := jsonEncode(&want, s); err != nil {
			t.Fatal(err)
		}
		if got := string(appendJSONString(nil, s)) + "\n"; got != want.String() {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json gives %s", s, got, want.String())
		}
	}
}

// TestAppendSummaryPage holds the hand-built body of GET /users to the
// envelope of userSummary that jsonEncode writes, on first, middle, last
// and empty pages.
func TestAppendSummaryPage(t *testing.T) {
	var users []*roster.UserSummary
	for i, s := range jsonTrickyStrings {
		users = append(users, &roster.UserSummary{ID: int64(i*1000 + 1), Username: s, Email: s + "@example.com",
			FirstName: s, LastName: strings.ToUpper(s), IsActive: i%2 == 0})
	}
	for _, c := range []struct {
		url         string
		number, len int
		total       int
	}{
		{"http://roster.test/api/v3/users", 1, len(users), 1000},
		{"http://roster.test/api/v3/users?page=2&ordering=-email&q=%3Cx%3E", 2, len(users), 1000},
		{"http://roster.test/api/v3/users?page=3", 3, 2, 2*len(users) + 2},
		{"http://roster.test/api/v3/users", 1, 0, 0},
	} {
		r := httptest.NewRequest("GET", c.url, nil)
		p := pageParams{number: c.number, size: len(users)}
		page := users[:c.len]
		body, err := paginate(r, p, c.total, page)
		if err != nil {
			t.Fatal(err)
		}
		conv := make([]userSummary, len(page))
		for i, u := range page {
			conv[i] = summaryJSON(*u)
		}
		ref, err := paginate(r, p, c.total, conv)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := jsonEncode(&want, ref); err != nil {
			t.Fatal(err)
		}
		got := summaryPageJSON(body)
		if string(got) != want.String() {
			t.Fatalf("%s:\n got %s\nwant %s", c.url, got, want.String())
		}
		if !json.Valid(got) {
			t.Fatalf("%s: invalid JSON %s", c.url, got)
		}
	}
}
