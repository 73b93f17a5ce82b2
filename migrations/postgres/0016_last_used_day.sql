-- +goose NO TRANSACTION
-- +goose Up
-- Every flush of the last-use recorder rewrites last_used_at of every key
-- used since the one before. While last_used_at was in an index (the
-- last-used sort's, and the key list's covering index) no such update could
-- be made in place (HOT): each one added an entry to each of the table's
-- indexes. The indexes now hold last_used_day instead, the UTC day of the
-- last use, which changes at most once a day per key; the hygiene counts
-- and filters (never used, unused for 90 days) read it from the covering
-- index, and the sort by last use reads api_keys_team_used_day_idx in day
-- order, sorting only each day's keys by the exact time.
-- fillfactor leaves room in each page for the in-place updates; adding the
-- stored column rewrites the table (briefly locking it), which applies it to
-- every page at once.
ALTER TABLE api_keys SET (fillfactor = 85);
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS last_used_day TIMESTAMPTZ
    GENERATED ALWAYS AS (timezone('UTC', date_trunc('day', timezone('UTC', last_used_at)))) STORED;
CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_team_list_day_idx ON api_keys (team_id, created_at DESC, id DESC)
    INCLUDE (revoked_at, expires_at, last_used_day, replaced_by, environment, name);
DROP INDEX CONCURRENTLY IF EXISTS api_keys_team_list_idx;
ALTER INDEX api_keys_team_list_day_idx RENAME TO api_keys_team_list_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_team_used_day_idx ON api_keys (team_id, last_used_day DESC NULLS LAST);
DROP INDEX CONCURRENTLY IF EXISTS api_keys_team_last_used_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_team_last_used_idx ON api_keys (team_id, last_used_at DESC NULLS LAST, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_team_list_at_idx ON api_keys (team_id, created_at DESC, id DESC)
    INCLUDE (revoked_at, expires_at, last_used_at, replaced_by, environment, name);
DROP INDEX CONCURRENTLY IF EXISTS api_keys_team_list_idx;
ALTER INDEX api_keys_team_list_at_idx RENAME TO api_keys_team_list_idx;
DROP INDEX CONCURRENTLY IF EXISTS api_keys_team_used_day_idx;
ALTER TABLE api_keys DROP COLUMN IF EXISTS last_used_day;
ALTER TABLE api_keys RESET (fillfactor);
