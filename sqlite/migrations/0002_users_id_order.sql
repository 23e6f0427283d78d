-- A narrow index in id order: deep pages of GET /users skip over it to
-- find their first id (about 8 bytes an entry) instead of stepping over
-- every earlier row of the users table (about 250 bytes a row).
CREATE INDEX IF NOT EXISTS users_id_order ON users(id);
