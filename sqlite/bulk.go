package sqlite

import (
	"context"
	"database/sql"
)

// bulkTables are the tables a seed fills; their secondary indexes and
// triggers are set aside during a bulk load.
const bulkTables = `('users', 'groups', 'group_members', 'workspaces', 'workspace_user_grants', 'workspace_group_grants', 'activities')`

// BeginBulk drops the secondary indexes and triggers of the seeded tables
// (the unique constraints stay, so duplicates still fail) and returns the
// function that, in the same transaction, recreates them from their saved
// SQL and recomputes what the triggers maintain: the users_fts index (FTS5
// rebuild, merged into one segment), the search_grams counts (one pass of
// roster_gram_counts), the stored search counts (emptied, and users_bulk
// counted), the user counters and group member counts (the seed sets
// lastActiveAt itself, the activities trigger's job). Index
// builds from sorted data and one FTS rebuild are several times faster
// than maintaining them row by row: BenchmarkSeed, 20,000 users and as
// many activities, takes 4.4 s against 29.8 s without (2026-12-02).
func (d dialect) BeginBulk(ctx context.Context, tx *sql.Tx) (func(context.Context, *sql.Tx) error, error) {
	if !d.sp.bulkLoad {
		return func(context.Context, *sql.Tx) error { return nil }, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_schema
		WHERE type IN ('index', 'trigger') AND sql IS NOT NULL AND tbl_name IN `+bulkTables)
	if err != nil {
		return nil, err
	}
	type object struct{ typ, name, sql string }
	var saved []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.typ, &o.name, &o.sql); err != nil {
			rows.Close()
			return nil, err
		}
		saved = append(saved, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A large page cache for the load (the DSN's value comes back after),
	// and foreign keys checked at commit: with immediate checks every
	// statement would keep a statement journal. The cache grows only as
	// pages are touched (about 110 MB for 100k users), up to 4 GB. The
	// unique indexes on the folded username and email stay during the load
	// and take keys in random order; past what the cache holds, every
	// insert reads their pages back from the WAL: with a 1 GB cache a seed
	// of 10M users fell from 39.6k to 6.1k rows/s (2026-12-02).
	for _, q := range []string{"PRAGMA cache_size = -4000000", "PRAGMA defer_foreign_keys = ON"} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return nil, err
		}
	}
	for _, o := range saved {
		if _, err := tx.ExecContext(ctx, "DROP "+o.typ+" "+quoteIdent(o.name)); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, o := range saved {
			if o.typ == "index" {
				if _, err := tx.ExecContext(ctx, o.sql); err != nil {
					return err
				}
			}
		}
		for _, q := range []string{
			`INSERT INTO users_fts(users_fts) VALUES ('rebuild')`,
			// The rebuild leaves users_fts in several segments (11 for
			// 1M users), and every phrase query merges the doclists of
			// all of them; merged into one, counting a selective term
			// took 0.49 ms against 0.79 (sqlite3, 1M users, 49 terms of
			// 1-300 matches, 2026-12-03).
			`INSERT INTO users_fts(users_fts) VALUES ('optimize')`,
			`DELETE FROM search_grams`,
			`DELETE FROM search_counts`,
			`UPDATE counters SET value = value + 1 WHERE name = 'users_bulk'`,
			`INSERT INTO search_grams(gram, prefix, is_active, users)
			 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3
			   FROM json_each((SELECT roster_gram_counts(search_text, is_active) FROM users))`,
			`UPDATE counters SET value = (SELECT count(*) FROM users WHERE is_active) WHERE name = 'users_active'`,
			`UPDATE counters SET value = (SELECT count(*) FROM users WHERE NOT is_active) WHERE name = 'users_inactive'`,
			`UPDATE groups SET member_count = (SELECT count(*) FROM group_members m WHERE m.group_id = groups.id)`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		for _, o := range saved {
			if o.typ == "trigger" {
				if _, err := tx.ExecContext(ctx, o.sql); err != nil {
					return err
				}
			}
		}
		_, err := tx.ExecContext(ctx, "PRAGMA cache_size = -32000")
		return err
	}, nil
}

// BulkInsert is INSERT OR ROLLBACK: a failing row aborts the whole seed
// anyway, and without the default OR ABORT SQLite keeps no statement
// journal, which in one large transaction copies every page a statement
// touches that the transaction had already changed (the profile of a
// 200k-user seed spent over a third of its time freeing that journal).
func (d dialect) BulkInsert() string {
	if !d.sp.bulkLoad {
		return "INSERT INTO"
	}
	return "INSERT OR ROLLBACK INTO"
}

// AfterBulk does nothing: SQLite has no visibility map, and the planner
// keeps the plans it uses without statistics.
func (dialect) AfterBulk(context.Context, *sql.DB) error { return nil }

func quoteIdent(s string) string {
	out := []byte{'"'}
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			out = append(out, '"')
		}
		out = append(out, s[i])
	}
	return string(append(out, '"'))
}
