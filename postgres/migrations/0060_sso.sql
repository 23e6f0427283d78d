-- Single sign-on with OpenID Connect. Providers are stored so that every
-- instance sees them; a sign-in's state (oidc_states, 10 minutes) and the
-- one-time code its callback hands the browser (login_codes, 60 seconds)
-- are stored so that any instance can finish it, and each is deleted when
-- used (DELETE ... RETURNING: two instances never both use one). Only
-- hashes of the state and the code are kept.
CREATE TABLE auth_providers (
    name                  text PRIMARY KEY,
    display_name          text NOT NULL,
    issuer                text NOT NULL,
    client_id             text NOT NULL,
    client_secret         text NOT NULL DEFAULT '',
    scopes                text NOT NULL DEFAULT '["openid","email","profile"]', -- JSON array
    username_claim        text NOT NULL DEFAULT 'preferred_username',
    groups_claim          text NOT NULL DEFAULT '',
    auto_create           boolean NOT NULL DEFAULT false,
    link_by_email         boolean NOT NULL DEFAULT false,
    allowed_email_domains text NOT NULL DEFAULT '[]', -- JSON array
    enabled               boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL
);
CREATE TABLE user_identities (
    provider      text NOT NULL REFERENCES auth_providers(name) ON DELETE CASCADE,
    subject       text NOT NULL,
    user_id       bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email         text NOT NULL DEFAULT '',
    linked_at     timestamptz NOT NULL,
    last_login_at timestamptz,
    PRIMARY KEY (provider, subject)
);
CREATE UNIQUE INDEX user_identities_user ON user_identities(user_id, provider);
CREATE TABLE oidc_states (
    hash         bytea PRIMARY KEY,
    provider     text NOT NULL,
    verifier     text NOT NULL,
    nonce        text NOT NULL,
    redirect_uri text NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX oidc_states_expires ON oidc_states(expires_at);
CREATE TABLE login_codes (
    hash       bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider   text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX login_codes_expires ON login_codes(expires_at);
-- The provider whose groups claim a group follows ('' for a group made by hand).
ALTER TABLE groups ADD COLUMN managed_by text NOT NULL DEFAULT '';
