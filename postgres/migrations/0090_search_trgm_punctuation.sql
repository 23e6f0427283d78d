-- pg_trgm indexes only letters and digits: any other character ends a word.
-- A search term with punctuation ("s.mu", "-a12", "3@ex") then gives
-- pg_trgm few or no trigrams, and LIKE '%s.mu%' reads every user with a
-- word starting with "mu": at 1M users, 16,094 candidates rechecked for 268
-- matches, 412 ms (EXPLAIN ANALYZE, 2026-12-02). roster_trgm_text maps the
-- punctuation of usernames, email addresses and names (. @ - _ + ') to the
-- letter q, so "s.mu" is the word "sqmu", whose trigrams "sqm" and "qmu"
-- are selective: 268 candidates, 14 ms.
--
-- A term with one of those characters is searched through this index with
-- roster_trgm_text(search_text) LIKE '%<term, mapped the same way in Go and
-- escaped>%' (postgres.go trgmContains), which every match satisfies (the
-- mapping is per character); strpos on search_text re-checks each
-- candidate, so results are exact. Other terms keep the index on search_text
-- (users_search_trgm, 0001): GIN trigram matches are re-checked row by row,
-- and there the re-check is a plain LIKE. Here it computes roster_trgm_text
-- for every candidate: six replace() calls cost about 0.7 us a row, where
-- translate() over all 32 ASCII punctuation characters cost 11 us, and a
-- common term's count (555k candidates for "exam") took 19 s instead of
-- 0.6 s. Other characters that are not letters or digits still end a word.
--
-- CREATE INDEX holds off writes to users while it builds (21 s at 1M
-- users).
CREATE FUNCTION roster_trgm_text(search_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT replace(replace(replace(replace(replace(replace(search_text,
        '.', 'q'), '@', 'q'), '-', 'q'), '_', 'q'), '+', 'q'), '''', 'q')
$$;
CREATE INDEX users_search_trgm_text ON users USING gin (roster_trgm_text(search_text) gin_trgm_ops);
