-- user_changes_tombstones (0050) was partial on deleted = 1, a term the
-- pruner's statements did not hold ("deleted = ?"): stamping and deleting
-- the tombstones scanned user_changes, one row per user, and the largest
-- pruned seq walked its index (EXPLAIN QUERY PLAN, 2026-12-03), in the
-- write transaction, at every start and every hour. Now it is partial on
-- deleted, as PostgreSQL's is, and the statements say the same
-- (sqlstore.PruneUserChanges).
DROP INDEX user_changes_tombstones;
CREATE INDEX user_changes_tombstones ON user_changes (deleted_at) WHERE deleted;
