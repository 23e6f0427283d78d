-- users_version changes whenever what a list of users shows may change: a
-- user added or removed, or a summary field (username, email, first or last
-- name, isActive) changed. List pages and deep-page checkpoints are cached
-- under it (sqlstore/listcache.go), and since it is read in the same
-- transaction as the page, writes by any process are seen.
INSERT OR IGNORE INTO counters(name, value) VALUES ('users_version', 0);
CREATE TRIGGER users_version_insert AFTER INSERT ON users BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'users_version';
END;
CREATE TRIGGER users_version_delete AFTER DELETE ON users BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'users_version';
END;
CREATE TRIGGER users_version_update AFTER UPDATE OF username, email, first_name, last_name, is_active ON users
WHEN old.username IS NOT new.username OR old.email IS NOT new.email OR old.first_name IS NOT new.first_name
  OR old.last_name IS NOT new.last_name OR old.is_active IS NOT new.is_active BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'users_version';
END;
