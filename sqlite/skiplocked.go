package sqlite

// SkipLocked is empty: SQLite has one writer, so a lease taken in a write
// transaction is already exclusive.
func (dialect) SkipLocked(string) string { return "" }
