-- +goose Up
-- last_used_day is the UTC day of the last use (midnight, in the layout
-- the store writes times in), which the hygiene counts and filters read
-- (see the PostgreSQL migration, where it keeps last-use updates in place).
-- Here it is computed on read; the key list's index carries it instead of
-- last_used_at, so that those counts stay answered from the index.
ALTER TABLE api_keys ADD COLUMN last_used_day DATETIME
    GENERATED ALWAYS AS (CASE WHEN last_used_at IS NULL THEN NULL ELSE substr(last_used_at, 1, 10) || ' 00:00:00+00:00' END) VIRTUAL;
DROP INDEX api_keys_team_list_idx;
CREATE INDEX api_keys_team_list_idx ON api_keys (team_id, created_at DESC, id DESC,
    revoked_at, expires_at, last_used_day, replaced_by, environment, name);
-- The sort by last use reads the keys in day order (NULLs last in DESC
-- order), sorting each day's keys by the exact time.
DROP INDEX api_keys_team_last_used_idx;
CREATE INDEX api_keys_team_used_day_idx ON api_keys (team_id, last_used_day DESC);

-- +goose Down
DROP INDEX api_keys_team_used_day_idx;
CREATE INDEX api_keys_team_last_used_idx ON api_keys (team_id, last_used_at DESC, id DESC);
DROP INDEX api_keys_team_list_idx;
CREATE INDEX api_keys_team_list_idx ON api_keys (team_id, created_at DESC, id DESC,
    revoked_at, expires_at, last_used_at, replaced_by, environment, name);
ALTER TABLE api_keys DROP COLUMN last_used_day;
