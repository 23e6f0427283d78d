package sqlite

import (
	"context"
	"database/sql"

	"github.com/rosterhq/roster"
)

// insertActivity stores a inside tx and returns its id.
func insertActivity(ctx context.Context, tx *sql.Tx, a *roster.Activity) (int64, error) {
	var objType, objID, objName *string
	if a.Object != nil {
		objType, objID, objName = &a.Object.Type, &a.Object.ID, &a.Object.Name
	}
	data := string(a.Data)
	if data == "" {
		data = "{}"
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO activities (actor_id, verb, object_type, object_id, object_name, workspace_id, data, published)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.ActorID, a.Verb, objType, objID, objName, a.WorkspaceID, data, micros(a.Published))
	if err != nil {
		return 0, err
	}
	a.ID, err = res.LastInsertId()
	return a.ID, err
}

// published tells the subscriber, if any, that activities up to lastID are
// committed. It is called after every commit that inserted activities.
func (db *DB) published(lastID int64) {
	if lastID > 0 && db.OnPublish != nil {
		db.OnPublish(lastID)
	}
}
