package client

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ErrNoPage is returned by NextPage and PreviousPage when there is no such page.
var ErrNoPage = errors.New("roster client: no such page")

// Page is one page of a list: Count items in all, and the absolute URLs of
// the pages around it ("" at either end).
type Page[T any] struct {
	Count    int    `json:"count"`
	Next     string `json:"next"`
	Previous string `json:"previous"`
	Results  []T    `json:"results"`

	c    *Client
	path string
}

// getPage fetches one page of path with query q.
func getPage[T any](ctx context.Context, c *Client, path string, q url.Values) (*Page[T], error) {
	p := &Page[T]{c: c, path: path}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q}, p); err != nil {
		return nil, err
	}
	return p, nil
}

// follow fetches the page a next or previous link points to. Only the
// link's query is used, on the client's own base URL, so a proxy that
// rewrites the host or path in front of the server does not matter.
func (p *Page[T]) follow(ctx context.Context, link string) (*Page[T], error) {
	if link == "" {
		return nil, ErrNoPage
	}
	u, err := url.Parse(link)
	if err != nil {
		return nil, err
	}
	return getPage[T](ctx, p.c, p.path, u.Query())
}

// NextPage fetches the page after p (ErrNoPage on the last).
func (p *Page[T]) NextPage(ctx context.Context) (*Page[T], error) { return p.follow(ctx, p.Next) }

// PreviousPage fetches the page before p (ErrNoPage on the first).
func (p *Page[T]) PreviousPage(ctx context.Context) (*Page[T], error) {
	return p.follow(ctx, p.Previous)
}

// All yields the items of p and then of every following page, fetched one
// at a time by following Next. An error ends the sequence after being
// yielded. Page numbers shift when items are added or removed meanwhile;
// for activity feeds prefer AllUserActivities and AllWorkspaceActivities.
func (p *Page[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for page := p; ; {
			for _, item := range page.Results {
				if !yield(item, nil) {
					return
				}
			}
			if page.Next == "" {
				return
			}
			next, err := page.NextPage(ctx)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			page = next
		}
	}
}

// allPages is the iterator of a list whose first page is fetched lazily.
func allPages[T any](ctx context.Context, c *Client, path string, q url.Values) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		first, err := getPage[T](ctx, c, path, q)
		if err != nil {
			var zero T
			yield(zero, err)
			return
		}
		first.All(ctx)(yield)
	}
}

// ListOptions selects a page: Page is 1-based (0 means 1); PageSize 0 means
// the server's default (50, at most 1000).
type ListOptions struct {
	Page     int
	PageSize int
}

func pageQuery(q url.Values, page, size int) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	if size > 0 {
		q.Set("page_size", strconv.Itoa(size))
	}
	return q
}

func (o ListOptions) query() url.Values { return pageQuery(nil, o.Page, o.PageSize) }

func setBool(q url.Values, name string, v *bool) {
	if v != nil {
		q.Set(name, strconv.FormatBool(*v))
	}
}

// UserListOptions filters and orders ListUsers.
type UserListOptions struct {
	Page     int
	PageSize int
	// Ordering is one of id, username, email, firstName, lastName,
	// dateJoined, lastLogin, optionally prefixed with "-".
	Ordering string
	IsActive *bool
	// IsService lists only service accounts (true) or only people (false).
	IsService *bool
}

func (o UserListOptions) query() url.Values {
	q := pageQuery(nil, o.Page, o.PageSize)
	if o.Ordering != "" {
		q.Set("ordering", o.Ordering)
	}
	setBool(q, "isActive", o.IsActive)
	setBool(q, "isService", o.IsService)
	return q
}

// SearchOptions pages and filters SearchUsers.
type SearchOptions struct {
	Page     int
	PageSize int
	IsActive *bool
}

// ActiveWorkspaceOptions pages ListActiveWorkspaces; Days is the window
// (0 means the server's 30).
type ActiveWorkspaceOptions struct {
	Page     int
	PageSize int
	Days     int
}

// ActivityFilter narrows an activity feed or count. Zero fields do not
// filter. Verb is exact or a prefix ending in ".*"; Before keeps only
// activities older than that id (keyset paging).
type ActivityFilter struct {
	Page      int
	PageSize  int
	Workspace int64
	Verb      string
	Since     time.Time
	Until     time.Time
	Before    int64
}

func (f ActivityFilter) query() url.Values {
	q := pageQuery(nil, f.Page, f.PageSize)
	if f.Workspace != 0 {
		q.Set("workspace", strconv.FormatInt(f.Workspace, 10))
	}
	if f.Verb != "" {
		q.Set("verb", f.Verb)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	if f.Before != 0 {
		q.Set("before", strconv.FormatInt(f.Before, 10))
	}
	return q
}

// defaultKeysetSize is the page size of the activity walks.
const defaultKeysetSize = 100

// allActivities walks a feed newest first with `before` instead of page
// numbers, so activities published during the walk neither shift pages
// nor show up twice. f.Page is ignored.
func allActivities(ctx context.Context, c *Client, path string, f ActivityFilter) iter.Seq2[Activity, error] {
	return func(yield func(Activity, error) bool) {
		f.Page = 0
		if f.PageSize <= 0 {
			f.PageSize = defaultKeysetSize
		}
		for {
			page, err := getPage[Activity](ctx, c, path, f.query())
			if err != nil {
				yield(Activity{}, err)
				return
			}
			for _, a := range page.Results {
				if !yield(a, nil) {
					return
				}
			}
			if page.Next == "" || len(page.Results) == 0 {
				return
			}
			f.Before = page.Results[len(page.Results)-1].ID
		}
	}
}
