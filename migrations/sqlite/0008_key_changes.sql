-- +goose Up
-- One row counting key changes, bumped by every transaction that changes
-- keys (see the PostgreSQL migration: instances read it while their LISTEN
-- connection is down). An embedded SQLite database has one instance and no
-- listener; the table keeps both schemas alike.
CREATE TABLE key_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO key_changes (id, n) VALUES (1, 0);

-- +goose Down
DROP TABLE key_changes;
