package main

import (
	"bufio"
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
	fs, dbURL := newFlags("migrate", getenv)
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
	fs, dbURL := newFlags("user create", getenv)
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
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("read password: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if msg := roster.ValidatePassword(pw); msg != "" {
			return usagef("user create: password: %s", msg)
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
	fs, dbURL := newFlags("token create", getenv)
	username := fs.String("username", "", "username or email of the token's user (required)")
	ttl := fs.Duration("ttl", roster.DefaultTokenTTL, "token life")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" {
		return usagef("token create: --username is required")
	}
	if *ttl <= 0 {
		return usagef("token create: --ttl must be positive")
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
	secret, hash := roster.NewTokenSecret()
	if err := db.CreateToken(ctx, &roster.Token{UserID: u.ID, Hash: hash, ExpiresAt: time.Now().Add(*ttl)}); err != nil {
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
