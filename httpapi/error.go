package httpapi

import (
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/scim"
)

// codes maps application error codes to HTTP statuses: the one table.
var codes = map[string]int{
	roster.EINVALID:      http.StatusBadRequest,
	roster.EUNAUTHORIZED: http.StatusUnauthorized,
	roster.EFORBIDDEN:    http.StatusForbidden,
	roster.ENOTFOUND:     http.StatusNotFound,
	roster.ECONFLICT:     http.StatusConflict,
	roster.EGONE:         http.StatusGone,
	roster.EPRECONDITION: http.StatusPreconditionFailed,
	roster.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	roster.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	roster.ETHROTTLED:    http.StatusTooManyRequests,
	roster.EUNAVAILABLE:  http.StatusServiceUnavailable,
	roster.EINTERNAL:     http.StatusInternalServerError,
}

// problem is an RFC 9457 problem details body.
type problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail"`
	Errors map[string][]string `json:"errors,omitempty"`
}

// writeError writes err as problem+json. Internal errors are logged with
// their cause and shown only as "Internal error.".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeErrorAs(w, r, err, false)
}

// writeSCIMError writes err as a SCIM error body, with the status of the
// same table (the /scim/v2 routes).
func (s *Server) writeSCIMError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeErrorAs(w, r, err, true)
}

func (s *Server) writeErrorAs(w http.ResponseWriter, r *http.Request, err error, scimBody bool) {
	code := roster.ErrorCode(err)
	status, ok := codes[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusInternalServerError || status == http.StatusServiceUnavailable {
		s.log.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("error", err.Error()))
	}
	var fields map[string][]string
	var retry float64
	if e, ok := asError(err); ok {
		fields, retry = e.Fields, e.RetryAfter.Seconds()
		if e.Scope != "" && status == http.StatusForbidden { // RFC 6750 section 3.1
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+string(e.Scope)+`"`)
		}
	}
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="roster"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry)))))
	}
	if scimBody {
		w.Header().Set("Cache-Control", "no-store")
		scim.WriteError(w, status, err)
		return
	}
	writeProblem(w, status, roster.ErrorMessage(err), fields)
}

func writeProblem(w http.ResponseWriter, status int, detail string, fields map[string][]string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Del("ETag")
	w.WriteHeader(status)
	_ = jsonEncode(w, problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields})
}
