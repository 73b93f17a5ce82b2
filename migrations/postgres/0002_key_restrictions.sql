-- +goose Up
-- Key restrictions (all optional). allowed_ips and allowed_referrers are
-- JSON arrays of normalised entries; rate_limit 0 means none. A quota is
-- present when quota_remaining is not NULL: quota_remaining is what the
-- database still holds (instances spend leases taken from it),
-- quota_period_start the start of the UTC refill period it belongs to, and
-- quota_version changes whenever the quota is set, so that leases taken
-- before an edit or a refill are not returned into the new budget.
-- quota_lease is the size of the last lease (written by the lease statement
-- so that it can return it).
ALTER TABLE api_keys
    ADD COLUMN allowed_ips         TEXT   NOT NULL DEFAULT '[]',
    ADD COLUMN allowed_referrers   TEXT   NOT NULL DEFAULT '[]',
    ADD COLUMN rate_limit          BIGINT NOT NULL DEFAULT 0 CHECK (rate_limit >= 0),
    ADD COLUMN rate_period         TEXT   NOT NULL DEFAULT '' CHECK (rate_period IN ('', '1s', '1m', '1h', '1d')),
    ADD COLUMN quota_remaining     BIGINT CHECK (quota_remaining >= 0),
    ADD COLUMN quota_refill_amount BIGINT NOT NULL DEFAULT 0 CHECK (quota_refill_amount >= 0),
    ADD COLUMN quota_refill_period TEXT   NOT NULL DEFAULT '' CHECK (quota_refill_period IN ('', 'day', 'month')),
    ADD COLUMN quota_period_start  TIMESTAMPTZ,
    ADD COLUMN quota_version       BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN quota_lease         BIGINT NOT NULL DEFAULT 0;

-- Refused calls per key and day by reason; key_usage.refused stays the total.
ALTER TABLE key_usage
    ADD COLUMN refused_revoked  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN refused_expired  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN refused_ip       BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN refused_referrer BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN refused_rate     BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN refused_quota    BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE key_usage
    DROP COLUMN refused_quota,
    DROP COLUMN refused_rate,
    DROP COLUMN refused_referrer,
    DROP COLUMN refused_ip,
    DROP COLUMN refused_expired,
    DROP COLUMN refused_revoked;
ALTER TABLE api_keys
    DROP COLUMN quota_lease,
    DROP COLUMN quota_version,
    DROP COLUMN quota_period_start,
    DROP COLUMN quota_refill_period,
    DROP COLUMN quota_refill_amount,
    DROP COLUMN quota_remaining,
    DROP COLUMN rate_period,
    DROP COLUMN rate_limit,
    DROP COLUMN allowed_referrers,
    DROP COLUMN allowed_ips;
