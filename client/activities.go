package client

import (
	"context"
	"iter"
	"net/http"
)

// CreateActivity records an activity with the caller as actor (or a.Actor,
// admins only) and returns it (POST /api/v3/activities).
func (c *Client) CreateActivity(ctx context.Context, a ActivityCreate) (*Activity, error) {
	out := &Activity{}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v3/activities", body: a}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListWorkspaceActivities returns one page of a workspace's activities,
// newest first (GET /api/v3/workspaces/{id}/activities).
func (c *Client) ListWorkspaceActivities(ctx context.Context, workspaceID int64, f ActivityFilter) (*Page[Activity], error) {
	return getPage[Activity](ctx, c, workspacePath(workspaceID, "/activities"), f.query())
}

// AllWorkspaceActivities yields every activity of a workspace matching f,
// newest first, walking with before= as AllUserActivities does.
func (c *Client) AllWorkspaceActivities(ctx context.Context, workspaceID int64, f ActivityFilter) iter.Seq2[Activity, error] {
	return allActivities(ctx, c, workspacePath(workspaceID, "/activities"), f)
}
