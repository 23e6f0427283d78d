package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the Roster database at src to the
// new file dst while servers keep reading and writing src. VACUUM INTO
// reads one snapshot of the database (its WAL included), so the copy
// holds every transaction committed before the backup began and none
// that was in flight; writers are not blocked. The copy is written
// beside dst, checked (PRAGMA quick_check), synced and renamed into place,
// so dst never holds half a backup. dst must not exist.
func Backup(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return err // opening a missing file would create an empty database
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s already exists", dst)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".partial-*")
	if err != nil {
		return err
	}
	tmp.Close() // empty, mode 0600: VACUUM INTO fills an empty file and keeps its mode
	defer os.Remove(tmp.Name())
	db := openDB(dsn(src, false), allSpeedups) // a query_only connection may not VACUUM, even INTO another file
	defer db.Close()
	if err := hasMigrations(ctx, db); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp.Name()); err != nil {
		return fmt.Errorf("VACUUM INTO: %w", err)
	}
	if err := Check(ctx, tmp.Name()); err != nil {
		return err
	}
	if err := syncFile(tmp.Name()); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return syncFile(filepath.Dir(dst))
}

// Check opens the database file path read-only and reports an error unless
// it is a Roster database that passes PRAGMA quick_check.
func Check(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&res); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	} else if res != "ok" {
		return fmt.Errorf("check %s: %s", path, res)
	}
	if err := hasMigrations(ctx, db); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func hasMigrations(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n == 0 {
		return errors.New("not a Roster database (no applied migrations)")
	}
	return nil
}

// Restore replaces the database file dst with a copy of the backup src,
// after checking the backup (see Check). No server may have dst open: its
// -wal and -shm files are removed before the copy is renamed into place, so
// that a stale write-ahead log is never applied to the restored file.
func Restore(ctx context.Context, src, dst string) error {
	if err := Check(ctx, src); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".restoring-*")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(dst + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(out.Name(), dst); err != nil {
		return err
	}
	return syncFile(filepath.Dir(dst))
}

// syncFile flushes a file or directory to stable storage.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
