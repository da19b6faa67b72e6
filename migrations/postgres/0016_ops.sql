-- Rate limits that must hold across server processes (issue 7): fixed-window
-- counters, one row per (scope, key), bumped in one statement
-- (store/limits.rs). Scopes name what is limited ('pay_miss_client',
-- 'office_login_account', ...); keys are a client address or a hash of an
-- account's email, never the email itself. Not company data: sign-in and
-- link guessing are limited before any company is known.
CREATE TABLE rate_limits (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    -- Start of the current window, Unix milliseconds.
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Sweeping windows that ended (store/limits.rs `sweep`).
CREATE INDEX rate_limits_window ON rate_limits (window_start);
