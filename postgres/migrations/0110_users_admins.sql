-- users_admins indexes the admins, as SQLite's users_admins (0001) does:
-- the last-admin check of every change or delete of an admin counts the
-- other active admins inside the write transaction, and the admin list
-- reads them all. Without it both scanned users: 2.1 s and 381k buffers
-- at 10M users (pg_stat_statements, 2026-12-03), with the write lock held.
-- Building it reads users once (seconds at 10M users; writes to users wait).
CREATE INDEX users_admins ON users (id) WHERE is_admin;
