package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.UserService = (*DB)(nil)

// UserColumns are the columns of a roster.User of users u, as QueryUsers
// scans them.
const UserColumns = `u.id, u.username, u.email, u.first_name, u.last_name, u.is_active, u.is_admin,
	u.bio, u.avatar_url, u.timezone, u.locale, u.date_joined, u.last_login, u.last_active_at, u.version, u.is_service,
	u.external_id, u.modified_at`

func scanUser(s Scanner, extra ...any) (*roster.User, error) {
	var u roster.User
	var joined, lastLogin, lastActive, modified dbTime
	var externalID sql.NullString
	dest := append([]any{&u.ID, &u.Username, &u.Email, &u.FirstName, &u.LastName, &u.IsActive, &u.IsAdmin,
		&u.Bio, &u.AvatarURL, &u.Timezone, &u.Locale, &joined, &lastLogin, &lastActive, &u.Version, &u.IsService,
		&externalID, &modified}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	u.DateJoined, u.LastLogin, u.LastActiveAt, u.ModifiedAt = joined.t, lastLogin.ptr(), lastActive.ptr(), modified.ptr()
	u.ExternalID = externalID.String
	return &u, nil
}

func errNotFound(what string) error {
	return &roster.Error{Code: roster.ENOTFOUND, Message: what + " not found."}
}

// FindUserByID returns the full profile of a user, groups included, with
// one statement (a second one for the groups was a sixth of the CPU time
// of GET /users/{id}, pprof of cmd/roster-bench).
func (db *DB) FindUserByID(ctx context.Context, id int64) (*roster.User, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return findUserWithGroups(ctx, db.read, db.userSQL, id)
}

// FindUserProfile is FindUserByID as viewer may see the user: for a
// viewer other than an admin or the user itself, LastActiveAt is when the
// user's newest activity in a workspace viewer can access was published
// (nil when there is none). The same statement reads it, from the
// (actor_id, workspace_id, id) index and one activity row: as a second
// statement it was a fifth of the server CPU time of GET /users/{id}
// (cmd/roster-bench -scenarios get-user -pprof, 2026-12-02).
func (db *DB) FindUserProfile(ctx context.Context, viewer *roster.User, id int64) (*roster.User, error) {
	if viewer.IsAdmin || viewer.ID == id {
		return db.FindUserByID(ctx, id)
	}
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var visible dbTime
	u, err := scanUserWithGroups(db.read.QueryRowContext(ctx, db.profileSQL, viewer.ID, viewer.ID, id), id, &visible)
	if err != nil {
		return nil, err
	}
	u.LastActiveAt = visible.ptr()
	return u, nil
}

// userWithGroupsSQL is the statement of findUserWithGroups on d; New
// builds it once.
func userWithGroupsSQL(d Dialect) string {
	return "SELECT " + UserColumns + ", " + groupsOfUserSQL(d) + " FROM users u WHERE u.id = ?"
}

// profileSQL is the statement of FindUserProfile on d: userWithGroupsSQL
// plus the publication time of the user's newest activity in a workspace
// the viewer (the first two arguments) can access. New builds it once.
func profileSQL(d Dialect) string {
	newest := "SELECT max(a.id) FROM activities a WHERE a.actor_id = u.id AND a.workspace_id IN (" + accessibleSQL + ")"
	return "SELECT " + UserColumns + ", " + groupsOfUserSQL(d) +
		", CASE WHEN u.last_active_at IS NULL THEN NULL ELSE (SELECT v.published FROM activities v WHERE v.id = (" + newest + ")) END" +
		" FROM users u WHERE u.id = ?"
}

// groupsOfUserSQL is a subquery giving the groups of user u as the JSON
// array that parseGroupRefs reads.
func groupsOfUserSQL(d Dialect) string {
	return "(SELECT " + d.JSONArrayAgg([]string{"id", "name"}, []string{"g.id", "g.name"}, "g.name, g.id") +
		" FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id)"
}

// findUserWithGroups runs query, userWithGroupsSQL of the store's dialect.
func findUserWithGroups(ctx context.Context, q Querier, query string, id int64) (*roster.User, error) {
	return scanUserWithGroups(q.QueryRowContext(ctx, query, id), id)
}

// scanUserWithGroups scans the row of user id read by userWithGroupsSQL
// (or a statement that extends it with the columns of extra).
func scanUserWithGroups(row Scanner, id int64, extra ...any) (*roster.User, error) {
	var groups string
	u, err := scanUser(row, append([]any{&groups}, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("User")
	} else if err != nil {
		return nil, err
	}
	if u.Groups, err = parseGroupRefs(groups); err != nil {
		return nil, fmt.Errorf("groups of user %d: %w", id, err)
	}
	return u, nil
}

// parseGroupRefs reads the JSON array of groupsOfUserSQL.
func parseGroupRefs(groups string) ([]roster.GroupRef, error) {
	if groups == "[]" {
		return []roster.GroupRef{}, nil
	}
	var refs []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(groups), &refs); err != nil {
		return nil, err
	}
	out := make([]roster.GroupRef, len(refs))
	for i, g := range refs {
		out[i] = roster.GroupRef{ID: g.ID, Name: g.Name}
	}
	return out, nil
}

// UserExists returns nil when user id exists, else ENOTFOUND as
// FindUserByID does, reading one index entry instead of the profile and
// its groups.
func (db *DB) UserExists(ctx context.Context, id int64) error {
	var one int
	err := db.read.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound("User")
	}
	return err
}

func findUser(ctx context.Context, q Querier, id int64) (*roster.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, "SELECT "+UserColumns+" FROM users u WHERE u.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("User")
	}
	return u, err
}

var orderColumns = map[string]string{
	"id": "u.id", "username": "u.username", "email": "u.email", "firstName": "u.first_name",
	"lastName": "u.last_name", "dateJoined": "u.date_joined", "lastLogin": "u.last_login",
}

func orderBy(ordering string) (string, error) {
	dir := "ASC"
	field := ordering
	if strings.HasPrefix(field, "-") {
		dir, field = "DESC", field[1:]
	}
	if field == "" {
		field = "id"
	}
	col, ok := orderColumns[field]
	if !ok {
		return "", roster.Errorf(roster.EINVALID, "Unknown ordering %q.", ordering)
	}
	if col == "u.id" {
		return "u.id " + dir, nil
	}
	nulls := "" // never-logged-in users sort first ascending, last descending, on every database
	if col == "u.last_login" {
		nulls = map[string]string{"ASC": " NULLS FIRST", "DESC": " NULLS LAST"}[dir]
	}
	return col + " " + dir + nulls + ", u.id " + dir, nil
}

// summaryColumns are the columns of a roster.UserSummary.
const summaryColumns = "u.id, u.username, u.email, u.first_name, u.last_name, u.is_active"

// FindUsers returns one page of user summaries. The total and the users
// version come from the counters table (kept by triggers), so no request
// rescans the users table to count, and pages are cached under the
// version: any insert, delete or change of a summary field bumps it (see
// listcache.go). Deep pages in id order seek through sampled checkpoints.
func (db *DB) FindUsers(ctx context.Context, f roster.UserFilter) (_ []*roster.UserSummary, _ int, err error) {
	// A timeout met anywhere in the read (a row's iteration included) is
	// EUNAVAILABLE, never an internal error.
	defer func() { err = db.mapErr(err) }()
	order, err := orderBy(f.Ordering)
	if err != nil {
		return nil, 0, err
	}
	names, conds, args := "'users_active', 'users_inactive'", []string{}, []any{}
	if f.IsActive != nil {
		names = "'users_inactive'"
		if *f.IsActive {
			names = "'users_active'"
		}
		conds, args = append(conds, "u.is_active = ?"), append(args, *f.IsActive)
	}
	cacheable := !strings.HasPrefix(order, "u.last_login") // logins do not bump the version
	if cacheable && f.IsService == nil {
		// A cached page needs only the counters, which one statement reads
		// consistently: no read transaction (its begin and rollback were a
		// tenth of the server CPU time of GET /users page 1, pprof of
		// cmd/roster-bench at 1M users, 2026-12-02).
		bctx, cancel := db.bound(ctx)
		total, version, err := userCounters(bctx, db.read, names)
		cancel()
		if err != nil {
			return nil, 0, err
		}
		if f.Offset >= total {
			return []*roster.UserSummary{}, total, nil
		}
		key := listKey{listSet: listSet{version: version, total: total, active: activeKey(f.IsActive), service: activeKey(f.IsService)},
			order: order, offset: f.Offset, limit: f.Limit}
		if page, ok := db.cache.page(key); ok {
			return page, total, nil
		}
	}
	// Read the counters and the page in one read transaction so they agree.
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	total, version, err := userCounters(ctx, tx, names)
	if err != nil {
		return nil, 0, err
	}
	if f.IsService != nil {
		// Service accounts are few: count them through the users_service
		// partial index, and people as everyone else.
		services, err := countServiceAccounts(ctx, tx, f.IsActive)
		if err != nil {
			return nil, 0, err
		}
		if *f.IsService {
			total, conds = services, append(conds, "u.is_service")
		} else {
			total, conds = total-services, append(conds, "NOT u.is_service")
		}
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	if f.Offset >= total {
		return []*roster.UserSummary{}, total, nil
	}
	set := listSet{version: version, total: total, active: activeKey(f.IsActive), service: activeKey(f.IsService)}
	key := listKey{listSet: set, order: order, offset: f.Offset, limit: f.Limit}
	if cacheable {
		if page, ok := db.cache.page(key); ok {
			return page, total, nil
		}
	}
	var page []*roster.UserSummary
	if f.Offset >= deepOffset && (order == "u.id ASC" || order == "u.id DESC") {
		page, err = db.deepIDPage(ctx, tx, set, where, args, order == "u.id DESC", f.Page)
	} else {
		page, err = querySummaries(ctx, tx, "SELECT "+summaryColumns+" FROM users u"+where+" ORDER BY "+order+" LIMIT ? OFFSET ?",
			append(args, f.Limit, f.Offset)...)
	}
	if err != nil {
		return nil, 0, err
	}
	if cacheable {
		db.cache.putPage(key, page)
	}
	return page, total, nil
}

// countServiceAccounts counts the service accounts, of one isActive state
// when active is set.
// userCounters reads the number of users of the counters names (a SQL
// list) and the users version, kept by triggers, in one statement.
func userCounters(ctx context.Context, q Querier, names string) (total int, version int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT CAST(coalesce(sum(CASE WHEN name = 'users_version' THEN 0 ELSE value END), 0) AS BIGINT),
		CAST(coalesce(sum(CASE WHEN name = 'users_version' THEN value ELSE 0 END), 0) AS BIGINT)
		FROM counters WHERE name IN (`+names+`, 'users_version')`).Scan(&total, &version)
	return total, version, err
}

func countServiceAccounts(ctx context.Context, q Querier, active *bool) (int, error) {
	query, args := "SELECT count(*) FROM users u WHERE u.is_service", []any{}
	if active != nil {
		query, args = query+" AND u.is_active = ?", append(args, *active)
	}
	var n int
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// deepIDPage reads a page far into the id order. It finds the page's
// first id by skipping over a narrow index (users_id_order on SQLite, the
// primary key on PostgreSQL) from the nearest checkpoint below it: at most
// checkpointStep entries once the checkpoints of this users version are
// built, every earlier entry until then. Then it reads only the page's rows.
func (db *DB) deepIDPage(ctx context.Context, tx Querier, set listSet, where string, args []any, desc bool, p roster.Page) ([]*roster.UserSummary, error) {
	// pos is the position of the page's first row in ascending id order.
	pos := p.Offset
	if desc {
		pos = set.total - 1 - p.Offset
	}
	from, skip := int64(0), pos
	cps, start := db.cache.checkpoints(set)
	if start {
		lists := db.cache.lists
		db.background(func(ctx context.Context) {
			defer lists.doneBuilding()
			if cps := db.buildCheckpoints(ctx, set, where, args); cps != nil {
				lists.putCheckpoints(set, cps)
			}
		})
	}
	if cps != nil && pos >= checkpointStep {
		k := pos/checkpointStep - 1 // cps[k] is the id at position (k+1)*checkpointStep
		from, skip = cps[k], pos-(k+1)*checkpointStep
	}
	cond := " WHERE "
	if where != "" {
		cond = where + " AND "
	}
	cmp, dir := ">=", "ASC"
	if desc {
		cmp, dir = "<=", "DESC"
	}
	sub := "SELECT u.id FROM users u" + cond + "u.id >= ? ORDER BY u.id ASC LIMIT 1 OFFSET ?"
	return querySummaries(ctx, tx, "SELECT "+summaryColumns+" FROM users u"+cond+"u.id "+cmp+" ("+sub+") ORDER BY u.id "+dir+" LIMIT ?",
		append(append(append([]any{}, args...), args...), from, skip, p.Limit)...)
}

// buildCheckpoints reads every id of set in order, in its own read
// transaction, and returns every checkpointStep-th one if the counters
// still show set's version and total, else nil.
func (db *DB) buildCheckpoints(ctx context.Context, set listSet, where string, args []any) []int64 {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil
	}
	defer done()
	var version int64
	if err := tx.QueryRowContext(ctx, "SELECT value FROM counters WHERE name = 'users_version'").Scan(&version); err != nil || version != set.version {
		return nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT u.id FROM users u"+where+" ORDER BY u.id ASC", args...)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var cps []int64
	n := 0
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil
		}
		if n > 0 && n%checkpointStep == 0 { // the id at position n, counting from 0
			cps = append(cps, id)
		}
		n++
	}
	if rows.Err() != nil || n != set.total {
		return nil
	}
	if cps == nil {
		cps = []int64{} // built: fewer than checkpointStep users
	}
	return cps
}

// deepOffset is where FindUsers starts seeking a page's first id instead
// of paging with OFFSET.
const deepOffset = 1000

func querySummaries(ctx context.Context, q Querier, query string, args ...any) ([]*roster.UserSummary, error) {
	users := []*roster.UserSummary{}
	err := eachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		var u roster.UserSummary
		if err := rows.Scan(&u.ID, &u.Username, &u.Email, &u.FirstName, &u.LastName, &u.IsActive); err != nil {
			return err
		}
		users = append(users, &u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return users, nil
}

// QueryUsers runs query, which selects UserColumns, and scans its users.
func QueryUsers(ctx context.Context, q Querier, query string, args ...any) ([]*roster.User, error) {
	users := []*roster.User{}
	err := eachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		u, err := scanUser(rows)
		if err != nil {
			return q.Err(err)
		}
		users = append(users, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return users, nil
}

// CountUsers returns the number of users.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, "SELECT CAST(coalesce(sum(value), 0) AS BIGINT) FROM counters WHERE name IN ('users_active', 'users_inactive')").Scan(&n)
	return n, err
}

// checkUnique returns ECONFLICT naming username and/or email when another
// user holds them (case-insensitively) in either field, so that a login
// name always names one user, or holds a username confusable with u's (the
// same roster.UsernameSkeleton).
func checkUnique(ctx context.Context, q Querier, id int64, u *roster.User) error {
	fe := roster.FieldErrors{}
	var n int
	name, email := roster.Fold(u.Username), roster.Fold(u.Email)
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE (username_fold = ? OR email_fold = ?) AND id <> ?", name, name, id).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		fe.Add("username", "A user with that username already exists.")
	} else if err := q.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE username_skeleton = ? AND id <> ?",
		roster.UsernameSkeleton(u.Username), id).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		fe.Add("username", "A user with a username that looks the same already exists.")
	}
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE (email_fold = ? OR username_fold = ?) AND id <> ?", email, email, id).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		fe.Add("email", "A user with that email already exists.")
	}
	if len(fe) > 0 {
		return &roster.Error{Code: roster.ECONFLICT, Message: "A user with that username or email already exists.", Fields: fe}
	}
	return nil
}

// BackfillSkeletons fills username_skeleton where it is missing: users
// stored before migration 0041 or loaded in bulk without it. Migrate runs
// it, in batches of one write transaction each.
func (db *DB) BackfillSkeletons(ctx context.Context) error {
	for {
		rows, err := db.write.QueryContext(ctx, db.q("SELECT id, username FROM users WHERE username_skeleton IS NULL ORDER BY id LIMIT 1000"))
		if err != nil {
			return err
		}
		type row struct {
			id   int64
			name string
		}
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.name); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(batch) == 0 {
			return err
		}
		err = db.tx(ctx, func(tx *wtx) error {
			for _, r := range batch {
				if _, err := tx.ExecContext(ctx, "UPDATE users SET username_skeleton = ? WHERE id = ?", roster.UsernameSkeleton(r.name), r.id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
}

// CreateUser stores a new user and records user.created. An actor of 0
// means the user creates itself (the first admin, the CLI).
func (db *DB) CreateUser(ctx context.Context, actor int64, u *roster.User, passwordHash string) error {
	now := db.Now()
	return db.tx(ctx, func(tx *wtx) error { return tx.insertUser(ctx, actor, u, passwordHash, now) })
}

// insertUser is CreateUser inside tx.
func (tx *wtx) insertUser(ctx context.Context, actor int64, u *roster.User, passwordHash string, now time.Time) error {
	if err := checkUnique(ctx, tx, 0, u); err != nil {
		return err
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO users (username, username_fold, username_skeleton, email, email_fold, first_name, first_fold,
		last_name, last_fold, search_text, is_active, is_admin, bio, avatar_url, timezone, locale, password_hash, date_joined, is_service,
		external_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		u.Username, roster.Fold(u.Username), roster.UsernameSkeleton(u.Username), u.Email, roster.Fold(u.Email), u.FirstName, roster.Fold(u.FirstName),
		u.LastName, roster.Fold(u.LastName), searchText(u), u.IsActive, u.IsAdmin, u.Bio, u.AvatarURL, u.Timezone, u.Locale,
		passwordHash, tx.db.t(now), u.IsService, nullIfEmpty(u.ExternalID)).Scan(&u.ID)
	if err != nil {
		return err
	}
	if actor == 0 {
		actor = u.ID
	}
	if err := tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbUserCreated, Object: userObject(u), Published: now}); err != nil {
		return err
	}
	u.DateJoined, u.Version, u.Groups = now.Truncate(1e3), 1, []roster.GroupRef{}
	return nil
}

func userObject(u *roster.User) *roster.ActivityObject {
	return &roster.ActivityObject{Type: "user", ID: strconv.FormatInt(u.ID, 10), Name: u.Username}
}

// CountActiveAdmins returns the number of active admins, for the warning of
// `roster serve` that nobody can administer the directory.
func (db *DB) CountActiveAdmins(ctx context.Context) (int, error) {
	return activeAdminsExcept(ctx, db.read, 0)
}

// FindAdmins returns every admin, active or not, by id (admins are few),
// without their groups: for `roster user list --admins`.
func (db *DB) FindAdmins(ctx context.Context) ([]*roster.User, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var out []*roster.User
	err := eachRow(ctx, db.read, AdminsSQL, nil, func(rows *sql.Rows) error {
		u, err := scanUser(rows)
		out = append(out, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AdminsSQL (FindAdmins) and OtherActiveAdminsSQL (activeAdminsExcept,
// whose argument is the user left out) read the admins through the
// partial index users_admins (migration 0110 of each database); their
// WHERE must hold its term, is_admin, as written. They are exported for
// the plan tests of each database.
const (
	AdminsSQL            = "SELECT " + UserColumns + " FROM users u WHERE u.is_admin ORDER BY u.id"
	OtherActiveAdminsSQL = "SELECT count(*) FROM users WHERE is_admin AND is_active AND id <> ?"
)

// activeAdminsExcept counts active admins other than id.
func activeAdminsExcept(ctx context.Context, q Querier, id int64) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, OtherActiveAdminsSQL, id).Scan(&n)
	return n, err
}

var errLastAdmin = &roster.Error{Code: roster.ECONFLICT, Message: "This change would leave no active admin."}

// UpdateUser applies upd atomically and records user.updated with the names
// of the changed fields.
func (db *DB) UpdateUser(ctx context.Context, actor, id int64, upd roster.UserUpdate) (*roster.User, error) {
	now := db.Now()
	var updated *roster.User
	err := db.tx(ctx, func(tx *wtx) error {
		old, err := findUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if upd.IfVersion != 0 && upd.IfVersion != old.Version {
			return roster.Errorf(roster.EPRECONDITION, "The user has changed since it was read (If-Match failed).")
		}
		n := upd.Apply(old)
		fields := upd.ChangedFields(old)
		if len(fields) == 0 {
			updated, err = findUserWithGroups(ctx, tx, db.userSQL, id)
			return err
		}
		if err := checkUnique(ctx, tx, id, n); err != nil {
			return err
		}
		if old.IsAdmin && old.IsActive && !(n.IsAdmin && n.IsActive) {
			if c, err := activeAdminsExcept(ctx, tx, id); err != nil {
				return err
			} else if c == 0 {
				return errLastAdmin
			}
		}
		n.Version = old.Version + 1
		_, err = tx.ExecContext(ctx, `UPDATE users SET username = ?, username_fold = ?, username_skeleton = ?, email = ?, email_fold = ?,
			first_name = ?, first_fold = ?, last_name = ?, last_fold = ?, search_text = ?, is_active = ?, is_admin = ?,
			bio = ?, avatar_url = ?, timezone = ?, locale = ?, version = ?, external_id = ?, modified_at = ?,
			password_hash = coalesce(?, password_hash) WHERE id = ?`,
			n.Username, roster.Fold(n.Username), roster.UsernameSkeleton(n.Username), n.Email, roster.Fold(n.Email), n.FirstName,
			roster.Fold(n.FirstName), n.LastName, roster.Fold(n.LastName), searchText(n), n.IsActive, n.IsAdmin, n.Bio, n.AvatarURL,
			n.Timezone, n.Locale, n.Version, nullIfEmpty(n.ExternalID), db.t(now), upd.PasswordHash, id)
		if err != nil {
			return err
		}
		if !n.IsActive {
			if _, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE user_id = ?", id); err != nil {
				return err
			}
		} else if upd.PasswordHash != nil {
			// A new password ends every other session of the user.
			if _, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE user_id = ? AND id <> ?", id, upd.KeepTokenID); err != nil {
				return err
			}
		}
		data, _ := json.Marshal(map[string][]string{"fields": fields})
		err = tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbUserUpdated,
			Object: userObject(n), Data: data, Published: now})
		if err != nil {
			return err
		}
		// Re-read: a user editing itself has just moved its own lastActiveAt.
		updated, err = findUserWithGroups(ctx, tx, db.userSQL, id)
		return err
	})
	db.cache.invalidateSessions() // is_active, is_admin or the password may have changed
	if err != nil {
		return nil, err
	}
	return updated, nil
}

// DeleteUser removes a user. Tokens, memberships and grants go with it (by
// foreign key cascade); activities stay, with the actor id only.
func (db *DB) DeleteUser(ctx context.Context, actor, id int64) error {
	err := db.tx(ctx, func(tx *wtx) error {
		old, err := findUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if old.IsAdmin && old.IsActive {
			if c, err := activeAdminsExcept(ctx, tx, id); err != nil {
				return err
			} else if c == 0 {
				return errLastAdmin
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id); err != nil {
			return err
		}
		err = tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbUserDeleted,
			Object: userObject(old), Published: db.Now()})
		return err
	})
	db.cache.invalidateSessions()
	return err
}

// nullIfEmpty stores "" as NULL, so that partial indexes skip it.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
