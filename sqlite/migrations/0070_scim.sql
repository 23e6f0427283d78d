-- SCIM 2.0 provisioning (issue 13). external_id is the identity provider's
-- id of a user or group (SCIM externalId, case-exact, not unique: two
-- providers may use the same one); filters on it are index lookups.
-- modified_at is SCIM meta.lastModified, stamped by the store's clock on
-- every change (NULL until the first one: the creation time stands).
-- groups.version is the group's SCIM ETag: the store increases it with
-- every rename and membership change, and If-Match compares it atomically.
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN modified_at INTEGER;
CREATE INDEX users_external_id ON users (external_id) WHERE external_id IS NOT NULL;
ALTER TABLE groups ADD COLUMN external_id TEXT;
ALTER TABLE groups ADD COLUMN modified_at INTEGER;
ALTER TABLE groups ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE INDEX groups_external_id ON groups (external_id) WHERE external_id IS NOT NULL;
