package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/password"
	"github.com/rosterhq/roster/sqlstore"
)

// readPassword reads a password from the first line of r and checks it.
func readPassword(r io.Reader, cmd string) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if msg := roster.ValidatePassword(pw); msg != "" {
		return "", usagef("%s: password: %s", cmd, msg)
	}
	return pw, nil
}

// findUser opens the database of dbURL and finds the user a login name
// (username or email) names.
func findUser(ctx context.Context, dbURL, login, cmd string) (*sqlstore.DB, *roster.User, error) {
	if login == "" {
		return nil, nil, usagef("%s: --username is required", cmd)
	}
	db, err := openStore(ctx, dbURL, 0)
	if err != nil {
		return nil, nil, err
	}
	u, _, err := db.FindCredentials(ctx, login)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("%s: %s", cmd, fieldSummary(err))
	}
	return db, u, nil
}

// runUserSetPassword sets a user's password from standard input and ends
// every session and token of the user: the way back from a lost admin
// password. It is recorded as user.updated by no user (the command line).
func runUserSetPassword(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs, dbURL := newFlags("user set-password", "Set a user's password, read from the first line of standard input, "+
		"and revoke every token and session of the user. Recorded as user.updated.", getenv)
	login := fs.String("username", "", "username or email of the user (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *login == "" {
		return usagef("user set-password: --username is required")
	}
	pw, err := readPassword(stdin, "user set-password")
	if err != nil {
		return err
	}
	db, u, err := findUser(ctx, *dbURL, *login, "user set-password")
	if err != nil {
		return err
	}
	defer db.Close()
	if u.IsService {
		return fmt.Errorf("user set-password: %q is a service account, which cannot have a password", u.Username)
	}
	hash, err := password.NewHasher(1).Hash(ctx, pw)
	if err != nil {
		return err
	}
	if _, err := db.UpdateUser(ctx, 0, u.ID, roster.UserUpdate{PasswordHash: &hash}); err != nil {
		return fmt.Errorf("user set-password: %s", fieldSummary(err))
	}
	fmt.Fprintf(stdout, "set the password of user %d (%s); its tokens and sessions are revoked\n", u.ID, u.Username)
	return nil
}

// runUserDelete deletes a user (not the last active admin).
func runUserDelete(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs, dbURL := newFlags("user delete", "Delete a user with its tokens, memberships and grants; its activities stay. "+
		"The last active admin cannot be deleted. Recorded as user.deleted.", getenv)
	login := fs.String("username", "", "username or email of the user (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, u, err := findUser(ctx, *dbURL, *login, "user delete")
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.DeleteUser(ctx, 0, u.ID); err != nil {
		return fmt.Errorf("user delete: %s", fieldSummary(err))
	}
	fmt.Fprintf(stdout, "deleted user %d (%s)\n", u.ID, u.Username)
	return nil
}

// runUserList prints users as a table, by id.
func runUserList(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs, dbURL := newFlags("user list", "List users by id: id, username, email, whether active and whether admin.", getenv)
	admins := fs.Bool("admins", false, "list only admins")
	limit := fs.Int("limit", 0, "list at most this many users (0: all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *limit < 0 {
		return usagef("user list: --limit must not be negative")
	}
	db, err := openStore(ctx, *dbURL, 0)
	if err != nil {
		return err
	}
	defer db.Close()
	adminList, err := db.FindAdmins(ctx)
	if err != nil {
		return err
	}
	isAdmin := map[int64]bool{}
	for _, a := range adminList {
		isAdmin[a.ID] = true
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tACTIVE\tADMIN")
	row := func(id int64, username, email string, active bool) {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", id, username, email, yesNo(active), yesNo(isAdmin[id]))
	}
	n := 0
	if *admins {
		for _, a := range adminList {
			if *limit > 0 && n == *limit {
				break
			}
			row(a.ID, a.Username, a.Email, a.IsActive)
			n++
		}
		return tw.Flush()
	}
	const page = 1000
	for offset := 0; ; offset += page {
		list, _, err := db.FindUsers(ctx, roster.UserFilter{Ordering: "id", Page: roster.Page{Offset: offset, Limit: page}})
		if err != nil {
			return err
		}
		for _, u := range list {
			if *limit > 0 && n == *limit {
				return tw.Flush()
			}
			row(u.ID, u.Username, u.Email, u.IsActive)
			n++
		}
		if len(list) < page {
			return tw.Flush()
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
