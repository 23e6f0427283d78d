package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rosterhq/roster/sqlstore"
)

// runSeed fills the database with synthetic users, groups, workspaces,
// memberships, grants and activities, reporting progress on stderr (see progress) and
// ending with one line of totals and rows/s.
func runSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("seed", "Fill the database with synthetic users, groups, workspaces, memberships, grants and activities.", getenv)
	users := fs.Int("users", 10000, "users to create")
	groups := fs.Int("groups", -1, "groups to create")
	workspaces := fs.Int("workspaces", -1, "workspaces to create")
	activities := fs.Int("activities", -1, "activities to create; at least one per user gives every user a lastActiveAt")
	fs.defText["groups"] = "users/200, at least 5"
	fs.defText["workspaces"] = "users/1000, at least 5"
	fs.defText["activities"] = "5 per user"
	seed := fs.Uint64("seed", 0, "random seed (0: a fixed default, so runs are reproducible)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *groups < 0 {
		*groups = max(5, *users/200)
	}
	if *workspaces < 0 {
		*workspaces = max(5, *users/1000)
	}
	if *activities < 0 {
		*activities = 5 * *users
	}
	if *users < 0 {
		return usagef("seed: --users must not be negative")
	}
	if *activities > 0 && *users == 0 {
		return usagef("seed: --activities needs --users")
	}
	db, err := openStore(ctx, *dbURL, 0)
	if err != nil {
		return err
	}
	defer db.Close()
	bar := newProgress(stderr)
	res, err := db.Seed(ctx, sqlstore.SeedOptions{Users: *users, Groups: *groups, Workspaces: *workspaces,
		Activities: *activities, RandSeed: *seed, Progress: func(done, total int64) { bar.status(seedBar(done, total, bar.start)) }})
	bar.end()
	if err != nil {
		return err
	}
	el := time.Since(bar.start)
	fmt.Fprintf(stdout, "seeded %d users (ids %d-%d), %d groups, %d workspaces, %d activities: %d rows in %s, %.0f rows/s\n",
		*users, res.FirstUserID, res.LastUserID, *groups, *workspaces, *activities, res.Rows,
		el.Round(time.Millisecond), float64(res.Rows)/el.Seconds())
	return nil
}

// seedBar draws the progress of seed: a bar, the share done, rows and rate.
func seedBar(done, total int64, start time.Time) string {
	const width = 30
	frac := min(float64(done)/float64(max(total, 1)), 1)
	n := int(frac * width)
	el := time.Since(start).Seconds()
	return fmt.Sprintf("seeding [%s%s] %3.0f%% %d/%d rows, %.0f rows/s", strings.Repeat("#", n), strings.Repeat(".", width-n),
		100*frac, done, total, float64(done)/max(el, 1e-9))
}
