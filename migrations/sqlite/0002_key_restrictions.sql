-- +goose Up
-- Key restrictions (all optional); see the PostgreSQL migration of the same
-- number for what each column means.
ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN allowed_referrers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0 CHECK (rate_limit >= 0);
ALTER TABLE api_keys ADD COLUMN rate_period TEXT NOT NULL DEFAULT '' CHECK (rate_period IN ('', '1s', '1m', '1h', '1d'));
ALTER TABLE api_keys ADD COLUMN quota_remaining INTEGER CHECK (quota_remaining >= 0);
ALTER TABLE api_keys ADD COLUMN quota_refill_amount INTEGER NOT NULL DEFAULT 0 CHECK (quota_refill_amount >= 0);
ALTER TABLE api_keys ADD COLUMN quota_refill_period TEXT NOT NULL DEFAULT '' CHECK (quota_refill_period IN ('', 'day', 'month'));
ALTER TABLE api_keys ADD COLUMN quota_period_start DATETIME;
ALTER TABLE api_keys ADD COLUMN quota_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN quota_lease INTEGER NOT NULL DEFAULT 0;

ALTER TABLE key_usage ADD COLUMN refused_revoked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE key_usage ADD COLUMN refused_expired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE key_usage ADD COLUMN refused_ip INTEGER NOT NULL DEFAULT 0;
ALTER TABLE key_usage ADD COLUMN refused_referrer INTEGER NOT NULL DEFAULT 0;
ALTER TABLE key_usage ADD COLUMN refused_rate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE key_usage ADD COLUMN refused_quota INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE key_usage DROP COLUMN refused_quota;
ALTER TABLE key_usage DROP COLUMN refused_rate;
ALTER TABLE key_usage DROP COLUMN refused_referrer;
ALTER TABLE key_usage DROP COLUMN refused_ip;
ALTER TABLE key_usage DROP COLUMN refused_expired;
ALTER TABLE key_usage DROP COLUMN refused_revoked;
ALTER TABLE api_keys DROP COLUMN quota_lease;
ALTER TABLE api_keys DROP COLUMN quota_version;
ALTER TABLE api_keys DROP COLUMN quota_period_start;
ALTER TABLE api_keys DROP COLUMN quota_refill_period;
ALTER TABLE api_keys DROP COLUMN quota_refill_amount;
ALTER TABLE api_keys DROP COLUMN quota_remaining;
ALTER TABLE api_keys DROP COLUMN rate_period;
ALTER TABLE api_keys DROP COLUMN rate_limit;
ALTER TABLE api_keys DROP COLUMN allowed_referrers;
ALTER TABLE api_keys DROP COLUMN allowed_ips;
