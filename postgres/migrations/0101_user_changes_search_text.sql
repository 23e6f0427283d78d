-- user_changes_update also records a change of search_text alone (a new
-- folding of the same names, say): storing a search count redoes the
-- users changed while it ran, found in user_changes (searchstore.go), and
-- a user whose search_text changed unseen would leave the stored count
-- wrong for good. The delta feed then reports such a user as changed.
DROP TRIGGER user_changes_update ON users;
CREATE TRIGGER user_changes_update AFTER UPDATE OF username, email, first_name, last_name, is_active, search_text ON users FOR EACH ROW
    WHEN (OLD.username IS DISTINCT FROM NEW.username OR OLD.email IS DISTINCT FROM NEW.email
       OR OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name
       OR OLD.is_active IS DISTINCT FROM NEW.is_active OR OLD.search_text IS DISTINCT FROM NEW.search_text)
    EXECUTE FUNCTION user_changes();
