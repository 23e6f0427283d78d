-- search_counts keeps the exact counts of searches whose count walks many
-- matches (sqlstore/searchstore.go): the store inserts a row after such a
-- count, and these triggers keep every row exact as users change, in the
-- transaction of the change, so a row read in a search's own read
-- transaction counts that transaction's snapshot. query and active are
-- the search (active: -1 no isActive filter, 1 active users only, 0
-- inactive ones); terms are its folded terms joined by U+001F; total its
-- matches; prefix those where every term starts a field.
-- roster_search_rank(search_text, terms) is 0 when a user does not match
-- every term, 1 when it does, 2 when every term also starts one of its
-- fields (sqlstore.SearchRank, registered on Roster's connections).
--
-- Cost to writes: each insert, delete and change of a searched field or of
-- isActive tests every row (at most 256) and updates those it matches.
-- users_bulk counts seeds, which load users with these triggers set aside
-- and then empty the table: a count made before a seed is not stored after.
CREATE TABLE search_counts (
    id     INTEGER PRIMARY KEY,
    query  TEXT NOT NULL,
    active INTEGER NOT NULL,
    terms  TEXT NOT NULL,
    total  INTEGER NOT NULL,
    prefix INTEGER NOT NULL,
    UNIQUE (query, active)
);
INSERT OR IGNORE INTO counters(name, value) VALUES ('users_bulk', 0);

CREATE TRIGGER search_counts_insert AFTER INSERT ON users BEGIN
    UPDATE search_counts SET total = total + 1, prefix = prefix + roster_search_rank(new.search_text, terms) / 2
     WHERE active IN (-1, new.is_active <> 0) AND roster_search_rank(new.search_text, terms) > 0;
END;
CREATE TRIGGER search_counts_delete AFTER DELETE ON users BEGIN
    UPDATE search_counts SET total = total - 1, prefix = prefix - roster_search_rank(old.search_text, terms) / 2
     WHERE active IN (-1, old.is_active <> 0) AND roster_search_rank(old.search_text, terms) > 0;
END;
CREATE TRIGGER search_counts_update AFTER UPDATE OF search_text, is_active ON users
WHEN old.search_text IS NOT new.search_text OR (old.is_active <> 0) IS NOT (new.is_active <> 0) BEGIN
    UPDATE search_counts SET total = total - 1, prefix = prefix - roster_search_rank(old.search_text, terms) / 2
     WHERE active IN (-1, old.is_active <> 0) AND roster_search_rank(old.search_text, terms) > 0;
    UPDATE search_counts SET total = total + 1, prefix = prefix + roster_search_rank(new.search_text, terms) / 2
     WHERE active IN (-1, new.is_active <> 0) AND roster_search_rank(new.search_text, terms) > 0;
END;
