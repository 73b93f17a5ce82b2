-- +goose Up
-- The key list's index: the team's keys in created order, followed by every
-- column the list's filters, counts and hygiene panel read, so that they are
-- answered from the index alone. It takes the place of
-- api_keys_team_created_idx, whose columns lead it.
CREATE INDEX api_keys_team_list_idx ON api_keys (team_id, created_at DESC, id DESC,
    revoked_at, expires_at, last_used_at, replaced_by, environment, name);
DROP INDEX api_keys_team_created_idx;

-- +goose Down
CREATE INDEX api_keys_team_created_idx ON api_keys (team_id, created_at DESC, id DESC);
DROP INDEX api_keys_team_list_idx;
