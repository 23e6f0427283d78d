-- Usernames confusable with an existing one are refused (issue 16): each
-- user keeps the UTS #39 skeleton of its folded username
-- (roster.UsernameSkeleton), computed in Go; rows stored before this
-- migration get theirs from sqlstore.BackfillSkeletons, run by Migrate.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE INDEX users_username_skeleton ON users (username_skeleton);
CREATE INDEX users_skeleton_missing ON users (id) WHERE username_skeleton IS NULL;
