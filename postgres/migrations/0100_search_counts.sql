-- search_counts keeps the exact counts of searches whose count walks many
-- matches (sqlstore/searchstore.go): the store inserts a row after such a
-- count, and the trigger below keeps every row exact as users change, in
-- the transaction of the change, so a row read in a search's own read
-- transaction counts that transaction's snapshot. query and active are
-- the search (active: -1 no isActive filter, 1 active users only, 0
-- inactive ones); terms are its folded terms joined by U+001F; total its
-- matches; prefix those where every term starts a field. SQLite has the
-- same table.
--
-- Cost to writes: each insert, delete and change of a searched field or of
-- isActive tests every row (at most 256) and updates those it matches.
-- The store's writes are serialized by BeginWrite's advisory lock, so the
-- updated rows add no waiting between them. users_bulk counts seeds, which
-- load users with the triggers off and then empty the table: a count made
-- before a seed is not stored after it.
CREATE TABLE search_counts (
    id     bigserial PRIMARY KEY,
    query  text COLLATE "C" NOT NULL,
    active smallint NOT NULL,
    terms  text COLLATE "C" NOT NULL,
    total  bigint NOT NULL,
    prefix bigint NOT NULL,
    UNIQUE (query, active)
) WITH (fillfactor = 70);
INSERT INTO counters (name, value) VALUES ('users_bulk', 0) ON CONFLICT (name) DO NOTHING;

-- roster_search_rank is 0 when a search_text does not contain every term
-- (joined by U+001F), 1 when it does, 2 when every term also starts one of
-- its fields (sqlstore.SearchRank computes the same in Go). In PL/pgSQL:
-- the same test as one SQL statement (unnest, bool_and) took 1.8 ms of a
-- user update's trigger with 256 stored searches, this 0.4-0.6 ms (EXPLAIN
-- ANALYZE, 1M users, 2026-12-02).
CREATE FUNCTION roster_search_rank(search_text text, terms text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    t text;
    rank integer := 2;
BEGIN
    FOREACH t IN ARRAY string_to_array(terms, chr(31)) LOOP
        IF strpos(search_text, t) = 0 THEN
            RETURN 0;
        END IF;
        IF rank = 2 AND strpos(chr(31) || search_text, chr(31) || t) = 0 THEN
            rank := 1;
        END IF;
    END LOOP;
    RETURN rank;
END $$;

CREATE FUNCTION search_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE search_counts SET total = total - 1, prefix = prefix - roster_search_rank(OLD.search_text, terms) / 2
         WHERE active IN (-1, OLD.is_active::int) AND roster_search_rank(OLD.search_text, terms) > 0;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE search_counts SET total = total + 1, prefix = prefix + roster_search_rank(NEW.search_text, terms) / 2
         WHERE active IN (-1, NEW.is_active::int) AND roster_search_rank(NEW.search_text, terms) > 0;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER search_counts_insert AFTER INSERT OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION search_counts_apply();
CREATE TRIGGER search_counts_update AFTER UPDATE OF search_text, is_active ON users FOR EACH ROW
    WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text OR OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION search_counts_apply();
