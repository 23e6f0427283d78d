package client

import (
	"context"
	"net/http"
)

// Login exchanges a username (or email) and password for a token
// (POST /api/v3/auth/token), which the client then sends on every call.
// Repeated failures give ErrTooManyRequests with RetryAfter set.
func (c *Client) Login(ctx context.Context, username, password string) (*Token, error) {
	out := &Token{}
	body := map[string]string{"username": username, "password": password}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v3/auth/token", body: body, noToken: true}, out); err != nil {
		return nil, err
	}
	c.setToken(out.Token)
	return out, nil
}

// Logout revokes the client's token (DELETE /api/v3/auth/token) and stops
// sending it.
func (c *Client) Logout(ctx context.Context) error {
	if _, err := c.do(ctx, request{method: http.MethodDelete, path: "/api/v3/auth/token"}, nil); err != nil {
		return err
	}
	c.setToken("")
	return nil
}

// Health checks that the server process is up (GET /healthz).
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/healthz", noToken: true}, nil)
	return err
}

// Ready checks that the server reaches its database (GET /readyz); it
// fails with ErrUnavailable when not.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/readyz", noToken: true}, nil)
	return err
}

// Metrics returns the server's metrics in Prometheus text format (GET /metrics).
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	var out []byte
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/metrics", accept: "text/plain", noToken: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// OpenAPI returns the server's OpenAPI 3.1 document (GET /api/v3/openapi.json).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	var out []byte
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v3/openapi.json", noToken: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}
