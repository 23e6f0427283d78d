package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// Limits of GET /users/changes.
const (
	DefaultChangesLimit = 500
	MaxChangesLimit     = 5000
)

// deltaChange is one entry of the delta feed: {"op":"upsert","user":{...}}
// or {"op":"delete","id":N}.
type deltaChange struct {
	Op   string       `json:"op"`
	User *userSummary `json:"user,omitempty"`
	ID   int64        `json:"id,omitempty"`
}

type deltaChangesBody struct {
	Changes []deltaChange `json:"changes"`
	Cursor  string        `json:"cursor"`
	HasMore bool          `json:"hasMore"`
}

// encodeChangesCursor makes the opaque cursor: the installation and the
// position, base64url, so that a cursor of another database is told apart.
func encodeChangesCursor(installation string, seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("c1." + installation + "." + strconv.FormatInt(seq, 10)))
}

var errBadCursor = roster.FieldError(roster.EINVALID, "cursor", "Not a cursor this server gave out.")

// decodeChangesCursor is the inverse of encodeChangesCursor; anything it
// did not make is EINVALID.
func decodeChangesCursor(c string) (installation string, seq int64, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", 0, errBadCursor
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 || parts[0] != "c1" || parts[1] == "" {
		return "", 0, errBadCursor
	}
	seq, err = strconv.ParseInt(parts[2], 10, 64)
	if err != nil || seq < 0 || encodeChangesCursor(parts[1], seq) != c {
		return "", 0, errBadCursor
	}
	return parts[1], seq, nil
}

// handleUserChanges serves the users delta feed. Any user may read it, as
// any user may read GET /users, whose content it reproduces.
func (s *Server) handleUserChanges(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := DefaultChangesLimit
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return roster.FieldError(roster.EINVALID, "limit", "Must be a positive integer.")
		}
		limit = min(n, MaxChangesLimit)
	}
	var installation string
	var seq int64
	if v, ok := q["cursor"]; ok && v[0] != "" {
		var err error
		if installation, seq, err = decodeChangesCursor(v[0]); err != nil {
			return err
		}
	}
	ch, err := s.store.FindUserChanges(r.Context(), installation, seq, limit)
	if err != nil {
		return err
	}
	body := deltaChangesBody{Changes: make([]deltaChange, len(ch.Changes)), Cursor: encodeChangesCursor(ch.Installation, ch.Seq), HasMore: ch.HasMore}
	for i, c := range ch.Changes {
		if c.User == nil {
			body.Changes[i] = deltaChange{Op: "delete", ID: c.ID}
			continue
		}
		u := summaryJSON(*c.User)
		body.Changes[i] = deltaChange{Op: "upsert", User: &u}
	}
	w.Header().Set("Cache-Control", "no-store")
	return encode(w, http.StatusOK, body)
}
