package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rosterhq/roster"
)

// ExportActivities hands the activities after the named cursor (a counters
// row, e.g. 'nats_published') to publish, at most limit, in id order, and
// moves the cursor to the last one publish accepted. On PostgreSQL the
// cursor row is locked FOR UPDATE SKIP LOCKED for the whole batch, so one
// instance publishes at a time, in order, and another finds it busy
// (returns 0 at once); elsewhere the batch is read and published outside
// any transaction (one exporter per process) and the cursor moved after.
// It returns how many activities were published.
func (db *DB) ExportActivities(ctx context.Context, cursor string, limit int, publish func([]*roster.Activity) (int, error)) (int, error) {
	if cursor != "nats_published" {
		return 0, fmt.Errorf("sqlstore: unknown export cursor %q", cursor)
	}
	lock := db.d.SkipLocked("counters")
	// run returns the number published and an error that aborts the
	// batch; publish's own error, after which the cursor still moves past
	// what was published, goes to perr.
	var perr error
	run := func(q Querier) (int, error) {
		var after int64
		err := q.QueryRowContext(ctx, "SELECT value FROM counters WHERE name = ?"+lock, cursor).Scan(&after)
		if err != nil {
			return 0, err
		}
		var acts []*roster.Activity
		err = eachRow(ctx, q, "SELECT "+activityColumns+activityFrom+" WHERE a.id > ? ORDER BY a.id LIMIT ?", []any{after, limit}, func(rows *sql.Rows) error {
			a, err := scanActivity(rows)
			acts = append(acts, a)
			return err
		})
		if err != nil || len(acts) == 0 {
			return 0, err
		}
		var n int
		n, perr = publish(acts)
		if n == 0 {
			return 0, nil
		}
		last := acts[n-1].ID
		if lock != "" {
			_, err = q.ExecContext(ctx, "UPDATE counters SET value = ? WHERE name = ? AND value < ?", last, cursor, last)
		} else {
			err = db.tx(ctx, func(tx *wtx) error {
				_, err := tx.ExecContext(ctx, "UPDATE counters SET value = ? WHERE name = ? AND value < ?", last, cursor, last)
				return err
			})
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
	if lock == "" {
		n, err := run(db.read)
		return n, errors.Join(perr, err)
	}
	var n int
	err := db.leaseTx(ctx, func(q Querier) error {
		var err error
		n, err = run(q)
		if errors.Is(err, sql.ErrNoRows) { // another instance holds the cursor
			return nil
		}
		return err
	})
	return n, errors.Join(perr, err)
}
