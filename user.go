package roster

import (
	"context"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// User is a person known to Roster.
type User struct {
	ID        int64
	Username  string
	Email     string
	FirstName string
	LastName  string
	IsActive  bool
	IsAdmin   bool
	// IsService marks a service account: a program's identity that cannot
	// sign in and holds only tokens made for it by an admin. Set on creation.
	IsService    bool
	Bio          string
	AvatarURL    string
	Timezone     string
	Locale       string
	DateJoined   time.Time
	LastLogin    *time.Time
	LastActiveAt *time.Time
	Groups       []GroupRef
	// ExternalID is the identity provider's id of the user (SCIM
	// externalId), "" when none was given; case-exact, not unique.
	ExternalID string
	// ModifiedAt is the time of the last change of the stored profile
	// (nil before the first one).
	ModifiedAt *time.Time

	// Version increases with every change of the stored profile; it makes
	// If-Match checks atomic.
	Version int64
}

// UserSummary is what lists show of a user.
type UserSummary struct {
	ID        int64
	Username  string
	Email     string
	FirstName string
	LastName  string
	IsActive  bool
}

// Summary returns the summary of u.
func (u *User) Summary() UserSummary {
	return UserSummary{ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, IsActive: u.IsActive}
}

// GroupRef names a group a user belongs to.
type GroupRef struct {
	ID   int64
	Name string
}

// UserOrderings lists the values accepted by the ordering parameter, without
// the optional "-" prefix.
var UserOrderings = []string{"id", "username", "email", "firstName", "lastName", "dateJoined", "lastLogin"}

// Page selects a window of a list.
type Page struct {
	Offset int
	Limit  int
}

// UserFilter selects users for a list.
type UserFilter struct {
	IsActive  *bool
	IsService *bool
	Ordering  string // one of UserOrderings, optionally prefixed with "-"; "" means "id"
	Page
}

// UserSearch is a search over username, email, first and last name.
type UserSearch struct {
	Terms    []string // already case-folded, non-empty
	Query    string   // the whole query, folded, terms joined by one space
	IsActive *bool
	Page
}

// UserUpdate holds the fields of a change; nil means unchanged.
type UserUpdate struct {
	Username     *string
	Email        *string
	FirstName    *string
	LastName     *string
	IsActive     *bool
	IsAdmin      *bool
	Bio          *string
	AvatarURL    *string
	Timezone     *string
	Locale       *string
	PasswordHash *string
	ExternalID   *string

	// IfVersion, when non-zero, makes the update fail with EPRECONDITION
	// unless the stored version still equals it.
	IfVersion int64
	// KeepTokenID is the token that survives a password change (the
	// caller's own); every other token of the user is revoked.
	KeepTokenID int64
}

// ChangedFields lists the API names of the fields the update sets, for the
// user.updated activity. Secret fields are named, never valued.
func (u UserUpdate) ChangedFields(old *User) []string {
	var f []string
	add := func(name string, changed bool) {
		if changed {
			f = append(f, name)
		}
	}
	add("username", u.Username != nil && *u.Username != old.Username)
	add("email", u.Email != nil && *u.Email != old.Email)
	add("firstName", u.FirstName != nil && *u.FirstName != old.FirstName)
	add("lastName", u.LastName != nil && *u.LastName != old.LastName)
	add("isActive", u.IsActive != nil && *u.IsActive != old.IsActive)
	add("isAdmin", u.IsAdmin != nil && *u.IsAdmin != old.IsAdmin)
	add("bio", u.Bio != nil && *u.Bio != old.Bio)
	add("avatarUrl", u.AvatarURL != nil && *u.AvatarURL != old.AvatarURL)
	add("timezone", u.Timezone != nil && *u.Timezone != old.Timezone)
	add("locale", u.Locale != nil && *u.Locale != old.Locale)
	add("password", u.PasswordHash != nil)
	add("externalId", u.ExternalID != nil && *u.ExternalID != old.ExternalID)
	return f
}

// Apply returns a copy of old with the update applied.
func (u UserUpdate) Apply(old *User) *User {
	n := *old
	assign(&n.Username, u.Username)
	assign(&n.Email, u.Email)
	assign(&n.FirstName, u.FirstName)
	assign(&n.LastName, u.LastName)
	assign(&n.Bio, u.Bio)
	assign(&n.AvatarURL, u.AvatarURL)
	assign(&n.Timezone, u.Timezone)
	assign(&n.Locale, u.Locale)
	assign(&n.IsActive, u.IsActive)
	assign(&n.IsAdmin, u.IsAdmin)
	assign(&n.ExternalID, u.ExternalID)
	return &n
}

// assign sets *dst to *v when v is not nil: one field of a partial update.
func assign[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// UserService stores users. Implementations return ENOTFOUND for absent or
// deleted users, ECONFLICT (with Fields) for a taken username or email and for
// a change that would leave no active admin, and EPRECONDITION when
// UserUpdate.IfVersion no longer matches.
type UserService interface {
	FindUserByID(ctx context.Context, id int64) (*User, error)
	// FindUserProfile is FindUserByID as viewer may see it: for a viewer
	// other than an admin or the user itself, LastActiveAt is when the
	// user's newest activity that viewer may see was published, or nil
	// when it may see none.
	FindUserProfile(ctx context.Context, viewer *User, id int64) (*User, error)
	// FindUsers returns one page of user summaries and the total count of
	// the filter. The summaries may be shared with other callers: read only.
	FindUsers(ctx context.Context, f UserFilter) ([]*UserSummary, int, error)
	// SearchUsers returns one page of matches, best first, and their total.
	SearchUsers(ctx context.Context, s UserSearch) ([]*User, int, error)
	// CreateUser stores u, sets its ID and DateJoined, and records a
	// user.created activity by actor in the same transaction.
	CreateUser(ctx context.Context, actor int64, u *User, passwordHash string) error
	// UpdateUser applies upd and records user.updated by actor atomically.
	// Deactivation, deletion and password change revoke tokens as the
	// contract requires (password change keeps keepToken alive).
	UpdateUser(ctx context.Context, actor, id int64, upd UserUpdate) (*User, error)
	// DeleteUser removes the user, its tokens, memberships and grants, and
	// records user.deleted; its id is never reused.
	DeleteUser(ctx context.Context, actor, id int64) error
	// CountUsers returns the number of users.
	CountUsers(ctx context.Context) (int, error)
}

// Fold case-folds s with full Unicode case folding, so that "Ångström",
// "ÅNGSTRÖM" and "ångström" compare equal. Search and case-insensitive
// uniqueness both use it.
func Fold(s string) string {
	return cases.Fold().String(s)
}

// SearchTerms splits q on white space and folds each term.
func SearchTerms(q string) []string {
	terms := strings.Fields(q)
	for i, t := range terms {
		terms[i] = Fold(t)
	}
	return terms
}

// Validation limits from the contract.
const (
	MaxUsernameLen = 150
	MaxEmailLen    = 254
	MaxNameLen     = 150
	MaxBioLen      = 2000
	MinPasswordLen = 8
	MaxPasswordLen = 1024
	MaxSearchLen   = 256
)

// Validation messages, worded as Django REST framework words them.
const (
	MsgRequired = "This field is required."
	MsgNull     = "This field may not be null."
)

func tooLong(n int) string {
	return "Ensure this field has no more than " + strconv.Itoa(n) + " characters."
}

// ValidateUser checks every writable field of u and returns EINVALID with
// Fields naming each field that fails.
func ValidateUser(u *User) error {
	fe := FieldErrors{}
	switch n := utf8.RuneCountInString(u.Username); {
	case n == 0:
		fe.Add("username", "This field may not be blank.")
	case n > MaxUsernameLen:
		fe.Add("username", tooLong(MaxUsernameLen))
	default:
		for _, r := range u.Username {
			if !validUsernameRune(r) {
				fe.Add("username", "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.")
				break
			}
		}
	}
	switch {
	case u.Email == "":
		fe.Add("email", "This field may not be blank.")
	case utf8.RuneCountInString(u.Email) > MaxEmailLen:
		fe.Add("email", tooLong(MaxEmailLen))
	case !validEmail(u.Email) || hasControl(u.Email, false):
		fe.Add("email", "Enter a valid email address.")
	}
	checkText := func(field, v string, max int) {
		if utf8.RuneCountInString(v) > max {
			fe.Add(field, tooLong(max))
		} else if hasControl(v, field == "bio") {
			fe.Add(field, "This field may not contain control characters.")
		}
	}
	checkText("firstName", u.FirstName, MaxNameLen)
	checkText("lastName", u.LastName, MaxNameLen)
	checkText("bio", u.Bio, MaxBioLen)
	if u.AvatarURL != "" && !validHTTPURL(u.AvatarURL) {
		fe.Add("avatarUrl", "Enter a valid http or https URL.")
	}
	if !ValidTimezone(u.Timezone) {
		fe.Add("timezone", "Enter a known IANA time zone name.")
	}
	if !validLocale(u.Locale) {
		fe.Add("locale", "Enter a valid BCP 47 language tag.")
	}
	return fe.Err()
}

// ValidatePassword checks a new password.
func ValidatePassword(p string) string {
	switch n := utf8.RuneCountInString(p); {
	case n < MinPasswordLen:
		return "Ensure this field has at least 8 characters."
	case len(p) > MaxPasswordLen:
		return tooLong(MaxPasswordLen)
	}
	return ""
}

// hasControl reports whether s holds a control character (NUL included)
// or a format character: the bidi controls (U+202A..U+202E,
// U+2066..U+2069, U+200E/F), zero-width characters and the like, which
// make text display other than it reads. allowNewlines lets \n, \r and \t
// through (multi-line text).
func hasControl(s string, allowNewlines bool) bool {
	for _, r := range s {
		if (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) && !(allowNewlines && (r == '\n' || r == '\r' || r == '\t')) {
			return true
		}
	}
	return false
}

// ValidText reports whether s is free of control and format characters
// (see hasControl); multiline allows \n, \r and \t. Every text field
// the API stores is held to it.
func ValidText(s string, multiline bool) bool {
	return utf8.ValidString(s) && !hasControl(s, multiline)
}

// UsernameSkeleton is the form under which usernames must be unique: the
// UTS #39 confusable skeleton of the NFKC-normalized, case-folded name
// (case-folded again; NFKC maps the compatibility forms such as fullwidth
// letters, which confusables.txt leaves to it),
// so that "\u0430dmin" (Cyrillic a), fullwidth "ａｄｍｉｎ" and "Admin" all
// collide with "admin".
func UsernameSkeleton(username string) string {
	return Fold(confusables.Skeleton(norm.NFKC.String(Fold(username))))
}

func validEmail(s string) bool {
	if strings.ContainsAny(s, " \t\r\n<>\"(),;:\\[]") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 {
		return false
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return false
	}
	return true
}

func validHTTPURL(s string) bool {
	if len(s) > 2048 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !hasControl(s, false)
}

// ValidTimezone reports whether name is a known IANA zone.
func ValidTimezone(name string) bool {
	if name == "" || name == "Local" || len(name) > 64 {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

// validLocale accepts the syntax of BCP 47 tags: alphanumeric subtags of 1–8
// characters separated by "-", the first being 2–3 letters (or "i"/"x").
func validLocale(s string) bool {
	if s == "" || len(s) > 35 {
		return false
	}
	for i, sub := range strings.Split(s, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for _, r := range sub {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || (i > 0 && r >= '0' && r <= '9')) {
				return false
			}
		}
		if i == 0 && !(len(sub) >= 2 && len(sub) <= 3 || sub == "i" || sub == "x") {
			return false
		}
	}
	return true
}
