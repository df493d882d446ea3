-- Self-service purchases and trials, notifications of them, and webhooks.

-- The operator's trial length of a product, overriding the catalog's.
CREATE TABLE catalog_trial_lengths (
    product_id TEXT PRIMARY KEY,
    seconds    BIGINT NOT NULL
);

CREATE TABLE purchases (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    purchaser_id   TEXT NOT NULL,
    purchaser_upn  TEXT NOT NULL,
    scope          TEXT NOT NULL,          -- product or OfferType
    target_id      TEXT NOT NULL,
    target_name    TEXT NOT NULL,
    kind           TEXT NOT NULL,          -- purchase or trial
    quantity       BIGINT NOT NULL,
    assigned_users TEXT NOT NULL,          -- JSON array of user principal names
    status         TEXT NOT NULL,          -- Active, Trial, Canceled, TakenOver (Expired is a Trial past expires_at)
    payment_method BIGINT NOT NULL,
    policy_value   TEXT NOT NULL,          -- the value it was allowed under
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    expires_at     TEXT,                   -- trials only
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX purchases_by_purchaser ON purchases(tenant_id, purchaser_id);
CREATE INDEX purchases_by_created ON purchases(tenant_id, created_at);

CREATE TABLE notifications (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    purchase_id  TEXT NOT NULL,
    message      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX notifications_by_recipient ON notifications(tenant_id, recipient_id, created_at);

CREATE TABLE webhooks (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,              -- the HMAC key; it signs, so it is kept, not hashed
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- The outbox: written in the transaction that records the purchase, so no event is lost.
CREATE TABLE webhook_deliveries (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    event           TEXT NOT NULL,         -- the JSON body
    status          TEXT NOT NULL,         -- pending, delivered, failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,      -- unix milliseconds
    last_status     BIGINT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries(tenant_id, webhook_id, created_at);
