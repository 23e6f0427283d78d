package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

// SearchUsers finds users whose folded username, email, first or last name
// contains every term, best first: exact username/email matches of the
// whole query, then users where every term starts one of the four fields,
// then the rest, ties by id.
//
// Its cost follows the page, not the matches. The counts (all matches, and
// those in the first two groups) come from searchCounts, kept per users
// version by the cache layer and, when they walked many matches, in
// search_counts (searchstore.go). Each group's part of the page is then read
// either by a scan of users in id order that stops at the page's end
// (cheap when the group is a large share of the users: "empl" in 20% of
// them reads about five rows per result), or through the dialect's
// substring index (SearchFrom) and a sort of the group (cheap when it is
// small), whichever reads fewer rows.
// One term of up to Dialect.MaxGram characters is answered from the
// search_grams counts instead (searchShort), and the dialect may answer
// others faster from an index of its own (Dialect.SearchUsers: SQLite's
// trigram positions for terms of three or more characters). A count that
// would walk many users runs detached from the search (searchdetach.go),
// which waits for it within the operation timeout and then starts again.
func (db *DB) SearchUsers(ctx context.Context, s roster.UserSearch) (_ []*roster.User, _ int, err error) {
	// A timeout met anywhere in the search (a row's iteration included)
	// is EUNAVAILABLE, never an internal error.
	defer func() { err = db.mapErr(err) }()
	for _, t := range s.Terms {
		// No field holds a control character (validation rejects them). A
		// term with one matches nothing: with U+001F, the separator of
		// search_text, it would match across two fields, and NUL breaks
		// the FTS5 query.
		if strings.ContainsFunc(t, unicode.IsControl) {
			return []*roster.User{}, 0, nil
		}
	}
	return db.searchWithCounts(ctx, s, func(ctx context.Context) ([]*roster.User, int, error) { return db.searchUsers(ctx, s) })
}

// searchUsers is one attempt of SearchUsers, in one read transaction; it
// ends in countPending when the count it needs runs detached.
func (db *DB) searchUsers(ctx context.Context, s roster.UserSearch) ([]*roster.User, int, error) {
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	if users, total, ok, err := db.searchShort(ctx, tx, s); ok || err != nil {
		return users, total, err
	}
	var all int
	var version int64
	var versionErr error
	versionRead := false
	// cached reads the users version once, on first use: the dialect's
	// own paths may not need it.
	cached := func(count CountFunc) (SearchCount, error) {
		if !versionRead {
			versionRead = true
			all, version, versionErr = searchVersion(ctx, tx)
		}
		if versionErr != nil {
			return SearchCount{}, versionErr
		}
		key := searchKey{version: version, query: s.Query, active: activeKey(s.IsActive)}
		c, err := db.cache.searchCounts(ctx, key, func() (SearchCount, error) { return db.countStored(ctx, tx, s, count, nil) })
		if p := (*countPending)(nil); errors.As(err, &p) {
			return c, err
		}
		return c, db.mapErr(err)
	}
	if users, total, ok, err := db.d.SearchUsers(ctx, tx, s, cached); ok || err != nil {
		return users, total, err
	}
	counts, err := cached(func(ctx context.Context, q Querier) (SearchCount, error) { return db.searchCounts(ctx, q, s) })
	if err != nil {
		return nil, 0, err
	}
	users := []*roster.User{}
	if counts.Total == 0 || s.Offset >= counts.Total {
		return users, counts.Total, nil
	}

	match, matchArgs := searchMatch(db.d.Strpos(), s)
	prefix, prefixArgs := searchPrefix(s.Terms)
	exactCond, exactArgs := "(u.username_fold = ? OR u.email_fold = ?)", []any{s.Query, s.Query}
	from, indexWhere, indexArgs := db.d.SearchFrom(s.Terms)
	indexed := from != "users u" || len(indexWhere) > 0
	if indexed && counts.Total <= SmallSearch {
		// A few matches: one read of them through the index, ranked and
		// sorted, rather than one per group.
		w := append(append([]string{}, indexWhere...), match)
		page, err := QueryUsers(ctx, tx, "SELECT "+UserColumns+" FROM "+from+" WHERE "+strings.Join(w, " AND ")+
			" ORDER BY CASE WHEN "+exactCond+" THEN 0 WHEN "+prefix+" THEN 1 ELSE 2 END, u.id LIMIT ? OFFSET ?",
			append(append(append(append(append([]any{}, indexArgs...), matchArgs...), exactArgs...), prefixArgs...), s.Limit, s.Offset)...)
		if err != nil {
			return nil, 0, err
		}
		return page, counts.Total, nil
	}
	// The exact matches are at most two users, found through the unique
	// indexes of the folded username and email.
	exact, err := QueryUsers(ctx, tx, "SELECT "+UserColumns+" FROM users u WHERE "+exactCond+" AND "+match+" ORDER BY u.id",
		append(append([]any{}, exactArgs...), matchArgs...)...)
	if err != nil {
		return nil, 0, err
	}
	// Every exact match starts with the whole query, so with every term.
	nPrefix, nRest := counts.Prefix-len(exact), counts.Total-counts.Prefix
	if nPrefix < 0 || nRest < 0 {
		return nil, 0, fmt.Errorf("search counts out of step for %q: %d match, %d start with it, %d match exactly", s.Query, counts.Total, counts.Prefix, len(exact))
	}
	// readGroup reads limit users from offset of a group of n, in id order.
	readGroup := func(cond string, condArgs []any, n, offset, limit int) ([]*roster.User, error) {
		where, args := match+" AND "+cond, append(append([]any{}, matchArgs...), condArgs...)
		// A scan in id order visits about (offset+limit)*all/n rows; the
		// index path reads the candidates (about the matches) and sorts
		// them; a row read through an index costs a few times a row of
		// a scan.
		if indexed && float64(offset+limit)*float64(all)/float64(n) > 4*float64(counts.Total) {
			w := append(append([]string{}, indexWhere...), where)
			// u.id + 0 keeps the primary key from ordering the scan: the
			// candidates come from the substring index.
			return QueryUsers(ctx, tx, "SELECT "+UserColumns+" FROM "+from+" WHERE "+strings.Join(w, " AND ")+" ORDER BY u.id + 0 LIMIT ? OFFSET ?",
				append(append(append([]any{}, indexArgs...), args...), limit, offset)...)
		}
		return QueryUsers(ctx, tx, "SELECT "+UserColumns+" FROM users u WHERE "+where+" ORDER BY u.id LIMIT ? OFFSET ?",
			append(args, limit, offset)...)
	}
	groups := []SearchGroup{
		{N: len(exact), Fetch: func(offset, limit int) ([]*roster.User, error) {
			return exact[offset : offset+limit], nil
		}},
		{N: nPrefix, Fetch: func(offset, limit int) ([]*roster.User, error) {
			return readGroup(prefix+" AND NOT "+exactCond, append(append([]any{}, prefixArgs...), exactArgs...), nPrefix, offset, limit)
		}},
		{N: nRest, Fetch: func(offset, limit int) ([]*roster.User, error) {
			return readGroup("NOT "+prefix, prefixArgs, nRest, offset, limit)
		}},
	}
	page, err := ReadRankedPage(s.Page, groups)
	if err != nil {
		return nil, 0, fmt.Errorf("search %q: %w", s.Query, err)
	}
	return append(users, page...), counts.Total, nil
}

// SmallSearch is the most matches a search through a substring index
// reads in one ranked query instead of group by group: a selective term
// read its candidates three times (count, prefix group, rest group), and
// served 105 req/s against 270 in one pass (roster-bench
// search-selective, 1M users, SQLite, 32 clients, 2026-12-02). The SQLite
// phrase search uses the same bound.
const SmallSearch = 2000

// SearchGroup is one rank group of a search: its size and a function that
// reads limit of its users from offset, in id order.
type SearchGroup struct {
	N     int
	Fetch func(offset, limit int) ([]*roster.User, error)
}

// ReadRankedPage reads page from groups taken one after the other, each
// from where the page starts in it, stopping at the page's end. A group
// that gives fewer users than its size says is an error: the counts are
// out of step with the rows.
func ReadRankedPage(page roster.Page, groups []SearchGroup) ([]*roster.User, error) {
	users := []*roster.User{}
	offset, limit := page.Offset, page.Limit
	for _, g := range groups {
		if limit <= 0 {
			break
		}
		if offset >= g.N {
			offset -= g.N
			continue
		}
		n := min(limit, g.N-offset)
		got, err := g.Fetch(offset, n)
		if err != nil {
			return nil, err
		}
		if len(got) != n {
			return nil, fmt.Errorf("counts out of step: read %d users of a group, want %d", len(got), n)
		}
		users = append(users, got...)
		offset, limit = 0, limit-n
	}
	return users, nil
}

// searchCounts counts the matches of s and those where every term starts
// a field (exact matches included), through the dialect's substring index
// where a term is long enough for it.
func (db *DB) searchCounts(ctx context.Context, tx Querier, s roster.UserSearch) (SearchCount, error) {
	from, where, args := db.d.SearchFrom(s.Terms)
	match, matchArgs := searchMatch(db.d.Strpos(), s)
	prefix, prefixArgs := searchPrefix(s.Terms)
	where = append(where, match)
	var c SearchCount
	err := tx.QueryRowContext(ctx, "SELECT count(*), CAST(coalesce(sum(CASE WHEN "+prefix+" THEN 1 ELSE 0 END), 0) AS BIGINT) FROM "+from+
		" WHERE "+strings.Join(where, " AND "), append(append(prefixArgs, args...), matchArgs...)...).Scan(&c.Total, &c.Prefix)
	return c, err
}

// searchMatch is the condition that u matches every term of s (and the
// isActive filter).
func searchMatch(strpos string, s roster.UserSearch) (string, []any) {
	var conds []string
	var args []any
	for _, t := range s.Terms {
		conds = append(conds, strpos+"(u.search_text, ?) > 0")
		args = append(args, t)
	}
	if s.IsActive != nil {
		conds = append(conds, "u.is_active = ?")
		args = append(args, *s.IsActive)
	}
	return strings.Join(conds, " AND "), args
}

// searchPrefix is the condition that every term starts one of the four
// folded fields.
func searchPrefix(terms []string) (string, []any) {
	var all []string
	var args []any
	for _, t := range terms {
		n := strconv.Itoa(utf8.RuneCountInString(t))
		var any []string
		for _, col := range []string{"u.username_fold", "u.email_fold", "u.first_fold", "u.last_fold"} {
			any = append(any, "substr("+col+", 1, "+n+") = ?")
			args = append(args, t)
		}
		all = append(all, "("+strings.Join(any, " OR ")+")")
	}
	return "(" + strings.Join(all, " AND ") + ")", args
}

// searchText is the indexed text of a user: the four folded fields joined by
// U+001F, which no field may contain, so no term matches across two fields.
func searchText(u *roster.User) string {
	return strings.Join([]string{roster.Fold(u.Username), roster.Fold(u.Email), roster.Fold(u.FirstName), roster.Fold(u.LastName)}, "\x1f")
}
