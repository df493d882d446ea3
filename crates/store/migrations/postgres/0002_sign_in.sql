-- Sign-in like a real directory: TOTP, session revocation, applications, refresh tokens, device
-- codes, lockouts, and signing key rotation.

ALTER TABLE users ADD COLUMN totp_secret TEXT;              -- base32; NULL: no TOTP enrolled
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;        -- the last TOTP step used (no reuse)
ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;  -- unix seconds

CREATE TABLE applications (
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id                 TEXT NOT NULL,       -- the client id, a GUID
    display_name       TEXT NOT NULL,
    permissions        TEXT NOT NULL,       -- comma separated
    tokens_valid_after BIGINT NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE application_secrets (
    tenant_id      TEXT NOT NULL,
    application_id TEXT NOT NULL,
    id             TEXT NOT NULL,
    secret_hash    TEXT NOT NULL,           -- SHA-256 of a 256-bit random secret
    hint           TEXT NOT NULL,           -- its first characters, to tell secrets apart
    created_at     TEXT NOT NULL,
    expires_at     BIGINT,                 -- unix seconds; NULL: does not expire
    PRIMARY KEY (tenant_id, application_id, id),
    FOREIGN KEY (tenant_id, application_id) REFERENCES applications(tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE refresh_tokens (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    family_id  TEXT NOT NULL,               -- every rotation of one sign-in shares it
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,                     -- set when rotated; a second use is a theft
    revoked    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens(tenant_id, family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(tenant_id, user_id);

CREATE TABLE device_codes (
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    device_code_hash TEXT NOT NULL,
    user_code        TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    scope            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    interval_secs    BIGINT NOT NULL,
    last_poll_at     BIGINT,
    status           TEXT NOT NULL,         -- pending, approved, denied, consumed
    user_id          TEXT,
    PRIMARY KEY (tenant_id, device_code_hash)
);
-- The /devicelogin page knows only the user code.
CREATE UNIQUE INDEX device_codes_by_user_code ON device_codes(user_code);

-- Failed sign-ins per account and per address, for slow-down and lockout.
CREATE TABLE sign_in_failures (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0
);

ALTER TABLE signing_keys ADD COLUMN retired_at BIGINT;   -- unix seconds; verifies only after this
