package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

func userPath(id int64, rest string) string {
	return "/api/v3/users/" + strconv.FormatInt(id, 10) + rest
}

// profileCall sends r and returns the profile it answers with, its ETag set.
func (c *Client) profileCall(ctx context.Context, r request) (*UserProfile, error) {
	p := &UserProfile{}
	res, err := c.do(ctx, r, p)
	if err != nil {
		return nil, err
	}
	p.ETag = res.Header.Get("ETag")
	return p, nil
}

// ListUsers returns one page of user summaries (GET /api/v3/users).
func (c *Client) ListUsers(ctx context.Context, opts UserListOptions) (*Page[User], error) {
	return getPage[User](ctx, c, "/api/v3/users", opts.query())
}

// AllUsers yields every user from opts.Page on, following next.
func (c *Client) AllUsers(ctx context.Context, opts UserListOptions) iter.Seq2[User, error] {
	return allPages[User](ctx, c, "/api/v3/users", opts.query())
}

func searchQuery(q string, opts SearchOptions) url.Values {
	v := pageQuery(url.Values{"q": {q}}, opts.Page, opts.PageSize)
	setBool(v, "isActive", opts.IsActive)
	return v
}

// SearchUsers returns one page of the users matching every term of q, best
// first (GET /api/v3/users/search).
func (c *Client) SearchUsers(ctx context.Context, q string, opts SearchOptions) (*Page[User], error) {
	return getPage[User](ctx, c, "/api/v3/users/search", searchQuery(q, opts))
}

// AllSearchResults yields every user matching q, best first, following next.
func (c *Client) AllSearchResults(ctx context.Context, q string, opts SearchOptions) iter.Seq2[User, error] {
	return allPages[User](ctx, c, "/api/v3/users/search", searchQuery(q, opts))
}

// Me returns the caller's full profile (GET /api/v3/users/me).
func (c *Client) Me(ctx context.Context) (*UserProfile, error) {
	return c.profileCall(ctx, request{method: http.MethodGet, path: "/api/v3/users/me"})
}

// GetUser returns a user's full profile; its ETag field holds the version
// for a later UpdateUser or PatchUser (GET /api/v3/users/{id}).
func (c *Client) GetUser(ctx context.Context, id int64) (*UserProfile, error) {
	return c.profileCall(ctx, request{method: http.MethodGet, path: userPath(id, "")})
}

// GetUserIfChanged is GetUser with If-None-Match: etag. When the profile
// still has that ETag it returns (nil, false, nil) without a body.
func (c *Client) GetUserIfChanged(ctx context.Context, id int64, etag string) (p *UserProfile, changed bool, err error) {
	p = &UserProfile{}
	res, err := c.do(ctx, request{method: http.MethodGet, path: userPath(id, ""), header: http.Header{"If-None-Match": {etag}}}, p)
	if err != nil {
		return nil, false, err
	}
	if res.StatusCode == http.StatusNotModified {
		return nil, false, nil
	}
	p.ETag = res.Header.Get("ETag")
	return p, true, nil
}

// CreateUser creates a user (admins only) and returns its profile
// (POST /api/v3/users).
func (c *Client) CreateUser(ctx context.Context, u UserCreate) (*UserProfile, error) {
	return c.profileCall(ctx, request{method: http.MethodPost, path: "/api/v3/users", body: u})
}

func ifMatch(etag string) http.Header {
	if etag == "" {
		return nil
	}
	return http.Header{"If-Match": {etag}}
}

// UpdateUser replaces a user's core fields (PUT /api/v3/users/{id}). With
// a non-empty ifMatch (an ETag) a user changed since is ErrPreconditionFailed.
func (c *Client) UpdateUser(ctx context.Context, id int64, u UserReplace, ifMatchETag string) (*UserProfile, error) {
	return c.profileCall(ctx, request{method: http.MethodPut, path: userPath(id, ""), body: u, header: ifMatch(ifMatchETag)})
}

// PatchUser changes the non-nil fields of u (PATCH /api/v3/users/{id}),
// with ifMatchETag as in UpdateUser.
func (c *Client) PatchUser(ctx context.Context, id int64, u UserUpdate, ifMatchETag string) (*UserProfile, error) {
	return c.profileCall(ctx, request{method: http.MethodPatch, path: userPath(id, ""), body: u, header: ifMatch(ifMatchETag)})
}

// DeleteUser deletes a user (admins only; DELETE /api/v3/users/{id}).
func (c *Client) DeleteUser(ctx context.Context, id int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: userPath(id, "")}, nil)
	return err
}

// ListActiveWorkspaces returns one page of the workspaces a user acted in
// lately, newest first (GET /api/v3/users/{id}/activeworkspaces).
func (c *Client) ListActiveWorkspaces(ctx context.Context, userID int64, opts ActiveWorkspaceOptions) (*Page[ActiveWorkspace], error) {
	q := pageQuery(nil, opts.Page, opts.PageSize)
	if opts.Days > 0 {
		q.Set("days", strconv.Itoa(opts.Days))
	}
	return getPage[ActiveWorkspace](ctx, c, userPath(userID, "/activeworkspaces"), q)
}

// ListUserActivities returns one page of a user's activities that the
// caller may see, newest first (GET /api/v3/users/{id}/activities).
func (c *Client) ListUserActivities(ctx context.Context, userID int64, f ActivityFilter) (*Page[Activity], error) {
	return getPage[Activity](ctx, c, userPath(userID, "/activities"), f.query())
}

// AllUserActivities yields every activity of a user matching f, newest
// first, walking with before= so that new activities do not shift it.
func (c *Client) AllUserActivities(ctx context.Context, userID int64, f ActivityFilter) iter.Seq2[Activity, error] {
	return allActivities(ctx, c, userPath(userID, "/activities"), f)
}

// CountUserActivities counts a user's visible activities matching f
// (GET /api/v3/users/{id}/activities/count); f's Page and PageSize are ignored.
func (c *Client) CountUserActivities(ctx context.Context, userID int64, f ActivityFilter) (int, error) {
	f.Page, f.PageSize = 0, 0
	var out struct {
		Count int `json:"count"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: userPath(userID, "/activities/count"), query: f.query()}, &out); err != nil {
		return 0, err
	}
	return out.Count, nil
}
