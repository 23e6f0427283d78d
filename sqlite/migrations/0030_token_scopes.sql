-- Scoped access tokens and service accounts (issue 11). A token is a login
-- session (every scope) or a personal access token with its own scopes,
-- stored as names separated by spaces. Tokens made before this version keep
-- their power: they become sessions. prefix is the secret's first 8
-- characters, shown so that an owner can tell tokens apart; last_used_at is
-- written in batches, not on every request.
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'session' CHECK (kind IN ('session', 'personal'));
ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
DROP INDEX tokens_user;
CREATE INDEX tokens_user ON tokens(user_id, id);

-- A service account cannot sign in; the partial index counts them cheaply
-- for ?isService= on the user list.
ALTER TABLE users ADD COLUMN is_service INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_service ON users(is_active, id) WHERE is_service;
