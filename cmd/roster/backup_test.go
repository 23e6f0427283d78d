package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBackupUnderWriteLoad takes an online backup while clients keep
// creating users, then checks that the backup opens, passes SQLite's
// check, and holds every user whose creation was acknowledged before the
// backup started; restore puts it back and a server starts on it.
func TestBackupUnderWriteLoad(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "roster.db")
	env := map[string]string{"ROSTER_DB": db, "ROSTER_ADMIN_PASSWORD": "backup-admin-pw"}
	s := startServe(t, env)
	tok := mustLogin(t, s.URL, "admin", "backup-admin-pw")

	var mu sync.Mutex
	var acked []int64
	ctx, stop := context.WithCancel(context.Background())
	var writers sync.WaitGroup
	t.Cleanup(func() { stop(); writers.Wait() }) // before the server stops
	for w := range 4 {
		writers.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				name := fmt.Sprintf("w%d-%d", w, n)
				b, _ := json.Marshal(map[string]any{"username": name, "email": name + "@example.com"})
				req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/api/v3/users", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				res, err := httpClient.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("POST /users: %v", err)
					}
					return
				}
				var u struct{ ID int64 }
				err = json.NewDecoder(res.Body).Decode(&u)
				res.Body.Close()
				if res.StatusCode != http.StatusCreated || err != nil {
					t.Errorf("POST /users = %d %v", res.StatusCode, err)
					return
				}
				mu.Lock()
				acked = append(acked, u.ID)
				mu.Unlock()
			}
		})
	}
	waitFor := func(n int) {
		for {
			mu.Lock()
			k := len(acked)
			mu.Unlock()
			if k >= n || t.Failed() {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(200)
	mu.Lock()
	before := append([]int64(nil), acked...) // acknowledged before the backup started
	mu.Unlock()
	backup := filepath.Join(dir, "backup.db")
	stdout, stderr, err := runOut(t, map[string]string{"ROSTER_DB": db}, "", "backup", backup)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, stderr)
	}
	mu.Lock()
	during := len(acked) - len(before)
	mu.Unlock()
	waitFor(len(before) + during + 50) // writes go on after the backup
	stop()
	writers.Wait()
	if !strings.HasPrefix(stdout, "backed up "+db+" to "+backup) {
		t.Errorf("backup said %q", stdout)
	}
	t.Logf("%d users acknowledged before the backup, %d while it ran", len(before), during)

	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want 0600 (it holds password hashes)", err, fi)
	}
	raw := openRaw(t, backup)
	var check string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check of the backup = %q, %v", check, err)
	}
	have := map[int64]bool{}
	rows, err := raw.Query("SELECT id FROM users")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		have[id] = true
	}
	rows.Close()
	for _, id := range before {
		if !have[id] {
			t.Errorf("user %d, acknowledged before the backup started, is not in the backup", id)
		}
	}
	raw.Close()

	// A second backup to the same file is refused; the file stays whole.
	if _, _, err := runOut(t, map[string]string{"ROSTER_DB": db}, "", "backup", backup); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup over an existing file: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.partial-*")); len(m) > 0 {
		t.Errorf("backup left partial files: %v", m)
	}

	// restore into a new database; a server starts on it with the data.
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(dir, "restored.db")
	if stdout, _, err := runOut(t, nil, "", "restore", "--db", restored, backup); err != nil || !strings.Contains(stdout, "restored "+restored) {
		t.Fatalf("restore: %v %q", err, stdout)
	}
	s2 := startServe(t, map[string]string{"ROSTER_DB": restored})
	tok2 := mustLogin(t, s2.URL, "admin", "backup-admin-pw")
	st, _, body := tokenCall(t, "GET", fmt.Sprintf("%s/api/v3/users/%d", s2.URL, before[len(before)-1]), tok2, nil)
	if st != http.StatusOK {
		t.Errorf("the last user acknowledged before the backup, after restore: %d %v", st, body)
	}
	// restore refuses a file that is not a Roster database.
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("not a database"), 0o600)
	if _, _, err := runOut(t, nil, "", "restore", "--db", filepath.Join(dir, "x.db"), junk); err == nil {
		t.Error("restore accepted a file that is not a database")
	}
}

// TestBackupInvocations: PostgreSQL is sent to pg_dump; a missing FILE or
// database is an error.
func TestBackupInvocations(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"backup", "--db", "postgres://localhost/roster", filepath.Join(dir, "b")},
		{"restore", "--db", "postgres://localhost/roster", filepath.Join(dir, "b")},
		{"backup", "--db", filepath.Join(dir, "roster.db")},
		{"restore", "--db", filepath.Join(dir, "roster.db"), "a", "b"},
	} {
		_, _, err := runOut(t, nil, "", args...)
		checkUsageError(t, err)
		if strings.Contains(args[2], "postgres") && (err == nil || !strings.Contains(err.Error(), "pg_dump")) {
			t.Errorf("roster %q: %v, want advice to use pg_dump", args, err)
		}
	}
	if _, _, err := runOut(t, nil, "", "backup", "--db", filepath.Join(dir, "none.db"), filepath.Join(dir, "b")); err == nil {
		t.Error("backup of a missing database succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
		t.Error("backup created the missing database")
	}
}
