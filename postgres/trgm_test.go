package postgres

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/postgres/pgtest"
	"github.com/rosterhq/roster/sqlstore"
)

// TestSearchTrigramIndex checks that the substring conditions of a search
// (SearchFrom, and ShortSearchIndex for a 3-character term) are served by
// the right pg_trgm index, that of migration 0090 for terms with
// punctuation, and that what they select with the strpos re-check is
// exactly what strpos alone selects.
// A condition that no longer matches the index expression would still
// give right answers, through a scan of every user: only the plan shows it.
func TestSearchTrigramIndex(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.URL(t), Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Seed(ctx, sqlstore.SeedOptions{Users: 300}); err != nil {
		t.Fatal(err)
	}
	// Every ASCII punctuation character, inside a field.
	const punct = `!"#$%&'()*+,-./:;<=>?@[\]^_` + "`{|}~"
	for i, p := range []rune(punct) {
		name := "punct" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		// The last name puts a mapped character next to each punctuation
		// character, for terms that mix them: .\y, -%z.
		u := &roster.User{Username: name, Email: name + "@example.com", FirstName: "Ab" + string(p) + "cd",
			LastName: "X." + string(p) + "y-" + string(p) + "z", IsActive: true, Timezone: "UTC", Locale: "en"}
		if err := db.CreateUser(ctx, 0, u, ""); err != nil {
			t.Fatalf("user with %q: %v", p, err)
		}
	}
	d := &dialect{}
	conn, err := db.ReadDB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// roster_trgm_text agrees with trgmText (trgmPunct to q, nothing else),
	// whatever the session's string settings (its body is reparsed in each
	// session).
	in := "Ab9é’–·" + punct + "\x1fs.mu" // non-ASCII punctuation stays too
	want := trgmText(in)
	if want == in || strings.ContainsAny(want, trgmPunct) {
		t.Fatalf("trgmText(%q) = %q", in, want)
	}
	for _, setting := range []string{"on", "off"} {
		if _, err := conn.ExecContext(ctx, "SET standard_conforming_strings = "+setting); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := conn.QueryRowContext(ctx, "SELECT roster_trgm_text($1)", in).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("standard_conforming_strings %s: roster_trgm_text = %q, want %q", setting, got, want)
		}
	}
	if _, err := conn.ExecContext(ctx, "RESET standard_conforming_strings"); err != nil {
		t.Fatal(err)
	}
	// A 300-user table is cheaper to scan: make the planner say whether
	// it can use the index at all.
	if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	plan := func(q string, args ...any) string {
		t.Helper()
		rows, err := conn.QueryContext(ctx, "EXPLAIN "+d.Rebind(q), args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			b.WriteString(line + "\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := conn.QueryRowContext(ctx, d.Rebind(q), args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// A term with trgmPunct goes through the index of roster_trgm_text
	// (migration 0090), any other through the index of search_text.
	wantIndex := func(term string) *regexp.Regexp {
		if strings.ContainsAny(term, trgmPunct) {
			return regexp.MustCompile(`\busers_search_trgm_text\b`)
		}
		return regexp.MustCompile(`\busers_search_trgm\b`)
	}
	for _, term := range []string{"s.mu", "-a12", "3@ex", "b+c", "b%c", "b_c", `b\c`, "b'c", "b!c", "ple.c", "example", `.\y`, `-\z`, ".%y", "-%z", ".'y", "._y", ".!y"} {
		from, where, args := d.SearchFrom([]string{term})
		if len(where) != 1 {
			t.Fatalf("SearchFrom(%q) = %q", term, where)
		}
		q := "SELECT count(*) FROM " + from + " WHERE " + where[0] + " AND strpos(u.search_text, ?) > 0"
		if p, index := plan(q, append(args, term)...), wantIndex(term); !index.MatchString(p) {
			t.Errorf("search for %q does not use %s:\n%s", term, index, p)
		}
		if got, want := count(q, append(args, term)...), count("SELECT count(*) FROM users u WHERE strpos(u.search_text, ?) > 0", term); got != want {
			t.Errorf("search for %q: %d users through the index, %d by strpos", term, got, want)
		}
	}
	for _, term := range []string{"b.c", "b%c", "b_c", "b'c", "son", `.\y`, ".%y"} {
		from, where, args, err := d.ShortSearchIndex(ctx, nil, term, sqlstore.ShortRest)
		if err != nil || from == "" || where != "" {
			t.Fatalf("ShortSearchIndex(%q) = %q, %q, %v", term, from, where, err)
		}
		q := "SELECT count(*) FROM " + from + " WHERE strpos(u.search_text, ?) > 0"
		if p, index := plan(q, append(args, term)...), wantIndex(term); !index.MatchString(p) {
			t.Errorf("short search for %q does not use %s:\n%s", term, index, p)
		}
		if got, want := count(q, append(args, term)...), count("SELECT count(*) FROM users u WHERE strpos(u.search_text, ?) > 0", term); got != want {
			t.Errorf("short search for %q: %d users through the index, %d by strpos", term, got, want)
		}
	}
}
