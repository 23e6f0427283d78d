package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/rosterhq/roster"
)

var _ roster.GroupService = (*DB)(nil)

var errGroupNameTaken = &roster.Error{Code: roster.ECONFLICT, Message: "A group with that name already exists.",
	Fields: map[string][]string{"name": {"A group with that name already exists."}}}

func findGroup(ctx context.Context, q querier, id int64) (*roster.Group, error) {
	var g roster.Group
	err := q.QueryRowContext(ctx, "SELECT id, name, member_count FROM groups WHERE id = ?", id).Scan(&g.ID, &g.Name, &g.MemberCount)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("Group")
	}
	return &g, mapErr(err)
}

// FindGroupByID returns a group with its member count.
func (db *DB) FindGroupByID(ctx context.Context, id int64) (*roster.Group, error) {
	return findGroup(ctx, db.read, id)
}

// FindGroups lists groups by id.
func (db *DB) FindGroups(ctx context.Context, p roster.Page) ([]*roster.Group, int, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, mapErr(err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM groups").Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, name, member_count FROM groups ORDER BY id LIMIT ? OFFSET ?", p.Limit, p.Offset)
	if err != nil {
		return nil, 0, mapErr(err)
	}
	defer rows.Close()
	list := []*roster.Group{}
	for rows.Next() {
		var g roster.Group
		if err := rows.Scan(&g.ID, &g.Name, &g.MemberCount); err != nil {
			return nil, 0, mapErr(err)
		}
		list = append(list, &g)
	}
	return list, total, mapErr(rows.Err())
}

func groupNameTaken(ctx context.Context, q querier, name string, except int64) error {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM groups WHERE name_fold = ? AND id <> ?", roster.Fold(name), except).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return errGroupNameTaken
	}
	return nil
}

// CreateGroup stores a new group.
func (db *DB) CreateGroup(ctx context.Context, actor int64, g *roster.Group) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := groupNameTaken(ctx, tx, g.Name, 0); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO groups (name, name_fold, created_at) VALUES (?, ?, ?)", g.Name, roster.Fold(g.Name), micros(db.Now()))
		if err != nil {
			return err
		}
		g.ID, err = res.LastInsertId()
		g.MemberCount = 0
		return err
	})
}

// UpdateGroup renames a group.
func (db *DB) UpdateGroup(ctx context.Context, actor, id int64, name string) (*roster.Group, error) {
	var g *roster.Group
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if g, err = findGroup(ctx, tx, id); err != nil {
			return err
		}
		if err := groupNameTaken(ctx, tx, name, id); err != nil {
			return err
		}
		g.Name = name
		_, err = tx.ExecContext(ctx, "UPDATE groups SET name = ?, name_fold = ? WHERE id = ?", name, roster.Fold(name), id)
		return err
	})
	return g, err
}

// DeleteGroup removes a group, its memberships and its grants.
func (db *DB) DeleteGroup(ctx context.Context, actor, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM groups WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("Group")
		}
		return nil
	})
}

// FindGroupMembers lists a group's members by user id.
func (db *DB) FindGroupMembers(ctx context.Context, id int64, p roster.Page) ([]*roster.User, int, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, mapErr(err)
	}
	defer tx.Rollback()
	g, err := findGroup(ctx, tx, id)
	if err != nil {
		return nil, 0, err
	}
	users, err := queryUsers(ctx, tx, "SELECT "+userColumns+` FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = ? ORDER BY u.id LIMIT ? OFFSET ?`, id, p.Limit, p.Offset)
	return users, g.MemberCount, err
}

func membershipActivity(ctx context.Context, tx *sql.Tx, actor int64, verb string, g *roster.Group, userID int64, username string, now int64) (int64, error) {
	data, _ := json.Marshal(map[string]any{"user": map[string]any{"id": userID, "username": username}})
	return insertActivity(ctx, tx, &roster.Activity{ActorID: actor, Verb: verb,
		Object: &roster.ActivityObject{Type: "group", ID: strconv.FormatInt(g.ID, 10), Name: g.Name}, Data: data,
		Published: fromMicros(now)})
}

// AddGroupMember adds a user to a group (idempotent).
func (db *DB) AddGroupMember(ctx context.Context, actor, groupID, userID int64) error {
	now := micros(db.Now())
	var lastID int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		g, err := findGroup(ctx, tx, groupID)
		if err != nil {
			return err
		}
		u, err := findUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING", groupID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		lastID, err = membershipActivity(ctx, tx, actor, roster.VerbGroupMemberAdded, g, u.ID, u.Username, now)
		return err
	})
	if err == nil {
		db.published(lastID)
	}
	return err
}

// RemoveGroupMember removes a user from a group.
func (db *DB) RemoveGroupMember(ctx context.Context, actor, groupID, userID int64) error {
	now := micros(db.Now())
	var lastID int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		g, err := findGroup(ctx, tx, groupID)
		if err != nil {
			return err
		}
		u, err := findUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", groupID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("Membership")
		}
		lastID, err = membershipActivity(ctx, tx, actor, roster.VerbGroupMemberRemoved, g, u.ID, u.Username, now)
		return err
	})
	if err == nil {
		db.published(lastID)
	}
	return err
}
