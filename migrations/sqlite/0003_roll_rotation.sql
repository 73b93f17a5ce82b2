-- +goose Up
-- A rolled key links to its successor (replaced_by) and the successor to
-- it (rolled_from), by public id; '' when there is none. A key is rolled at
-- most once, which the unique index holds even against concurrent rolls.
ALTER TABLE api_keys ADD COLUMN rolled_from TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN replaced_by TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX api_keys_rolled_from_key ON api_keys (rolled_from) WHERE rolled_from <> '';

-- The team's rotation policy; 0 = off.
ALTER TABLE teams ADD COLUMN rotation_days INTEGER NOT NULL DEFAULT 0 CHECK (rotation_days BETWEEN 0 AND 3650);
ALTER TABLE teams ADD COLUMN max_key_lifetime_days INTEGER NOT NULL DEFAULT 0 CHECK (max_key_lifetime_days BETWEEN 0 AND 3650);

-- +goose Down
ALTER TABLE teams DROP COLUMN max_key_lifetime_days;
ALTER TABLE teams DROP COLUMN rotation_days;
DROP INDEX api_keys_rolled_from_key;
ALTER TABLE api_keys DROP COLUMN replaced_by;
ALTER TABLE api_keys DROP COLUMN rolled_from;
