-- pg_trgm indexes only letters and digits: any other character ends a word.
-- A search term with punctuation ("s.mu", "-a12", "3@ex") then gives
-- pg_trgm few or no trigrams, and LIKE '%s.mu%' reads every user with a
-- word starting with "mu": at 1M users, 16,094 candidates rechecked for 268
-- matches, 412 ms (EXPLAIN ANALYZE, 2026-12-02). roster_trgm_text maps each
-- ASCII punctuation character to the letter q, so "s.mu" is the word
-- "sqmu", whose trigrams "sqm" and "qmu" are selective. The index is on
-- roster_trgm_text(search_text); the search asks
-- roster_trgm_text(search_text) LIKE '%' || roster_trgm_text(term) || '%'
-- (postgres.go trgmContains), which every
-- match satisfies (the mapping is per character), and strpos on search_text
-- re-checks each candidate, so results are exact. The folded fields keep
-- their punctuation; only the index sees q. Other characters that are not
-- letters or digits (U+001F between fields, spaces, non-ASCII symbols)
-- still end a word, as before.
--
-- The body is reparsed in each session that calls it, so its string is an
-- E'' literal: a plain '...\...' would lose its backslash in a session with
-- standard_conforming_strings off, and the index would disagree with the
-- searches. The old index on search_text (users_search_trgm) stays, so that
-- instances of an older version keep their plan during a rolling upgrade;
-- a later version drops it. CREATE INDEX holds off writes to users while
-- it builds (40 s at 1M users).
CREATE FUNCTION roster_trgm_text(search_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT translate(search_text, E'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~', 'qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq')
$$;
CREATE INDEX users_search_trgm_text ON users USING gin (roster_trgm_text(search_text) gin_trgm_ops);
