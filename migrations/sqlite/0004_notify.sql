-- +goose Up
-- The outbox: one row per event, written in the same transaction as the
-- change it reports. dispatched_at is set once the event has been fanned out
-- into deliveries (webhook endpoints, e-mail).
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id     TEXT        NOT NULL UNIQUE,
    team_id       INTEGER      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    type          TEXT        NOT NULL,
    target_id     TEXT        NOT NULL DEFAULT '',
    payload       TEXT        NOT NULL DEFAULT '{}',
    created_at    DATETIME NOT NULL,
    dispatched_at DATETIME
);
CREATE INDEX events_pending_idx ON events (id) WHERE dispatched_at IS NULL;
CREATE INDEX events_team_target_idx ON events (team_id, target_id, created_at DESC);

-- Webhook endpoints. secret holds the signing secret sealed with AES-256-GCM
-- under the key named by secret_key_id; during a rotation the previous
-- secret stays valid until old_secret_expires_at.
CREATE TABLE webhook_endpoints (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id             TEXT        NOT NULL UNIQUE,
    team_id               INTEGER      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    url                   TEXT        NOT NULL,
    description           TEXT        NOT NULL DEFAULT '',
    event_types           TEXT        NOT NULL DEFAULT '[]',
    enabled               BOOLEAN     NOT NULL DEFAULT TRUE,
    secret                TEXT        NOT NULL,
    secret_key_id         TEXT        NOT NULL,
    old_secret            TEXT        NOT NULL DEFAULT '',
    old_secret_key_id     TEXT        NOT NULL DEFAULT '',
    old_secret_expires_at DATETIME,
    failing_since         DATETIME,
    disabled_reason       TEXT        NOT NULL DEFAULT '',
    created_at            DATETIME NOT NULL,
    updated_at            DATETIME NOT NULL
);
CREATE INDEX webhook_endpoints_team_idx ON webhook_endpoints (team_id, id);

-- The delivery queue: one row per event and destination (a webhook
-- endpoint, or the team's e-mail). Workers claim due rows with FOR UPDATE
-- SKIP LOCKED and push next_attempt_at ahead by a lease, so a worker that
-- dies after claiming leaves its rows to be claimed again.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        INTEGER      NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    team_id         INTEGER      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    endpoint_id     INTEGER      REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    kind            TEXT        NOT NULL CHECK (kind IN ('webhook', 'email')),
    status          TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NOT NULL,
    last_attempt_at DATETIME,
    response_status INTEGER     NOT NULL DEFAULT 0,
    response_ms     INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT        NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint_idx ON deliveries (endpoint_id, id DESC);
CREATE INDEX deliveries_event_idx ON deliveries (event_id);

-- Which expiry reminders were emitted, so each fires once per key, threshold
-- and expiry date, across restarts and instances.
CREATE TABLE key_expiry_notices (
    key_id     INTEGER      NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    threshold  TEXT        NOT NULL,
    expires_at DATETIME NOT NULL,
    created_at DATETIME NOT NULL,
    PRIMARY KEY (key_id, threshold, expires_at)
);
CREATE INDEX api_keys_expiry_scan_idx ON api_keys (expires_at) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;

-- Each person may turn expiry and rotation reminders off.
ALTER TABLE users ADD COLUMN reminders_off BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE users DROP COLUMN reminders_off;
DROP INDEX api_keys_expiry_scan_idx;
DROP TABLE key_expiry_notices;
DROP TABLE deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE events;
