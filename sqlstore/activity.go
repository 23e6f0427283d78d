package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// insertActivity stores a inside the transaction, sets its id, and
// remembers the id so that the commit is announced to streams.
func (tx *wtx) insertActivity(ctx context.Context, a *roster.Activity) error {
	err := tx.QueryRowContext(ctx, `INSERT INTO activities (actor_id, verb, object_type, object_id, object_name, workspace_id, data, published)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, tx.activityArgs(a)...).Scan(&a.ID)
	if err != nil {
		return err
	}
	tx.last = max(tx.last, a.ID)
	return nil
}

// activityArgs are the 8 values of a's row in activities; it truncates
// a.Published to what the database keeps.
func (tx *wtx) activityArgs(a *roster.Activity) []any {
	var objType, objID, objName *string
	if a.Object != nil {
		objType, objID, objName = &a.Object.Type, &a.Object.ID, &a.Object.Name
	}
	data := string(a.Data)
	if data == "" {
		data = "{}"
	}
	a.Published = a.Published.Truncate(time.Microsecond)
	return []any{a.ActorID, a.Verb, objType, objID, objName, a.WorkspaceID, data, tx.db.t(a.Published)}
}

// activityBatch is the rows of one insertActivities statement (8
// parameters each, within SQLite's 32766).
const activityBatch = 200

// insertActivities is insertActivity for many activities, a batch of rows
// a statement: a group's 10,000 new members were 10,000 round trips on
// PostgreSQL (a minute of TestSCIMLargeGroup). Ids follow the order of as.
func (tx *wtx) insertActivities(ctx context.Context, as []*roster.Activity) error {
	for len(as) > 0 {
		batch := as[:min(len(as), activityBatch)]
		as = as[len(batch):]
		args := make([]any, 0, 8*len(batch))
		for _, a := range batch {
			args = append(args, tx.activityArgs(a)...)
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO activities (actor_id, verb, object_type, object_id, object_name, workspace_id, data, published)
			VALUES `+strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", len(batch)), ", ")+` RETURNING id`, args...)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) != len(batch) {
			return fmt.Errorf("inserted %d activities, got %d ids", len(batch), len(ids))
		}
		slices.Sort(ids) // the rows' ids are allocated in VALUES order
		for i, a := range batch {
			a.ID = ids[i]
			tx.last = max(tx.last, a.ID)
		}
	}
	return nil
}

var _ roster.ActivityService = (*DB)(nil)

const activityColumns = `a.id, a.actor_id, u.username, a.verb, a.object_type, a.object_id, a.object_name,
	a.workspace_id, w.name, a.data, a.published`

const activityFrom = ` FROM activities a LEFT JOIN users u ON u.id = a.actor_id LEFT JOIN workspaces w ON w.id = a.workspace_id`

func scanActivity(s Scanner) (*roster.Activity, error) {
	var a roster.Activity
	var username, objType, objID, objName, wsName sql.NullString
	var wsID sql.NullInt64
	var data string
	var published dbTime
	if err := s.Scan(&a.ID, &a.ActorID, &username, &a.Verb, &objType, &objID, &objName, &wsID, &wsName, &data, &published); err != nil {
		return nil, err
	}
	if username.Valid {
		a.ActorUsername = &username.String
	}
	if objType.Valid {
		a.Object = &roster.ActivityObject{Type: objType.String, ID: objID.String, Name: objName.String}
	}
	if wsID.Valid && wsName.Valid { // a deleted workspace shows as null
		a.WorkspaceID, a.WorkspaceName = &wsID.Int64, wsName.String
	}
	a.Data = json.RawMessage(data)
	a.Published = published.t
	return &a, nil
}

// activityWhere builds the WHERE clause of a feed, the visibility rule included.
func (db *DB) activityWhere(f roster.ActivityFilter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.ActorID != nil {
		add("a.actor_id = ?", *f.ActorID)
	}
	if f.WorkspaceID != nil {
		add("a.workspace_id = ?", *f.WorkspaceID)
	}
	if p, ok := strings.CutSuffix(f.Verb, ".*"); ok {
		add("a.verb > ? AND a.verb < ?", p+".", p+"/") // '/' sorts right after '.'
	} else if f.Verb != "" {
		add("a.verb = ?", f.Verb)
	}
	if f.Since != nil {
		add("a.published >= ?", db.t(*f.Since))
	}
	if f.Until != nil {
		add("a.published < ?", db.t(*f.Until))
	}
	if f.Before > 0 {
		add("a.id < ?", f.Before)
	}
	if f.After > 0 {
		add("a.id > ?", f.After)
	}
	if f.UpTo > 0 {
		add("a.id <= ?", f.UpTo)
	}
	// Visibility: admins see everything, actors their own activities, and
	// anyone else only activities in workspaces they can access.
	v := f.Viewer
	if !v.IsAdmin && (f.ActorID == nil || *f.ActorID != v.ID) {
		add("(a.actor_id = ? OR a.workspace_id IN ("+accessibleSQL+"))", v.ID, v.ID, v.ID)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// FindActivities returns one page of visible activities.
func (db *DB) FindActivities(ctx context.Context, f roster.ActivityFilter) ([]*roster.Activity, error) {
	where, args := db.activityWhere(f)
	order := " ORDER BY a.id DESC"
	if f.Ascending {
		order = " ORDER BY a.id ASC"
	}
	return db.queryActivities(ctx, "SELECT "+activityColumns+activityFrom+where+order+" LIMIT ? OFFSET ?",
		append(args, f.Limit, f.Offset)...)
}

// queryActivities runs a query selecting activityColumns.
func (db *DB) queryActivities(ctx context.Context, query string, args ...any) ([]*roster.Activity, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	list := []*roster.Activity{}
	err := eachRow(ctx, db.read, query, args, func(rows *sql.Rows) error {
		a, err := scanActivity(rows)
		list = append(list, a)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// CountActivities counts the visible activities of a filter.
func (db *DB) CountActivities(ctx context.Context, f roster.ActivityFilter) (int, error) {
	where, args := db.activityWhere(f)
	var n int
	if f.ActorID == nil {
		err := db.read.QueryRowContext(ctx, "SELECT count(*) FROM activities a"+where, args...).Scan(&n)
		return n, err
	}
	// The actor's existence comes with the count: a separate statement
	// was a fifth of the CPU time of GET /users/{id}/activities (pprof of
	// cmd/roster-bench at 1M users).
	var exists int
	err := db.read.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM users WHERE id = ?), (SELECT count(*) FROM activities a"+where+")",
		append([]any{*f.ActorID}, args...)...).Scan(&exists, &n)
	if err == nil && exists == 0 {
		return 0, errNotFound("User")
	}
	return n, err
}

// CreateActivity stores a posted activity. The actor's username comes
// back with the insert: on PostgreSQL every statement of a write is a
// round trip made while holding the write lock (groupcommit.go), and a
// separate SELECT was one of the four each POST /activities made there.
func (db *DB) CreateActivity(ctx context.Context, a *roster.Activity) error {
	a.Published = db.Now()
	err := db.txPost(ctx, func(tx *wtx) error {
		var username sql.NullString
		err := tx.QueryRowContext(ctx, `INSERT INTO activities (actor_id, verb, object_type, object_id, object_name, workspace_id, data, published)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			RETURNING id, (SELECT u.username FROM users u WHERE u.id = activities.actor_id)`, tx.activityArgs(a)...).Scan(&a.ID, &username)
		if err != nil {
			return err
		}
		tx.last = max(tx.last, a.ID)
		if a.WorkspaceID != nil {
			if w, err := findWorkspace(ctx, tx, *a.WorkspaceID); err != nil {
				return err
			} else {
				a.WorkspaceName = w.Name
			}
		}
		if !username.Valid {
			return errNotFound("User")
		}
		a.ActorUsername = &username.String
		return nil
	}, a)
	return err
}

// LastActivityID returns the newest activity id (0 when there is none).
func (db *DB) LastActivityID(ctx context.Context) (int64, error) {
	var id int64
	err := db.read.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM activities").Scan(&id)
	return id, err
}

// ActivitiesAfter returns up to limit activities with ids above after, oldest
// first, without any visibility filter (the stream broker filters per
// subscriber).
func (db *DB) ActivitiesAfter(ctx context.Context, after int64, limit int) ([]*roster.Activity, error) {
	return db.queryActivities(ctx, "SELECT "+activityColumns+activityFrom+" WHERE a.id > ? ORDER BY a.id LIMIT ?", after, limit)
}

// AdminsAmong returns which of the users are active admins.
func (db *DB) AdminsAmong(ctx context.Context, userIDs []int64) (map[int64]bool, error) {
	return db.idSet(ctx, "SELECT id FROM users WHERE is_admin AND is_active AND id IN", nil, userIDs)
}

// AccessibleAmong returns which of the workspaces viewer can access.
func (db *DB) AccessibleAmong(ctx context.Context, viewerID int64, workspaceIDs []int64) (map[int64]bool, error) {
	return db.idSet(ctx, "SELECT workspace_id FROM ("+accessibleSQL+") acc WHERE workspace_id IN", []any{viewerID, viewerID}, workspaceIDs)
}

// ValidTokens returns which of the token ids still authenticate an active user.
func (db *DB) ValidTokens(ctx context.Context, tokenIDs []int64) (map[int64]bool, error) {
	return db.idSet(ctx, `SELECT t.id FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.expires_at > ? AND u.is_active AND t.id IN`, []any{db.t(db.Now())}, tokenIDs)
}

// idSet runs prefix + " (ids...)" in chunks of at most 500 ids and returns
// the set of ids the query selects.
func (db *DB) idSet(ctx context.Context, prefix string, args []any, ids []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		a := append([]any{}, args...)
		for _, id := range chunk {
			a = append(a, id)
		}
		if err := db.scanIDs(ctx, prefix+" ("+inClause(len(chunk))+")", a, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) scanIDs(ctx context.Context, query string, args []any, out map[int64]bool) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return eachRow(ctx, db.read, query, args, func(rows *sql.Rows) error {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		out[id] = true
		return nil
	})
}

// FindActiveWorkspaces lists the workspaces the actor can access and acted in
// since f.Since, newest activity first. Only activities the viewer may see
// count: a viewer who is neither admin nor the actor sees only workspaces it
// can access too.
func (db *DB) FindActiveWorkspaces(ctx context.Context, f roster.ActiveWorkspaceFilter) ([]*roster.ActiveWorkspace, int, error) {
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	// The actor's access: role and via per workspace.
	rows, err := tx.QueryContext(ctx, `SELECT workspace_id, role, 'direct', 0 FROM workspace_user_grants WHERE user_id = ?
		UNION ALL
		SELECT gg.workspace_id, gg.role, g.name, 1 FROM workspace_group_grants gg
		JOIN groups g ON g.id = gg.group_id JOIN group_members gm ON gm.group_id = gg.group_id WHERE gm.user_id = ?
		ORDER BY 1, 4, 3`, f.ActorID, f.ActorID)
	if err != nil {
		return nil, 0, err
	}
	type access struct {
		role roster.Role
		via  []string
	}
	acc := map[int64]*access{}
	for rows.Next() {
		var ws int64
		var role roster.Role
		var via string
		var kind int
		if err := rows.Scan(&ws, &role, &via, &kind); err != nil {
			rows.Close()
			return nil, 0, err
		}
		a := acc[ws]
		if a == nil {
			a = &access{}
			acc[ws] = a
		}
		a.role = max(a.role, role)
		a.via = append(a.via, via)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(acc) == 0 {
		return []*roster.ActiveWorkspace{}, 0, nil
	}
	query := `SELECT ` + workspaceColumns + `, max(a.published), count(*) FROM activities a JOIN workspaces w ON w.id = a.workspace_id
		WHERE a.actor_id = ? AND a.workspace_id IS NOT NULL AND a.published >= ?`
	args := []any{f.ActorID, db.t(f.Since)}
	if v := f.Viewer; !v.IsAdmin && v.ID != f.ActorID {
		query += " AND a.workspace_id IN (" + accessibleSQL + ")"
		args = append(args, v.ID, v.ID)
	}
	query += " GROUP BY w.id, w.name, w.slug, w.created_at ORDER BY max(a.published) DESC, w.id DESC"
	rows, err = tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var all []*roster.ActiveWorkspace
	for rows.Next() {
		var aw roster.ActiveWorkspace
		var created, last dbTime
		if err := rows.Scan(&aw.ID, &aw.Name, &aw.Slug, &created, &last, &aw.ActivityCount); err != nil {
			return nil, 0, err
		}
		a := acc[aw.ID]
		if a == nil {
			continue // acted there once, but has no access any more
		}
		aw.CreatedAt, aw.LastActiveAt, aw.Role, aw.Via = created.t, last.t, a.role, a.via
		all = append(all, &aw)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	total := len(all)
	start, end := min(f.Offset, total), min(f.Offset+f.Limit, total)
	return append([]*roster.ActiveWorkspace{}, all[start:end]...), total, nil
}
