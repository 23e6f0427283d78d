package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.SSOService = (*DB)(nil)

const providerColumns = `name, display_name, issuer, client_id, client_secret, scopes, username_claim, groups_claim,
	auto_create, link_by_email, allowed_email_domains, enabled, created_at`

func scanProvider(s Scanner) (*roster.AuthProvider, error) {
	var p roster.AuthProvider
	var scopes, domains string
	var created dbTime
	if err := s.Scan(&p.Name, &p.DisplayName, &p.Issuer, &p.ClientID, &p.ClientSecret, &scopes, &p.UsernameClaim, &p.GroupsClaim,
		&p.AutoCreate, &p.LinkByEmail, &domains, &p.Enabled, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &p.Scopes); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(domains), &p.AllowedEmailDomains); err != nil {
		return nil, err
	}
	p.CreatedAt = created.t
	return &p, nil
}

func findProvider(ctx context.Context, q Querier, name string) (*roster.AuthProvider, error) {
	p, err := scanProvider(q.QueryRowContext(ctx, "SELECT "+providerColumns+" FROM auth_providers WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("Provider")
	}
	return p, err
}

func providerObject(name string) *roster.ActivityObject {
	return &roster.ActivityObject{Type: "auth_provider", ID: name, Name: name}
}

// CreateAuthProvider stores p and records auth.provider_created.
func (db *DB) CreateAuthProvider(ctx context.Context, actor int64, p *roster.AuthProvider) error {
	now := db.Now()
	return db.tx(ctx, func(tx *wtx) error {
		if _, err := findProvider(ctx, tx, p.Name); err == nil {
			return roster.FieldError(roster.ECONFLICT, "name", "A provider with that name already exists.")
		} else if roster.ErrorCode(err) != roster.ENOTFOUND {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO auth_providers ("+providerColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			p.Name, p.DisplayName, p.Issuer, p.ClientID, p.ClientSecret, stringsJSON(p.Scopes), p.UsernameClaim, p.GroupsClaim,
			p.AutoCreate, p.LinkByEmail, stringsJSON(p.AllowedEmailDomains), p.Enabled, db.t(now))
		if err != nil {
			return err
		}
		p.CreatedAt = now.Truncate(time.Microsecond)
		return tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbAuthProviderCreated, Object: providerObject(p.Name), Published: now})
	})
}

// FindAuthProviders returns every provider by name.
func (db *DB) FindAuthProviders(ctx context.Context) ([]*roster.AuthProvider, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	out := []*roster.AuthProvider{}
	err := eachRow(ctx, db.read, "SELECT "+providerColumns+" FROM auth_providers ORDER BY name", nil, func(rows *sql.Rows) error {
		p, err := scanProvider(rows)
		out = append(out, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindAuthProvider returns one provider.
func (db *DB) FindAuthProvider(ctx context.Context, name string) (*roster.AuthProvider, error) {
	return findProvider(ctx, db.read, name)
}

// UpdateAuthProvider applies upd and records auth.provider_updated with the
// names of the changed fields (never the secret's value).
func (db *DB) UpdateAuthProvider(ctx context.Context, actor int64, name string, upd roster.AuthProviderUpdate) (*roster.AuthProvider, error) {
	now := db.Now()
	var out *roster.AuthProvider
	err := db.tx(ctx, func(tx *wtx) error {
		old, err := findProvider(ctx, tx, name)
		if err != nil {
			return err
		}
		n := upd.Apply(*old)
		var fields []string
		for _, f := range []struct {
			name    string
			changed bool
		}{
			{"displayName", n.DisplayName != old.DisplayName}, {"issuer", n.Issuer != old.Issuer}, {"clientId", n.ClientID != old.ClientID},
			{"clientSecret", n.ClientSecret != old.ClientSecret}, {"scopes", !slices.Equal(n.Scopes, old.Scopes)},
			{"usernameClaim", n.UsernameClaim != old.UsernameClaim}, {"groupsClaim", n.GroupsClaim != old.GroupsClaim},
			{"autoCreate", n.AutoCreate != old.AutoCreate}, {"linkByEmail", n.LinkByEmail != old.LinkByEmail},
			{"allowedEmailDomains", !slices.Equal(n.AllowedEmailDomains, old.AllowedEmailDomains)}, {"enabled", n.Enabled != old.Enabled},
		} {
			if f.changed {
				fields = append(fields, f.name)
			}
		}
		out = &n
		if len(fields) == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE auth_providers SET display_name = ?, issuer = ?, client_id = ?, client_secret = ?, scopes = ?,
			username_claim = ?, groups_claim = ?, auto_create = ?, link_by_email = ?, allowed_email_domains = ?, enabled = ? WHERE name = ?`,
			n.DisplayName, n.Issuer, n.ClientID, n.ClientSecret, stringsJSON(n.Scopes), n.UsernameClaim, n.GroupsClaim, n.AutoCreate,
			n.LinkByEmail, stringsJSON(n.AllowedEmailDomains), n.Enabled, name)
		if err != nil {
			return err
		}
		data, _ := json.Marshal(map[string][]string{"fields": fields})
		return tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbAuthProviderUpdated, Object: providerObject(name),
			Data: data, Published: now})
	})
	return out, err
}

// DeleteAuthProvider removes a provider; its identities go with it (foreign
// key cascade) and the groups it managed become ordinary groups.
func (db *DB) DeleteAuthProvider(ctx context.Context, actor int64, name string) error {
	return db.tx(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM auth_providers WHERE name = ?", name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("Provider")
		}
		if _, err := tx.ExecContext(ctx, "UPDATE groups SET managed_by = '' WHERE managed_by = ?", name); err != nil {
			return err
		}
		return tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbAuthProviderDeleted, Object: providerObject(name), Published: db.Now()})
	})
}

// CreateLoginState stores a sign-in's state, first forgetting expired ones
// (and expired one-time codes), so that neither table grows with abandoned
// sign-ins.
func (db *DB) CreateLoginState(ctx context.Context, s *roster.LoginState) error {
	now := db.t(db.Now())
	return db.tx(ctx, func(tx *wtx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM oidc_states WHERE expires_at < ?", now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_codes WHERE expires_at < ?", now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO oidc_states (hash, provider, verifier, nonce, redirect_uri, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
			s.Hash, s.Provider, s.Verifier, s.Nonce, s.RedirectURI, db.t(s.ExpiresAt))
		return err
	})
}

var errNoLoginState = &roster.Error{Code: roster.ENOTFOUND, Message: "This sign-in is unknown, already used or expired; start again."}

// TakeLoginState deletes and returns a state: whichever instance deletes it
// first uses it, so it is used once.
func (db *DB) TakeLoginState(ctx context.Context, hash []byte) (*roster.LoginState, error) {
	var s roster.LoginState
	var expires dbTime
	err := db.tx(ctx, func(tx *wtx) error {
		return tx.QueryRowContext(ctx, "DELETE FROM oidc_states WHERE hash = ? RETURNING provider, verifier, nonce, redirect_uri, expires_at", hash).
			Scan(&s.Provider, &s.Verifier, &s.Nonce, &s.RedirectURI, &expires)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoLoginState
	} else if err != nil {
		return nil, err
	}
	s.Hash, s.ExpiresAt = hash, expires.t
	if !s.ExpiresAt.After(db.Now()) {
		return nil, errNoLoginState
	}
	return &s, nil
}

// SignIn resolves verified claims to a user, syncs managed groups and
// stores a one-time code, in one transaction.
func (db *DB) SignIn(ctx context.Context, p *roster.AuthProvider, c *roster.ProviderClaims, codeHash []byte, codeExpires time.Time) (*roster.User, error) {
	now := db.Now()
	var out *roster.User
	err := db.tx(ctx, func(tx *wtx) error {
		u, err := tx.identityUser(ctx, p, c, now)
		if err != nil {
			return err
		}
		if u.IsService {
			return roster.ErrSignInRefused(roster.RefusedService)
		}
		if !u.IsActive {
			return roster.ErrSignInRefused(roster.RefusedInactive)
		}
		if p.GroupsClaim != "" {
			if err := tx.syncGroups(ctx, p.Name, u, c.Groups, now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO login_codes (hash, user_id, provider, expires_at) VALUES (?, ?, ?, ?)",
			codeHash, u.ID, p.Name, db.t(codeExpires)); err != nil {
			return err
		}
		out = u
		return nil
	})
	return out, err
}

// identityUser finds (or links, or creates) the user of claims c at p.
func (tx *wtx) identityUser(ctx context.Context, p *roster.AuthProvider, c *roster.ProviderClaims, now time.Time) (*roster.User, error) {
	var id int64
	err := tx.QueryRowContext(ctx, "SELECT user_id FROM user_identities WHERE provider = ? AND subject = ?", p.Name, c.Subject).Scan(&id)
	if err == nil {
		if !p.ClaimsAllowed(c) {
			return nil, roster.ErrSignInRefused(roster.RefusedEmailDomain)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE user_identities SET last_login_at = ?, email = ? WHERE provider = ? AND subject = ?",
			tx.db.t(now), c.Email, p.Name, c.Subject); err != nil {
			return nil, err
		}
		return findUser(ctx, tx, id)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if !p.ClaimsAllowed(c) {
		return nil, roster.ErrSignInRefused(roster.RefusedEmailDomain)
	}
	var u *roster.User
	if p.LinkByEmail && c.EmailVerified && c.Email != "" {
		err := tx.QueryRowContext(ctx, "SELECT id FROM users WHERE email_fold = ?", roster.Fold(c.Email)).Scan(&id)
		if err == nil {
			if u, err = findUser(ctx, tx, id); err != nil {
				return nil, err
			}
		} else if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	if u == nil {
		if !p.AutoCreate {
			return nil, roster.ErrSignInRefused(roster.RefusedNoAccount)
		}
		var err error
		if u, err = tx.createJITUser(ctx, p, c, now); err != nil {
			return nil, err
		}
	}
	if u.IsService { // never link an identity to a service account
		return nil, roster.ErrSignInRefused(roster.RefusedService)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM user_identities WHERE user_id = ? AND provider = ?", u.ID, p.Name).Scan(&n); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, roster.ErrSignInRefused(roster.RefusedLinkConflict)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO user_identities (provider, subject, user_id, email, linked_at, last_login_at) VALUES (?, ?, ?, ?, ?, ?)",
		p.Name, c.Subject, u.ID, c.Email, tx.db.t(now), tx.db.t(now)); err != nil {
		return nil, err
	}
	data, _ := json.Marshal(map[string]string{"provider": p.Name, "subject": c.Subject})
	err = tx.insertActivity(ctx, &roster.Activity{ActorID: u.ID, Verb: roster.VerbIdentityLinked, Object: userObject(u), Data: data, Published: now})
	return u, err
}

// createJITUser creates the user of claims c, whose email must be verified:
// its username from the provider's username claim, made unique with a
// numeric suffix.
func (tx *wtx) createJITUser(ctx context.Context, p *roster.AuthProvider, c *roster.ProviderClaims, now time.Time) (*roster.User, error) {
	// The email becomes the user's: only one the provider verified, so
	// that nobody claims another person's address ahead of them.
	if c.Email == "" || !c.EmailVerified {
		return nil, roster.ErrSignInRefused(roster.RefusedNoAccount)
	}
	base := roster.JITUsername(c.Username, c.Email)
	u := &roster.User{Email: c.Email, FirstName: truncate(c.GivenName, roster.MaxNameLen), LastName: truncate(c.FamilyName, roster.MaxNameLen),
		IsActive: true, Timezone: "UTC", Locale: "en"}
	for i := 1; ; i++ {
		u.Username = base
		if i > 1 {
			u.Username = base + strconv.Itoa(i)
		}
		if err := roster.ValidateUser(u); err != nil {
			return nil, roster.ErrSignInRefused(roster.RefusedNoAccount)
		}
		err := checkUnique(ctx, tx, 0, u)
		if err == nil {
			break
		}
		var e *roster.Error
		if !errors.As(err, &e) || e.Code != roster.ECONFLICT || len(e.Fields["email"]) > 0 || i >= 100 {
			if e != nil && e.Code == roster.ECONFLICT {
				// the email is another user's: without linkByEmail (and a
				// verified email) this identity may not take it over
				return nil, roster.ErrSignInRefused(roster.RefusedNoAccount)
			}
			return nil, err
		}
	}
	if err := tx.insertUser(ctx, 0, u, "", now); err != nil {
		return nil, err
	}
	return u, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// syncGroups makes u's memberships in the groups provider manages equal
// names: missing groups are created as managed by provider; groups made by
// hand (or by another provider) are never touched.
func (tx *wtx) syncGroups(ctx context.Context, provider string, u *roster.User, names []string, now time.Time) error {
	want := map[int64]*roster.Group{}
	for _, name := range names {
		if name == "" || len([]rune(name)) > 150 || !roster.ValidText(name, false) {
			continue
		}
		var g roster.Group
		var managedBy string
		err := tx.QueryRowContext(ctx, "SELECT id, name, managed_by FROM groups WHERE name_fold = ?", roster.Fold(name)).Scan(&g.ID, &g.Name, &managedBy)
		if errors.Is(err, sql.ErrNoRows) {
			if err := tx.QueryRowContext(ctx, "INSERT INTO groups (name, name_fold, created_at, modified_at, managed_by) VALUES (?, ?, ?, ?, ?) RETURNING id",
				name, roster.Fold(name), tx.db.t(now), tx.db.t(now), provider).Scan(&g.ID); err != nil {
				return err
			}
			g.Name, managedBy = name, provider
			data, _ := json.Marshal(map[string]string{"provider": provider})
			if err := tx.insertActivity(ctx, &roster.Activity{ActorID: u.ID, Verb: roster.VerbGroupCreated, Object: groupObject(&g), Data: data, Published: now}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if managedBy == provider {
			want[g.ID] = &g
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT g.id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id = ? AND g.managed_by = ?`, u.ID, provider)
	if err != nil {
		return err
	}
	have := map[int64]*roster.Group{}
	for rows.Next() {
		var g roster.Group
		if err := rows.Scan(&g.ID, &g.Name); err != nil {
			rows.Close()
			return err
		}
		have[g.ID] = &g
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	member, _ := json.Marshal(map[string]any{"user": map[string]any{"id": u.ID, "username": u.Username}, "provider": provider})
	for _, id := range sortedIDs(have) {
		if want[id] != nil {
			continue
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", id, u.ID); err != nil {
			return err
		}
		if err := bumpGroupVersion(ctx, tx, id, now); err != nil {
			return err
		}
		if err := tx.insertActivity(ctx, &roster.Activity{ActorID: u.ID, Verb: roster.VerbGroupMemberRemoved, Object: groupObject(have[id]),
			Data: member, Published: now}); err != nil {
			return err
		}
	}
	for _, id := range sortedIDs(want) {
		if have[id] != nil {
			continue
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO group_members (group_id, user_id) VALUES (?, ?)", id, u.ID); err != nil {
			return err
		}
		if err := bumpGroupVersion(ctx, tx, id, now); err != nil {
			return err
		}
		if err := tx.insertActivity(ctx, &roster.Activity{ActorID: u.ID, Verb: roster.VerbGroupMemberAdded, Object: groupObject(want[id]),
			Data: member, Published: now}); err != nil {
			return err
		}
	}
	return nil
}

func sortedIDs(m map[int64]*roster.Group) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

var errBadLoginCode = &roster.Error{Code: roster.EUNAUTHORIZED, Message: "This sign-in code is unknown, already used or expired."}

// RedeemLoginCode turns a one-time code into a login session.
func (db *DB) RedeemLoginCode(ctx context.Context, codeHash []byte, t *roster.Token) error {
	now := db.Now()
	return db.tx(ctx, func(tx *wtx) error {
		var provider string
		var expires dbTime
		err := tx.QueryRowContext(ctx, "DELETE FROM login_codes WHERE hash = ? RETURNING user_id, provider, expires_at", codeHash).
			Scan(&t.UserID, &provider, &expires)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !expires.t.After(now)) {
			return errBadLoginCode
		} else if err != nil {
			return err
		}
		u, err := findUser(ctx, tx, t.UserID)
		if roster.ErrorCode(err) == roster.ENOTFOUND || (err == nil && (!u.IsActive || u.IsService)) {
			return errBadLoginCode
		} else if err != nil {
			return err
		}
		return tx.insertSession(ctx, t, now, map[string]string{"method": "oidc", "provider": provider})
	})
}

// FindIdentities returns a user's identities by provider.
func (db *DB) FindIdentities(ctx context.Context, userID int64) ([]*roster.Identity, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	out := []*roster.Identity{}
	err := eachRow(ctx, db.read, `SELECT provider, subject, email, linked_at, last_login_at FROM user_identities
		WHERE user_id = ? ORDER BY provider`, []any{userID}, func(rows *sql.Rows) error {
		i := &roster.Identity{UserID: userID}
		var linked, last dbTime
		if err := rows.Scan(&i.Provider, &i.Subject, &i.Email, &linked, &last); err != nil {
			return err
		}
		i.LinkedAt, i.LastLoginAt = linked.t, last.ptr()
		out = append(out, i)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var errLastSignIn = &roster.Error{Code: roster.ECONFLICT, Message: "This would leave the user no way to sign in."}

// DeleteIdentity unlinks a user from a provider and records
// auth.identity_unlinked.
func (db *DB) DeleteIdentity(ctx context.Context, actor, userID int64, provider string, passwordCounts bool) error {
	return db.tx(ctx, func(tx *wtx) error {
		u, err := findUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		var subject string
		err = tx.QueryRowContext(ctx, "SELECT subject FROM user_identities WHERE user_id = ? AND provider = ?", userID, provider).Scan(&subject)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotFound("Identity")
		} else if err != nil {
			return err
		}
		var others int
		var hash string
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM user_identities WHERE user_id = ? AND provider <> ?", userID, provider).Scan(&others); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT password_hash FROM users WHERE id = ?", userID).Scan(&hash); err != nil {
			return err
		}
		if others == 0 && (hash == "" || !passwordCounts) {
			return errLastSignIn
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM user_identities WHERE user_id = ? AND provider = ?", userID, provider); err != nil {
			return err
		}
		data, _ := json.Marshal(map[string]string{"provider": provider, "subject": subject})
		return tx.insertActivity(ctx, &roster.Activity{ActorID: actor, Verb: roster.VerbIdentityUnlinked, Object: userObject(u), Data: data, Published: db.Now()})
	})
}
