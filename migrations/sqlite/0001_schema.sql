-- +goose Up
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    email               TEXT        NOT NULL,
    password_hash       TEXT        NOT NULL,
    created_at          DATETIME NOT NULL,
    password_changed_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE teams (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT        NOT NULL,
    created_at DATETIME NOT NULL
);

CREATE TABLE memberships (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id    INTEGER      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    INTEGER      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT        NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER')),
    created_at DATETIME NOT NULL,
    UNIQUE (team_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- Server-side sessions. id is the SHA-256 of the cookie's token, so a
-- database dump does not hold live session ids.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      INTEGER      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    data         BLOB       NOT NULL,
    created_at   DATETIME NOT NULL,
    last_seen_at DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id    TEXT        NOT NULL UNIQUE,
    team_id      INTEGER      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name         TEXT        NOT NULL,
    environment  TEXT        NOT NULL CHECK (environment IN ('live', 'test')),
    key_hash     TEXT        NOT NULL,
    hint         TEXT        NOT NULL,
    permission   TEXT        NOT NULL CHECK (permission IN ('read_all', 'write_all', 'restricted')),
    scopes       TEXT        NOT NULL DEFAULT '[]',
    expires_at   DATETIME,
    revoked_at   DATETIME,
    revoked_by   TEXT        NOT NULL DEFAULT '',
    created_by   TEXT        NOT NULL,
    created_at   DATETIME NOT NULL,
    updated_at   DATETIME NOT NULL,
    last_used_at DATETIME,
    last_used_ip TEXT        NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_team_created_idx ON api_keys (team_id, created_at DESC, id DESC);
CREATE INDEX api_keys_team_last_used_idx ON api_keys (team_id, last_used_at DESC, id DESC); -- SQLite sorts NULLs last in DESC order
CREATE INDEX api_keys_team_name_idx ON api_keys (team_id, lower(name), id);

-- Append-only. Actors and targets are copied by value so the trail outlives
-- the keys and users it names.
CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id       INTEGER      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    actor_user_id INTEGER,
    actor_key_id  INTEGER,
    actor_label   TEXT        NOT NULL DEFAULT '',
    action        TEXT        NOT NULL,
    target_id     TEXT        NOT NULL DEFAULT '',
    target_name   TEXT        NOT NULL DEFAULT '',
    ip            TEXT        NOT NULL DEFAULT '',
    detail        TEXT        NOT NULL DEFAULT '{}',
    created_at    DATETIME NOT NULL
);
CREATE INDEX audit_events_team_created_idx ON audit_events (team_id, created_at DESC, id DESC);
CREATE INDEX audit_events_team_target_idx ON audit_events (team_id, target_id, created_at DESC);

-- Requests per key and UTC day, written by the batched recorder.
CREATE TABLE key_usage (
    key_id          INTEGER  NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    day             DATE    NOT NULL,
    requests        INTEGER  NOT NULL DEFAULT 0,
    refused         INTEGER  NOT NULL DEFAULT 0,
    last_refused_at DATETIME,
    last_refused_ip TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (key_id, day)
);

-- +goose Down
DROP TABLE key_usage;
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP TABLE sessions;
DROP TABLE memberships;
DROP TABLE teams;
DROP TABLE users;
