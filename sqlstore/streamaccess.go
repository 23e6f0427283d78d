package sqlstore

import (
	"context"
	"database/sql"
)

// WorkspaceAccess returns, for each viewer, which of the workspaces it can
// access (directly or through a group). The stream broker asks it once per
// batch of activities for all the viewers the batch concerns; it makes
// one query per 200 viewers and 200 workspaces.
func (db *DB) WorkspaceAccess(ctx context.Context, viewerIDs, workspaceIDs []int64) (map[int64]map[int64]bool, error) {
	out := map[int64]map[int64]bool{}
	const chunk = 200
	for i := 0; i < len(viewerIDs); i += chunk {
		vs := viewerIDs[i:min(i+chunk, len(viewerIDs))]
		for j := 0; j < len(workspaceIDs); j += chunk {
			ws := workspaceIDs[j:min(j+chunk, len(workspaceIDs))]
			if err := db.workspaceAccess(ctx, vs, ws, out); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (db *DB) workspaceAccess(ctx context.Context, viewerIDs, workspaceIDs []int64, out map[int64]map[int64]bool) error {
	in := func(ids []int64) (string, []any) {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		return "(" + inClause(len(ids)) + ")", args
	}
	vs, vargs := in(viewerIDs)
	ws, wargs := in(workspaceIDs)
	query := `SELECT user_id, workspace_id FROM workspace_user_grants WHERE user_id IN ` + vs + ` AND workspace_id IN ` + ws + `
		UNION SELECT gm.user_id, gg.workspace_id FROM workspace_group_grants gg
		JOIN group_members gm ON gm.group_id = gg.group_id WHERE gm.user_id IN ` + vs + ` AND gg.workspace_id IN ` + ws
	args := append(append(append(append([]any{}, vargs...), wargs...), vargs...), wargs...)
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return eachRow(ctx, db.read, query, args, func(rows *sql.Rows) error {
		var viewer, ws int64
		if err := rows.Scan(&viewer, &ws); err != nil {
			return err
		}
		if out[viewer] == nil {
			out[viewer] = map[int64]bool{}
		}
		out[viewer][ws] = true
		return nil
	})
}
