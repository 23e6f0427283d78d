package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// DefaultUserAgent is sent unless WithUserAgent sets another.
const DefaultUserAgent = "roster-go-client"

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// Client calls one Roster server. It is safe for concurrent use; Login and
// Logout change the token that later calls send.
type Client struct {
	base      *url.URL
	http      *http.Client
	userAgent string

	mu    sync.RWMutex
	token string
}

// Option configures a Client.
type Option func(*Client)

// WithToken makes the client send "Authorization: Bearer token".
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient sets the *http.Client used for every call. Its Timeout
// also cuts activity streams: prefer deadlines on the calls' contexts.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL, its root URL (such as
// "http://localhost:8080"), under which the API lives at /api/v3. It fails
// only on a base URL that is not an absolute http(s) URL.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("roster client: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("roster client: base URL %q is not an absolute http(s) URL", baseURL)
	}
	u.RawQuery, u.Fragment = "", ""
	c := &Client{base: u, http: &http.Client{}, userAgent: DefaultUserAgent}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	return c, nil
}

// Token returns the bearer token the client sends ("" for none).
func (c *Client) Token() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.token
}

func (c *Client) setToken(t string) {
	c.mu.Lock()
	c.token = t
	c.mu.Unlock()
}

// endpoint is the absolute URL of path (which starts with "/") and query.
func (c *Client) endpoint(path string, q url.Values) string {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// request is one API call.
type request struct {
	method  string
	path    string
	query   url.Values
	body    any // JSON-encoded when not nil
	header  http.Header
	accept  string
	noToken bool
}

// newRequest builds the *http.Request of r.
func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	var rd io.Reader
	if r.body != nil {
		data, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("roster client: encode %s %s body: %w", r.method, r.path, err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.endpoint(r.path, r.query), rd)
	if err != nil {
		return nil, fmt.Errorf("roster client: %w", err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json, application/problem+json"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.userAgent)
	if tok := c.Token(); tok != "" && !r.noToken {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req, nil
}

// do sends r and decodes a 2xx JSON body into out (when out is not nil).
// Any other status is returned as an *Error. The response is returned with
// its body closed, for its headers.
func (c *Client) do(ctx context.Context, r request, out any) (*http.Response, error) {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("roster client: %s %s: %w", r.method, r.path, err)
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		if res.StatusCode == http.StatusNotModified {
			return res, nil
		}
		return res, readError(res)
	}
	if out == nil || res.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxErrorBody))
		return res, nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw, err = io.ReadAll(res.Body)
		if err != nil {
			return res, fmt.Errorf("roster client: %s %s: read body: %w", r.method, r.path, err)
		}
		return res, nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return res, fmt.Errorf("roster client: %s %s: decode body: %w", r.method, r.path, err)
	}
	return res, nil
}
