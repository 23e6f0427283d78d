package postgres

import (
	"context"
	"database/sql"

	"github.com/rosterhq/roster/sqlstore"
)

// BeginBulk turns off the row triggers of users, group_members and
// activities for the seed's transaction and returns the function that
// recomputes, in the same transaction, what they maintain (the user
// counters, the search_grams counts and member counts; it empties the
// stored search counts and counts users_bulk; the seed sets
// lastActiveAt itself) and turns them back on. With
// the triggers a seed updated the same counter row once per user inside
// one transaction, each update walking the row's growing chain of
// versions: 100k users and 500k activities took 3 minutes (4,700 rows/s).
// ALTER TABLE locks the three tables until commit.
//
// Into a database without users it also drops the secondary indexes of
// the seeded tables (not the primary keys and unique constraints, so
// duplicates still fail) and builds them again at the end from their
// saved definitions, as SQLite's BeginBulk does. Kept row by row, the 14
// indexes of users (two of them pg_trgm GIN) took random keys past what
// shared_buffers held: a seed of 10M users ran at 6.9k rows/s, against
// 20.6k at 1M (2026-12-03). DROP INDEX locks its table against readers
// too, until commit; a database with users keeps its indexes, and the
// seed then lets readers be.
func (d *dialect) BeginBulk(ctx context.Context, tx *sql.Tx) (func(context.Context, *sql.Tx) error, error) {
	for _, t := range []string{"users", "group_members", "activities"} {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+t+" DISABLE TRIGGER USER"); err != nil {
			return nil, err
		}
	}
	indexes, err := setIndexesAside(ctx, tx)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, tx *sql.Tx) error {
		if len(indexes) > 0 {
			// Memory for the builds, this transaction only: a GIN build
			// flushes its entries each time they fill it.
			if _, err := tx.ExecContext(ctx, "SET LOCAL maintenance_work_mem = '512MB'"); err != nil {
				return err
			}
		}
		for _, def := range indexes {
			if _, err := tx.ExecContext(ctx, def); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`UPDATE counters SET value = (SELECT count(*) FROM users WHERE is_active) WHERE name = 'users_active'`,
			`UPDATE counters SET value = (SELECT count(*) FROM users WHERE NOT is_active) WHERE name = 'users_inactive'`,
			`DELETE FROM search_grams`,
			`DELETE FROM search_counts`,
			`UPDATE counters SET value = value + 1 WHERE name = 'users_bulk'`,
			`UPDATE groups g SET member_count = m.n FROM (SELECT group_id, count(*) AS n FROM group_members GROUP BY group_id) m
				WHERE m.group_id = g.id AND g.member_count <> m.n`,
			"ALTER TABLE users ENABLE TRIGGER USER",
			"ALTER TABLE group_members ENABLE TRIGGER USER",
			"ALTER TABLE activities ENABLE TRIGGER USER",
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return buildSearchGrams(ctx, tx)
	}, nil
}

// setIndexesAside drops the secondary indexes of the seeded tables when
// users is empty, and returns the statements that create them again.
func setIndexesAside(ctx context.Context, tx *sql.Tx) ([]string, error) {
	var empty bool
	if err := tx.QueryRowContext(ctx, "SELECT NOT EXISTS (SELECT 1 FROM users)").Scan(&empty); err != nil || !empty {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		  FROM pg_index i
		 WHERE i.indrelid IN (SELECT to_regclass(t)::oid FROM unnest($1::text[]) t)
		   AND NOT i.indisprimary
		   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
		 ORDER BY i.indrelid, i.indexrelid`, "{users,group_members,activities,workspace_user_grants,workspace_group_grants}")
	if err != nil {
		return nil, err
	}
	var names, defs []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return nil, err
		}
		names, defs = append(names, name), append(defs, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// buildSearchGrams fills search_grams, emptied, from users: one read of their
// search_text and is_active, counted in Go (sqlstore.GramCounts, the grams
// of roster_grams). The same build in SQL, roster_grams for each user as
// migration 0080 backfills, took 121 s of a seed of 1M users that took
// 3 min 37 s in all (2026-12-03); TestSearchGramsSeedAndConcurrentWrites
// checks the table against a recount of its own.
func buildSearchGrams(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT search_text, is_active FROM users")
	if err != nil {
		return err
	}
	counts := sqlstore.GramCounts{}
	for rows.Next() {
		var text string
		var active bool
		if err := rows.Scan(&text, &active); err != nil {
			rows.Close()
			return err
		}
		counts.Add(text, active)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	const batch = 5000
	var grams []string
	var prefixes []int16
	var actives []bool
	var users []int64
	flush := func() error {
		if len(grams) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO search_grams (gram, prefix, is_active, users)
			SELECT * FROM unnest($1::text[], $2::smallint[], $3::boolean[], $4::bigint[])`, grams, prefixes, actives, users)
		grams, prefixes, actives, users = grams[:0], prefixes[:0], actives[:0], users[:0]
		return err
	}
	for k, n := range counts {
		var prefix int16
		if k.Prefix {
			prefix = 1
		}
		grams, prefixes, actives, users = append(grams, k.Gram), append(prefixes, prefix), append(actives, k.Active), append(users, n)
		if len(grams) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// AfterBulk vacuums and analyzes the seeded tables: without a visibility
// map an index-only scan visits the heap for every row (a deep page of GET
// /users at 100k users, p50 460 ms with 16 clients), and fresh statistics
// keep the planner from guessing.
func (d *dialect) AfterBulk(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, "VACUUM (ANALYZE) users, search_grams, groups, group_members, workspaces, workspace_user_grants, workspace_group_grants, activities")
	return err
}

// BulkInsert is a plain INSERT: PostgreSQL keeps no per-statement journal.
func (d *dialect) BulkInsert() string { return "INSERT INTO" }
