package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/rosterhq/roster"
)

// Page size limits of the contract.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

var errInvalidPage = &roster.Error{Code: roster.ENOTFOUND, Message: "Invalid page."}

// pageParams are the page and page_size of a list request.
type pageParams struct {
	number, size int
}

func (p pageParams) page() roster.Page {
	return roster.Page{Offset: (p.number - 1) * p.size, Limit: p.size}
}

// parsePage reads page (a bad one is 404 "Invalid page.", as in Django REST
// framework) and page_size (bad is 400; above MaxPageSize is clamped).
func parsePage(r *http.Request) (pageParams, error) {
	p := pageParams{number: 1, size: DefaultPageSize}
	q := r.URL.Query()
	if v, ok := q["page"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return p, errInvalidPage
		}
		p.number = n
	}
	if v, ok := q["page_size"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			if len(v[0]) > 0 && err != nil && isDigits(v[0]) { // too large for int: clamp
				n, err = MaxPageSize, nil
			} else {
				return p, roster.FieldError(roster.EINVALID, "page_size", "A positive integer is required.")
			}
		}
		p.size = min(n, MaxPageSize)
	}
	if p.number > (1<<62)/p.size {
		return p, errInvalidPage
	}
	return p, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// pageBody is the Django REST framework list envelope.
type pageBody[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// paginate builds the envelope for one page of total items, or returns
// "Invalid page." when the page lies past the last one (page 1 is always valid).
func paginate[T any](r *http.Request, p pageParams, total int, results []T) (pageBody[T], error) {
	if p.number > 1 && p.page().Offset >= total {
		return pageBody[T]{}, errInvalidPage
	}
	b := pageBody[T]{Count: total, Results: results}
	if b.Results == nil {
		b.Results = []T{}
	}
	if p.page().Offset+len(results) < total {
		u := pageURL(r, p.number+1)
		b.Next = &u
	}
	if p.number > 1 {
		u := pageURL(r, p.number-1)
		b.Previous = &u
	}
	return b, nil
}

// pageURL is the absolute URL of the request with page set to n, at the
// origin worked out by edge (--public-url, trusted forwarded headers or the
// request); every other query parameter is kept. Page 1 drops the parameter, as DRF does.
func pageURL(r *http.Request, n int) string {
	q := r.URL.Query()
	if n == 1 {
		q.Del("page")
	} else {
		q.Set("page", strconv.Itoa(n))
	}
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	return origin(r) + u.String()
}

// origin is where the server's absolute links start: the origin (and path
// prefix) worked out by edge, else the request's scheme and host.
func origin(r *http.Request) string {
	if e, ok := edgeOf(r); ok {
		return e.origin
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
