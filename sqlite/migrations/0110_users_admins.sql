-- users_admins (0001) was partial on is_admin = 1, a term the queries do
-- not hold: the last-admin check (is_admin AND is_active AND id <> ?)
-- and the admin list (WHERE u.is_admin) scanned users, 1M rows at 1M
-- users (EXPLAIN QUERY PLAN, 2026-12-03). SQLite uses a partial index
-- only for a query whose WHERE holds the index's term as written. Now it
-- is partial on is_admin, as PostgreSQL's (0110) is, and keyed by id so
-- that the list reads it in order.
DROP INDEX users_admins;
CREATE INDEX users_admins ON users (id) WHERE is_admin;
