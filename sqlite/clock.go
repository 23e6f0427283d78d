package sqlite

import "time"

// SetNow replaces the clock of db; the store conformance suite uses it to
// move time (token expiry, login lockouts). Call it before using db from
// other goroutines.
func (db *DB) SetNow(now func() time.Time) { db.Now = now }
