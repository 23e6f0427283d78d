-- users_fts keeps the position of every trigram (detail=full, the FTS5
-- default) instead of none, so that a term of three or more characters is
-- an FTS5 phrase that matches exactly the users containing it, and "starts
-- a field" is the phrase at a column's start or after U+001F: searches of
-- such terms are counted and paged from the index without reading rows
-- (sqlite/search_phrase.go). The triggers of 0001 write to it by name and
-- need no change.
DROP TABLE users_fts;
CREATE VIRTUAL TABLE users_fts USING fts5(
    search_text, content='users', content_rowid='id',
    tokenize='trigram case_sensitive 1'
);
INSERT INTO users_fts(users_fts) VALUES ('rebuild');
