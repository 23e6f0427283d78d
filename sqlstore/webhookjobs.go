package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.WebhookQueue = (*DB)(nil)

// WebhookPendingSQL is the read by which DispatchWebhookJobs checks for
// activities after the webhook_dispatched cursor: the newest activity id
// from the end of the primary key, against the cursor. Written as EXISTS
// (... WHERE id > (SELECT value ...)), PostgreSQL planned a sequential
// scan (it cannot see the cursor's value when planning, and expects a
// third of the rows to pass), so each idle poll read every activity: 1.8 s
// and 20M rows at 10M users (2026-12-03). It is exported for the plan
// tests of each database.
const WebhookPendingSQL = `SELECT coalesce((SELECT max(id) FROM activities), 0) >
	(SELECT value FROM counters WHERE name = 'webhook_dispatched')`

// DispatchWebhookJobs reads the activities after the webhook_dispatched
// cursor, inserts a job for every enabled webhook each one matches, and
// moves the cursor, all in one write transaction: a crash leaves either
// the jobs and the cursor or neither. Activity ids become visible in id
// order (writes are serialized), so the cursor never passes an activity
// that commits later.
//
// A read outside the write lock first checks that there is anything to
// dispatch, so that idle polls and wakeups never queue behind (or in
// front of) the API's writes.
func (db *DB) DispatchWebhookJobs(ctx context.Context, limit int) (int, error) {
	ctx = background(ctx)
	var pending bool
	if err := db.read.QueryRowContext(ctx, WebhookPendingSQL).Scan(&pending); err != nil || !pending {
		return 0, err
	}
	now := db.Now()
	read := 0
	err := db.tx(ctx, func(tx *wtx) error {
		read = 0
		var cursor int64
		if err := tx.QueryRowContext(ctx, "SELECT value FROM counters WHERE name = 'webhook_dispatched'").Scan(&cursor); err != nil {
			return err
		}
		hooks, err := enabledWebhooks(ctx, tx)
		if err != nil {
			return err
		}
		if len(hooks) == 0 {
			// Nothing to match: skip to the newest activity.
			_, err := tx.ExecContext(ctx, `UPDATE counters SET value = (SELECT coalesce(max(id), 0) FROM activities)
				WHERE name = 'webhook_dispatched' AND value < (SELECT coalesce(max(id), 0) FROM activities)`)
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+activityColumns+activityFrom+" WHERE a.id > ? ORDER BY a.id LIMIT ?", cursor, limit)
		if err != nil {
			return err
		}
		var acts []*roster.Activity
		for rows.Next() {
			a, err := scanActivity(rows)
			if err != nil {
				rows.Close()
				return err
			}
			acts = append(acts, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(acts) == 0 {
			return nil
		}
		// Multi-row inserts: a statement per up to 250 jobs, not per job (a
		// third of the dispatch CPU with 10 webhooks). The rows go in
		// chunks of a few fixed sizes, so that a handful of statement texts
		// is prepared (PostgreSQL caches them per connection).
		var jobs []any
		next := db.t(now)
		for _, a := range acts {
			for _, h := range hooks {
				if a.ID > h.after && h.Matches(a) {
					jobs = append(jobs, h.ID, a.ID, next)
				}
			}
		}
		for len(jobs) > 0 {
			n := 1
			for _, size := range []int{250, 50, 10} {
				if len(jobs) >= 3*size {
					n = size
					break
				}
			}
			if _, err := tx.ExecContext(ctx, insertJobsSQL(n), jobs[:3*n]...); err != nil {
				return err
			}
			jobs = jobs[3*n:]
		}
		read = len(acts)
		_, err = tx.ExecContext(ctx, "UPDATE counters SET value = ? WHERE name = 'webhook_dispatched'", acts[len(acts)-1].ID)
		return err
	})
	return read, err
}

// insertJobsSQL inserts n webhook jobs (webhook_id, activity_id, next_at).
func insertJobsSQL(n int) string {
	return "INSERT INTO webhook_jobs (webhook_id, activity_id, next_at) VALUES " +
		strings.Repeat("(?, ?, ?), ", n-1) + "(?, ?, ?) ON CONFLICT (webhook_id, activity_id) DO NOTHING"
}

type dispatchHook struct {
	*roster.Webhook
	after int64
}

func enabledWebhooks(ctx context.Context, q Querier) ([]dispatchHook, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+webhookColumns+", h.after_activity FROM webhooks h WHERE h.enabled = ?", true)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dispatchHook
	for rows.Next() {
		var h dispatchHook
		var err error
		var after int64
		if h.Webhook, err = scanWebhookAfter(rows, &after); err != nil {
			return nil, err
		}
		h.after = after
		out = append(out, h)
	}
	return out, rows.Err()
}

// scanWebhookAfter scans webhookColumns and one more column.
func scanWebhookAfter(s Scanner, extra any) (*roster.Webhook, error) {
	return scanWebhook(extraScanner{s, extra})
}

// extraScanner appends a destination to a Scan.
type extraScanner struct {
	s     Scanner
	extra any
}

func (e extraScanner) Scan(dest ...any) error { return e.s.Scan(append(dest, e.extra)...) }

// leaseTx runs fn in a transaction for leasing jobs: a plain transaction
// where the dialect locks rows with SkipLocked (no write lock, so
// instances claim in parallel), else a write transaction.
func (db *DB) leaseTx(ctx context.Context, fn func(q Querier) error) error {
	if db.d.SkipLocked("j") == "" {
		return db.tx(ctx, func(tx *wtx) error { return fn(tx) })
	}
	ctx, cancel := db.bound(ctx)
	defer cancel()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return db.mapErr(err)
	}
	defer tx.Rollback()
	if err := fn(conn{raw: tx, db: db}); err != nil {
		return db.mapErr(err)
	}
	return db.mapErr(tx.Commit())
}

// ClaimWebhookJobs leases due jobs of enabled webhooks, earliest first.
// On PostgreSQL the rows are selected FOR UPDATE SKIP LOCKED, so two
// instances never lease one job; an expired lease (its holder died) is
// taken over.
func (db *DB) ClaimWebhookJobs(ctx context.Context, owner string, limit, perWebhook int, room map[int64]int, lease time.Duration) ([]*roster.WebhookJob, error) {
	ctx = background(ctx)
	now := db.Now()
	var jobs []*roster.WebhookJob
	err := db.leaseTx(ctx, func(q Querier) error {
		jobs = nil
		where, args := "", []any{true, db.t(now), db.t(now)}
		var full []string
		for id, n := range room {
			if n <= 0 {
				full = append(full, fmt.Sprint(id))
			}
		}
		if len(full) > 0 {
			where = " AND j.webhook_id NOT IN (" + strings.Join(full, ", ") + ")"
		}
		rows, err := q.QueryContext(ctx, `SELECT j.id, j.webhook_id, j.activity_id, j.attempts FROM webhook_jobs j
			JOIN webhooks h ON h.id = j.webhook_id
			WHERE h.enabled = ? AND j.next_at <= ? AND (j.lease_until IS NULL OR j.lease_until < ?)`+where+`
			ORDER BY j.next_at, j.id LIMIT ?`+db.d.SkipLocked("j"), append(args, limit*2)...)
		if err != nil {
			return err
		}
		taken := map[int64]int{}
		for rows.Next() {
			var j roster.WebhookJob
			var hook, act int64
			if err := rows.Scan(&j.ID, &hook, &act, &j.Attempt); err != nil {
				rows.Close()
				return err
			}
			most := perWebhook
			if r, ok := room[hook]; ok {
				most = r
			}
			if len(jobs) == limit || taken[hook] >= most {
				continue
			}
			taken[hook]++
			j.Attempt++
			j.Webhook, j.Activity = &roster.Webhook{ID: hook}, &roster.Activity{ID: act}
			jobs = append(jobs, &j)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(jobs) == 0 {
			return err
		}
		ids := make([]string, len(jobs))
		for i, j := range jobs {
			ids[i] = fmt.Sprint(j.ID)
		}
		in := " IN (" + strings.Join(ids, ", ") + ")"
		if _, err := q.ExecContext(ctx, "UPDATE webhook_jobs SET lease_owner = ?, lease_until = ? WHERE id"+in,
			owner, db.t(now.Add(lease))); err != nil {
			return err
		}
		return fillJobs(ctx, q, jobs)
	})
	return jobs, err
}

// fillJobs reads the webhooks and activities of jobs.
func fillJobs(ctx context.Context, q Querier, jobs []*roster.WebhookJob) error {
	hooks, acts := map[int64]*roster.Webhook{}, map[int64]*roster.Activity{}
	var hookIDs, actIDs []string
	for _, j := range jobs {
		if _, ok := hooks[j.Webhook.ID]; !ok {
			hooks[j.Webhook.ID] = nil
			hookIDs = append(hookIDs, fmt.Sprint(j.Webhook.ID))
		}
		if _, ok := acts[j.Activity.ID]; !ok {
			acts[j.Activity.ID] = nil
			actIDs = append(actIDs, fmt.Sprint(j.Activity.ID))
		}
	}
	rows, err := q.QueryContext(ctx, "SELECT "+webhookColumns+" FROM webhooks h WHERE h.id IN ("+strings.Join(hookIDs, ", ")+")")
	if err != nil {
		return err
	}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			rows.Close()
			return err
		}
		hooks[w.ID] = w
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = q.QueryContext(ctx, "SELECT "+activityColumns+activityFrom+" WHERE a.id IN ("+strings.Join(actIDs, ", ")+")")
	if err != nil {
		return err
	}
	for rows.Next() {
		a, err := scanActivity(rows)
		if err != nil {
			rows.Close()
			return err
		}
		acts[a.ID] = a
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, j := range jobs {
		if hooks[j.Webhook.ID] == nil || acts[j.Activity.ID] == nil {
			return fmt.Errorf("webhook job %d: webhook %d or activity %d is gone", j.ID, j.Webhook.ID, j.Activity.ID)
		}
		j.Webhook, j.Activity = hooks[j.Webhook.ID], acts[j.Activity.ID]
	}
	return nil
}

// FinishWebhookJobs logs each attempt, updates its webhook's delivery
// state and, while owner holds the lease, deletes or reschedules the job,
// all in one transaction (the Deliverer batches the attempts that finish
// together). It touches no activity, so on PostgreSQL it runs without the
// write lock (as leases do) and never queues behind the API's writes; a
// disable, which records webhook.disabled by the webhook's creator, takes
// it.
func (db *DB) FinishWebhookJobs(ctx context.Context, owner string, done []roster.WebhookFinish) error {
	ctx = background(ctx)
	finish := func(q Querier, f roster.WebhookFinish) error {
		job, r := f.Job, f.Result
		if r.Delivered || r.NextAt == nil {
			if _, err := q.ExecContext(ctx, "DELETE FROM webhook_jobs WHERE id = ? AND lease_owner = ?", job.ID, owner); err != nil {
				return err
			}
		} else if _, err := q.ExecContext(ctx, `UPDATE webhook_jobs SET attempts = ?, next_at = ?, lease_owner = '', lease_until = NULL
			WHERE id = ? AND lease_owner = ?`, job.Attempt, db.t(*r.NextAt), job.ID, owner); err != nil {
			return err
		}
		act := job.Activity.ID
		return db.logAttempt(ctx, q, job.Webhook.ID, &act, job.Attempt, r)
	}
	disables := false
	for _, f := range done {
		disables = disables || f.Result.Disable != ""
	}
	if !disables {
		return db.leaseTx(ctx, func(q Querier) error {
			for _, f := range done {
				if err := finish(q, f); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return db.tx(ctx, func(tx *wtx) error {
		for _, f := range done {
			if err := finish(tx, f); err != nil {
				return err
			}
			if f.Result.Disable != "" {
				if err := db.disableWebhook(ctx, tx, f.Job.Webhook.ID, f.Result.Disable); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// logAttempt inserts the delivery row and updates the webhook's state.
func (db *DB) logAttempt(ctx context.Context, q Querier, hook int64, activity *int64, attempt int, r *roster.WebhookResult) error {
	var next any
	if r.NextAt != nil && !r.Delivered {
		next = db.t(*r.NextAt)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, activity_id, attempt, status, duration_ms, error, response_body, at, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, hook, activity, attempt, r.Status, r.DurationMs, r.Error, r.ResponseBody, db.t(r.At), next); err != nil {
		return err
	}
	var failing any // a success ends the failing streak; a failure starts one
	if !r.Delivered {
		failing = db.t(r.At)
	}
	_, err := q.ExecContext(ctx, "UPDATE webhooks SET last_delivery_at = ?, last_status = ?, failing_since = CASE WHEN ? THEN NULL ELSE coalesce(failing_since, ?) END WHERE id = ?",
		db.t(r.At), r.Status, r.Delivered, failing, hook)
	return err
}

// disableWebhook turns an enabled webhook off with reason and records
// webhook.disabled by its creator; an already disabled one is left as is.
func (db *DB) disableWebhook(ctx context.Context, tx *wtx, hook int64, reason string) error {
	res, err := tx.ExecContext(ctx, "UPDATE webhooks SET enabled = ?, disabled_reason = ? WHERE id = ? AND enabled = ?", false, reason, hook, true)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	w, err := findWebhook(ctx, tx, hook)
	if err != nil {
		return err
	}
	var creator int64
	if err := tx.QueryRowContext(ctx, "SELECT created_by FROM webhooks WHERE id = ?", hook).Scan(&creator); err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]string{"reason": reason})
	return tx.insertActivity(ctx, &roster.Activity{ActorID: creator, Verb: roster.VerbWebhookDisabled, Object: webhookObject(w),
		Data: data, Published: db.Now()})
}

// RecordWebhookTest logs a test send as attempt 1 without an activity.
func (db *DB) RecordWebhookTest(ctx context.Context, webhookID int64, r *roster.WebhookResult) (*roster.WebhookDelivery, error) {
	d := &roster.WebhookDelivery{WebhookID: webhookID, Attempt: 1, Status: r.Status, DurationMs: r.DurationMs, Error: r.Error,
		ResponseBody: r.ResponseBody, At: r.At.Truncate(1e3)}
	err := db.tx(ctx, func(tx *wtx) error {
		if _, err := findWebhook(ctx, tx, webhookID); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, attempt, status, duration_ms, error, response_body, at)
			VALUES (?, 1, ?, ?, ?, ?, ?) RETURNING id`, webhookID, r.Status, r.DurationMs, r.Error, r.ResponseBody, db.t(r.At)).Scan(&d.ID)
	})
	return d, err
}

// PruneWebhookDeliveries deletes logged attempts older than keep.
func (db *DB) PruneWebhookDeliveries(ctx context.Context, keep time.Duration) error {
	return db.tx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE at < ?", db.t(db.Now().Add(-keep)))
		return err
	})
}
