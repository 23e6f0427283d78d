-- The login throttle is bounded and expires (issue 16): rows keyed by a
-- login name are now keyed by its hash (roster.LoginNameKey), so the old
-- ones, which held any name as typed, go; every row records its last
-- failure, by which expired rows are found and the oldest evicted.
DELETE FROM login_throttle WHERE key LIKE 'login:%';
ALTER TABLE login_throttle ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE login_throttle SET updated_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000000;
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);
