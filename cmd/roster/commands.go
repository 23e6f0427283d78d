package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/password"
)

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs, dbURL := newFlags("migrate", "Apply the database migrations that have not run yet.", getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, err := openStore(ctx, *dbURL, 0)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

func runUserCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs, dbURL := newFlags("user create", "Create a user. Without --password-stdin it has no usable password until one is set (roster user set-password).", getenv)
	username := fs.String("username", "", "username (required)")
	email := fs.String("email", "", "email address (required)")
	first := fs.String("first", "", "first name")
	last := fs.String("last", "", "last name")
	admin := fs.Bool("admin", false, "make the user an admin")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" || *email == "" {
		return usagef("user create: --username and --email are required")
	}
	u := &roster.User{Username: *username, Email: *email, FirstName: *first, LastName: *last, IsAdmin: *admin,
		IsActive: true, Timezone: "UTC", Locale: "en"}
	if err := roster.ValidateUser(u); err != nil {
		return usagef("user create: %s", fieldSummary(err))
	}
	hash := ""
	if *pwStdin {
		pw, err := readPassword(stdin, "user create")
		if err != nil {
			return err
		}
		if hash, err = password.NewHasher(1).Hash(ctx, pw); err != nil {
			return err
		}
	}
	db, err := openStore(ctx, *dbURL, 0)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CreateUser(ctx, 0, u, hash); err != nil {
		return fmt.Errorf("user create: %s", fieldSummary(err))
	}
	fmt.Fprintf(stdout, "created user %d (%s)\n", u.ID, u.Username)
	return nil
}

func runTokenCreate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs, dbURL := newFlags("token create", "Print a new personal API token for a user; only the token goes to stdout.", getenv)
	username := fs.String("username", "", "username or email of the token's user (required)")
	ttl := fs.Duration("ttl", roster.DefaultTokenTTL, "token life (at most 366 days)")
	scopeList := fs.String("scopes", "", "comma-separated scopes, e.g. activities:write,users:read (default: every scope the user may hold)")
	name := fs.String("name", "cli", "what the token is for, shown in the user's token list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" {
		return usagef("token create: --username is required")
	}
	if *ttl <= 0 || *ttl > roster.MaxPersonalTokenTTL {
		return usagef("token create: --ttl must be positive and at most 366 days (8784h)")
	}
	if n := len([]rune(*name)); strings.TrimSpace(*name) == "" || n > roster.MaxTokenNameLen {
		return usagef("token create: --name must be 1 to 100 characters")
	}
	var scopes roster.Scopes
	for _, sc := range strings.Split(*scopeList, ",") {
		if sc = strings.TrimSpace(sc); sc == "" {
			continue
		} else if !roster.Scope(sc).Known() {
			return usagef("token create: unknown scope %q", sc)
		}
		scopes |= roster.ScopesOf(roster.Scope(sc))
	}
	// Only a missing --scopes means every scope: an empty value (say, an
	// unset shell variable) must not quietly make the strongest token.
	if scopes == 0 && flagSet(fs, "scopes") {
		return usagef("token create: --scopes names no scope; leave it out for every scope the user may hold")
	}
	db, err := openStore(ctx, *dbURL, 0)
	if err != nil {
		return err
	}
	defer db.Close()
	u, _, err := db.FindCredentials(ctx, *username)
	if err != nil {
		return fmt.Errorf("token create: %s", fieldSummary(err))
	}
	if !u.IsActive {
		return fmt.Errorf("token create: user %q is not active", u.Username)
	}
	allowed := roster.ScopesFor(u)
	if scopes == 0 {
		scopes = allowed
	} else if extra := scopes &^ allowed; extra != 0 {
		return fmt.Errorf("token create: user %q may not hold the scopes %s (admins only)", u.Username, strings.ReplaceAll(extra.String(), " ", ","))
	}
	secret, hash := roster.NewTokenSecret()
	t := &roster.Token{UserID: u.ID, Hash: hash, Kind: roster.TokenPersonal, Name: *name, Scopes: scopes,
		Prefix: roster.TokenPrefix(secret), ExpiresAt: time.Now().Add(*ttl)}
	if err := db.CreateToken(ctx, t); err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

// fieldSummary renders a roster error with its field messages on one line.
func fieldSummary(err error) string {
	var e *roster.Error
	if !errors.As(err, &e) {
		return err.Error()
	} else if len(e.Fields) == 0 {
		return e.Message
	}
	var parts []string
	for f, msgs := range e.Fields {
		parts = append(parts, f+": "+strings.Join(msgs, " "))
	}
	return strings.Join(parts, "; ")
}
