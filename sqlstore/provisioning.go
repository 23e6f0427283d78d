package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.ProvisioningService = (*DB)(nil)

// filterColumn is how a roster.Filter attribute is stored.
type filterColumn struct {
	expr string // the column expression
	kind byte   // 's' text, 'f' folded text (values are folded), 'i' integer, 'b' boolean, 't' time, 'm' group member
	// nullable columns hold NULL for "absent" (pr is IS NOT NULL).
	nullable bool
}

// userFilterColumns and groupFilterColumns map filter attributes to
// columns. Equality on username, email and externalId is an index lookup
// (username_fold and email_fold are unique, users_external_id is partial).
var userFilterColumns = map[string]filterColumn{
	roster.AttrID:           {expr: "u.id", kind: 'i'},
	roster.AttrExternalID:   {expr: "u.external_id", kind: 's', nullable: true},
	roster.AttrUsername:     {expr: "u.username_fold", kind: 'f'},
	roster.AttrEmail:        {expr: "u.email_fold", kind: 'f'},
	roster.AttrFirstName:    {expr: "u.first_fold", kind: 'f'},
	roster.AttrLastName:     {expr: "u.last_fold", kind: 'f'},
	roster.AttrActive:       {expr: "u.is_active", kind: 'b'},
	roster.AttrCreated:      {expr: "u.date_joined", kind: 't'},
	roster.AttrLastModified: {expr: "coalesce(u.modified_at, u.date_joined)", kind: 't'},
}

var groupFilterColumns = map[string]filterColumn{
	roster.AttrID:           {expr: "g.id", kind: 'i'},
	roster.AttrExternalID:   {expr: "g.external_id", kind: 's', nullable: true},
	roster.AttrName:         {expr: "g.name_fold", kind: 'f'},
	roster.AttrCreated:      {expr: "g.created_at", kind: 't'},
	roster.AttrLastModified: {expr: "coalesce(g.modified_at, g.created_at)", kind: 't'},
	roster.AttrMember:       {expr: "g.id", kind: 'm'},
}

// filterSQL turns f into a boolean SQL expression with ? parameters; no
// value ever becomes part of the SQL text.
type filterSQL struct {
	d    Dialect
	cols map[string]filterColumn
	args []any
}

func (b *filterSQL) where(f *roster.Filter) (string, error) {
	switch f.Op {
	case roster.FilterTrue:
		return "1 = 1", nil
	case roster.FilterFalse:
		return "1 = 0", nil
	case roster.FilterAnd, roster.FilterOr:
		parts := make([]string, len(f.Args))
		for i, a := range f.Args {
			p, err := b.where(a)
			if err != nil {
				return "", err
			}
			parts[i] = "(" + p + ")"
		}
		if len(parts) == 0 {
			return "", errBadFilter("empty " + string(f.Op))
		}
		return strings.Join(parts, " "+strings.ToUpper(string(f.Op))+" "), nil
	case roster.FilterNot:
		if len(f.Args) != 1 {
			return "", errBadFilter("not takes one condition")
		}
		p, err := b.where(f.Args[0])
		if err != nil {
			return "", err
		}
		// An absent (NULL) attribute makes its comparison unknown; "not"
		// of it holds, as "ne" does.
		return "NOT coalesce((" + p + "), 1 = 0)", nil
	}
	c, ok := b.cols[f.Attr]
	if !ok {
		return "", errBadFilter("the attribute " + f.Attr + " cannot be filtered")
	}
	return b.compare(c, f)
}

func errBadFilter(msg string) error {
	return &roster.Error{Code: roster.EINVALID, Message: "Invalid filter: " + msg + ".", SCIMType: "invalidFilter"}
}

func (b *filterSQL) arg(v any) string { b.args = append(b.args, v); return "?" }

func (b *filterSQL) compare(c filterColumn, f *roster.Filter) (string, error) {
	if f.Op == roster.FilterPr {
		switch {
		case c.nullable:
			return c.expr + " IS NOT NULL", nil
		case c.kind == 'f' || c.kind == 's':
			return c.expr + " <> ''", nil
		default:
			return "1 = 1", nil
		}
	}
	var v any
	switch c.kind {
	case 's', 'f':
		s, ok := f.Value.(string)
		if !ok {
			return "", errBadFilter(f.Attr + " compares with a string")
		}
		if c.kind == 'f' {
			s = roster.Fold(s)
		}
		switch f.Op {
		case roster.FilterCo:
			return b.d.Strpos() + "(" + c.expr + ", " + b.arg(s) + ") > 0", nil
		case roster.FilterSw:
			return "substr(" + c.expr + ", 1, " + b.arg(len([]rune(s))) + ") = " + b.arg(s), nil
		case roster.FilterEw:
			n := len([]rune(s))
			return "length(" + c.expr + ") >= " + b.arg(n) + " AND substr(" + c.expr + ", length(" + c.expr + ") - " +
				b.arg(n-1) + ") = " + b.arg(s), nil
		}
		v = s
	case 'i', 'm':
		switch x := f.Value.(type) {
		case int64:
			v = x
		default:
			// An id that is not a number names nothing.
			if f.Op == roster.FilterEq {
				return "1 = 0", nil
			}
			if f.Op == roster.FilterNe {
				return "1 = 1", nil
			}
			return "", errBadFilter(f.Attr + " compares with an id")
		}
		if c.kind == 'm' {
			if f.Op != roster.FilterEq {
				return "", errBadFilter("members support only eq")
			}
			return "EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = g.id AND gm.user_id = " + b.arg(v) + ")", nil
		}
	case 'b':
		x, ok := f.Value.(bool)
		if !ok || (f.Op != roster.FilterEq && f.Op != roster.FilterNe) {
			return "", errBadFilter(f.Attr + " compares with true or false, by eq or ne")
		}
		v = x
	case 't':
		x, ok := f.Value.(time.Time)
		if !ok {
			return "", errBadFilter(f.Attr + " compares with a date-time")
		}
		v = b.d.Time(x)
	}
	op, ok := map[roster.FilterOp]string{roster.FilterEq: "=", roster.FilterNe: "<>", roster.FilterGt: ">",
		roster.FilterGe: ">=", roster.FilterLt: "<", roster.FilterLe: "<="}[f.Op]
	if !ok {
		return "", errBadFilter("the operator " + string(f.Op) + " does not apply to " + f.Attr)
	}
	if f.Op == roster.FilterNe && c.nullable {
		return "(" + c.expr + " IS NULL OR " + c.expr + " <> " + b.arg(v) + ")", nil
	}
	return c.expr + " " + op + " " + b.arg(v), nil
}

// filteredCount starts a read transaction, turns f (nil: everything) into
// a WHERE clause over cols and counts the rows of from it selects; the
// caller reads its page in tx with where and args, then calls done.
func (db *DB) filteredCount(ctx context.Context, from string, cols map[string]filterColumn, f *roster.Filter) (
	tx Querier, done func(), where string, args []any, total int, err error) {
	b := &filterSQL{d: db.d, cols: cols}
	if f != nil {
		w, err := b.where(f)
		if err != nil {
			return nil, nil, "", nil, 0, err
		}
		where = " WHERE " + w
	}
	if tx, done, err = db.beginRead(ctx); err != nil {
		return nil, nil, "", nil, 0, err
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+from+where, b.args...).Scan(&total); err != nil {
		done()
		return nil, nil, "", nil, 0, err
	}
	return tx, done, where, b.args, total, nil
}

// FindUsersWhere returns one page of the users f selects, by id, with
// their groups, and their number, from one read snapshot.
func (db *DB) FindUsersWhere(ctx context.Context, f *roster.Filter, p roster.Page) ([]*roster.User, int, error) {
	tx, done, where, args, total, err := db.filteredCount(ctx, "users u", userFilterColumns, f)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	users := []*roster.User{}
	if p.Limit == 0 || p.Offset >= total {
		return users, total, nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+UserColumns+", "+groupsOfUserSQL(db.d)+" FROM users u"+where+
		" ORDER BY u.id LIMIT ? OFFSET ?", append(args, p.Limit, p.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var groups string
		u, err := scanUser(rows, &groups)
		if err != nil {
			return nil, 0, err
		}
		if u.Groups, err = parseGroupRefs(groups); err != nil {
			return nil, 0, fmt.Errorf("groups of user %d: %w", u.ID, err)
		}
		users = append(users, u)
	}
	return users, total, rows.Err()
}

// FindGroupsWhere returns one page of the groups f selects, by id, and
// their number.
func (db *DB) FindGroupsWhere(ctx context.Context, f *roster.Filter, p roster.Page) ([]*roster.Group, int, error) {
	tx, done, where, args, total, err := db.filteredCount(ctx, "groups g", groupFilterColumns, f)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	if p.Limit == 0 || p.Offset >= total {
		return []*roster.Group{}, total, nil
	}
	list, err := queryGroups(ctx, tx, "SELECT "+groupColumns+" FROM groups g"+where+" ORDER BY g.id LIMIT ? OFFSET ?",
		append(args, p.Limit, p.Offset)...)
	return list, total, err
}

// FindMemberRefs returns every member of a group by user id: one
// statement on the group_members primary key, however large the group.
func (db *DB) FindMemberRefs(ctx context.Context, groupID int64) ([]roster.MemberRef, error) {
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	if _, err := findGroup(ctx, tx, groupID); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT u.id, u.username FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = ? ORDER BY m.user_id`, groupID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	refs := []roster.MemberRef{}
	for rows.Next() {
		var r roster.MemberRef
		if err := rows.Scan(&r.ID, &r.Username); err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, rows.Err()
}

// PatchGroup applies p in one transaction: the rename or new external id
// (group.updated with data.fields), then each membership that changes
// (group.member_added, group.member_removed).
func (db *DB) PatchGroup(ctx context.Context, actor, id int64, p roster.GroupPatch) (*roster.Group, error) {
	now := db.Now()
	var out *roster.Group
	err := db.tx(ctx, func(tx *wtx) error {
		g, err := findGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.IfVersion != 0 && p.IfVersion != g.Version {
			return roster.Errorf(roster.EPRECONDITION, "The group has changed since it was read (If-Match failed).")
		}
		var fields []string
		if p.Name != nil && *p.Name != g.Name {
			if err := groupNameTaken(ctx, tx, *p.Name, id); err != nil {
				return err
			}
			fields = append(fields, "name")
			g.Name = *p.Name
		}
		if p.ExternalID != nil && *p.ExternalID != g.ExternalID {
			fields = append(fields, "externalId")
			g.ExternalID = *p.ExternalID
		}
		if len(fields) > 0 {
			_, err := tx.ExecContext(ctx, "UPDATE groups SET name = ?, name_fold = ?, external_id = ?, version = version + 1, modified_at = ? WHERE id = ?",
				g.Name, roster.Fold(g.Name), nullIfEmpty(g.ExternalID), db.t(now), id)
			if err != nil {
				return err
			}
			data, _ := json.Marshal(map[string][]string{"fields": fields})
			if err := tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbGroupUpdated, Object: groupObject(g),
				Data: data, Published: now}); err != nil {
				return err
			}
		}
		add, remove := p.Add, p.Remove
		if p.ReplaceMembers {
			if add, remove, err = membersDiff(ctx, tx, id, p.Add); err != nil {
				return err
			}
		}
		added, err := changeMembers(ctx, tx, id, uniqueIDs(add), true)
		if err != nil {
			return err
		}
		removed, err := changeMembers(ctx, tx, id, uniqueIDs(remove), false)
		if err != nil {
			return err
		}
		if len(added)+len(removed) > 0 {
			if _, err := tx.ExecContext(ctx, "UPDATE groups SET version = version + 1, modified_at = ? WHERE id = ?", db.t(now), id); err != nil {
				return err
			}
			acts := make([]*roster.Activity, 0, len(added)+len(removed))
			for _, c := range []struct {
				verb string
				refs []roster.MemberRef
			}{{roster.VerbGroupMemberAdded, added}, {roster.VerbGroupMemberRemoved, removed}} {
				verb := c.verb
				for _, u := range c.refs {
					data, _ := json.Marshal(map[string]any{"user": map[string]any{"id": u.ID, "username": u.Username}})
					acts = append(acts, &roster.Activity{ActorID: actor, Verb: verb, Object: groupObject(g), Data: data, Published: now})
				}
			}
			if err := tx.insertActivities(ctx, acts); err != nil {
				return err
			}
		}
		out, err = findGroup(ctx, tx, id)
		return err
	})
	return out, err
}

// memberBatch bounds the ids of one statement (SQLite allows 32766
// parameters).
const memberBatch = 500

// changeMembers adds (add) or removes the users ids to or from a group, a
// batch a statement, and returns those whose membership changed, by id.
// Adding an id that names no user is EINVALID; removing one is nothing.
func changeMembers(ctx context.Context, tx *wtx, groupID int64, ids []int64, add bool) ([]roster.MemberRef, error) {
	var changed []roster.MemberRef
	for len(ids) > 0 {
		batch := ids[:min(len(ids), memberBatch)]
		ids = ids[len(batch):]
		args := make([]any, 0, len(batch)+1)
		args = append(args, groupID)
		for _, id := range batch {
			args = append(args, id)
		}
		// The users the batch names, and whether each is a member now.
		rows, err := tx.QueryContext(ctx, `SELECT u.id, u.username, EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = ? AND m.user_id = u.id)
			FROM users u WHERE u.id IN (`+inClause(len(batch))+`) ORDER BY u.id`, args...)
		if err != nil {
			return nil, err
		}
		found := map[int64]bool{}
		var todo []roster.MemberRef
		for rows.Next() {
			var r roster.MemberRef
			var member bool
			if err := rows.Scan(&r.ID, &r.Username, &member); err != nil {
				rows.Close()
				return nil, err
			}
			found[r.ID] = true
			if member != add {
				todo = append(todo, r)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if add && len(found) < len(batch) {
			for _, id := range batch {
				if !found[id] {
					return nil, &roster.Error{Code: roster.EINVALID, Message: "No user has the id " + strconv.FormatInt(id, 10) + ".", SCIMType: "invalidValue"}
				}
			}
		}
		if len(todo) == 0 {
			continue
		}
		args = append(args[:1], make([]any, 0, len(todo))...)
		for _, r := range todo {
			args = append(args, r.ID)
		}
		query := "DELETE FROM group_members WHERE group_id = ? AND user_id IN (" + inClause(len(todo)) + ")"
		if add {
			query = "INSERT INTO group_members (group_id, user_id) SELECT ?, u.id FROM users u WHERE u.id IN (" + inClause(len(todo)) + ")"
		}
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return nil, err
		}
		changed = append(changed, todo...)
	}
	return changed, nil
}

// membersDiff returns which of want are not members yet and which members
// are not in want.
func membersDiff(ctx context.Context, tx *wtx, groupID int64, want []int64) (add, remove []int64, err error) {
	rows, err := tx.QueryContext(ctx, "SELECT user_id FROM group_members WHERE group_id = ?", groupID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	have := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, nil, err
		}
		have[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	wanted := map[int64]bool{}
	for _, id := range want {
		wanted[id] = true
		if !have[id] {
			add = append(add, id)
		}
	}
	for id := range have {
		if !wanted[id] {
			remove = append(remove, id)
		}
	}
	slices.Sort(remove)
	return add, remove, nil
}

// uniqueIDs returns ids without repeats, in their first order.
func uniqueIDs(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
