-- The PostgreSQL schema: the same tables as SQLite's. Every table of tenant data has tenant_id
-- first in its key and indexes, so it can be distributed by tenant (Citus) without change.
CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    tenant_type  TEXT NOT NULL,
    country      TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

-- Domains are globally unique: a domain names exactly one tenant at sign-in.
CREATE TABLE tenant_domains (
    domain    TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    position  BIGINT NOT NULL
);
CREATE INDEX tenant_domains_by_tenant ON tenant_domains(tenant_id);

CREATE TABLE users (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    upn           TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    user_type     TEXT NOT NULL,
    roles         TEXT NOT NULL,          -- role template ids, comma separated
    password_hash TEXT,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, upn)
);

-- The tenant default of each policy; absent means the operator's configured default.
CREATE TABLE tenant_policies (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    policy_id     TEXT NOT NULL,
    default_value TEXT NOT NULL,
    version       BIGINT NOT NULL,
    modified_at   TEXT NOT NULL,
    modified_by   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, policy_id)
);

-- A product's or offer type's own value. value NULL: the row was reset and follows the default
-- again; the row is kept so its version keeps counting (ETags stay unique).
CREATE TABLE policy_values (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    policy_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    value       TEXT,
    version     BIGINT NOT NULL,
    modified_at TEXT NOT NULL,
    modified_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, policy_id, scope, target_id)
);

CREATE TABLE audit_log (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    actor_type     TEXT NOT NULL,
    policy_id      TEXT NOT NULL,
    scope          TEXT NOT NULL,
    target_id      TEXT,
    target_name    TEXT,
    old_value      TEXT NOT NULL,
    new_value      TEXT NOT NULL,
    action         TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_log_by_tenant ON audit_log(tenant_id, policy_id, seq);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    public_key  BYTEA NOT NULL,
    created_at  TEXT NOT NULL
);

-- Secrets of the service itself (operator token, checkout credential), stored as hashes.
CREATE TABLE service_credentials (
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
