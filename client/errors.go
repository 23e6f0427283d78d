package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors that an *Error matches with errors.Is, by HTTP status.
var (
	ErrInvalid            = errors.New("roster: invalid request")     // 400, 413, 415
	ErrUnauthorized       = errors.New("roster: unauthorized")        // 401
	ErrForbidden          = errors.New("roster: forbidden")           // 403
	ErrNotFound           = errors.New("roster: not found")           // 404
	ErrConflict           = errors.New("roster: conflict")            // 409
	ErrPreconditionFailed = errors.New("roster: precondition failed") // 412
	ErrTooManyRequests    = errors.New("roster: too many requests")   // 429
	ErrUnavailable        = errors.New("roster: unavailable")         // 502, 503, 504
	// ErrInsufficientScope is a 403 of a token that lacks the scope the
	// operation needs (Error.Scope names it); it also matches ErrForbidden.
	ErrInsufficientScope = errors.New("roster: insufficient scope")
)

// Error is an answer of the server with a status other than 2xx (or 304),
// carrying its RFC 9457 problem details.
type Error struct {
	Status int
	Type   string
	Title  string
	Detail string
	// Errors holds the messages of each invalid field (400 only).
	Errors map[string][]string
	// RetryAfter is the wait the server asked for (429, 503), or zero.
	RetryAfter time.Duration
	// Scope is the token scope the operation needs, from the
	// WWW-Authenticate challenge of a 403 insufficient_scope.
	Scope string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "roster: %d %s", e.Status, e.Title)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	fields := make([]string, 0, len(e.Errors))
	for f := range e.Errors {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		fmt.Fprintf(&b, " (%s: %s)", f, strings.Join(e.Errors[f], " "))
	}
	return b.String()
}

// Is reports whether target is the sentinel error of e's status.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalid:
		return e.Status == http.StatusBadRequest || e.Status == http.StatusRequestEntityTooLarge ||
			e.Status == http.StatusUnsupportedMediaType
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrInsufficientScope:
		return e.Status == http.StatusForbidden && e.Scope != ""
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrPreconditionFailed:
		return e.Status == http.StatusPreconditionFailed
	case ErrTooManyRequests:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable ||
			e.Status == http.StatusGatewayTimeout
	}
	return false
}

// FieldErrors returns the messages of one invalid field (nil for none).
func (e *Error) FieldErrors(field string) []string { return e.Errors[field] }

// readError turns a non-2xx response into an *Error. A body that is not
// problem+json (from a proxy, say) leaves Detail empty.
func readError(res *http.Response) *Error {
	e := &Error{Status: res.StatusCode, Title: http.StatusText(res.StatusCode), RetryAfter: retryAfter(res.Header, time.Now()),
		Scope: insufficientScope(res.Header.Get("WWW-Authenticate"))}
	data, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		var p struct {
			Type   string              `json:"type"`
			Title  string              `json:"title"`
			Status int                 `json:"status"`
			Detail string              `json:"detail"`
			Errors map[string][]string `json:"errors"`
		}
		if json.Unmarshal(data, &p) == nil {
			e.Type, e.Detail, e.Errors = p.Type, p.Detail, p.Errors
			if p.Title != "" {
				e.Title = p.Title
			}
		}
	}
	return e
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(n, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// insufficientScope returns the scope of an RFC 6750 challenge
// `Bearer error="insufficient_scope", scope="..."`, or "".
func insufficientScope(challenge string) string {
	if !strings.Contains(challenge, `error="insufficient_scope"`) {
		return ""
	}
	_, rest, ok := strings.Cut(challenge, `scope="`)
	if !ok {
		return ""
	}
	scope, _, _ := strings.Cut(rest, `"`)
	return scope
}
