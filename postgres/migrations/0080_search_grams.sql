-- search_grams counts users by the short grams of their four folded fields,
-- exactly, so that a search with one term of 1-3 characters is counted
-- without visiting its matches (sqlstore/searchshort.go; SQLite has the
-- same table). prefix = 0: one of the fields contains gram; prefix = 1: one
-- of them starts with it. A user counts once per (gram, prefix), under its
-- is_active.
--
-- Cost to writes: the trigger upserts one row per gram that a write adds
-- or removes (a user of about 40 characters has about 110 distinct grams;
-- a change of one name touches only the grams that change). The short grams
-- ('a', 'e', '.', 'com') are rows that nearly every user write updates;
-- the store's writes are serialized by BeginWrite's advisory lock already,
-- so they add no waiting between the store's writers, only the upserts'
-- time (measured in the report of the commit that added this file:
-- concurrent CreateUser, before/after). Writers outside the store cannot
-- deadlock on these rows: every write updates them in one fixed order
-- (sorted by gram, prefix, is_active). fillfactor leaves room for HOT
-- updates of the hot rows.
CREATE TABLE search_grams (
    gram      text COLLATE "C" NOT NULL,
    prefix    smallint NOT NULL,
    is_active boolean NOT NULL,
    users     bigint NOT NULL,
    PRIMARY KEY (gram, prefix, is_active)
) WITH (fillfactor = 70);

-- roster_grams lists the distinct grams of a search_text (the folded fields
-- joined by U+001F; no gram spans two fields): every substring of 1 to 3
-- characters (prefix 0) and every prefix of 1 to 3 characters of a field
-- (prefix 1). sqlite/searchgrams.go computes the same in Go.
CREATE FUNCTION roster_grams(search_text text) RETURNS TABLE (gram text, prefix smallint)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT substr(f, i, n), 0::smallint
      FROM unnest(string_to_array(search_text, chr(31))) AS f,
           generate_series(1, length(f)) AS i, generate_series(1, 3) AS n
     WHERE i + n - 1 <= length(f)
    UNION
    SELECT substr(f, 1, n), 1::smallint
      FROM unnest(string_to_array(search_text, chr(31))) AS f, generate_series(1, least(length(f), 3)) AS n
$$;

-- roster_prefixes lists the distinct prefixes of 1 to 3 characters of the
-- fields of a search_text, for the GIN index that reads the prefix group of
-- a short search (postgres.go ShortSearchIndex): pg_trgm has no path for
-- 1-2 characters, and for 3 it reads every user that contains the term.
CREATE FUNCTION roster_prefixes(search_text text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(f, 1, n)), '{}')
      FROM unnest(string_to_array(search_text, chr(31))) AS f, generate_series(1, least(length(f), 3)) AS n
$$;
CREATE INDEX users_search_prefixes ON users USING gin (roster_prefixes(search_text));

-- search_grams_count applies a user write to search_grams: +1 for the new
-- row's grams, -1 for the old row's, netted per gram so that an update
-- touches only what it changes, in a fixed order (no deadlocks between
-- writers), through one upsert.
CREATE FUNCTION search_grams_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    new_text text;
    old_text text;
BEGIN
    IF TG_OP <> 'DELETE' THEN new_text := NEW.search_text; END IF;
    IF TG_OP <> 'INSERT' THEN old_text := OLD.search_text; END IF;
    INSERT INTO search_grams AS s (gram, prefix, is_active, users)
    SELECT c.gram, c.prefix, c.is_active, sum(c.d)
      FROM (SELECT g.gram, g.prefix, NEW.is_active AS is_active, 1 AS d FROM roster_grams(new_text) g
            UNION ALL
            SELECT g.gram, g.prefix, OLD.is_active, -1 FROM roster_grams(old_text) g) c
     GROUP BY c.gram, c.prefix, c.is_active
    HAVING sum(c.d) <> 0
     ORDER BY c.gram COLLATE "C", c.prefix, c.is_active
    ON CONFLICT (gram, prefix, is_active) DO UPDATE SET users = s.users + EXCLUDED.users;
    RETURN NULL;
END $$;
CREATE TRIGGER search_grams_insert AFTER INSERT OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION search_grams_count();
CREATE TRIGGER search_grams_update AFTER UPDATE OF search_text, is_active ON users FOR EACH ROW
    WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text OR OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION search_grams_count();

-- The backfill (postgres/bulk.go rebuilds the same way after a seed).
INSERT INTO search_grams (gram, prefix, is_active, users)
SELECT g.gram, g.prefix, u.is_active, count(*)
  FROM users u CROSS JOIN LATERAL roster_grams(u.search_text) g
 GROUP BY g.gram, g.prefix, u.is_active;
