package client

import (
	"context"
	"iter"
	"net/http"
	"strconv"
	"time"
)

// AccessToken is a token of a user: a login session (Kind "session") or a
// personal access token (Kind "personal") limited to its Scopes. Token,
// the secret, is set only in the answer that creates it.
type AccessToken struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Kind       string     `json:"kind"`
	Scopes     []string   `json:"scopes"`
	Prefix     string     `json:"prefix"`
	Token      string     `json:"token,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  time.Time  `json:"expiresAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

// AccessTokenCreate is the body of CreateToken and CreateUserToken. A zero
// ExpiresAt lets the server choose (90 days; at most 366 days ahead).
type AccessTokenCreate struct {
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// The token scopes of the API.
const (
	ScopeUsersRead       = "users:read"
	ScopeUsersWrite      = "users:write"
	ScopeWorkspacesRead  = "workspaces:read"
	ScopeWorkspacesWrite = "workspaces:write"
	ScopeGroupsRead      = "groups:read"
	ScopeGroupsWrite     = "groups:write"
	ScopeActivitiesRead  = "activities:read"
	ScopeActivitiesWrite = "activities:write"
	ScopeTokens          = "tokens"
	ScopeWebhooks        = "webhooks" // admins' tokens only
	ScopeSCIM            = "scim"     // admins' tokens only
)

// TokenListOptions pages ListTokens and ListUserTokens.
type TokenListOptions struct {
	Page     int
	PageSize int
}

func userTokensPath(userID int64) string { return userPath(userID, "/tokens") }

// CreateToken makes a personal access token for the caller (POST
// /api/v3/tokens); the returned Token field is the only copy of the secret.
func (c *Client) CreateToken(ctx context.Context, t AccessTokenCreate) (*AccessToken, error) {
	out := &AccessToken{}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v3/tokens", body: t}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListTokens returns one page of the caller's tokens, sessions included,
// newest first (GET /api/v3/tokens).
func (c *Client) ListTokens(ctx context.Context, opts TokenListOptions) (*Page[AccessToken], error) {
	return getPage[AccessToken](ctx, c, "/api/v3/tokens", pageQuery(nil, opts.Page, opts.PageSize))
}

// AllTokens yields every token of the caller, following next.
func (c *Client) AllTokens(ctx context.Context) iter.Seq2[AccessToken, error] {
	return allPages[AccessToken](ctx, c, "/api/v3/tokens", pageQuery(nil, 0, 0))
}

// RevokeToken revokes a token of the caller, or any token for an admin
// (DELETE /api/v3/tokens/{id}).
func (c *Client) RevokeToken(ctx context.Context, id int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/api/v3/tokens/" + strconv.FormatInt(id, 10)}, nil)
	return err
}

// CreateUserToken makes a personal access token for another user, a
// service account above all; admins only (POST /api/v3/users/{id}/tokens).
func (c *Client) CreateUserToken(ctx context.Context, userID int64, t AccessTokenCreate) (*AccessToken, error) {
	out := &AccessToken{}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: userTokensPath(userID), body: t}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListUserTokens returns one page of a user's tokens; admins only
// (GET /api/v3/users/{id}/tokens).
func (c *Client) ListUserTokens(ctx context.Context, userID int64, opts TokenListOptions) (*Page[AccessToken], error) {
	return getPage[AccessToken](ctx, c, userTokensPath(userID), pageQuery(nil, opts.Page, opts.PageSize))
}
