-- Roster schema, version 1. Times are Unix microseconds (UTC).

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: ids are never reused
    username       TEXT NOT NULL,
    username_fold  TEXT NOT NULL UNIQUE,
    email          TEXT NOT NULL,
    email_fold     TEXT NOT NULL UNIQUE,
    first_name     TEXT NOT NULL DEFAULT '',
    first_fold     TEXT NOT NULL DEFAULT '',
    last_name      TEXT NOT NULL DEFAULT '',
    last_fold      TEXT NOT NULL DEFAULT '',
    -- the four folded fields joined by U+001F, indexed by users_fts
    search_text    TEXT NOT NULL,
    is_active      INTEGER NOT NULL DEFAULT 1,
    is_admin       INTEGER NOT NULL DEFAULT 0,
    bio            TEXT NOT NULL DEFAULT '',
    avatar_url     TEXT NOT NULL DEFAULT '',
    timezone       TEXT NOT NULL DEFAULT 'UTC',
    locale         TEXT NOT NULL DEFAULT 'en',
    password_hash  TEXT NOT NULL DEFAULT '',
    date_joined    INTEGER NOT NULL,
    last_login     INTEGER,
    last_active_at INTEGER,
    version        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX users_first_name ON users(first_name, id);
CREATE INDEX users_last_name ON users(last_name, id);
CREATE INDEX users_username ON users(username, id);
CREATE INDEX users_email ON users(email, id);
CREATE INDEX users_last_login ON users(last_login, id);
CREATE INDEX users_active ON users(is_active, id);
CREATE INDEX users_admins ON users(is_admin, is_active) WHERE is_admin = 1;

-- Trigram index over the folded search text. detail=none keeps it small; the
-- query ANDs the trigrams of each term and re-checks the substring with instr.
CREATE VIRTUAL TABLE users_fts USING fts5(
    search_text, content='users', content_rowid='id',
    tokenize='trigram case_sensitive 1', detail=none
);
CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_fts(rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_fts(users_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER users_fts_update AFTER UPDATE OF search_text ON users BEGIN
    INSERT INTO users_fts(users_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO users_fts(rowid, search_text) VALUES (new.id, new.search_text);
END;

-- Counts kept in step with the tables so that lists never rescan to count.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters(name, value) VALUES ('users_active', 0), ('users_inactive', 0);
CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
    UPDATE counters SET value = value + 1
     WHERE name = CASE WHEN new.is_active THEN 'users_active' ELSE 'users_inactive' END;
END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
    UPDATE counters SET value = value - 1
     WHERE name = CASE WHEN old.is_active THEN 'users_active' ELSE 'users_inactive' END;
END;
CREATE TRIGGER users_count_update AFTER UPDATE OF is_active ON users WHEN old.is_active <> new.is_active BEGIN
    UPDATE counters SET value = value + CASE WHEN name = 'users_active' THEN 1 ELSE -1 END * CASE WHEN new.is_active THEN 1 ELSE -1 END
     WHERE name IN ('users_active', 'users_inactive');
END;

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash       BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE groups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    name_fold    TEXT NOT NULL UNIQUE,
    member_count INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members(user_id, group_id);
CREATE TRIGGER group_members_count_insert AFTER INSERT ON group_members BEGIN
    UPDATE groups SET member_count = member_count + 1 WHERE id = new.group_id;
END;
CREATE TRIGGER group_members_count_delete AFTER DELETE ON group_members BEGIN
    UPDATE groups SET member_count = member_count - 1 WHERE id = old.group_id;
END;

CREATE TABLE workspaces (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
-- role: 1 viewer, 2 member, 3 admin
CREATE TABLE workspace_user_grants (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role         INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),
    PRIMARY KEY (workspace_id, user_id)
) WITHOUT ROWID;
CREATE INDEX workspace_user_grants_user ON workspace_user_grants(user_id, workspace_id);
CREATE TABLE workspace_group_grants (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    group_id     INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    role         INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),
    PRIMARY KEY (workspace_id, group_id)
) WITHOUT ROWID;
CREATE INDEX workspace_group_grants_group ON workspace_group_grants(group_id, workspace_id);

-- Activities keep their actor id after the actor is deleted (no foreign key):
-- feeds then show the actor with a null username.
CREATE TABLE activities (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id     INTEGER NOT NULL,
    verb         TEXT NOT NULL,
    object_type  TEXT,
    object_id    TEXT,
    object_name  TEXT,
    workspace_id INTEGER,
    data         TEXT NOT NULL DEFAULT '{}',
    published    INTEGER NOT NULL
);
CREATE INDEX activities_actor ON activities(actor_id, id);
CREATE INDEX activities_actor_workspace ON activities(actor_id, workspace_id, id);
CREATE INDEX activities_workspace ON activities(workspace_id, id);
CREATE TRIGGER activities_last_active AFTER INSERT ON activities BEGIN
    UPDATE users SET last_active_at = new.published
     WHERE id = new.actor_id AND (last_active_at IS NULL OR last_active_at < new.published);
END;
