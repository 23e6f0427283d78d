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
// memberships, grants and activities, drawing a progress bar on stderr and
// ending with one line of totals and rows/s.
func runSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("seed", getenv)
	users := fs.Int("users", 10000, "users to create")
	groups := fs.Int("groups", -1, "groups to create (default users/200, at least 5)")
	workspaces := fs.Int("workspaces", -1, "workspaces to create (default users/1000, at least 5)")
	activities := fs.Int("activities", -1, "activities to create (default 5 per user; at least one per user gives every user a lastActiveAt)")
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
	bar := &progressBar{w: stderr, start: time.Now()}
	res, err := db.Seed(ctx, sqlstore.SeedOptions{Users: *users, Groups: *groups, Workspaces: *workspaces,
		Activities: *activities, RandSeed: *seed, Progress: bar.draw})
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

// progressBar redraws one line on w.
type progressBar struct {
	w     io.Writer
	start time.Time
	drawn bool
}

func (p *progressBar) draw(done, total int64) {
	const width = 30
	frac := float64(done) / float64(max(total, 1))
	frac = min(frac, 1)
	n := int(frac * width)
	el := time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\rseeding [%s%s] %3.0f%% %d/%d rows, %.0f rows/s ", strings.Repeat("#", n), strings.Repeat(".", width-n),
		100*frac, done, total, float64(done)/max(el, 1e-9))
	p.drawn = true
}

func (p *progressBar) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
