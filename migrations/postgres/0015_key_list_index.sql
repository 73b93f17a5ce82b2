-- +goose NO TRANSACTION
-- +goose Up
-- The key list's index: the team's keys in created order, carrying every
-- column the list's filters, counts and hygiene panel read, so that counting
-- a team's keys and finding a page's ids are index-only scans instead of a
-- visit to each key's table page. It takes the place of
-- api_keys_team_created_idx, whose columns lead it. Built concurrently:
-- writes to api_keys go on meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_team_list_idx ON api_keys (team_id, created_at DESC, id DESC)
    INCLUDE (revoked_at, expires_at, last_used_at, replaced_by, environment, name);
DROP INDEX CONCURRENTLY IF EXISTS api_keys_team_created_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_team_created_idx ON api_keys (team_id, created_at DESC, id DESC);
DROP INDEX CONCURRENTLY IF EXISTS api_keys_team_list_idx;
