-- +goose Up
-- When each team was last sent its "due for rotation" digest, so that it goes
-- out at most once a week per team, across restarts and instances.
CREATE TABLE rotation_digests (
    team_id INTEGER     PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    sent_at DATETIME NOT NULL
);

-- +goose Down
DROP TABLE rotation_digests;
