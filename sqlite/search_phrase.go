package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sqlstore"
)

// searchPhrases answers a search whose every term has at least three
// characters without reading a row it does not return. users_fts keeps
// the position of every trigram (detail=full, migration 0080), so each
// term is an FTS5 phrase of its trigrams that matches exactly the users
// whose search_text contains it; no phrase spans two fields, since no term
// holds U+001F, the separator. A term starts a field where its phrase is
// the column's first token (^) or follows U+001F.
//
// The matches are counted from users_fts, those where every term starts a
// field from the ranges of the four folded columns' indexes (prefixSet),
// whose cost follows those matches alone; both counts are kept per users
// version (cached). Counting a term in 20-55% of 1M users walks its
// phrase's positions: 30-80 ms in the sqlite3 shell (2026-12-02). Each
// group of the page (exact matches, prefix matches, the rest) is read in
// id order and stops at the page's end: the rest from users_fts, the
// prefix matches from users_fts when they are a large share of the
// matches, else from the column indexes.
func (d dialect) searchPhrases(ctx context.Context, tx sqlstore.Querier, s roster.UserSearch, cached sqlstore.CountCache) ([]*roster.User, int, error) {
	contain, prefix := phraseQueries(s.Terms)
	rest := "(" + contain + ") NOT (" + prefix + ")"
	set, setArgs := prefixSet(s.Terms)
	active, activeArgs := "", []any{}
	if s.IsActive != nil {
		active, activeArgs = " AND u.is_active = ?", []any{*s.IsActive}
	}

	// A few matches are read in one pass, ranked, and counted from it;
	// only when there are more are they counted from the indexes.
	var few []rankedID
	counts, err := cached(func(ctx context.Context, q sqlstore.Querier) (sqlstore.SearchCount, error) {
		var err error
		if d.sp.phraseFew {
			if few, err = rankMatches(ctx, q, s, contain, smallSearch+1); err != nil || len(few) <= smallSearch {
				return countRanked(few), err
			}
			few = nil
		}
		return countPhrases(ctx, q, s)
	})
	if err != nil {
		return nil, 0, err
	}
	total, nPrefixAll := counts.Total, counts.Prefix
	users := []*roster.User{}
	if total == 0 || s.Offset >= total {
		return users, total, nil
	}
	if d.sp.phraseFew && total <= smallSearch {
		if few == nil { // the counts came from the cache
			if few, err = rankMatches(ctx, tx, s, contain, smallSearch+1); err != nil {
				return nil, 0, err
			}
		}
		if len(few) != total {
			return nil, 0, fmt.Errorf("users_fts out of step for %q: %d match, counted %d", s.Query, len(few), total)
		}
		return pageOfRanked(ctx, tx, few, s.Page)
	}
	// Exact matches of the whole query start a field with it, so they
	// are prefix matches; with more than one term there are none (no
	// username or email holds a space).
	exact, err := sqlstore.QueryUsers(ctx, tx, "SELECT "+sqlstore.UserColumns+
		" FROM users u WHERE (u.username_fold = ? OR u.email_fold = ?)"+active+" ORDER BY u.id",
		append([]any{s.Query, s.Query}, activeArgs...)...)
	if err != nil {
		return nil, 0, err
	}
	nPrefix, nRest := nPrefixAll-len(exact), total-nPrefixAll
	if nPrefix < 0 || nRest < 0 {
		return nil, 0, fmt.Errorf("users_fts out of step for %q: %d match, %d start with it, %d match exactly", s.Query, total, nPrefixAll, len(exact))
	}
	notExact, notExactArgs := " AND u.username_fold <> ? AND u.email_fold <> ?", []any{s.Query, s.Query}
	// readIndex reads limit users from offset of the matches of an FTS5
	// query, in rowid order. CROSS JOIN keeps users_fts the outer loop,
	// so the scan of its index stops at the page's end.
	readIndex := func(query, cond string, condArgs []any, offset, limit int) ([]*roster.User, error) {
		return sqlstore.QueryUsers(ctx, tx, "SELECT "+sqlstore.UserColumns+" FROM users_fts f CROSS JOIN users u ON u.id = f.rowid WHERE users_fts MATCH ?"+
			cond+active+" ORDER BY f.rowid LIMIT ? OFFSET ?",
			append(append(append([]any{query}, condArgs...), activeArgs...), limit, offset)...)
	}
	groups := []sqlstore.SearchGroup{
		{N: len(exact), Fetch: func(offset, limit int) ([]*roster.User, error) {
			return exact[offset : offset+limit], nil
		}},
		{N: nPrefix, Fetch: func(offset, limit int) ([]*roster.User, error) {
			// Walking the phrase's matches to the page's end visits
			// about (offset+limit)*total/nPrefix of them; the set reads
			// and sorts every prefix match, each a few times dearer.
			if float64(offset+limit)*float64(total)/float64(nPrefix) <= 4*float64(nPrefixAll) {
				return readIndex(prefix, notExact, notExactArgs, offset, limit)
			}
			return sqlstore.QueryUsers(ctx, tx, "SELECT "+sqlstore.UserColumns+" FROM users u WHERE u.id IN ("+set+")"+notExact+active+
				" ORDER BY u.id LIMIT ? OFFSET ?", append(append(append(append([]any{}, setArgs...), notExactArgs...), activeArgs...), limit, offset)...)
		}},
		{N: nRest, Fetch: func(offset, limit int) ([]*roster.User, error) {
			return readIndex(rest, "", nil, offset, limit)
		}},
	}
	page, err := sqlstore.ReadRankedPage(s.Page, groups)
	if err != nil {
		return nil, 0, fmt.Errorf("users_fts out of step for %q: %w", s.Query, err)
	}
	return append(users, page...), total, nil
}

// countPhrases counts the matches of a search whose every term has at
// least three characters from users_fts, and those where every term
// starts a field from the indexes of the folded columns.
func countPhrases(ctx context.Context, q sqlstore.Querier, s roster.UserSearch) (sqlstore.SearchCount, error) {
	contain, _ := phraseQueries(s.Terms)
	var c sqlstore.SearchCount
	var err error
	if c.Total, err = countActive(ctx, q, `SELECT rowid FROM users_fts WHERE users_fts MATCH ?`, []any{contain}, s.IsActive); err != nil || c.Total == 0 {
		return c, err
	}
	set, setArgs := prefixSet(s.Terms)
	c.Prefix, err = countActive(ctx, q, set, setArgs, s.IsActive)
	return c, err
}

// smallSearch is the most matches searchPhrases reads in one ranked pass
// (rankMatches) rather than counting them from the indexes and reading the
// page group by group: a selective term's phrase is then evaluated once
// instead of three times, and seeking its trigrams' doclists was 37% of
// the CPU time of roster-bench search-selective (1M users, 2026-12-02).
const smallSearch = sqlstore.SmallSearch

// rankedID is a match of a search and its rank group: 0 exact, 1 every
// term starts a field, 2 the rest.
type rankedID struct {
	id   int64
	rank int
}

// rankMatches reads up to limit matches of a search, in id order, and
// ranks them; when it reaches limit it returns them unranked (the caller
// counts the matches another way). For one term without the isActive
// filter it reads no user row: the ids come from users_fts alone, those
// where the term starts a field from the ranges of the four folded
// columns' indexes (prefixSet; they are all matches, so fewer than limit),
// and the exact matches from the unique indexes of username_fold and
// email_fold. Reading every match's row to rank it was a B-tree descent per
// match, 31% of the CPU time of roster-bench search-selective (1M users,
// 2026-12-03); ranked from the indexes, the same 685 terms of 1-300 matches
// took 0.20 ms on average instead of 0.30 (the sqlite3 library, best of
// three). With several terms prefixSet intersects each term's whole range,
// which follows the commonest term, not the matches, so they, like
// isActive, read the rows (rankMatchesJoined).
func rankMatches(ctx context.Context, tx sqlstore.Querier, s roster.UserSearch, contain string, limit int) ([]rankedID, error) {
	if s.IsActive != nil || len(s.Terms) != 1 {
		return rankMatchesJoined(ctx, tx, s, contain, limit)
	}
	ids, err := sqlstore.QueryIDs(ctx, tx, `SELECT rowid FROM users_fts WHERE users_fts MATCH ? ORDER BY rowid LIMIT ?`, contain, limit)
	if err != nil {
		return nil, err
	}
	out := make([]rankedID, len(ids))
	for i, id := range ids {
		out[i] = rankedID{id: id, rank: 2}
	}
	if len(out) == 0 || len(out) >= limit {
		return out, nil
	}
	set, setArgs := prefixSet(s.Terms)
	prefixed, err := sqlstore.QueryIDs(ctx, tx, set, setArgs...)
	if err != nil || len(prefixed) == 0 {
		// No match starts a field with the term, so none is a username
		// or email equal to it.
		return out, err
	}
	exact, err := sqlstore.QueryIDs(ctx, tx, `SELECT id FROM users WHERE username_fold = ? OR email_fold = ?`, s.Query, s.Query)
	if err != nil {
		return nil, err
	}
	rank := make(map[int64]int, len(prefixed))
	for _, id := range prefixed {
		rank[id] = 1
	}
	for _, id := range exact {
		rank[id] = 0
	}
	for i, r := range out {
		if g, ok := rank[r.id]; ok {
			out[i].rank = g
		}
	}
	return out, nil
}

// rankMatchesJoined is rankMatches reading each match's row, with the
// isActive filter when the search has one, and ranking it from the row.
func rankMatchesJoined(ctx context.Context, tx sqlstore.Querier, s roster.UserSearch, contain string, limit int) ([]rankedID, error) {
	var conds []string
	args := []any{s.Query, s.Query}
	for _, t := range s.Terms {
		conds = append(conds, "(u.username_fold >= ? AND u.username_fold < ? OR u.email_fold >= ? AND u.email_fold < ?"+
			" OR u.first_fold >= ? AND u.first_fold < ? OR u.last_fold >= ? AND u.last_fold < ?)")
		hi := prefixEnd(t)
		for range 4 {
			args = append(args, t, hi)
		}
	}
	args = append(args, contain)
	active := ""
	if s.IsActive != nil {
		active = " AND u.is_active = ?"
		args = append(args, *s.IsActive)
	}
	rows, err := tx.QueryContext(ctx, `SELECT u.id, CASE WHEN u.username_fold = ? OR u.email_fold = ? THEN 0 WHEN `+strings.Join(conds, " AND ")+
		` THEN 1 ELSE 2 END FROM users_fts f CROSS JOIN users u ON u.id = f.rowid WHERE users_fts MATCH ?`+active+` ORDER BY f.rowid LIMIT ?`,
		append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []rankedID{}
	for rows.Next() {
		var r rankedID
		if err := rows.Scan(&r.id, &r.rank); err != nil {
			return nil, tx.Err(err)
		}
		out = append(out, r)
	}
	return out, tx.Err(rows.Err())
}

// countRanked returns the counts of ranked matches.
func countRanked(ranked []rankedID) sqlstore.SearchCount {
	c := sqlstore.SearchCount{Total: len(ranked)}
	for _, r := range ranked {
		if r.rank < 2 {
			c.Prefix++
		}
	}
	return c
}

// pageOfRanked returns the users of page of the ranked matches (in id
// order), best rank first, then by id.
func pageOfRanked(ctx context.Context, tx sqlstore.Querier, ranked []rankedID, page roster.Page) ([]*roster.User, int, error) {
	sorted := slices.Clone(ranked)
	slices.SortStableFunc(sorted, func(a, b rankedID) int { return a.rank - b.rank }) // ids stay in order within a rank
	users := []*roster.User{}
	if page.Offset >= len(sorted) {
		return users, len(ranked), nil
	}
	sorted = sorted[page.Offset:min(len(sorted), page.Offset+page.Limit)]
	args := make([]any, len(sorted))
	marks := make([]string, len(sorted))
	for i, r := range sorted {
		args[i], marks[i] = r.id, "?"
	}
	got, err := sqlstore.QueryUsers(ctx, tx, "SELECT "+sqlstore.UserColumns+" FROM users u WHERE u.id IN ("+strings.Join(marks, ", ")+")", args...)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[int64]*roster.User, len(got))
	for _, u := range got {
		byID[u.ID] = u
	}
	for _, r := range sorted {
		u, ok := byID[r.id]
		if !ok {
			return nil, 0, fmt.Errorf("search: user %d of the matches was not read again", r.id)
		}
		users = append(users, u)
	}
	return users, len(ranked), nil
}

// prefixSet returns a query of the ids of the users where every term
// starts one of the four folded fields, from the ranges of their indexes
// (the unique ones of username_fold and email_fold, users_first_fold,
// users_last_fold), and its arguments.
func prefixSet(terms []string) (string, []any) {
	parts := make([]string, len(terms))
	var args []any
	for i, t := range terms {
		parts[i] = `SELECT id FROM (SELECT id FROM users WHERE username_fold >= ? AND username_fold < ?
			UNION SELECT id FROM users WHERE email_fold >= ? AND email_fold < ?
			UNION SELECT id FROM users WHERE first_fold >= ? AND first_fold < ?
			UNION SELECT id FROM users WHERE last_fold >= ? AND last_fold < ?)`
		hi := prefixEnd(t)
		for range 4 {
			args = append(args, t, hi)
		}
	}
	return strings.Join(parts, " INTERSECT "), args
}

// countActive counts the users whose ids set (a query) returns, with the
// isActive filter. The inactive ones are counted through the (is_active,
// id) index, without reading rows; inactive users are few, so an active
// count is the difference.
func countActive(ctx context.Context, tx sqlstore.Querier, set string, args []any, isActive *bool) (int, error) {
	var all, inactive int
	q := `SELECT count(*), 0 FROM (` + set + `)`
	if isActive != nil {
		q = `SELECT (SELECT count(*) FROM (` + set + `)), (SELECT count(*) FROM users WHERE is_active = 0 AND id IN (` + set + `))`
		args = append(append([]any{}, args...), args...)
	}
	if err := tx.QueryRowContext(ctx, q, args...).Scan(&all, &inactive); err != nil {
		return 0, err
	}
	switch {
	case isActive == nil:
		return all, nil
	case *isActive:
		return all - inactive, nil
	default:
		return inactive, nil
	}
}

// phraseQueries returns the FTS5 queries of the users that contain every
// term and of those where every term starts a field.
func phraseQueries(terms []string) (contain, prefix string) {
	c := make([]string, len(terms))
	p := make([]string, len(terms))
	for i, t := range terms {
		c[i] = ftsPhrase(t)
		p[i] = "(^" + ftsPhrase(t) + " OR " + ftsPhrase("\x1f"+t) + ")"
	}
	return strings.Join(c, " AND "), strings.Join(p, " AND ")
}

// phraseSearch reports whether searchPhrases can answer a search for
// terms: each has at least three characters of valid UTF-8.
func phraseSearch(terms []string) bool {
	for _, t := range terms {
		if !utf8.ValidString(t) || utf8.RuneCountInString(t) < 3 {
			return false
		}
	}
	return len(terms) > 0
}
