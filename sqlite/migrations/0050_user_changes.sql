-- The users delta feed (GET /api/v3/users/changes). user_changes holds one
-- row per user that exists or was deleted within the kept history: seq is
-- the number of its latest change (from the user_changes_seq counter, so
-- it only grows, in commit order), deleted marks a tombstone. Triggers keep
-- it, so every way of writing users (API, CLI, seed, SCIM) is covered; a
-- change is what GET /users shows: creation, deletion, or a summary field.
-- deleted_at is stamped by the store's pruner (the program's clock) the
-- first time it sees a tombstone; tombstones are pruned some time later and
-- user_changes_pruned keeps the largest seq pruned, below which a cursor
-- may have missed a deletion (410 Gone).
CREATE TABLE user_changes (
    user_id    INTEGER PRIMARY KEY,
    seq        INTEGER NOT NULL UNIQUE,
    deleted    INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER
);
CREATE INDEX user_changes_tombstones ON user_changes(deleted_at) WHERE deleted = 1;
INSERT OR IGNORE INTO counters(name, value) VALUES ('user_changes_seq', 0), ('user_changes_pruned', 0);
INSERT INTO user_changes(user_id, seq) SELECT id, row_number() OVER (ORDER BY id) FROM users;
UPDATE counters SET value = (SELECT count(*) FROM users) WHERE name = 'user_changes_seq';

CREATE TRIGGER user_changes_insert AFTER INSERT ON users BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'user_changes_seq';
    INSERT INTO user_changes(user_id, seq) VALUES (new.id, (SELECT value FROM counters WHERE name = 'user_changes_seq'))
        ON CONFLICT(user_id) DO UPDATE SET seq = excluded.seq, deleted = 0, deleted_at = NULL;
END;
CREATE TRIGGER user_changes_delete AFTER DELETE ON users BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'user_changes_seq';
    INSERT INTO user_changes(user_id, seq, deleted) VALUES (old.id, (SELECT value FROM counters WHERE name = 'user_changes_seq'), 1)
        ON CONFLICT(user_id) DO UPDATE SET seq = excluded.seq, deleted = 1, deleted_at = NULL;
END;
CREATE TRIGGER user_changes_update AFTER UPDATE OF username, email, first_name, last_name, is_active ON users
WHEN old.username IS NOT new.username OR old.email IS NOT new.email OR old.first_name IS NOT new.first_name
  OR old.last_name IS NOT new.last_name OR old.is_active IS NOT new.is_active BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'user_changes_seq';
    INSERT INTO user_changes(user_id, seq) VALUES (new.id, (SELECT value FROM counters WHERE name = 'user_changes_seq'))
        ON CONFLICT(user_id) DO UPDATE SET seq = excluded.seq, deleted = 0, deleted_at = NULL;
END;

-- installation names this database: made once, when the schema is
-- created, so that identifiers derived from it (delta feed cursors, NATS
-- message ids) never collide between two deployments.
CREATE TABLE installation (
    id TEXT NOT NULL PRIMARY KEY
);
INSERT INTO installation(id) VALUES (lower(hex(randomblob(16))));
