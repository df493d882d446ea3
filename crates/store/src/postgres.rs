//! The PostgreSQL store: the same trait and the same tables as SQLite's, for operators who run
//! many server processes on one database. Read-then-write transactions lock what they decide on
//! (the tenant's row, or the token's), so a policy write and a purchase never interleave. The SQL
//! is shared with SQLite (`sql_common`); here are the connection, the locks, PostgreSQL's own
//! spellings and the change feed.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use domain::{effective_value, row_etag, PolicyValue, Role, Scope, TenantType, Upn, UserType};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use crate::{
    timestamp, AppSecret, Application, AuditQuery, AuditRecord, ChangeContext, ChangeFeed,
    Delivery, DeviceCode, DeviceStatus, FailureCount, Judge, NewTenant, NewUser, Notification,
    PolicySnapshot, Purchase, PurchaseFilter, PurchaseNotice, PurchaseOutcome, PurchaseStatus,
    RefreshToken, RefreshUse, Result, SigningKey, Store, StoreError, StoredValue, Tenant,
    TenantDefault, User, ValueWrite, Webhook,
};
use domain::AppPermission;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PgStore {
    pool: PgPool,
}

/// Settings of the connection pool.
#[derive(Debug, Clone)]
pub struct PgSettings {
    pub max_connections: u32,
    /// Any statement running longer is cancelled (milliseconds).
    pub statement_timeout_ms: u64,
}

impl Default for PgSettings {
    fn default() -> Self {
        PgSettings {
            max_connections: 16,
            statement_timeout_ms: 30_000,
        }
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) and migrates the schema.
    pub async fn open(url: &str, settings: &PgSettings) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url)?.options([(
            "statement_timeout",
            format!("{}ms", settings.statement_timeout_ms),
        )]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        // Several nodes may start at once: one migrates, the others wait for it.
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

/// The LISTEN/NOTIFY channel on which servers sharing a database tell each other of changes.
const CHANGES_CHANNEL: &str = "mscommerce_changes";

struct PgChangeFeed {
    listener: sqlx::postgres::PgListener,
}

#[async_trait]
impl ChangeFeed for PgChangeFeed {
    async fn next(&mut self) -> Result<Option<String>> {
        // try_recv answers None when the connection dropped; the next call reconnects.
        Ok(self
            .listener
            .try_recv()
            .await?
            .map(|n| n.payload().to_string()))
    }
}

/// Serialises the read-then-write transactions of one tenant (policy writes, purchases), as
/// SQLite's single writer does: whoever comes second sees what the first committed.
async fn lock_tenant(tx: &mut Transaction<'static, Postgres>, tenant_id: &str) -> Result<()> {
    sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(tenant_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(())
}

/// Serialises writes that are not a tenant's (signing keys).
async fn lock_global(tx: &mut Transaction<'static, Postgres>) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(7243001)")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The statements whose PostgreSQL spelling differs from SQLite's.
mod dialect {
    pub const AUDIT_LOG: &str = "SELECT * FROM audit_log
             WHERE tenant_id = $1 AND policy_id = $2
               AND ($3::text IS NULL OR at >= $3)
               AND ($4::text IS NULL OR at <= $4)
               AND ($5::text IS NULL OR lower(actor) = lower($5))
               AND ($6::text IS NULL OR target_id = $6)
               AND ($7::bigint IS NULL OR seq < $7)
             ORDER BY seq DESC LIMIT $8";
    pub const UPDATE_USER: &str = "UPDATE users SET display_name = $3, user_type = $4, roles = $5, password_hash = $6, totp_secret = $7,
                totp_last_step = CASE WHEN totp_secret IS NOT DISTINCT FROM $7 THEN totp_last_step ELSE NULL END
             WHERE tenant_id = $1 AND id = $2";
    pub const REVOKE_USER_TOKENS: &str = "UPDATE users SET tokens_valid_after = GREATEST(tokens_valid_after, $3) WHERE tenant_id = $1 AND id = $2";
    pub const SELECT_REFRESH_TOKEN: &str =
        "SELECT * FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2 FOR UPDATE";
    pub const SELECT_DEVICE_CODE: &str =
        "SELECT * FROM device_codes WHERE tenant_id = $1 AND device_code_hash = $2 FOR UPDATE";
    pub const RECORD_FAILURE: &str = "INSERT INTO sign_in_failures (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0)
             ON CONFLICT (key) DO UPDATE SET
                failures = CASE WHEN $2 - sign_in_failures.window_start > $3 THEN 1 ELSE sign_in_failures.failures + 1 END,
                window_start = CASE WHEN $2 - sign_in_failures.window_start > $3 THEN $2 ELSE sign_in_failures.window_start END
             RETURNING failures, locked_until";
    pub const LOCK_SIGN_IN: &str =
        "UPDATE sign_in_failures SET locked_until = GREATEST(locked_until, $2) WHERE key = $1";
    pub const LIST_PURCHASES: &str = "SELECT * FROM purchases WHERE tenant_id = $1
               AND ($2::text IS NULL OR target_id = $2)
               AND ($3::text IS NULL OR purchaser_id = $3 OR lower(purchaser_upn) = lower($3))
             ORDER BY created_at DESC, id";
}

crate::sql_common::sql_store!(PgStore, Postgres, PgRow, PgPool, {
    async fn publish_change(&self, what: &str) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(what)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn subscribe_changes(&self) -> Result<Option<Box<dyn ChangeFeed>>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANGES_CHANNEL).await?;
        Ok(Some(Box::new(PgChangeFeed { listener })))
    }
});
