package roster

import (
	"errors"
	"fmt"
	"time"
)

// Application error codes. The HTTP layer maps each one to a status code in a
// single table; any other error is EINTERNAL, logged and never shown.
const (
	EINVALID      = "invalid"      // bad input: 400
	EUNAUTHORIZED = "unauthorized" // no valid credentials: 401
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed: 403
	ENOTFOUND     = "not_found"    // absent resource: 404
	ECONFLICT     = "conflict"     // uniqueness or last-admin conflict: 409
	EGONE         = "gone"         // a position older than the kept history: 410
	EPRECONDITION = "precondition" // If-Match mismatch: 412
	ETOOLARGE     = "too_large"    // request body over the limit: 413
	EUNSUPPORTED  = "unsupported"  // write body that is not JSON: 415
	ETHROTTLED    = "throttled"    // too many attempts or streams: 429
	EUNAVAILABLE  = "unavailable"  // the database is unreachable: 503
	EINTERNAL     = "internal"     // anything else: 500
)

// Error is the one error type of the application. Message is shown to API
// clients; Fields carries per-field validation messages.
type Error struct {
	Code       string
	Message    string
	Fields     map[string][]string
	RetryAfter time.Duration // with ETHROTTLED
	Scope      Scope         // with EFORBIDDEN: the token scope the operation needs
	// Reason is a short machine-readable reason (a refused single sign-on
	// sends it to the browser as "#error=<reason>").
	Reason string
	// SCIMType is the scimType of the error's SCIM body (RFC 7644 section
	// 3.12), for the errors of SCIM requests that have one: "invalidFilter",
	// "invalidPath", "invalidValue", "mutability", "noTarget", ...
	SCIMType string
}

func (e *Error) Error() string {
	return fmt.Sprintf("roster error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID or ECONFLICT error for one field.
func FieldError(code, field, msg string) *Error {
	return &Error{Code: code, Message: "Invalid input.", Fields: map[string][]string{field: {msg}}}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, else EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-facing message of err.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// FieldErrors collects validation messages per field.
type FieldErrors map[string][]string

// Add records msg for field.
func (f FieldErrors) Add(field, msg string) { f[field] = append(f[field], msg) }

// Err returns nil when no field failed, else an EINVALID *Error.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "Invalid input.", Fields: f}
}
