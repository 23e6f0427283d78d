package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/rosterhq/roster"
)

var _ roster.WebhookService = (*DB)(nil)

const webhookColumns = `h.id, h.url, h.description, h.verbs, h.workspace_id, h.enabled, h.secret, h.prev_secret, h.prev_secret_until,
	h.created_at, h.last_delivery_at, h.last_status, h.failing_since, h.disabled_reason`

func scanWebhook(s Scanner) (*roster.Webhook, error) {
	var w roster.Webhook
	var verbs string
	var ws sql.NullInt64
	var status sql.NullInt64
	var prevUntil, created, last, failing dbTime
	if err := s.Scan(&w.ID, &w.URL, &w.Description, &verbs, &ws, &w.Enabled, &w.Secret, &w.PrevSecret, &prevUntil,
		&created, &last, &status, &failing, &w.DisabledReason); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(verbs), &w.Verbs); err != nil {
		return nil, err
	}
	if ws.Valid {
		w.WorkspaceID = &ws.Int64
	}
	if status.Valid {
		n := int(status.Int64)
		w.LastStatus = &n
	}
	w.PrevSecretUntil, w.CreatedAt, w.LastDeliveryAt, w.FailingSince = prevUntil.ptr(), created.t, last.ptr(), failing.ptr()
	return &w, nil
}

// stringsJSON stores a list of strings as a JSON array (never null).
func stringsJSON(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func webhookObject(w *roster.Webhook) *roster.ActivityObject {
	return &roster.ActivityObject{Type: "webhook", ID: strconv.FormatInt(w.ID, 10), Name: w.URL}
}

func findWebhook(ctx context.Context, q Querier, id int64) (*roster.Webhook, error) {
	w, err := scanWebhook(q.QueryRowContext(ctx, "SELECT "+webhookColumns+" FROM webhooks h WHERE h.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("Webhook")
	}
	return w, err
}

// CreateWebhook stores w with a new secret; it receives the activities
// committed after its own webhook.created (after_activity), which ids
// serialized by the write lock make exact.
func (db *DB) CreateWebhook(ctx context.Context, actor int64, w *roster.Webhook) error {
	now := db.Now()
	w.Secret, w.CreatedAt = roster.NewWebhookSecret(), now.Truncate(1e3)
	return db.tx(ctx, func(tx *wtx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO webhooks (url, description, verbs, workspace_id, enabled, secret, after_activity, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id`, w.URL, w.Description, stringsJSON(w.Verbs), w.WorkspaceID, w.Enabled,
			w.Secret, actor, db.t(now)).Scan(&w.ID)
		if err != nil {
			return err
		}
		a := &roster.Activity{ActorID: actor, Verb: "webhook.created", Object: webhookObject(w), Published: now}
		if err := tx.insertActivity(ctx, a); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE webhooks SET after_activity = ? WHERE id = ?", a.ID, w.ID)
		return err
	})
}

// FindWebhooks returns a page of webhooks in id order and their total.
func (db *DB) FindWebhooks(ctx context.Context, p roster.Page) ([]*roster.Webhook, int, error) {
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM webhooks").Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+webhookColumns+" FROM webhooks h ORDER BY h.id LIMIT ? OFFSET ?", p.Limit, p.Offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []*roster.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, w)
	}
	return out, total, rows.Err()
}

// FindWebhookByID returns one webhook.
func (db *DB) FindWebhookByID(ctx context.Context, id int64) (*roster.Webhook, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return findWebhook(ctx, db.read, id)
}

// UpdateWebhook applies upd and records webhook.updated with the changed
// field names. Enabling a disabled webhook clears its failure state and
// makes its pending jobs due now.
func (db *DB) UpdateWebhook(ctx context.Context, actor, id int64, upd roster.WebhookUpdate) (*roster.Webhook, error) {
	now := db.Now()
	var out *roster.Webhook
	err := db.tx(ctx, func(tx *wtx) error {
		w, err := findWebhook(ctx, tx, id)
		if err != nil {
			return err
		}
		var fields []string
		if upd.URL != nil && *upd.URL != w.URL {
			w.URL, fields = *upd.URL, append(fields, "url")
		}
		if upd.Description != nil && *upd.Description != w.Description {
			w.Description, fields = *upd.Description, append(fields, "description")
		}
		if upd.Verbs != nil && stringsJSON(*upd.Verbs) != stringsJSON(w.Verbs) {
			w.Verbs, fields = *upd.Verbs, append(fields, "verbs")
		}
		if upd.WorkspaceID != nil {
			nw, old := *upd.WorkspaceID, w.WorkspaceID
			if (nw == nil) != (old == nil) || (nw != nil && *nw != *old) {
				w.WorkspaceID, fields = nw, append(fields, "workspace")
			}
		}
		reenable := upd.Enabled != nil && *upd.Enabled && !w.Enabled
		if upd.Enabled != nil && *upd.Enabled != w.Enabled {
			w.Enabled, fields = *upd.Enabled, append(fields, "enabled")
		}
		if len(fields) == 0 {
			out = w
			return nil
		}
		if reenable {
			w.FailingSince, w.DisabledReason = nil, ""
			if _, err := tx.ExecContext(ctx, "UPDATE webhook_jobs SET next_at = ? WHERE webhook_id = ?", db.t(now), id); err != nil {
				return err
			}
		}
		var failing any
		if w.FailingSince != nil {
			failing = db.t(*w.FailingSince)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET url = ?, description = ?, verbs = ?, workspace_id = ?, enabled = ?,
			failing_since = ?, disabled_reason = ? WHERE id = ?`, w.URL, w.Description, stringsJSON(w.Verbs), w.WorkspaceID, w.Enabled,
			failing, w.DisabledReason, id); err != nil {
			return err
		}
		data, _ := json.Marshal(map[string][]string{"fields": fields})
		out = w
		return tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: "webhook.updated", Object: webhookObject(w), Data: data, Published: now})
	})
	return out, err
}

// DeleteWebhook removes a webhook with its pending jobs and its log.
func (db *DB) DeleteWebhook(ctx context.Context, actor, id int64) error {
	return db.tx(ctx, func(tx *wtx) error {
		w, err := findWebhook(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, q := range []string{"DELETE FROM webhook_jobs WHERE webhook_id = ?", "DELETE FROM webhook_deliveries WHERE webhook_id = ?",
			"DELETE FROM webhooks WHERE id = ?"} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: "webhook.deleted", Object: webhookObject(w), Published: db.Now()})
	})
}

// RotateWebhookSecret makes a new secret and keeps the old one signing
// for roster.WebhookSecretOverlap.
func (db *DB) RotateWebhookSecret(ctx context.Context, actor, id int64) (*roster.Webhook, error) {
	now := db.Now()
	var out *roster.Webhook
	err := db.tx(ctx, func(tx *wtx) error {
		w, err := findWebhook(ctx, tx, id)
		if err != nil {
			return err
		}
		until := now.Add(roster.WebhookSecretOverlap).Truncate(1e3)
		w.PrevSecret, w.PrevSecretUntil, w.Secret = w.Secret, &until, roster.NewWebhookSecret()
		if _, err := tx.ExecContext(ctx, "UPDATE webhooks SET secret = ?, prev_secret = ?, prev_secret_until = ? WHERE id = ?",
			w.Secret, w.PrevSecret, db.t(until), id); err != nil {
			return err
		}
		out = w
		return tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: "webhook.secret_rotated", Object: webhookObject(w), Published: now})
	})
	return out, err
}

const deliveryColumns = "d.id, d.webhook_id, d.activity_id, d.attempt, d.status, d.duration_ms, d.error, d.response_body, d.at, d.next_attempt_at"

// FindWebhookDeliveries returns a page of a webhook's attempts, newest
// first, and their total; ENOTFOUND for an unknown webhook.
func (db *DB) FindWebhookDeliveries(ctx context.Context, id int64, p roster.Page) ([]*roster.WebhookDelivery, int, error) {
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	if _, err := findWebhook(ctx, tx, id); err != nil {
		return nil, 0, err
	}
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ?", id).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries d WHERE d.webhook_id = ? ORDER BY d.id DESC LIMIT ? OFFSET ?",
		id, p.Limit, p.Offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []*roster.WebhookDelivery{}
	for rows.Next() {
		var d roster.WebhookDelivery
		var act, status sql.NullInt64
		var at, next dbTime
		if err := rows.Scan(&d.ID, &d.WebhookID, &act, &d.Attempt, &status, &d.DurationMs, &d.Error, &d.ResponseBody, &at, &next); err != nil {
			return nil, 0, err
		}
		if act.Valid {
			d.ActivityID = &act.Int64
		}
		if status.Valid {
			n := int(status.Int64)
			d.Status = &n
		}
		d.At, d.NextAttemptAt = at.t, next.ptr()
		out = append(out, &d)
	}
	return out, total, rows.Err()
}
