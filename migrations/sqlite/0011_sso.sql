-- +goose Up
-- The OpenID subject an account is linked to by single sign-on ('' for
-- none). An account is matched by verified e-mail the first time; after
-- that only the same subject may sign in to it.
ALTER TABLE users ADD COLUMN oidc_subject TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_oidc_subject_key ON users (oidc_subject) WHERE oidc_subject <> '';

-- +goose Down
DROP INDEX users_oidc_subject_key;
ALTER TABLE users DROP COLUMN oidc_subject;
