-- +goose Up
-- Two-factor authentication (TOTP). totp_secret is the seed sealed with
-- AES-256-GCM under the encryption key named by totp_key_id; it is set,
-- with totp_enabled_at NULL, while enrolment waits for a first code.
-- totp_last_step is the last time step a code was accepted for, so each
-- code works once.
ALTER TABLE users ADD COLUMN totp_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_enabled_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- Single-use recovery codes, stored as hashes.
CREATE TABLE recovery_codes (
    id        BIGSERIAL PRIMARY KEY,
    user_id   BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT        NOT NULL,
    used_at   TIMESTAMPTZ
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);

-- A team may require two-factor authentication of its owners and admins.
ALTER TABLE teams ADD COLUMN require_2fa BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE teams DROP COLUMN require_2fa;
DROP TABLE recovery_codes;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_enabled_at;
ALTER TABLE users DROP COLUMN totp_key_id;
ALTER TABLE users DROP COLUMN totp_secret;
