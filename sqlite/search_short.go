package sqlite

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
)

// MaxGram is the longest term search_grams counts, a table this package's
// migrations create and its triggers keep in step with users (0 with the
// gramSearch speed-up off: every search takes the portable path).
//
// It pays for itself: BenchmarkSearchShort at 20,000 seeded users, first
// page, takes 0.9 ms for "a", 0.6 ms for "an", 0.4 ms for "ann" against
// 269 ms, 72 ms and 1.8 ms on the portable path (2026-12-02).
func (d dialect) MaxGram() int {
	if !d.sp.gramSearch {
		return 0
	}
	return maxGram
}

// SearchUsers answers a search whose every term has three or more
// characters from users_fts (searchPhrases); sqlstore answers one short
// term from search_grams before it asks, and the rest takes its portable
// path.
func (d dialect) SearchUsers(ctx context.Context, q sqlstore.Querier, s roster.UserSearch, counts sqlstore.CountCache) ([]*roster.User, int, bool, error) {
	if d.sp.phrases && phraseSearch(s.Terms) {
		users, total, err := d.searchPhrases(ctx, q, s, counts)
		return users, total, true, err
	}
	return nil, 0, false, nil
}

// CountSearch counts a search that SearchUsers answers from users_fts
// (countPhrases).
func (d dialect) CountSearch(ctx context.Context, q sqlstore.Querier, s roster.UserSearch) (sqlstore.SearchCount, bool, error) {
	if d.sp.phrases && phraseSearch(s.Terms) {
		c, err := countPhrases(ctx, q, s)
		return c, true, err
	}
	return sqlstore.SearchCount{}, false, nil
}

// ShortSearchIndex reads the prefix group through the indexes of the four
// folded columns (a range scan each), and the rest through the trigram
// index (restFrom).
func (d dialect) ShortSearchIndex(ctx context.Context, q sqlstore.Querier, t string, group sqlstore.ShortGroup) (string, string, []any, error) {
	if group == sqlstore.ShortRest {
		from, args, err := d.restFrom(ctx, q, t)
		return from, "", args, err
	}
	hi := prefixEnd(t)
	return "users u", `u.id IN (SELECT id FROM users WHERE username_fold >= ? AND username_fold < ?
		UNION ALL SELECT id FROM users WHERE email_fold >= ? AND email_fold < ?
		UNION ALL SELECT id FROM users WHERE first_fold >= ? AND first_fold < ?
		UNION ALL SELECT id FROM users WHERE last_fold >= ? AND last_fold < ?)`, []any{t, hi, t, hi, t, hi, t, hi}, nil
}

// restFrom returns the FROM clause that narrows the last group of a search
// for t, the users that contain t but have no field starting with it, to
// candidates through the dialect's trigram index, or the users table when
// there is no such path. For 3 characters, that is the users with the
// trigram t. Shorter, each occurrence of t in such a user follows a
// character x of its field: for 2 characters, the users have one of the
// trigrams xt that search_grams lists; for 1, one of its trigrams yxt or
// xtz, or, where the field is just xt, U+001F xt or xt U+001F.
func (d dialect) restFrom(ctx context.Context, q sqlstore.Querier, t string) (string, []any, error) {
	if utf8.RuneCountInString(t) > 2 {
		from, _, args := d.SearchFrom([]string{t})
		return from, args, nil
	}
	query, args := `SELECT DISTINCT gram FROM search_grams
		WHERE prefix = 0 AND users > 0 AND length(gram) = 3 AND substr(gram, 2) = ?`, []any{t}
	if utf8.RuneCountInString(t) == 1 {
		query, args = `SELECT DISTINCT gram FROM search_grams WHERE prefix = 0 AND users > 0
			AND ((length(gram) = 3 AND (substr(gram, 2, 1) = ? OR substr(gram, 3, 1) = ?)) OR (length(gram) = 2 AND substr(gram, 2, 1) = ?))`, []any{t, t, t}
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return "", nil, err
	}
	defer rows.Close()
	var grams []string
	for rows.Next() {
		var gram string
		if err := rows.Scan(&gram); err != nil {
			return "", nil, err
		}
		if utf8.RuneCountInString(gram) == 2 {
			grams = append(grams, "\x1f"+gram, gram+"\x1f")
		} else {
			grams = append(grams, gram)
		}
	}
	if err := rows.Err(); err != nil {
		return "", nil, err
	}
	if len(grams) == 0 {
		return "users u", nil, nil
	}
	from, args := searchAnyTrigram(grams)
	return from, args, nil
}

// searchAnyTrigram returns the FROM clause (users as u) and its arguments
// that narrow a search to the users with any of the trigrams, through
// users_fts.
func searchAnyTrigram(trigrams []string) (string, []any) {
	parts := make([]string, len(trigrams))
	for i, g := range trigrams {
		parts[i] = ftsPhrase(g)
	}
	return "users u JOIN (SELECT rowid FROM users_fts WHERE users_fts MATCH ?) f ON f.rowid = u.id", []any{strings.Join(parts, " OR ")}
}

// prefixEnd returns the least string greater than every string that starts
// with t, in byte order (SQLite's BINARY collation): t with its last byte
// incremented. The last byte of valid UTF-8 is never 0xFF.
func prefixEnd(t string) string {
	b := []byte(t)
	b[len(b)-1]++
	return string(b)
}
