-- Single sign-on with OpenID Connect. Providers are stored so that every
-- instance sees them; a sign-in's state (oidc_states, 10 minutes) and the
-- one-time code its callback hands the browser (login_codes, 60 seconds)
-- are stored so that any instance can finish it, and each is deleted when
-- used. Only hashes of the state and the code are kept.
CREATE TABLE auth_providers (
    name                  TEXT PRIMARY KEY,
    display_name          TEXT NOT NULL,
    issuer                TEXT NOT NULL,
    client_id             TEXT NOT NULL,
    client_secret         TEXT NOT NULL DEFAULT '',
    scopes                TEXT NOT NULL DEFAULT '["openid","email","profile"]', -- JSON array
    username_claim        TEXT NOT NULL DEFAULT 'preferred_username',
    groups_claim          TEXT NOT NULL DEFAULT '',
    auto_create           INTEGER NOT NULL DEFAULT 0,
    link_by_email         INTEGER NOT NULL DEFAULT 0,
    allowed_email_domains TEXT NOT NULL DEFAULT '[]', -- JSON array
    enabled               INTEGER NOT NULL DEFAULT 1,
    created_at            INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE user_identities (
    provider      TEXT NOT NULL REFERENCES auth_providers(name) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email         TEXT NOT NULL DEFAULT '',
    linked_at     INTEGER NOT NULL,
    last_login_at INTEGER,
    PRIMARY KEY (provider, subject)
) WITHOUT ROWID;
CREATE UNIQUE INDEX user_identities_user ON user_identities(user_id, provider);
CREATE TABLE oidc_states (
    hash         BLOB PRIMARY KEY,
    provider     TEXT NOT NULL,
    verifier     TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oidc_states_expires ON oidc_states(expires_at);
CREATE TABLE login_codes (
    hash       BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider   TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_codes_expires ON login_codes(expires_at);
-- The provider whose groups claim a group follows ('' for a group made by hand).
ALTER TABLE groups ADD COLUMN managed_by TEXT NOT NULL DEFAULT '';
