package httpapi

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

// tokenJSON is a token as GET /tokens shows it; Token (the secret) only in
// the answer that creates it.
type tokenJSON struct {
	ID         int64          `json:"id"`
	Name       string         `json:"name"`
	Kind       string         `json:"kind"`
	Scopes     []roster.Scope `json:"scopes"`
	Prefix     string         `json:"prefix"`
	Token      string         `json:"token,omitempty"`
	CreatedAt  apiTime        `json:"createdAt"`
	ExpiresAt  apiTime        `json:"expiresAt"`
	LastUsedAt *apiTime       `json:"lastUsedAt"`
}

// tokenOut shows t of owner; a session shows every scope its owner may hold.
func tokenOut(t *roster.Token, owner *roster.User) tokenJSON {
	scopes := t.Scopes
	if t.Kind != roster.TokenPersonal {
		scopes = roster.EffectiveScopes(t.Kind, t.Scopes, owner)
	}
	return tokenJSON{ID: t.ID, Name: t.Name, Kind: string(t.Kind), Scopes: scopes.List(), Prefix: t.Prefix,
		CreatedAt: apiTime(t.CreatedAt), ExpiresAt: apiTime(t.ExpiresAt), LastUsedAt: optTime(t.LastUsedAt)}
}

// loginSessionName names the tokens made by a password login.
const loginSessionName = "login"

func (s *Server) handleTokenList(w http.ResponseWriter, r *http.Request) error {
	return s.writeTokens(w, r, viewer(r))
}

func (s *Server) handleTokenCreate(w http.ResponseWriter, r *http.Request) error {
	me := viewer(r)
	if me.IsService {
		return &roster.Error{Code: roster.EFORBIDDEN, Message: "A service account's tokens are made by an admin (POST /api/v3/users/{id}/tokens)."}
	}
	return s.createToken(w, r, me)
}

// handleTokenDelete revokes a token of the caller, or any token for an
// admin; someone else's token is a 404 to anyone else.
func (s *Server) handleTokenDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	me := viewer(r)
	t, err := s.store.FindToken(r.Context(), id)
	if err != nil {
		return err
	}
	if !roster.CanRevokeToken(me, t.UserID) {
		return roster.Errorf(roster.ENOTFOUND, "Token not found.")
	}
	if err := s.store.RevokeToken(r.Context(), me.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tokenOwner returns the user of the path, for an admin caller.
func (s *Server) tokenOwner(r *http.Request) (*roster.User, error) {
	id, err := parseID(r, "id")
	if err != nil {
		return nil, err
	}
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return nil, err
	}
	return s.store.FindUserByID(r.Context(), id)
}

func (s *Server) handleUserTokenList(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.tokenOwner(r)
	if err != nil {
		return err
	}
	return s.writeTokens(w, r, owner)
}

func (s *Server) handleUserTokenCreate(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.tokenOwner(r)
	if err != nil {
		return err
	}
	return s.createToken(w, r, owner)
}

func (s *Server) writeTokens(w http.ResponseWriter, r *http.Request, owner *roster.User) error {
	return servePage(w, r, func(p roster.Page) ([]*roster.Token, int, error) {
		return s.store.FindTokens(r.Context(), owner.ID, p)
	}, func(t *roster.Token) tokenJSON { return tokenOut(t, owner) })
}

// createToken reads a token body and makes a personal token for owner.
// Its scopes must be ones owner may hold (400) and ones the request's own
// token holds (403): a token never makes a stronger one.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, owner *roster.User) error {
	b, err := decodeBody(w, r, []string{"name", "scopes", "expiresAt"}, nil)
	if err != nil {
		return err
	}
	b.require("name", "scopes")
	name := b.str("name")
	list := field[[]string](b, "scopes", "Expected a list of scope names.")
	expiresAt := b.str("expiresAt")
	now := s.now()
	if name != nil {
		switch n := utf8.RuneCountInString(*name); {
		case strings.TrimSpace(*name) == "":
			b.errors.Add("name", "This field may not be blank.")
		case n > roster.MaxTokenNameLen:
			b.errors.Add("name", "Ensure this field has no more than 100 characters.")
		case strings.ContainsFunc(*name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			b.errors.Add("name", "This field may not contain control characters.")
		}
	}
	var scopes roster.Scopes
	if list != nil {
		if len(*list) == 0 {
			b.errors.Add("scopes", "Choose at least one scope.")
		}
		// Each kind of error is told once (for the first name that has it),
		// so that a 1 MiB list of bad names cannot make a 50 MiB answer.
		unknown, adminOnly := false, false
		for _, name := range *list {
			sc := roster.Scope(name)
			switch {
			case !sc.Known() && !unknown:
				unknown = true
				b.errors.Add("scopes", "Unknown scope \""+name+"\"; known: "+scopeNames()+".")
			case sc.AdminOnly() && !owner.IsAdmin && !adminOnly:
				adminOnly = true
				b.errors.Add("scopes", "The scope \""+name+"\" is only for tokens of admins.")
			}
			scopes |= roster.ScopesOf(sc)
		}
	}
	expires := now.Add(roster.DefaultPersonalTokenTTL)
	if expiresAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *expiresAt)
		switch {
		case err != nil:
			b.errors.Add("expiresAt", "Enter a date-time in RFC 3339 format.")
		case !t.After(now):
			b.errors.Add("expiresAt", "Must be in the future.")
		case t.After(now.Add(roster.MaxPersonalTokenTTL)):
			b.errors.Add("expiresAt", "Must be at most 366 days ahead.")
		default:
			expires = t.UTC()
		}
	}
	if !owner.IsActive {
		// Deactivation revokes every token of a user; one made meanwhile
		// would come alive when the user is activated again.
		b.errors.Add("user", "This user is not active; activate it before making tokens for it.")
	}
	if err := b.err(); err != nil {
		return err
	}
	sess := session(r)
	var missing []string
	for _, sc := range scopes.List() {
		if !sess.Allows(sc) {
			missing = append(missing, string(sc))
		}
	}
	if len(missing) > 0 {
		return roster.Errorf(roster.EFORBIDDEN, "This token cannot grant scopes it does not hold: %s.", strings.Join(missing, ", "))
	}
	secret, hash := roster.NewTokenSecret()
	t := &roster.Token{UserID: owner.ID, Hash: hash, Kind: roster.TokenPersonal, Name: *name, Scopes: scopes,
		Prefix: roster.TokenPrefix(secret), ExpiresAt: expires}
	if err := s.store.IssueToken(r.Context(), viewer(r).ID, t); err != nil {
		return err
	}
	out := tokenOut(t, owner)
	out.Token = secret
	w.Header().Set("Cache-Control", "no-store")
	return encode(w, http.StatusCreated, out)
}

func scopeNames() string {
	names := make([]string, len(roster.AllScopes))
	for i, s := range roster.AllScopes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
