package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.WorkspaceService = (*DB)(nil)

// accessibleSQL selects the ids of the workspaces a user (bound twice) can
// access, directly or through a group. Every visibility check uses it.
const accessibleSQL = `SELECT workspace_id FROM workspace_user_grants WHERE user_id = ?
	UNION SELECT gg.workspace_id FROM workspace_group_grants gg
	JOIN group_members gm ON gm.group_id = gg.group_id WHERE gm.user_id = ?`

const workspaceColumns = "w.id, w.name, w.slug, w.created_at"

func scanWorkspace(s Scanner) (*roster.Workspace, error) {
	var w roster.Workspace
	var created dbTime
	if err := s.Scan(&w.ID, &w.Name, &w.Slug, &created); err != nil {
		return nil, err
	}
	w.CreatedAt = created.t
	return &w, nil
}

// FindWorkspaceByID returns a workspace.
func (db *DB) FindWorkspaceByID(ctx context.Context, id int64) (*roster.Workspace, error) {
	return findWorkspace(ctx, db.read, id)
}

func findWorkspace(ctx context.Context, q Querier, id int64) (*roster.Workspace, error) {
	w, err := scanWorkspace(q.QueryRowContext(ctx, "SELECT "+workspaceColumns+" FROM workspaces w WHERE w.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("Workspace")
	}
	return w, err
}

// FindWorkspaces lists the workspaces viewer can access (admins: all), by id.
func (db *DB) FindWorkspaces(ctx context.Context, viewer *roster.User, p roster.Page) ([]*roster.Workspace, int, error) {
	return db.findWorkspaces(ctx, viewer, "", p)
}

// SearchWorkspaces is FindWorkspaces narrowed to the workspaces whose name
// or slug contains q, ignoring ASCII case.
func (db *DB) SearchWorkspaces(ctx context.Context, viewer *roster.User, q string, p roster.Page) ([]*roster.Workspace, int, error) {
	return db.findWorkspaces(ctx, viewer, q, p)
}

func (db *DB) findWorkspaces(ctx context.Context, viewer *roster.User, q string, p roster.Page) ([]*roster.Workspace, int, error) {
	var conds []string
	var args []any
	if !viewer.IsAdmin {
		conds, args = append(conds, "w.id IN ("+accessibleSQL+")"), append(args, viewer.ID, viewer.ID)
	}
	if q != "" {
		like := containsPattern(q)
		conds, args = append(conds, `(lower(w.name) LIKE ? ESCAPE '\' OR w.slug LIKE ? ESCAPE '\')`), append(args, like, like)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM workspaces w"+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+workspaceColumns+" FROM workspaces w"+where+" ORDER BY w.id LIMIT ? OFFSET ?",
		append(args, p.Limit, p.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	list := []*roster.Workspace{}
	for rows.Next() {
		w, err := scanWorkspace(rows)
		if err != nil {
			return nil, 0, err
		}
		list = append(list, w)
	}
	return list, total, rows.Err()
}

func workspaceObject(w *roster.Workspace) *roster.ActivityObject {
	return &roster.ActivityObject{Type: "workspace", ID: strconv.FormatInt(w.ID, 10), Name: w.Name}
}

var errSlugTaken = &roster.Error{Code: roster.ECONFLICT, Message: "A workspace with that slug already exists.",
	Fields: map[string][]string{"slug": {"A workspace with that slug already exists."}}}

func slugTaken(ctx context.Context, q Querier, slug string, except int64) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT count(*) FROM workspaces WHERE slug = ? AND id <> ?", slug, except).Scan(&n)
	return n > 0, err
}

// CreateWorkspace stores w and records workspace.created in it. A derived
// slug that is taken gets a numeric suffix; a given one that is taken is a
// conflict.
func (db *DB) CreateWorkspace(ctx context.Context, actor int64, w *roster.Workspace) error {
	now := db.Now()
	err := db.tx(ctx, func(tx *wtx) error {
		if w.Slug == "" {
			base := roster.Slugify(w.Name)
			w.Slug = base
			for i := 2; ; i++ {
				taken, err := slugTaken(ctx, tx, w.Slug, 0)
				if err != nil {
					return err
				} else if !taken {
					break
				}
				w.Slug = base + "-" + strconv.Itoa(i)
			}
		} else if taken, err := slugTaken(ctx, tx, w.Slug, 0); err != nil {
			return err
		} else if taken {
			return errSlugTaken
		}
		now = now.Truncate(time.Microsecond)
		err := tx.QueryRowContext(ctx, "INSERT INTO workspaces (name, slug, created_at) VALUES (?, ?, ?) RETURNING id",
			w.Name, w.Slug, db.t(now)).Scan(&w.ID)
		if err != nil {
			return err
		}
		w.CreatedAt = now
		err = tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbWorkspaceCreated,
			Object: workspaceObject(w), WorkspaceID: &w.ID, Published: now})
		return err
	})
	return err
}

// UpdateWorkspace renames a workspace or changes its slug.
func (db *DB) UpdateWorkspace(ctx context.Context, actor, id int64, upd roster.WorkspaceUpdate) (*roster.Workspace, error) {
	var w *roster.Workspace
	err := db.tx(ctx, func(tx *wtx) error {
		var err error
		if w, err = findWorkspace(ctx, tx, id); err != nil {
			return err
		}
		if upd.Name != nil {
			w.Name = *upd.Name
		}
		if upd.Slug != nil && *upd.Slug != w.Slug {
			if taken, err := slugTaken(ctx, tx, *upd.Slug, id); err != nil {
				return err
			} else if taken {
				return errSlugTaken
			}
			w.Slug = *upd.Slug
		}
		_, err = tx.ExecContext(ctx, "UPDATE workspaces SET name = ?, slug = ? WHERE id = ?", w.Name, w.Slug, id)
		return err
	})
	return w, err
}

// DeleteWorkspace removes a workspace and its grants. Its activities stay
// (visible to their actors and admins only, with a null workspace).
func (db *DB) DeleteWorkspace(ctx context.Context, actor, id int64) error {
	return db.tx(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM workspaces WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("Workspace")
		}
		return nil
	})
}

// WorkspaceRole returns the strongest role of user in a workspace.
func (db *DB) WorkspaceRole(ctx context.Context, userID, workspaceID int64) (roster.Role, error) {
	return workspaceRole(ctx, db.read, userID, workspaceID)
}

func workspaceRole(ctx context.Context, q Querier, userID, workspaceID int64) (roster.Role, error) {
	var role sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT max(role) FROM (
		SELECT role FROM workspace_user_grants WHERE workspace_id = ? AND user_id = ?
		UNION ALL
		SELECT gg.role FROM workspace_group_grants gg JOIN group_members gm ON gm.group_id = gg.group_id
		 WHERE gg.workspace_id = ? AND gm.user_id = ?) r`, workspaceID, userID, workspaceID, userID).Scan(&role)
	return roster.Role(role.Int64), err
}

// FindGrants lists a workspace's grants: users first, then groups, by id.
func (db *DB) FindGrants(ctx context.Context, workspaceID int64, p roster.Page) ([]*roster.Grant, int, error) {
	const grants = `SELECT 'user' AS type, g.user_id AS sid, u.username AS name, g.role FROM workspace_user_grants g
		JOIN users u ON u.id = g.user_id WHERE g.workspace_id = ?
		UNION ALL
		SELECT 'group', g.group_id, gr.name, g.role FROM workspace_group_grants g
		JOIN groups gr ON gr.id = g.group_id WHERE g.workspace_id = ?`
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	if _, err := findWorkspace(ctx, tx, workspaceID); err != nil {
		return nil, 0, err
	}
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ("+grants+") g", workspaceID, workspaceID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT type, sid, name, role FROM ("+grants+") g ORDER BY type DESC, sid LIMIT ? OFFSET ?",
		workspaceID, workspaceID, p.Limit, p.Offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	list := []*roster.Grant{}
	for rows.Next() {
		var g roster.Grant
		if err := rows.Scan(&g.Subject.Type, &g.Subject.ID, &g.Subject.Name, &g.Role); err != nil {
			return nil, 0, err
		}
		list = append(list, &g)
	}
	return list, total, rows.Err()
}

// subjectName checks that a grant's subject exists and returns its name.
func subjectName(ctx context.Context, q Querier, s roster.Subject) (string, error) {
	var name string
	var err error
	switch s.Type {
	case "user":
		err = q.QueryRowContext(ctx, "SELECT username FROM users WHERE id = ?", s.ID).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return "", errNotFound("User")
		}
	case "group":
		err = q.QueryRowContext(ctx, "SELECT name FROM groups WHERE id = ?", s.ID).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return "", errNotFound("Group")
		}
	default:
		return "", roster.Errorf(roster.EINVALID, "Unknown subject type %q.", s.Type)
	}
	return name, err
}

func grantTable(s roster.Subject) (table, column string) {
	if s.Type == "group" {
		return "workspace_group_grants", "group_id"
	}
	return "workspace_user_grants", "user_id"
}

func subjectObject(s roster.Subject) *roster.ActivityObject {
	return &roster.ActivityObject{Type: s.Type, ID: strconv.FormatInt(s.ID, 10), Name: s.Name}
}

// SetGrant creates or replaces a grant and records workspace.permission_granted.
func (db *DB) SetGrant(ctx context.Context, actor, workspaceID int64, g *roster.Grant) error {
	now := db.Now()
	err := db.tx(ctx, func(tx *wtx) error {
		if _, err := findWorkspace(ctx, tx, workspaceID); err != nil {
			return err
		}
		name, err := subjectName(ctx, tx, g.Subject)
		if err != nil {
			return err
		}
		g.Subject.Name = name
		table, col := grantTable(g.Subject)
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (workspace_id, "+col+", role) VALUES (?, ?, ?) ON CONFLICT (workspace_id, "+col+") DO UPDATE SET role = excluded.role",
			workspaceID, g.Subject.ID, int(g.Role)); err != nil {
			return err
		}
		data, _ := json.Marshal(map[string]string{"role": g.Role.String()})
		err = tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbWorkspacePermissionGranted,
			Object: subjectObject(g.Subject), WorkspaceID: &workspaceID, Data: data, Published: now})
		return err
	})
	return err
}

// DeleteGrant removes a grant and records workspace.permission_revoked.
func (db *DB) DeleteGrant(ctx context.Context, actor, workspaceID int64, s roster.Subject) error {
	now := db.Now()
	err := db.tx(ctx, func(tx *wtx) error {
		if _, err := findWorkspace(ctx, tx, workspaceID); err != nil {
			return err
		}
		name, err := subjectName(ctx, tx, s)
		if err != nil {
			return err
		}
		s.Name = name
		table, col := grantTable(s)
		var role int
		err = tx.QueryRowContext(ctx, "DELETE FROM "+table+" WHERE workspace_id = ? AND "+col+" = ? RETURNING role", workspaceID, s.ID).Scan(&role)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotFound("Grant")
		} else if err != nil {
			return err
		}
		data, _ := json.Marshal(map[string]string{"role": roster.Role(role).String()})
		err = tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbWorkspacePermissionRevoked,
			Object: subjectObject(s), WorkspaceID: &workspaceID, Data: data, Published: now})
		return err
	})
	return err
}

// effectiveSQL lists (user_id, role, via, kind) for every way a user has
// access to a workspace; bind the workspace id twice.
const effectiveSQL = `SELECT user_id, role, 'direct' AS via, 0 AS kind FROM workspace_user_grants WHERE workspace_id = ?
	UNION ALL
	SELECT gm.user_id, gg.role, g.name, 1 FROM workspace_group_grants gg
	JOIN groups g ON g.id = gg.group_id JOIN group_members gm ON gm.group_id = gg.group_id
	WHERE gg.workspace_id = ?`

// FindMembers lists the effective members of a workspace by user id.
func (db *DB) FindMembers(ctx context.Context, workspaceID int64, p roster.Page) ([]*roster.Member, int, error) {
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	if _, err := findWorkspace(ctx, tx, workspaceID); err != nil {
		return nil, 0, err
	}
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(DISTINCT user_id) FROM ("+effectiveSQL+") e", workspaceID, workspaceID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT e.user_id, e.role, e.via, `+UserColumns+` FROM (`+effectiveSQL+`) e
		JOIN users u ON u.id = e.user_id
		WHERE e.user_id IN (SELECT DISTINCT user_id FROM (`+effectiveSQL+`) e2 ORDER BY user_id LIMIT ? OFFSET ?)
		ORDER BY e.user_id, e.kind, e.via`, workspaceID, workspaceID, workspaceID, workspaceID, p.Limit, p.Offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	list := []*roster.Member{}
	for rows.Next() {
		var uid int64
		var role roster.Role
		var via string
		var u *roster.User
		var err error
		// scanUser takes the user columns first; read the three leading ones via extra.
		u, err = scanMemberRow(rows, &uid, &role, &via)
		if err != nil {
			return nil, 0, err
		}
		if n := len(list); n > 0 && list[n-1].User.ID == uid {
			m := list[n-1]
			m.Role = max(m.Role, role)
			m.Via = append(m.Via, via)
			continue
		}
		list = append(list, &roster.Member{User: u, Role: role, Via: []string{via}})
	}
	return list, total, rows.Err()
}

func scanMemberRow(rows *sql.Rows, uid *int64, role *roster.Role, via *string) (*roster.User, error) {
	return scanUser(prefixScanner{rows, []any{uid, role, via}})
}

// prefixScanner scans leading columns into pre before the user columns.
type prefixScanner struct {
	s   Scanner
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error {
	return p.s.Scan(append(append([]any{}, p.pre...), dest...)...)
}

// inClause returns "?, ?, ..." for n values.
func inClause(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
