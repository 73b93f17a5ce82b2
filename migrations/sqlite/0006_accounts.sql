-- +goose Up
-- Accounts whose password was generated for them (created by an admin or
-- by `keyward users create` without --password-stdin) set their own at the
-- next sign-in. Existing ones are those whose password never changed and
-- who did not set up a team themselves.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET must_change_password = TRUE
WHERE password_changed_at = created_at
  AND id NOT IN (SELECT actor_user_id FROM audit_events WHERE action = 'team.created' AND actor_user_id IS NOT NULL);

-- Invitations to join a team; the link's token is stored as its SHA-256.
CREATE TABLE invitations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id      INTEGER      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    email        TEXT        NOT NULL,
    role         TEXT        NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER')),
    token_hash   TEXT        NOT NULL,
    invited_by   TEXT        NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    accepted_at  DATETIME,
    cancelled_at DATETIME
);
CREATE UNIQUE INDEX invitations_token_key ON invitations (token_hash);
-- One open invitation per team and address (resend renews it).
CREATE UNIQUE INDEX invitations_open_key ON invitations (team_id, lower(email))
    WHERE accepted_at IS NULL AND cancelled_at IS NULL;

-- Single-use password reset links, stored as the SHA-256 of their token.
CREATE TABLE password_resets (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT        NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at    DATETIME
);
CREATE UNIQUE INDEX password_resets_token_key ON password_resets (token_hash);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);

-- +goose Down
DROP TABLE password_resets;
DROP TABLE invitations;
ALTER TABLE users DROP COLUMN must_change_password;
