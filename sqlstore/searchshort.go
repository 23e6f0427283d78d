package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

// ShortGroup names the rank group of a short search that the dialect's
// index reads (Dialect.ShortSearchIndex).
type ShortGroup int

const (
	// ShortPrefix is the users with a field starting with the term (the
	// exact matches aside).
	ShortPrefix ShortGroup = iota
	// ShortRest is the users that contain the term but have no field
	// starting with it.
	ShortRest
)

// searchShort answers a search for one term of up to Dialect.MaxGram
// characters without visiting every match: the counts come from
// search_grams, a table the dialect's migrations create and its triggers
// keep exact (for every gram of 1 to MaxGram characters, the number of
// users, by is_active, that have it in one of their four folded fields,
// prefix = 0, and that have a field starting with it, prefix = 1). The page
// is read group by group in rank order (exact username/email matches, then
// users with a field starting with the term, then the rest), each in id
// order up to the page's end. A group is read either by a scan of users in
// id order that stops at the page's end (cheap when the group is a large
// share of the users), or through the dialect's index
// (ShortSearchIndex) and a sort of the group (cheap when it is small).
// ok is false when s is not one short term.
func (db *DB) searchShort(ctx context.Context, tx Querier, s roster.UserSearch) (users []*roster.User, total int, ok bool, err error) {
	maxGram := db.d.MaxGram()
	if maxGram == 0 || len(s.Terms) != 1 || s.Query != s.Terms[0] || !utf8.ValidString(s.Query) ||
		utf8.RuneCountInString(s.Query) > maxGram {
		return nil, 0, false, nil
	}
	t := s.Query
	active, activeArgs, gramActive := "", []any{}, ""
	if s.IsActive != nil {
		active, activeArgs, gramActive = " AND u.is_active = ?", []any{*s.IsActive}, " AND is_active = ?"
	}
	// One read transaction: the counts and the rows agree.
	// contain and prefix count the users of the search (isActive applied),
	// containAll and prefixAll those an index path reads before filtering.
	var contain, prefix, containAll, prefixAll, all int
	err = tx.QueryRowContext(ctx, `SELECT
		CAST(coalesce(sum(CASE WHEN prefix = 0`+gramActive+` THEN users END), 0) AS BIGINT),
		CAST(coalesce(sum(CASE WHEN prefix = 1`+gramActive+` THEN users END), 0) AS BIGINT),
		CAST(coalesce(sum(CASE WHEN prefix = 0 THEN users END), 0) AS BIGINT),
		CAST(coalesce(sum(CASE WHEN prefix = 1 THEN users END), 0) AS BIGINT),
		(SELECT CAST(coalesce(sum(value), 0) AS BIGINT) FROM counters WHERE name IN ('users_active', 'users_inactive'))
		FROM search_grams WHERE gram = ?`,
		append(append(slices.Clone(activeArgs), activeArgs...), t)...).Scan(&contain, &prefix, &containAll, &prefixAll, &all)
	if err != nil {
		return nil, 0, true, err
	}
	users = []*roster.User{}
	if contain == 0 || s.Offset >= contain {
		return users, contain, true, nil
	}
	exact, err := QueryUsers(ctx, tx, "SELECT "+UserColumns+" FROM users u WHERE (u.username_fold = ? OR u.email_fold = ?)"+active+" ORDER BY u.id",
		append([]any{t, t}, activeArgs...)...)
	if err != nil {
		return nil, 0, true, err
	}
	// Every exact match starts with the term, so it is among the prefix
	// matches that search_grams counts.
	nPrefix, nRest := prefix-len(exact), contain-prefix
	if nPrefix < 0 || nRest < 0 {
		return nil, 0, true, fmt.Errorf("search_grams out of step for %q: %d users contain it, %d start with it, %d match exactly", t, contain, prefix, len(exact))
	}
	// The conditions filter a scan in id order: no index serves substr.
	anyPrefix, prefixArgs := searchPrefix([]string{t})
	match := db.d.Strpos() + "(u.search_text, ?) > 0"
	// scanCost estimates the rows a scan in id order visits to reach the
	// end of a page of a group of n users spread over all of them.
	scanCost := func(offset, limit, n int) float64 {
		return float64(offset+limit) * float64(all) / float64(n)
	}
	// readGroup reads limit users from offset of group, which has n users
	// and costs cond, in id order: through the dialect's index when a scan
	// would visit more than factor times its candidates.
	readGroup := func(group ShortGroup, cond string, condArgs []any, n, candidates, factor, offset, limit int) ([]*roster.User, error) {
		from, where, args := "users u", "", []any(nil)
		if scanCost(offset, limit, n) > float64(factor*candidates) {
			f, w, a, err := db.d.ShortSearchIndex(ctx, tx, t, group)
			if err != nil {
				return nil, err
			}
			if f != "" {
				from, args = f, a
				if w != "" {
					where = w + " AND "
				}
			}
		}
		return QueryUsers(ctx, tx, "SELECT "+UserColumns+" FROM "+from+" WHERE "+where+match+" AND "+cond+active+" ORDER BY u.id LIMIT ? OFFSET ?",
			append(append(append(append(args, t), condArgs...), activeArgs...), limit, offset)...)
	}
	groups := []SearchGroup{
		{N: len(exact), Fetch: func(offset, limit int) ([]*roster.User, error) {
			return exact[offset : offset+limit], nil
		}},
		// A range scan of an index costs a few times less a row than a
		// scan of the table, but the whole group is read and sorted.
		{N: nPrefix, Fetch: func(offset, limit int) ([]*roster.User, error) {
			return readGroup(ShortPrefix, anyPrefix+" AND u.username_fold <> ? AND u.email_fold <> ?",
				append(slices.Clone(prefixArgs), t, t), nPrefix, prefixAll, 4, offset, limit)
		}},
		// Through a trigram index the candidates are at most the users
		// that contain the term; reading each costs a lookup.
		{N: nRest, Fetch: func(offset, limit int) ([]*roster.User, error) {
			return readGroup(ShortRest, "NOT "+anyPrefix, prefixArgs, nRest, containAll, 2, offset, limit)
		}},
	}
	page, err := ReadRankedPage(s.Page, groups)
	if err != nil {
		return nil, 0, true, fmt.Errorf("search_grams out of step for %q: %w", t, err)
	}
	return append(users, page...), contain, true, nil
}
