package sqlite

import (
	"context"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"unsafe"

	sqlite3lib "modernc.org/sqlite/lib"
)

// TestMultiThreadMode checks that the store's connections come out of the
// connector without a connection mutex (SQLite's multi-thread mode). It
// fails when a modernc.org/sqlite upgrade moves the handle, instead of the
// store silently going back to serialized mode.
func TestMultiThreadMode(t *testing.T) {
	cn, err := connector{dsn: dsn(filepath.Join(t.TempDir(), "m.db"), false), drv: newDriver(), sp: allSpeedups}.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	cc, ok := cn.(*cachingConn)
	if !ok {
		t.Fatalf("Connect returned %T, want *cachingConn", cn)
	}
	f := reflect.ValueOf(cc.innerConn).Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr || f.Uint() == 0 {
		t.Fatalf("modernc.org/sqlite's conn has no db handle field (%v): multiThreadMode cannot apply", f)
	}
	db := (*sqlite3lib.Tsqlite3)(unsafe.Add(unsafe.Pointer(nil), uintptr(f.Uint())))
	if db.Fmutex != 0 {
		t.Fatal("the connection still has its mutex (serialized mode)")
	}
}

// TestMultiThreadModeConcurrentReads runs many readers on the pool at once;
// with -race and SQLite's own checks it shows no connection is shared.
func TestMultiThreadModeConcurrentReads(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for range 200 {
				var n int
				if err := db.ReadDB().QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil || n == 0 {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent read: %v", err)
	}
}
