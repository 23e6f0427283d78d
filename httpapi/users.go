package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

// userSummary is the user in every list.
type userSummary struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	IsActive  bool   `json:"isActive"`
}

type groupRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// userProfile is the full profile.
type userProfile struct {
	userSummary
	IsAdmin      bool       `json:"isAdmin"`
	IsService    bool       `json:"isService"`
	Bio          string     `json:"bio"`
	AvatarURL    string     `json:"avatarUrl"`
	Timezone     string     `json:"timezone"`
	Locale       string     `json:"locale"`
	DateJoined   apiTime    `json:"dateJoined"`
	LastLogin    *apiTime   `json:"lastLogin"`
	LastActiveAt *apiTime   `json:"lastActiveAt"`
	Groups       []groupRef `json:"groups"`
}

func summary(u *roster.User) userSummary { return summaryJSON(u.Summary()) }

func summaryJSON(s roster.UserSummary) userSummary {
	return userSummary{ID: s.ID, Username: s.Username, Email: s.Email, FirstName: s.FirstName, LastName: s.LastName, IsActive: s.IsActive}
}

func summaries(users []*roster.User) []userSummary {
	out := make([]userSummary, len(users))
	for i, u := range users {
		out[i] = summary(u)
	}
	return out
}

// appendSummary appends s as jsonEncode writes its userSummary (the
// order and names of userSummary's fields; TestAppendSummaryPage holds it
// to encoding/json).
func appendSummary(b []byte, s *roster.UserSummary) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, s.ID, 10)
	b = append(b, `,"username":`...)
	b = appendJSONString(b, s.Username)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, s.Email)
	b = append(b, `,"firstName":`...)
	b = appendJSONString(b, s.FirstName)
	b = append(b, `,"lastName":`...)
	b = appendJSONString(b, s.LastName)
	b = append(b, `,"isActive":`...)
	b = strconv.AppendBool(b, s.IsActive)
	return append(b, '}')
}

// summaryPageJSON is the body of a page of user summaries, as jsonEncode
// writes it, built by hand: encoding/json's reflection over 50 summaries
// was a fifth of the server CPU time of GET /users page 1 (pprof of
// cmd/roster-bench at 1M users, 2026-12-02).
func summaryPageJSON(page pageBody[*roster.UserSummary]) []byte {
	b := make([]byte, 0, 128+160*len(page.Results))
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(page.Count), 10)
	for _, link := range []struct {
		name string
		url  *string
	}{{`,"next":`, page.Next}, {`,"previous":`, page.Previous}} {
		b = append(b, link.name...)
		if link.url == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, *link.url)
		}
	}
	b = append(b, `,"results":[`...)
	for i, s := range page.Results {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSummary(b, s)
	}
	return append(b, "]}\n"...)
}

func profile(u *roster.User) userProfile {
	p := userProfile{userSummary: summary(u), IsAdmin: u.IsAdmin, IsService: u.IsService, Bio: u.Bio, AvatarURL: u.AvatarURL, Timezone: u.Timezone,
		Locale: u.Locale, DateJoined: apiTime(u.DateJoined), LastLogin: optTime(u.LastLogin), LastActiveAt: optTime(u.LastActiveAt),
		Groups: make([]groupRef, len(u.Groups))}
	for i, g := range u.Groups {
		p.Groups[i] = groupRef{ID: g.ID, Name: g.Name}
	}
	return p
}

// etag is a strong validator of a representation.
func etag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// etagMatches implements the comparison of If-Match / If-None-Match lists.
func etagMatches(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}

// writeProfile answers with the full profile and its ETag.
func writeProfile(w http.ResponseWriter, status int, u *roster.User) error {
	b := marshal(profile(u))
	w.Header().Set("ETag", etag(b))
	return writeJSON(w, status, b)
}

func parseIsActive(r *http.Request) (*bool, error) { return parseBoolParam(r, "isActive") }

// parseBoolParam reads an optional boolean query parameter.
func parseBoolParam(r *http.Request, name string) (*bool, error) {
	v, ok := r.URL.Query()[name]
	if !ok {
		return nil, nil
	}
	switch strings.ToLower(v[0]) {
	case "true", "1":
		t := true
		return &t, nil
	case "false", "0":
		f := false
		return &f, nil
	}
	return nil, roster.FieldError(roster.EINVALID, name, "Must be a valid boolean (true or false).")
}

func (s *Server) handleUserList(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	f := roster.UserFilter{Page: p.page(), Ordering: r.URL.Query().Get("ordering")}
	if f.IsActive, err = parseIsActive(r); err != nil {
		return err
	}
	if f.IsService, err = parseBoolParam(r, "isService"); err != nil {
		return err
	}
	if !validOrdering(f.Ordering) {
		return roster.FieldError(roster.EINVALID, "ordering", "Must be one of: "+strings.Join(roster.UserOrderings, ", ")+", each optionally prefixed with \"-\".")
	}
	users, total, err := s.store.FindUsers(r.Context(), f)
	if err != nil {
		return err
	}
	body, err := paginate(r, p, total, users)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, summaryPageJSON(body))
}

func validOrdering(o string) bool {
	if o == "" {
		return true
	}
	o = strings.TrimPrefix(o, "-")
	for _, v := range roster.UserOrderings {
		if o == v {
			return true
		}
	}
	return false
}

func (s *Server) handleUserSearch(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query().Get("q")
	switch {
	case strings.TrimSpace(q) == "":
		return roster.FieldError(roster.EINVALID, "q", "A non-blank search query is required.")
	case utf8.RuneCountInString(q) > roster.MaxSearchLen:
		return roster.FieldError(roster.EINVALID, "q", "Ensure this value has at most 256 characters.")
	}
	search := roster.UserSearch{Terms: roster.SearchTerms(q), Page: p.page()}
	search.Query = strings.Join(search.Terms, " ")
	if search.IsActive, err = parseIsActive(r); err != nil {
		return err
	}
	users, total, err := s.store.SearchUsers(r.Context(), search)
	if err != nil {
		return err
	}
	body, err := paginate(r, p, total, summaries(users))
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, body)
}

func (s *Server) handleUserGet(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	u, err := s.store.FindUserProfile(r.Context(), viewer(r), id)
	if err != nil {
		return err
	}
	b := marshal(profile(u)) // once, for the ETag and the body
	tag := etag(b)
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return writeJSON(w, http.StatusOK, b)
}

func (s *Server) handleUserMe(w http.ResponseWriter, r *http.Request) error {
	u, err := s.store.FindUserByID(r.Context(), viewer(r).ID)
	if err != nil {
		return err
	}
	return writeProfile(w, http.StatusOK, u)
}

// Fields a user body may carry, and read-only ones that are ignored.
var (
	userWritable = []string{"username", "email", "firstName", "lastName", "isActive", "isAdmin", "bio", "avatarUrl",
		"timezone", "locale", "password", "currentPassword"}
	userReadOnly = []string{"id", "dateJoined", "lastLogin", "lastActiveAt", "groups", "isService"}
)

// errServicePassword refuses a password for a service account.
const errServicePassword = "A service account cannot have a password; it signs in with tokens made by an admin."

// userChange is a decoded user body.
type userChange struct {
	roster.UserUpdate
	password        *string
	currentPassword *string
}

func readUserChange(b *body) userChange {
	c := userChange{UserUpdate: roster.UserUpdate{
		Username: b.str("username"), Email: b.str("email"), FirstName: b.str("firstName"), LastName: b.str("lastName"),
		IsActive: b.boolean("isActive"), IsAdmin: b.boolean("isAdmin"), Bio: b.str("bio"), AvatarURL: b.str("avatarUrl"),
		Timezone: b.str("timezone"), Locale: b.str("locale"),
	}, password: b.str("password"), currentPassword: b.str("currentPassword")}
	if c.password != nil {
		if msg := roster.ValidatePassword(*c.password); msg != "" {
			b.errors.Add("password", msg)
		}
	}
	return c
}

// validateUserFields checks the fields a change sets; fields it leaves alone
// are not re-validated, nor are fields already refused while decoding (a
// field of the wrong type gets one message, not also the value's).
func validateUserFields(b *body, u *roster.User) {
	err := roster.ValidateUser(u)
	if e, ok := asError(err); ok {
		for f, msgs := range e.Fields {
			if b.has(f) && len(b.errors[f]) == 0 {
				for _, m := range msgs {
					b.errors.Add(f, m)
				}
			}
		}
	}
}

func (s *Server) handleUserCreate(w http.ResponseWriter, r *http.Request) error {
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return err
	}
	b, err := decodeBody(w, r, append(userWritable[:len(userWritable)-1:len(userWritable)-1], "isService"), userReadOnly[:len(userReadOnly)-1])
	if err != nil {
		return err
	}
	b.require("username", "email")
	c := readUserChange(b)
	u := c.Apply(&roster.User{IsActive: true, Timezone: "UTC", Locale: "en"})
	if svc := b.boolean("isService"); svc != nil && *svc {
		u.IsService = true
		if c.password != nil {
			b.errors.Add("password", errServicePassword)
		}
	}
	validateUserFields(b, u)
	if err := b.err(); err != nil {
		return err
	}
	hash := ""
	if c.password != nil {
		if hash, err = s.hasher.Hash(r.Context(), *c.password); err != nil {
			return err
		}
	}
	if err := s.store.CreateUser(r.Context(), viewer(r).ID, u, hash); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v3/users/"+strconv.FormatInt(u.ID, 10))
	return writeProfile(w, http.StatusCreated, u)
}

func (s *Server) handleUserPut(w http.ResponseWriter, r *http.Request) error {
	return s.updateUser(w, r, true)
}

func (s *Server) handleUserPatch(w http.ResponseWriter, r *http.Request) error {
	return s.updateUser(w, r, false)
}

// updateUser serves PUT (put: the five core fields are required) and PATCH.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, put bool) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	me := viewer(r)
	if !roster.CanEditUser(me, id) {
		// Non-admins learn nothing about other users' existence from writes.
		if _, err := s.store.FindUserByID(r.Context(), id); err != nil {
			return err
		}
		return roster.ErrForbidden()
	}
	b, err := decodeBody(w, r, userWritable, userReadOnly)
	if err != nil {
		return err
	}
	if put {
		b.require("username", "email", "firstName", "lastName", "isActive")
	}
	c := readUserChange(b)
	if err := b.err(); err != nil {
		return err
	}
	old, err := s.store.FindUserByID(r.Context(), id)
	if err != nil {
		return err
	}
	if err := roster.CanUpdateUser(me, old, c.UserUpdate); err != nil {
		return err
	}
	if im := r.Header.Get("If-Match"); im != "" {
		if !etagMatches(im, etag(marshal(profile(old)))) {
			return roster.Errorf(roster.EPRECONDITION, "The user has changed since it was read (If-Match failed).")
		}
		c.IfVersion = old.Version // the store re-checks it atomically
	}
	validateUserFields(b, c.Apply(old))
	if c.password != nil && old.IsService {
		b.errors.Add("password", errServicePassword)
	} else if roster.NeedsCurrentPassword(me, old, c.UserUpdate, c.password != nil) {
		if c.currentPassword == nil {
			b.errors.Add("currentPassword", roster.MsgRequired)
		} else if ok, err := s.checkPassword(r, id, *c.currentPassword); err != nil {
			return err
		} else if !ok {
			b.errors.Add("currentPassword", "The current password is not correct.")
		}
	}
	if err := b.err(); err != nil {
		return err
	}
	if c.password != nil {
		hash, err := s.hasher.Hash(r.Context(), *c.password)
		if err != nil {
			return err
		}
		c.PasswordHash = &hash
		c.KeepTokenID = session(r).TokenID
	}
	u, err := s.store.UpdateUser(r.Context(), me.ID, id, c.UserUpdate)
	if err != nil {
		return err
	}
	return writeProfile(w, http.StatusOK, u)
}

// checkPassword reports whether pw is the stored password of user id. It
// is a password guess like a login: it counts against the client address
// and the account, and a locked account answers 429 (ETHROTTLED) without a
// verification. A user that is gone has no password to match; any other
// error (the database or the hasher failing) is returned, never taken for a
// mismatch.
func (s *Server) checkPassword(r *http.Request, id int64, pw string) (bool, error) {
	ctx := r.Context()
	client := clientAddress(r)
	if ok, wait := s.loginLimit.take(client, s.now()); !ok {
		return false, &roster.Error{Code: roster.ETHROTTLED, Message: errClientThrottled, RetryAfter: wait}
	}
	key := roster.AccountKey(id)
	if until, err := s.store.LoginLockedUntil(ctx, key); err != nil {
		return false, err
	} else if !until.IsZero() {
		return false, roster.ErrLoginThrottled(until, s.now())
	}
	ok := false
	hash, err := s.store.FindPasswordHash(ctx, id)
	if err == nil {
		ok, err = s.hasher.Verify(ctx, pw, hash)
	}
	if err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
		return false, err
	}
	if !ok {
		if _, err := s.store.RecordLoginFailure(ctx, key); err != nil {
			return false, err
		}
		return false, nil
	}
	s.loginLimit.give(client, s.now())
	return true, nil
}

func (s *Server) handleUserDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return err
	}
	if err := s.store.DeleteUser(r.Context(), viewer(r).ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
