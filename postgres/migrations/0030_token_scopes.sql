-- Scoped access tokens and service accounts (issue 11); see the SQLite
-- migration of the same number for the meaning of each column.
ALTER TABLE tokens ADD COLUMN kind text NOT NULL DEFAULT 'session' CHECK (kind IN ('session', 'personal'));
ALTER TABLE tokens ADD COLUMN name text NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN scopes text NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN prefix text NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN last_used_at timestamptz;
DROP INDEX tokens_user;
CREATE INDEX tokens_user ON tokens (user_id, id);

ALTER TABLE users ADD COLUMN is_service boolean NOT NULL DEFAULT false;
CREATE INDEX users_service ON users (is_active, id) WHERE is_service;
