package client

import (
	"context"
	"net/http"
	"strconv"
)

func workspacePath(id int64, rest string) string {
	return "/api/v3/workspaces/" + strconv.FormatInt(id, 10) + rest
}

func groupPath(id int64, rest string) string {
	return "/api/v3/groups/" + strconv.FormatInt(id, 10) + rest
}

// ListWorkspaces returns one page of the workspaces the caller can access
// (admins: all; GET /api/v3/workspaces).
func (c *Client) ListWorkspaces(ctx context.Context, opts ListOptions) (*Page[Workspace], error) {
	return getPage[Workspace](ctx, c, "/api/v3/workspaces", opts.query())
}

// CreateWorkspace creates a workspace (admins only; POST /api/v3/workspaces).
func (c *Client) CreateWorkspace(ctx context.Context, w WorkspaceCreate) (*Workspace, error) {
	out := &Workspace{}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v3/workspaces", body: w}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetWorkspace returns a workspace the caller can access (GET /api/v3/workspaces/{id}).
func (c *Client) GetWorkspace(ctx context.Context, id int64) (*Workspace, error) {
	out := &Workspace{}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: workspacePath(id, "")}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// PatchWorkspace renames a workspace or changes its slug (workspace admins;
// PATCH /api/v3/workspaces/{id}).
func (c *Client) PatchWorkspace(ctx context.Context, id int64, w WorkspaceUpdate) (*Workspace, error) {
	out := &Workspace{}
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: workspacePath(id, ""), body: w}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteWorkspace deletes a workspace (workspace admins; DELETE /api/v3/workspaces/{id}).
func (c *Client) DeleteWorkspace(ctx context.Context, id int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: workspacePath(id, "")}, nil)
	return err
}

// ListGrants returns one page of a workspace's grants (GET /api/v3/workspaces/{id}/permissions).
func (c *Client) ListGrants(ctx context.Context, workspaceID int64, opts ListOptions) (*Page[Grant], error) {
	return getPage[Grant](ctx, c, workspacePath(workspaceID, "/permissions"), opts.query())
}

func (c *Client) putGrant(ctx context.Context, path string, role Role) (*Grant, error) {
	out := &Grant{}
	body := map[string]Role{"role": role}
	if _, err := c.do(ctx, request{method: http.MethodPut, path: path, body: body}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// GrantUser gives a user a role in a workspace, replacing its direct grant
// (PUT /api/v3/workspaces/{id}/permissions/users/{userId}).
func (c *Client) GrantUser(ctx context.Context, workspaceID, userID int64, role Role) (*Grant, error) {
	return c.putGrant(ctx, workspacePath(workspaceID, "/permissions/users/"+strconv.FormatInt(userID, 10)), role)
}

// RevokeUser removes a user's direct grant
// (DELETE /api/v3/workspaces/{id}/permissions/users/{userId}).
func (c *Client) RevokeUser(ctx context.Context, workspaceID, userID int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: workspacePath(workspaceID, "/permissions/users/"+strconv.FormatInt(userID, 10))}, nil)
	return err
}

// GrantGroup gives a group a role in a workspace
// (PUT /api/v3/workspaces/{id}/permissions/groups/{groupId}).
func (c *Client) GrantGroup(ctx context.Context, workspaceID, groupID int64, role Role) (*Grant, error) {
	return c.putGrant(ctx, workspacePath(workspaceID, "/permissions/groups/"+strconv.FormatInt(groupID, 10)), role)
}

// RevokeGroup removes a group's grant
// (DELETE /api/v3/workspaces/{id}/permissions/groups/{groupId}).
func (c *Client) RevokeGroup(ctx context.Context, workspaceID, groupID int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: workspacePath(workspaceID, "/permissions/groups/"+strconv.FormatInt(groupID, 10))}, nil)
	return err
}

// ListWorkspaceMembers returns one page of a workspace's effective members
// (GET /api/v3/workspaces/{id}/members).
func (c *Client) ListWorkspaceMembers(ctx context.Context, workspaceID int64, opts ListOptions) (*Page[Member], error) {
	return getPage[Member](ctx, c, workspacePath(workspaceID, "/members"), opts.query())
}

// ListGroups returns one page of groups (GET /api/v3/groups).
func (c *Client) ListGroups(ctx context.Context, opts ListOptions) (*Page[Group], error) {
	return getPage[Group](ctx, c, "/api/v3/groups", opts.query())
}

// CreateGroup creates a group (admins only; POST /api/v3/groups).
func (c *Client) CreateGroup(ctx context.Context, name string) (*Group, error) {
	out := &Group{}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v3/groups", body: map[string]string{"name": name}}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetGroup returns a group (GET /api/v3/groups/{id}).
func (c *Client) GetGroup(ctx context.Context, id int64) (*Group, error) {
	out := &Group{}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: groupPath(id, "")}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// RenameGroup renames a group (admins only; PATCH /api/v3/groups/{id}).
func (c *Client) RenameGroup(ctx context.Context, id int64, name string) (*Group, error) {
	out := &Group{}
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: groupPath(id, ""), body: map[string]string{"name": name}}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteGroup deletes a group (admins only; DELETE /api/v3/groups/{id}).
func (c *Client) DeleteGroup(ctx context.Context, id int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: groupPath(id, "")}, nil)
	return err
}

// ListGroupMembers returns one page of a group's members (GET /api/v3/groups/{id}/members).
func (c *Client) ListGroupMembers(ctx context.Context, groupID int64, opts ListOptions) (*Page[User], error) {
	return getPage[User](ctx, c, groupPath(groupID, "/members"), opts.query())
}

// AddGroupMember adds a user to a group; adding a member again is fine
// (admins only; PUT /api/v3/groups/{id}/members/{userId}).
func (c *Client) AddGroupMember(ctx context.Context, groupID, userID int64) error {
	_, err := c.do(ctx, request{method: http.MethodPut, path: groupPath(groupID, "/members/"+strconv.FormatInt(userID, 10))}, nil)
	return err
}

// RemoveGroupMember removes a user from a group
// (admins only; DELETE /api/v3/groups/{id}/members/{userId}).
func (c *Client) RemoveGroupMember(ctx context.Context, groupID, userID int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: groupPath(groupID, "/members/"+strconv.FormatInt(userID, 10))}, nil)
	return err
}
