-- The users delta feed (GET /api/v3/users/changes). user_changes holds one
-- row per user that exists or was deleted within the kept history: seq is
-- the number of its latest change (from the user_changes_seq counter, whose
-- row lock orders changes as they commit), deleted marks a tombstone.
-- Triggers keep it, so every way of writing users (API, CLI, copy, SCIM) is
-- covered; a change is what GET /users shows: creation, deletion, or a
-- summary field. deleted_at is stamped by the store's pruner (the program's
-- clock) the first time it sees a tombstone; tombstones are pruned some
-- time later and user_changes_pruned keeps the largest seq pruned, below
-- which a cursor may have missed a deletion (410 Gone).
CREATE TABLE user_changes (
    user_id    bigint PRIMARY KEY,
    seq        bigint NOT NULL UNIQUE,
    deleted    boolean NOT NULL DEFAULT false,
    deleted_at timestamptz
);
CREATE INDEX user_changes_tombstones ON user_changes(deleted_at) WHERE deleted;
INSERT INTO counters (name, value) VALUES ('user_changes_seq', 0), ('user_changes_pruned', 0) ON CONFLICT (name) DO NOTHING;
INSERT INTO user_changes (user_id, seq) SELECT id, row_number() OVER (ORDER BY id) FROM users;
UPDATE counters SET value = (SELECT count(*) FROM users) WHERE name = 'user_changes_seq';

CREATE FUNCTION user_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'user_changes_seq' RETURNING value INTO s;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO user_changes (user_id, seq, deleted) VALUES (OLD.id, s, true)
            ON CONFLICT (user_id) DO UPDATE SET seq = EXCLUDED.seq, deleted = true, deleted_at = NULL;
    ELSE
        INSERT INTO user_changes (user_id, seq) VALUES (NEW.id, s)
            ON CONFLICT (user_id) DO UPDATE SET seq = EXCLUDED.seq, deleted = false, deleted_at = NULL;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER user_changes_insert AFTER INSERT OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION user_changes();
CREATE TRIGGER user_changes_update AFTER UPDATE OF username, email, first_name, last_name, is_active ON users FOR EACH ROW
    WHEN (OLD.username IS DISTINCT FROM NEW.username OR OLD.email IS DISTINCT FROM NEW.email
       OR OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name
       OR OLD.is_active IS DISTINCT FROM NEW.is_active) EXECUTE FUNCTION user_changes();

-- installation names this database: made once, when the schema is
-- created, so that identifiers derived from it (delta feed cursors, NATS
-- message ids) never collide between two deployments.
CREATE TABLE installation (
    id text NOT NULL PRIMARY KEY
);
INSERT INTO installation (id) VALUES (replace(gen_random_uuid()::text, '-', ''));
