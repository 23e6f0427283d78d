-- user_changes_update also records a change of search_text alone (a new
-- folding of the same names, say): storing a search count redoes the
-- users changed while it ran, found in user_changes (searchstore.go), and
-- a user whose search_text changed unseen would leave the stored count
-- wrong for good. The delta feed then reports such a user as changed.
DROP TRIGGER user_changes_update;
CREATE TRIGGER user_changes_update AFTER UPDATE OF username, email, first_name, last_name, is_active, search_text ON users
WHEN old.username IS NOT new.username OR old.email IS NOT new.email OR old.first_name IS NOT new.first_name
  OR old.last_name IS NOT new.last_name OR old.is_active IS NOT new.is_active OR old.search_text IS NOT new.search_text BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'user_changes_seq';
    INSERT INTO user_changes(user_id, seq) VALUES (new.id, (SELECT value FROM counters WHERE name = 'user_changes_seq'))
        ON CONFLICT(user_id) DO UPDATE SET seq = excluded.seq, deleted = 0, deleted_at = NULL;
END;
