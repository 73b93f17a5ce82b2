-- +goose Up
-- What happens when a secret scanner finds one of the team's keys in public:
-- revoke it at once (the default) or only tell the team.
ALTER TABLE teams ADD COLUMN leak_action TEXT NOT NULL DEFAULT 'revoke'
    CHECK (leak_action IN ('revoke', 'notify'));

-- Where a key was found: one row per key and distinct URL (a report without
-- a URL, such as "Report a leaked key", is the row with url ''). The row
-- is the mark on the key and, until acknowledged, the notice on the key table.
CREATE TABLE key_leaks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id          INTEGER  NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    team_id         INTEGER  NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    url             TEXT     NOT NULL DEFAULT '',
    source          TEXT     NOT NULL DEFAULT '',
    reporter        TEXT     NOT NULL DEFAULT '',
    action          TEXT     NOT NULL CHECK (action IN ('revoked', 'notified', 'already_revoked')),
    found_at        DATETIME NOT NULL,
    acknowledged_at DATETIME,
    acknowledged_by TEXT     NOT NULL DEFAULT '',
    UNIQUE (key_id, url)
);
CREATE INDEX key_leaks_team_open_idx ON key_leaks (team_id, id) WHERE acknowledged_at IS NULL;

-- +goose Down
DROP TABLE key_leaks;
ALTER TABLE teams DROP COLUMN leak_action;
