-- users_version changes whenever what a list of users shows may change: a
-- user added or removed, or a summary field (username, email, first or last
-- name, isActive) changed. List pages and deep-page checkpoints are cached
-- under it (sqlstore/listcache.go), and since it is read in the same
-- transaction as the page, writes through every instance are seen.
INSERT INTO counters (name, value) VALUES ('users_version', 0) ON CONFLICT (name) DO NOTHING;
CREATE FUNCTION users_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'users_version';
    RETURN NULL;
END $$;
CREATE TRIGGER users_version_insert AFTER INSERT OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION users_version();
CREATE TRIGGER users_version_update AFTER UPDATE OF username, email, first_name, last_name, is_active ON users FOR EACH ROW
    WHEN (OLD.username IS DISTINCT FROM NEW.username OR OLD.email IS DISTINCT FROM NEW.email
       OR OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name
       OR OLD.is_active IS DISTINCT FROM NEW.is_active) EXECUTE FUNCTION users_version();
