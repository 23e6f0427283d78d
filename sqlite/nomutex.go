package sqlite

import (
	"database/sql/driver"
	"reflect"
	"unsafe"

	"modernc.org/libc"
	sqlite3lib "modernc.org/sqlite/lib"
)

// multiThreadMode puts a freshly opened modernc connection in SQLite's
// multi-thread mode: what opening it with SQLITE_OPEN_NOMUTEX does, which
// sets the connection's mutex to NULL so that sqlite3_mutex_enter and
// sqlite3_mutex_leave on it do nothing. modernc.org/sqlite always opens
// with SQLITE_OPEN_FULLMUTEX (serialized mode), where every
// sqlite3_column_* call takes and releases the connection's recursive
// mutex: two pairs per column of every row, 32% of the CPU time of a
// 50-user page (pprof of cmd/roster-bench, list-page1 at 1M users). It
// pays for itself: BenchmarkReads/page (50 summaries through the read
// pool, 20,000 users) spends 80-94 µs of CPU a page against 101-108 µs
// without (2026-12-02); a single-row read shows no difference.
//
// Multi-thread mode is safe when no connection is used by two threads at
// once, which database/sql guarantees for a driver.Conn; the one call that
// may come from another goroutine, sqlite3_interrupt on a cancelled
// context, is an atomic store that takes no mutex. SQLite's global mutexes
// (page cache, VFS, allocator) are untouched.
//
// The handle is reached through the driver's unexported db field. When a
// driver version no longer has it, the connection stays serialized:
// correct, only slower. TestMultiThreadMode fails in that case, so a
// driver upgrade cannot lose this silently.
func multiThreadMode(cn driver.Conn) bool {
	v := reflect.ValueOf(cn)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr || f.Uint() == 0 {
		return false
	}
	// The sqlite3 struct lives in the C heap of modernc.org/libc, not in
	// Go's, so the address stays valid and unmoved for the connection's life.
	db := (*sqlite3lib.Tsqlite3)(unsafe.Add(unsafe.Pointer(nil), uintptr(f.Uint())))
	m := db.Fmutex
	if m == 0 {
		return true
	}
	db.Fmutex = 0
	tls := libc.NewTLS()
	sqlite3lib.Xsqlite3_mutex_free(tls, m)
	tls.Close()
	return true
}
