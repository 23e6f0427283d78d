package postgres

// SkipLocked locks the selected rows of table and skips those another
// instance's claim holds, so that several instances lease different
// webhook jobs at once, each without the cluster-wide write lock.
func (d *dialect) SkipLocked(table string) string { return " FOR UPDATE OF " + table + " SKIP LOCKED" }
