-- search_grams counts users by the short grams of their four folded fields,
-- exactly, so that a search with one term of 1-3 characters is counted
-- without visiting its matches (sqlstore/search_short.go). prefix = 0: one
-- of the fields contains gram; prefix = 1: one of them starts with it. A
-- user counts once per (gram, prefix), under its is_active (0 or 1).
-- The grams come from Go functions that the sqlite package registers with
-- the driver (roster_grams, roster_prefixes: JSON arrays of the distinct
-- grams of a search_text; roster_gram_counts: the aggregate that builds
-- the table in one pass), so a connection without them (the sqlite3 shell)
-- fails to write users rather than leave the counts wrong.
CREATE TABLE search_grams (
    gram      TEXT NOT NULL,
    prefix    INTEGER NOT NULL,
    is_active INTEGER NOT NULL,
    users     INTEGER NOT NULL,
    PRIMARY KEY (gram, prefix, is_active)
) WITHOUT ROWID;

INSERT INTO search_grams(gram, prefix, is_active, users)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3
  FROM json_each((SELECT roster_gram_counts(search_text, is_active) FROM users));

CREATE TRIGGER search_grams_insert AFTER INSERT ON users BEGIN
    INSERT INTO search_grams(gram, prefix, is_active, users)
    SELECT value, 0, new.is_active <> 0, 1 FROM json_each(roster_grams(new.search_text)) WHERE true
    ON CONFLICT DO UPDATE SET users = users + 1;
    INSERT INTO search_grams(gram, prefix, is_active, users)
    SELECT value, 1, new.is_active <> 0, 1 FROM json_each(roster_prefixes(new.search_text)) WHERE true
    ON CONFLICT DO UPDATE SET users = users + 1;
END;
CREATE TRIGGER search_grams_delete AFTER DELETE ON users BEGIN
    UPDATE search_grams SET users = users - 1
     WHERE prefix = 0 AND is_active = (old.is_active <> 0)
       AND gram IN (SELECT value FROM json_each(roster_grams(old.search_text)));
    UPDATE search_grams SET users = users - 1
     WHERE prefix = 1 AND is_active = (old.is_active <> 0)
       AND gram IN (SELECT value FROM json_each(roster_prefixes(old.search_text)));
END;
CREATE TRIGGER search_grams_update AFTER UPDATE OF search_text, is_active ON users
WHEN old.search_text IS NOT new.search_text OR (old.is_active <> 0) IS NOT (new.is_active <> 0) BEGIN
    UPDATE search_grams SET users = users - 1
     WHERE prefix = 0 AND is_active = (old.is_active <> 0)
       AND gram IN (SELECT value FROM json_each(roster_grams(old.search_text)));
    UPDATE search_grams SET users = users - 1
     WHERE prefix = 1 AND is_active = (old.is_active <> 0)
       AND gram IN (SELECT value FROM json_each(roster_prefixes(old.search_text)));
    INSERT INTO search_grams(gram, prefix, is_active, users)
    SELECT value, 0, new.is_active <> 0, 1 FROM json_each(roster_grams(new.search_text)) WHERE true
    ON CONFLICT DO UPDATE SET users = users + 1;
    INSERT INTO search_grams(gram, prefix, is_active, users)
    SELECT value, 1, new.is_active <> 0, 1 FROM json_each(roster_prefixes(new.search_text)) WHERE true
    ON CONFLICT DO UPDATE SET users = users + 1;
END;

-- Prefix searches on the first and last names (username_fold and
-- email_fold have their unique indexes).
CREATE INDEX users_first_fold ON users(first_fold);
CREATE INDEX users_last_fold ON users(last_fold);
