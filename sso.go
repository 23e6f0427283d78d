package roster

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AuthProvider is an OpenID Connect provider through which people sign in
// (single sign-on). It is stored, so every instance on one database sees it.
type AuthProvider struct {
	Name        string // slug, the key in URLs
	DisplayName string
	Issuer      string
	ClientID    string
	// ClientSecret is write-only in the API.
	ClientSecret  string
	Scopes        []string
	UsernameClaim string
	// GroupsClaim, when set, names the claim whose group names the user's
	// memberships in the groups this provider manages follow.
	GroupsClaim         string
	AutoCreate          bool
	LinkByEmail         bool
	AllowedEmailDomains []string // empty: any domain
	Enabled             bool
	CreatedAt           time.Time
}

// AuthProviderUpdate lists the fields a PATCH changes (nil: unchanged).
type AuthProviderUpdate struct {
	DisplayName         *string
	Issuer              *string
	ClientID            *string
	ClientSecret        *string
	Scopes              *[]string
	UsernameClaim       *string
	GroupsClaim         *string
	AutoCreate          *bool
	LinkByEmail         *bool
	AllowedEmailDomains *[]string
	Enabled             *bool
}

// Apply returns p with upd applied.
func (upd AuthProviderUpdate) Apply(p AuthProvider) AuthProvider {
	assign(&p.DisplayName, upd.DisplayName)
	assign(&p.Issuer, upd.Issuer)
	assign(&p.ClientID, upd.ClientID)
	assign(&p.ClientSecret, upd.ClientSecret)
	assign(&p.UsernameClaim, upd.UsernameClaim)
	assign(&p.GroupsClaim, upd.GroupsClaim)
	assign(&p.Scopes, upd.Scopes)
	assign(&p.AllowedEmailDomains, upd.AllowedEmailDomains)
	assign(&p.AutoCreate, upd.AutoCreate)
	assign(&p.LinkByEmail, upd.LinkByEmail)
	assign(&p.Enabled, upd.Enabled)
	return p
}

// Defaults of a provider's claims and scopes, from the contract.
var DefaultProviderScopes = []string{"openid", "email", "profile"}

// DefaultUsernameClaim is the claim a just-in-time user's username comes from.
const DefaultUsernameClaim = "preferred_username"

// Single sign-on timings from the contract.
const (
	// LoginStateTTL is how long a sign-in started at a provider may take.
	LoginStateTTL = 10 * time.Minute
	// LoginCodeTTL is the life of the one-time code the callback hands the
	// browser.
	LoginCodeTTL = 60 * time.Second
)

// Verbs of the activities recorded for single sign-on.
const (
	VerbAuthProviderCreated = "auth.provider_created"
	VerbAuthProviderUpdated = "auth.provider_updated"
	VerbAuthProviderDeleted = "auth.provider_deleted"
	VerbIdentityLinked      = "auth.identity_linked"
	VerbIdentityUnlinked    = "auth.identity_unlinked"
)

var providerNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$`)
var claimPattern = regexp.MustCompile(`^[A-Za-z0-9_:./-]{1,100}$`)
var domainPattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// ValidateAuthProvider checks the fields of p that an admin sets.
func ValidateAuthProvider(p *AuthProvider) error {
	fe := FieldErrors{}
	if !providerNamePattern.MatchString(p.Name) {
		fe.Add("name", "Enter a slug: 1 to 50 lower-case letters, digits and hyphens.")
	}
	if p.DisplayName == "" {
		fe.Add("displayName", "This field may not be blank.")
	} else if utf8.RuneCountInString(p.DisplayName) > 100 || !ValidText(p.DisplayName, false) {
		fe.Add("displayName", "Enter at most 100 characters, without control characters.")
	}
	if u, err := url.Parse(p.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || len(p.Issuer) > 2048 {
		fe.Add("issuer", "Enter the issuer's http(s) URL, without query or credentials.")
	}
	if p.ClientID == "" || len(p.ClientID) > 1024 || !ValidText(p.ClientID, false) {
		fe.Add("clientId", "Enter the client id Roster is registered under at the provider.")
	}
	if len(p.ClientSecret) > 4096 || !ValidText(p.ClientSecret, false) {
		fe.Add("clientSecret", "Ensure this field has no more than 4096 characters.")
	}
	hasOpenID := false
	for _, s := range p.Scopes {
		if !claimPattern.MatchString(s) {
			fe.Add("scopes", "Each scope is 1 to 100 letters, digits and _:./- characters.")
			break
		}
		hasOpenID = hasOpenID || s == "openid"
	}
	if !hasOpenID || len(p.Scopes) > 20 {
		fe.Add("scopes", "The scopes must include \"openid\" (at most 20 scopes).")
	}
	if !claimPattern.MatchString(p.UsernameClaim) {
		fe.Add("usernameClaim", "Enter a claim name.")
	}
	if p.GroupsClaim != "" && !claimPattern.MatchString(p.GroupsClaim) {
		fe.Add("groupsClaim", "Enter a claim name, or nothing.")
	}
	if len(p.AllowedEmailDomains) > 100 {
		fe.Add("allowedEmailDomains", "At most 100 domains.")
	}
	for _, d := range p.AllowedEmailDomains {
		if !domainPattern.MatchString(d) {
			fe.Add("allowedEmailDomains", "Each must be a lower-case domain name (example.com).")
			break
		}
	}
	return fe.Err()
}

// EmailAllowed reports whether email's domain is one of the provider's
// allowed domains (any domain when none is listed). Subdomains are not
// included: list each one.
func (p *AuthProvider) EmailAllowed(email string) bool {
	if len(p.AllowedEmailDomains) == 0 {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	domain := email[at+1:]
	for i := range len(domain) {
		if domain[i] >= utf8.RuneSelf {
			return false // compared in ASCII only: no K (U+212A) for k
		}
	}
	domain = strings.ToLower(domain)
	for _, d := range p.AllowedEmailDomains {
		if d == domain {
			return true
		}
	}
	return false
}

// ClaimsAllowed reports whether a sign-in with claims c passes the
// provider's allowed email domains: with domains set, the email must be
// present, verified by the provider and in one of them, on every sign-in
// (an identity linked before a domain was removed is refused too).
func (p *AuthProvider) ClaimsAllowed(c *ProviderClaims) bool {
	if len(p.AllowedEmailDomains) == 0 {
		return true
	}
	return c.EmailVerified && p.EmailAllowed(c.Email)
}

// Identity links a user to a subject at a provider.
type Identity struct {
	UserID      int64
	Provider    string
	Subject     string
	Email       string
	LinkedAt    time.Time
	LastLoginAt *time.Time
}

// LoginState is a sign-in under way at a provider: what the callback needs
// to finish it on any instance. It is used once.
type LoginState struct {
	// Hash is the SHA-256 of the state value sent to the provider.
	Hash        []byte
	Provider    string
	Verifier    string // PKCE code verifier
	Nonce       string
	RedirectURI string
	ExpiresAt   time.Time
}

// ProviderClaims are the verified claims of an ID token that Roster uses.
type ProviderClaims struct {
	Subject       string
	Email         string
	EmailVerified bool
	Username      string // the provider's usernameClaim
	GivenName     string
	FamilyName    string
	// Groups is the groupsClaim, nil when the provider has none set.
	Groups []string
}

// SignInRefusal is why a verified identity does not sign anyone in; each
// is sent to the browser as the reason in "#error=".
type SignInRefusal string

// Reasons a sign-in is refused.
const (
	RefusedNoAccount    SignInRefusal = "no_account"
	RefusedInactive     SignInRefusal = "account_inactive"
	RefusedService      SignInRefusal = "service_account"
	RefusedEmailDomain  SignInRefusal = "email_domain_not_allowed"
	RefusedLinkConflict SignInRefusal = "identity_conflict"
)

// Messages of the refusals, for the problem details of an API client.
var refusalMessages = map[SignInRefusal]string{
	RefusedNoAccount:    "No account for this identity.",
	RefusedInactive:     "This account is inactive.",
	RefusedService:      "A service account cannot sign in.",
	RefusedEmailDomain:  "This email domain is not allowed for this provider.",
	RefusedLinkConflict: "This account is already linked to another identity at this provider.",
}

// ErrSignInRefused is the EFORBIDDEN error of a refusal, with the refusal
// as its Reason.
func ErrSignInRefused(r SignInRefusal) *Error {
	return &Error{Code: EFORBIDDEN, Message: refusalMessages[r], Reason: string(r)}
}

// SSOService stores providers, identities and the short-lived state of
// sign-ins. Changes record activities by actor in the same transaction.
type SSOService interface {
	// CreateAuthProvider stores p (CreatedAt set); ECONFLICT for a taken name.
	CreateAuthProvider(ctx context.Context, actor int64, p *AuthProvider) error
	// FindAuthProviders returns every provider, by name.
	FindAuthProviders(ctx context.Context) ([]*AuthProvider, error)
	// FindAuthProvider is ENOTFOUND for an unknown name.
	FindAuthProvider(ctx context.Context, name string) (*AuthProvider, error)
	UpdateAuthProvider(ctx context.Context, actor int64, name string, upd AuthProviderUpdate) (*AuthProvider, error)
	// DeleteAuthProvider removes the provider and its identities; the groups
	// it managed become ordinary groups.
	DeleteAuthProvider(ctx context.Context, actor int64, name string) error

	// CreateLoginState stores s (and forgets expired states).
	CreateLoginState(ctx context.Context, s *LoginState) error
	// TakeLoginState deletes and returns the unexpired state of hash:
	// ENOTFOUND when there is none (unknown, used or expired).
	TakeLoginState(ctx context.Context, hash []byte) (*LoginState, error)

	// SignIn finds the user of verified claims at provider p (the linked
	// identity; else, with LinkByEmail and a verified email, the user with
	// that email; else, with AutoCreate, a new user), syncs the groups p
	// manages to claims.Groups when p has a GroupsClaim, and stores
	// codeHash as a one-time code for that user until codeExpires, all in
	// one transaction. A refusal is EFORBIDDEN with a SignInRefusal Reason.
	SignIn(ctx context.Context, p *AuthProvider, c *ProviderClaims, codeHash []byte, codeExpires time.Time) (*User, error)
	// RedeemLoginCode deletes the unexpired one-time code of codeHash and
	// stores the session t for its user (UserID set), stamping lastLogin and
	// recording auth.login with the provider; EUNAUTHORIZED for an unknown,
	// used or expired code, or a user who may no longer sign in.
	RedeemLoginCode(ctx context.Context, codeHash []byte, t *Token) error

	// FindIdentities returns the identities of user id, by provider.
	FindIdentities(ctx context.Context, userID int64) ([]*Identity, error)
	// DeleteIdentity unlinks user id from provider; ENOTFOUND when not
	// linked, ECONFLICT when it would leave the user no way to sign in (no
	// other identity, and no usable password or passwordCounts false).
	DeleteIdentity(ctx context.Context, actor, userID int64, provider string, passwordCounts bool) error
}

// JITUsername makes a valid username from a claim value (or, when that
// gives nothing, the email's local part): characters a username may not
// hold are dropped. The store makes it unique.
func JITUsername(claim, email string) string {
	clean := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			if validUsernameRune(r) {
				b.WriteRune(r)
			}
		}
		out := b.String()
		for utf8.RuneCountInString(out) > MaxUsernameLen-8 { // room for a suffix
			_, n := utf8.DecodeLastRuneInString(out)
			out = out[:len(out)-n]
		}
		return out
	}
	if u := clean(claim); u != "" {
		return u
	}
	local, _, _ := strings.Cut(email, "@")
	if u := clean(local); u != "" {
		return u
	}
	return "user"
}

// validUsernameRune reports whether a username may hold r (ValidateUser).
func validUsernameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("@.+-_", r)
}
