package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

// MaxBodySize is the largest request body accepted.
const MaxBodySize = 1 << 20

func asError(err error) (*roster.Error, bool) {
	var e *roster.Error
	ok := errors.As(err, &e)
	return e, ok
}

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return jsonEncode(w, v)
}

// writeJSON writes an encoded JSON body with status.
func writeJSON(w http.ResponseWriter, status int, body []byte) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// marshal encodes v as it would be sent, for ETags.
func marshal(v any) []byte {
	var b bytes.Buffer
	_ = jsonEncode(&b, v)
	return b.Bytes()
}

// body is a decoded JSON object whose fields are taken one by one, so that
// unknown fields, wrong types and missing fields are all reported by name.
type body struct {
	raw    map[string]json.RawMessage
	errors roster.FieldErrors
}

// decodeBody reads a JSON object of at most MaxBodySize bytes. allowed
// names the fields a handler reads; ignored names read-only fields that
// clients may echo back. Anything else is a 400 naming it.
func decodeBody(w http.ResponseWriter, r *http.Request, allowed, ignored []string) (*body, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil, roster.Errorf(roster.EUNSUPPORTED, "Unsupported media type; send application/json.")
	}
	if r.ContentLength > MaxBodySize {
		return nil, roster.Errorf(roster.ETOOLARGE, "The request body exceeds %d bytes.", MaxBodySize)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, roster.Errorf(roster.ETOOLARGE, "The request body exceeds %d bytes.", MaxBodySize)
		}
		return nil, roster.Errorf(roster.EINVALID, "The request body could not be read.")
	}
	if !utf8.Valid(data) { // encoding/json would silently turn bad bytes into U+FFFD
		return nil, roster.Errorf(roster.EINVALID, "The request body is not valid JSON.")
	}
	b := &body{errors: roster.FieldErrors{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&b.raw); err != nil || b.raw == nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) || (err == nil && b.raw == nil) {
			return nil, roster.Errorf(roster.EINVALID, "The request body must be a JSON object.")
		}
		return nil, roster.Errorf(roster.EINVALID, "The request body is not valid JSON.")
	}
	if _, err := dec.Token(); err != io.EOF { // dec.More misses a trailing "]" or "}"
		return nil, roster.Errorf(roster.EINVALID, "The request body must hold exactly one JSON object.")
	}
	known := map[string]bool{}
	for _, f := range allowed {
		known[f] = true
	}
	for _, f := range ignored {
		delete(b.raw, f)
	}
	var unknown []string
	for k := range b.raw {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		fe := roster.FieldErrors{}
		for _, k := range unknown {
			fe.Add(k, "Unknown field.")
		}
		return nil, &roster.Error{Code: roster.EINVALID, Message: "Unknown field(s): " + strings.Join(unknown, ", ") + ".", Fields: fe}
	}
	return b, nil
}

func (b *body) has(name string) bool { _, ok := b.raw[name]; return ok }

// require records "This field is required." for each missing name.
func (b *body) require(names ...string) {
	for _, n := range names {
		if !b.has(n) {
			b.errors.Add(n, roster.MsgRequired)
		}
	}
}

// field decodes the field name as a T, or returns nil when it is absent;
// null or a wrong type records badType (or the null message) for it.
func field[T any](b *body, name, badType string) *T {
	raw, ok := b.raw[name]
	if !ok {
		return nil
	}
	if string(raw) == "null" {
		b.errors.Add(name, roster.MsgNull)
		return nil
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		b.errors.Add(name, badType)
		return nil
	}
	return &v
}

// str returns the string field name, or nil when absent or invalid.
func (b *body) str(name string) *string { return field[string](b, name, "Not a valid string.") }

// boolean returns the boolean field name, or nil when absent or invalid.
func (b *body) boolean(name string) *bool { return field[bool](b, name, "Must be a valid boolean.") }

// integer returns the integer field name, or nil when absent or invalid.
func (b *body) integer(name string) *int64 {
	return field[int64](b, name, "A valid integer is required.")
}

// err returns the collected field errors.
func (b *body) err() error { return b.errors.Err() }

// parseID reads a positive integer path value; anything else is a 404.
func parseID(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 || strings.HasPrefix(s, "+") {
		return 0, roster.Errorf(roster.ENOTFOUND, "Not found.")
	}
	return id, nil
}

// apiTime formats times as the contract does: RFC 3339, UTC, microseconds.
type apiTime time.Time

const timeLayout = "2006-01-02T15:04:05.000000Z"

func (t apiTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(timeLayout) + `"`), nil
}

func optTime(t *time.Time) *apiTime {
	if t == nil {
		return nil
	}
	v := apiTime(*t)
	return &v
}

func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

// jsonHex are the digits of encoding/json's \u00XX escapes.
const jsonHex = "0123456789abcdef"

// appendJSONString appends s quoted exactly as jsonEncode writes a string
// (encoding/json without HTML escaping): the same escapes, invalid UTF-8
// as \ufffd, U+2028 and U+2029 escaped. TestAppendJSONString holds it to
// encoding/json.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', jsonHex[c>>4], jsonHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', jsonHex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
