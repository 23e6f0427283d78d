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

var _ roster.GroupService = (*DB)(nil)

var errGroupNameTaken = &roster.Error{Code: roster.ECONFLICT, Message: "A group with that name already exists.",
	Fields: map[string][]string{"name": {"A group with that name already exists."}}}

// groupColumns are the columns of a roster.Group of groups g, as scanGroup
// reads them.
const groupColumns = "g.id, g.name, g.member_count, g.external_id, g.created_at, g.modified_at, g.version"

func scanGroup(s Scanner) (*roster.Group, error) {
	var g roster.Group
	var externalID sql.NullString
	var created, modified dbTime
	if err := s.Scan(&g.ID, &g.Name, &g.MemberCount, &externalID, &created, &modified, &g.Version); err != nil {
		return nil, err
	}
	g.ExternalID, g.CreatedAt, g.ModifiedAt = externalID.String, created.t, modified.ptr()
	return &g, nil
}

func findGroup(ctx context.Context, q Querier, id int64) (*roster.Group, error) {
	g, err := scanGroup(q.QueryRowContext(ctx, "SELECT "+groupColumns+" FROM groups g WHERE g.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("Group")
	}
	return g, err
}

func groupObject(g *roster.Group) *roster.ActivityObject {
	return &roster.ActivityObject{Type: "group", ID: strconv.FormatInt(g.ID, 10), Name: g.Name}
}

// FindGroupByID returns a group with its member count.
func (db *DB) FindGroupByID(ctx context.Context, id int64) (*roster.Group, error) {
	return findGroup(ctx, db.read, id)
}

// FindGroups lists groups by id.
func (db *DB) FindGroups(ctx context.Context, p roster.Page) ([]*roster.Group, int, error) {
	return db.findGroups(ctx, "", p)
}

// SearchGroups lists the groups whose name contains q, ignoring ASCII
// case, by id.
func (db *DB) SearchGroups(ctx context.Context, q string, p roster.Page) ([]*roster.Group, int, error) {
	return db.findGroups(ctx, q, p)
}

func (db *DB) findGroups(ctx context.Context, q string, p roster.Page) ([]*roster.Group, int, error) {
	where, args := "", []any{}
	if q != "" {
		where, args = ` WHERE lower(name) LIKE ? ESCAPE '\'`, []any{containsPattern(q)}
	}
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM groups"+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	list, err := queryGroups(ctx, tx, "SELECT "+groupColumns+" FROM groups g"+where+" ORDER BY g.id LIMIT ? OFFSET ?",
		append(args, p.Limit, p.Offset)...)
	return list, total, err
}

func queryGroups(ctx context.Context, q Querier, query string, args ...any) ([]*roster.Group, error) {
	list := []*roster.Group{}
	err := eachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		g, err := scanGroup(rows)
		list = append(list, g)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

func groupNameTaken(ctx context.Context, q Querier, name string, except int64) error {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM groups WHERE name_fold = ? AND id <> ?", roster.Fold(name), except).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return errGroupNameTaken
	}
	return nil
}

// CreateGroup stores a new group (with g.ExternalID) and records
// group.created.
func (db *DB) CreateGroup(ctx context.Context, actor int64, g *roster.Group) error {
	now := db.Now()
	return db.tx(ctx, func(tx *wtx) error {
		if err := groupNameTaken(ctx, tx, g.Name, 0); err != nil {
			return err
		}
		g.MemberCount, g.Version, g.CreatedAt, g.ModifiedAt = 0, 1, now.Truncate(time.Microsecond), nil
		err := tx.QueryRowContext(ctx, "INSERT INTO groups (name, name_fold, external_id, created_at) VALUES (?, ?, ?, ?) RETURNING id",
			g.Name, roster.Fold(g.Name), nullIfEmpty(g.ExternalID), db.t(now)).Scan(&g.ID)
		if err != nil {
			return err
		}
		return tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbGroupCreated, Object: groupObject(g), Published: now})
	})
}

// UpdateGroup renames a group and records group.updated.
func (db *DB) UpdateGroup(ctx context.Context, actor, id int64, name string) (*roster.Group, error) {
	return db.PatchGroup(ctx, actor, id, roster.GroupPatch{Name: &name})
}

// DeleteGroup removes a group, its memberships and its grants, and records
// group.deleted.
func (db *DB) DeleteGroup(ctx context.Context, actor, id int64) error {
	return db.tx(ctx, func(tx *wtx) error {
		g, err := findGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM groups WHERE id = ?", id); err != nil {
			return err
		}
		return tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbGroupDeleted, Object: groupObject(g), Published: db.Now()})
	})
}

// FindGroupMembers lists a group's members by user id.
func (db *DB) FindGroupMembers(ctx context.Context, id int64, p roster.Page) ([]*roster.User, int, error) {
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	g, err := findGroup(ctx, tx, id)
	if err != nil {
		return nil, 0, err
	}
	users, err := QueryUsers(ctx, tx, "SELECT "+UserColumns+` FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = ? ORDER BY u.id LIMIT ? OFFSET ?`, id, p.Limit, p.Offset)
	return users, g.MemberCount, err
}

// AddGroupMember adds a user to a group (idempotent: no activity when the
// user already is a member).
func (db *DB) AddGroupMember(ctx context.Context, actor, groupID, userID int64) error {
	return db.changeMembership(ctx, actor, groupID, userID, roster.VerbGroupMemberAdded,
		"INSERT INTO group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT (group_id, user_id) DO NOTHING", nil)
}

// RemoveGroupMember removes a user from a group; ENOTFOUND when the user is
// not a member.
func (db *DB) RemoveGroupMember(ctx context.Context, actor, groupID, userID int64) error {
	return db.changeMembership(ctx, actor, groupID, userID, roster.VerbGroupMemberRemoved,
		"DELETE FROM group_members WHERE group_id = ? AND user_id = ?", errNotFound("Membership"))
}

// changeMembership runs change (bound to group and user) and, when it
// touched a row, records verb in the same transaction; when it touched none
// it returns unchanged (nil for an idempotent change).
func (db *DB) changeMembership(ctx context.Context, actor, groupID, userID int64, verb, change string, unchanged error) error {
	now := db.Now()
	return db.tx(ctx, func(tx *wtx) error {
		g, err := findGroup(ctx, tx, groupID)
		if err != nil {
			return err
		}
		u, err := findUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, change, groupID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return unchanged
		}
		return recordMembership(ctx, tx, actor, g, u.ID, u.Username, verb, now)
	})
}

// containsPattern is a LIKE pattern (escape character \) matching text
// that contains q, lower-cased: for lower(column) LIKE ? ESCAPE '\'.
func containsPattern(q string) string {
	q = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(q))
	return "%" + q + "%"
}

// bumpGroupVersion changes group id's version (its SCIM ETag) and
// modification time: its members changed.
func bumpGroupVersion(ctx context.Context, tx *wtx, id int64, now time.Time) error {
	_, err := tx.ExecContext(ctx, "UPDATE groups SET version = version + 1, modified_at = ? WHERE id = ?", tx.db.t(now), id)
	return err
}

// recordMembership bumps the group's version and records verb
// (group.member_added or group.member_removed) for user id.
func recordMembership(ctx context.Context, tx *wtx, actor int64, g *roster.Group, id int64, username, verb string, now time.Time) error {
	if err := bumpGroupVersion(ctx, tx, g.ID, now); err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]any{"user": map[string]any{"id": id, "username": username}})
	return tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: verb, Object: groupObject(g), Data: data, Published: now})
}
