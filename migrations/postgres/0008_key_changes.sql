-- +goose Up
-- One row counting key changes. Every transaction that creates, changes,
-- revokes or deletes keys bumps it before it commits, beside the NOTIFY it
-- sends; an instance whose LISTEN connection is down reads it to learn that
-- something changed (a notification sent while it was not listening is
-- lost, the count is not).
CREATE TABLE key_changes (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    n  BIGINT   NOT NULL
);
INSERT INTO key_changes (id, n) VALUES (1, 0);

-- +goose Down
DROP TABLE key_changes;
