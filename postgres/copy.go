package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"time"
)

// column kinds of the copy: how a SQLite value becomes a PostgreSQL one.
const (
	kInt  = iota // integer as is
	kText        // text as is
	kBool        // 0/1 -> boolean
	kTime        // Unix microseconds -> timestamptz (NULL stays NULL)
	kBlob        // bytes as is
)

type copyTable struct {
	name    string
	columns []string
	kinds   []int
	// sequence is true for tables whose id comes from an identity column.
	sequence bool
	// overrides replaces a column's value with a constant in the target
	// (member_count is rebuilt by the target's triggers).
	overrides map[string]any
}

// copyTables lists every table in an order that satisfies foreign keys.
var copyTables = []copyTable{
	{name: "users", sequence: true,
		columns: []string{"id", "username", "username_fold", "email", "email_fold", "first_name", "first_fold", "last_name", "last_fold",
			"search_text", "is_active", "is_admin", "bio", "avatar_url", "timezone", "locale", "password_hash", "date_joined", "last_login",
			"last_active_at", "version", "is_service", "external_id", "modified_at"},
		kinds: []int{kInt, kText, kText, kText, kText, kText, kText, kText, kText, kText, kBool, kBool, kText, kText, kText, kText, kText,
			kTime, kTime, kTime, kInt, kBool, kText, kTime}},
	{name: "tokens", sequence: true, columns: []string{"id", "user_id", "hash", "created_at", "expires_at", "kind", "name", "scopes", "prefix", "last_used_at"},
		kinds: []int{kInt, kInt, kBlob, kTime, kTime, kText, kText, kText, kText, kTime}},
	{name: "login_throttle", columns: []string{"key", "failures", "locked_until", "updated_at"}, kinds: []int{kText, kInt, kTime, kTime}},
	{name: "groups", sequence: true, columns: []string{"id", "name", "name_fold", "member_count", "created_at", "managed_by", "external_id", "modified_at", "version"},
		kinds: []int{kInt, kText, kText, kInt, kTime, kText, kText, kTime, kInt}, overrides: map[string]any{"member_count": 0}},
	{name: "group_members", columns: []string{"group_id", "user_id"}, kinds: []int{kInt, kInt}},
	{name: "workspaces", sequence: true, columns: []string{"id", "name", "slug", "created_at"}, kinds: []int{kInt, kText, kText, kTime}},
	{name: "workspace_user_grants", columns: []string{"workspace_id", "user_id", "role"}, kinds: []int{kInt, kInt, kInt}},
	{name: "workspace_group_grants", columns: []string{"workspace_id", "group_id", "role"}, kinds: []int{kInt, kInt, kInt}},
	{name: "auth_providers", columns: []string{"name", "display_name", "issuer", "client_id", "client_secret", "scopes", "username_claim",
		"groups_claim", "auto_create", "link_by_email", "allowed_email_domains", "enabled", "created_at"},
		kinds: []int{kText, kText, kText, kText, kText, kText, kText, kText, kBool, kBool, kText, kBool, kTime}},
	{name: "user_identities", columns: []string{"provider", "subject", "user_id", "email", "linked_at", "last_login_at"},
		kinds: []int{kText, kText, kInt, kText, kTime, kTime}},
	{name: "oidc_states", columns: []string{"hash", "provider", "verifier", "nonce", "redirect_uri", "expires_at"},
		kinds: []int{kBlob, kText, kText, kText, kText, kTime}},
	{name: "login_codes", columns: []string{"hash", "user_id", "provider", "expires_at"}, kinds: []int{kBlob, kInt, kText, kTime}},
	{name: "activities", sequence: true,
		columns: []string{"id", "actor_id", "verb", "object_type", "object_id", "object_name", "workspace_id", "data", "published"},
		kinds:   []int{kInt, kInt, kText, kText, kText, kText, kInt, kText, kTime}},
}

// CopyOptions tune CopyFromSQLite.
type CopyOptions struct {
	// Truncate empties a non-empty target first; without it a target that
	// holds any row is refused.
	Truncate bool
	// Progress receives a line every BatchRows rows of a table (nil: silent).
	Progress io.Writer
	// BatchRows is the size of one insert (default 1000).
	BatchRows int
}

// CopyFromSQLite copies every row of a migrated SQLite database (src) into
// a migrated PostgreSQL database (dst), keeping ids, then moves each id
// sequence past the largest id ever used in SQLite (deleted ids stay dead)
// and verifies the row count of every table, all in one transaction of
// dst: a copy that fails leaves the target as it was (the sequences, which
// no rollback undoes, move last, once the copy is verified). A TRUNCATE
// holds the tables exclusively until the copy commits.
func CopyFromSQLite(ctx context.Context, src, dst *sql.DB, opts CopyOptions) error {
	if opts.BatchRows <= 0 {
		opts.BatchRows = 1000
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	// One transaction: a copy that fails (or is stopped) partway leaves
	// the target as it was, emptied or not.
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer tx.Rollback()
	if err := copyInto(ctx, src, tx, opts); err != nil {
		return err
	}
	return tx.Commit()
}

// copyInto is CopyFromSQLite's work in the target's transaction dst.
func copyInto(ctx context.Context, src *sql.DB, dst *sql.Tx, opts CopyOptions) error {
	var rows int64
	for _, t := range copyTables {
		var n int64
		if err := dst.QueryRowContext(ctx, "SELECT count(*) FROM "+t.name).Scan(&n); err != nil {
			return fmt.Errorf("target: %w", err)
		}
		rows += n
	}
	if rows > 0 {
		if !opts.Truncate {
			return fmt.Errorf("the target database is not empty (%d rows); pass --truncate to replace its contents", rows)
		}
		names := make([]string, len(copyTables))
		for i, t := range copyTables {
			names[i] = t.name
		}
		if _, err := dst.ExecContext(ctx, "TRUNCATE "+strings.Join(names, ", ")); err != nil {
			return fmt.Errorf("truncate target: %w", err)
		}
		// The truncate fires no row triggers: reset what they count, and
		// drop the stored search counts they kept. users_bulk counts the
		// replacement instead, so that a count a running server made of the
		// old users is not stored among the new ones (searchstore.go).
		for _, q := range []string{
			"UPDATE counters SET value = 0 WHERE name <> 'users_bulk'",
			"UPDATE counters SET value = value + 1 WHERE name = 'users_bulk'",
			// user_changes too: its seqs restart with the counter.
			"TRUNCATE search_grams, search_counts, user_changes",
		} {
			if _, err := dst.ExecContext(ctx, q); err != nil {
				return err
			}
		}
	}
	for _, t := range copyTables {
		if err := copyTableRows(ctx, src, dst, t, opts); err != nil {
			return fmt.Errorf("copy %s: %w", t.name, err)
		}
	}
	if err := verifyCopy(ctx, src, dst, opts); err != nil {
		return err
	}
	// Last, once the copy is verified: no rollback undoes setval, and a
	// copy that failed after it would leave a sequence below the ids of
	// the target's own rows.
	for _, t := range copyTables {
		if t.sequence {
			var seq sql.NullInt64
			_ = src.QueryRowContext(ctx, "SELECT seq FROM sqlite_sequence WHERE name = ?", t.name).Scan(&seq)
			if _, err := dst.ExecContext(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', 'id'),
				GREATEST($1::bigint, (SELECT coalesce(max(id), 0) FROM %s), 1), (SELECT count(*) > 0 FROM %s) OR $1::bigint > 0)`,
				t.name, t.name, t.name), seq.Int64); err != nil {
				return fmt.Errorf("sequence of %s: %w", t.name, err)
			}
		}
	}
	return nil
}

// verifyCopy compares the row count of every table in src and dst.
func verifyCopy(ctx context.Context, src *sql.DB, dst *sql.Tx, opts CopyOptions) error {
	for _, t := range copyTables {
		var a, b int64
		if err := src.QueryRowContext(ctx, "SELECT count(*) FROM "+t.name).Scan(&a); err != nil {
			return err
		}
		if err := dst.QueryRowContext(ctx, "SELECT count(*) FROM "+t.name).Scan(&b); err != nil {
			return err
		}
		if a != b {
			return fmt.Errorf("verify %s: %d rows in the source, %d in the target", t.name, a, b)
		}
		fmt.Fprintf(opts.Progress, "verified %s: %d rows\n", t.name, b)
	}
	return nil
}

func copyTableRows(ctx context.Context, src *sql.DB, dst *sql.Tx, t copyTable, opts CopyOptions) error {
	var total int64
	if err := src.QueryRowContext(ctx, "SELECT count(*) FROM "+t.name).Scan(&total); err != nil {
		return err
	}
	rows, err := src.QueryContext(ctx, "SELECT "+strings.Join(t.columns, ", ")+" FROM "+t.name+" ORDER BY "+t.columns[0])
	if err != nil {
		return err
	}
	defer rows.Close()
	ncol := len(t.columns)
	var batch []any
	var done int64
	start := time.Now()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n := len(batch) / ncol
		var b strings.Builder
		b.WriteString("INSERT INTO " + t.name + " (" + strings.Join(t.columns, ", ") + ") VALUES ")
		for r := 0; r < n; r++ {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for c := 0; c < ncol; c++ {
				if c > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", r*ncol+c+1)
			}
			b.WriteByte(')')
		}
		if _, err := dst.ExecContext(ctx, b.String(), batch...); err != nil {
			return err
		}
		done += int64(n)
		batch = batch[:0]
		fmt.Fprintf(opts.Progress, "%s: %d/%d rows (%.0f%%, %.0f rows/s)\n", t.name, done, total,
			100*float64(done)/float64(max(total, 1)), float64(done)/time.Since(start).Seconds())
		return nil
	}
	vals := make([]any, ncol)
	ptrs := make([]any, ncol)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			if o, ok := t.overrides[t.columns[i]]; ok {
				batch = append(batch, o)
				continue
			}
			batch = append(batch, convert(t.kinds[i], v))
		}
		if len(batch) >= opts.BatchRows*ncol || len(batch)+ncol > 65000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return flush()
}

func convert(kind int, v any) any {
	if v == nil {
		return nil
	}
	switch kind {
	case kBool:
		if n, ok := v.(int64); ok {
			return n != 0
		}
	case kTime:
		if n, ok := v.(int64); ok {
			if n == 0 {
				return nil // login_throttle's "not locked"
			}
			return time.UnixMicro(n).UTC()
		}
	case kText:
		if b, ok := v.([]byte); ok {
			return string(b)
		}
	}
	return v
}
