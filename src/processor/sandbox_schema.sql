-- The built-in sandbox processor's own state. Card numbers are never stored:
-- only the behaviour the test card stands for, its brand, last 4 and expiry.
-- Each table is stored in the B-tree of its id (WITHOUT ROWID: its rows are
-- small), not in a table and a separate index of the id, so a token, a
-- claim or a charge writes one page fewer. A file made before keeps its
-- tables as they were; both hold the same rows.
CREATE TABLE IF NOT EXISTS sandbox_tokens (
    id TEXT PRIMARY KEY,
    behaviour TEXT NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sandbox_methods (
    id TEXT PRIMARY KEY,
    behaviour TEXT NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sandbox_charges (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    decline_code TEXT,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    saved_method_id TEXT,
    refunded BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sandbox_refunds (
    id TEXT PRIMARY KEY,
    charge_id TEXT NOT NULL REFERENCES sandbox_charges(id),
    idempotency_key TEXT NOT NULL UNIQUE,
    amount BIGINT NOT NULL CHECK (amount > 0),
    created_at TIMESTAMP NOT NULL
) WITHOUT ROWID;
