//! The SQLite store: WAL with `synchronous=FULL`, so that a write acknowledged to a client has
//! reached the disk and survives `kill -9`; writes take the lock up front (`BEGIN IMMEDIATE`) so a
//! read-then-write transaction never fails on a stale snapshot. The SQL itself is shared with
//! PostgreSQL (`sql_common`); here are the connection, the locks and SQLite's own spellings.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use domain::{effective_value, row_etag, PolicyValue, Role, Scope, TenantType, Upn, UserType};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use crate::{
    timestamp, AppSecret, Application, AuditQuery, AuditRecord, ChangeContext, Delivery,
    DeviceCode, DeviceStatus, FailureCount, Judge, NewTenant, NewUser, Notification,
    PolicySnapshot, Purchase, PurchaseFilter, PurchaseNotice, PurchaseOutcome, PurchaseStatus,
    RefreshToken, RefreshUse, Result, SigningKey, Store, StoreError, StoredValue, Tenant,
    TenantDefault, User, ValueWrite, Webhook,
};
use domain::AppPermission;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`) and migrates it.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// SQLite's write transactions start with `BEGIN IMMEDIATE`, which already excludes every other
/// writer: nothing more to lock.
async fn lock_tenant(_tx: &mut Transaction<'static, Sqlite>, _tenant_id: &str) -> Result<()> {
    Ok(())
}

async fn lock_global(_tx: &mut Transaction<'static, Sqlite>) -> Result<()> {
    Ok(())
}

/// The statements whose SQLite spelling differs from PostgreSQL's.
mod dialect {
    pub const AUDIT_LOG: &str = "SELECT * FROM audit_log
             WHERE tenant_id = $1 AND policy_id = $2
               AND ($3 IS NULL OR at >= $3)
               AND ($4 IS NULL OR at <= $4)
               AND ($5 IS NULL OR actor = $5 COLLATE NOCASE)
               AND ($6 IS NULL OR target_id = $6)
               AND ($7 IS NULL OR seq < $7)
             ORDER BY seq DESC LIMIT $8";
    pub const UPDATE_USER: &str = "UPDATE users SET display_name = $3, user_type = $4, roles = $5, password_hash = $6, totp_secret = $7,
                totp_last_step = CASE WHEN totp_secret IS $7 THEN totp_last_step ELSE NULL END
             WHERE tenant_id = $1 AND id = $2";
    pub const REVOKE_USER_TOKENS: &str = "UPDATE users SET tokens_valid_after = MAX(tokens_valid_after, $3) WHERE tenant_id = $1 AND id = $2";
    pub const SELECT_REFRESH_TOKEN: &str =
        "SELECT * FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2";
    pub const SELECT_DEVICE_CODE: &str =
        "SELECT * FROM device_codes WHERE tenant_id = $1 AND device_code_hash = $2";
    pub const RECORD_FAILURE: &str = "INSERT INTO sign_in_failures (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0)
             ON CONFLICT (key) DO UPDATE SET
                failures = CASE WHEN $2 - window_start > $3 THEN 1 ELSE failures + 1 END,
                window_start = CASE WHEN $2 - window_start > $3 THEN $2 ELSE window_start END
             RETURNING failures, locked_until";
    pub const LOCK_SIGN_IN: &str =
        "UPDATE sign_in_failures SET locked_until = MAX(locked_until, $2) WHERE key = $1";
    pub const LIST_PURCHASES: &str = "SELECT * FROM purchases WHERE tenant_id = $1
               AND ($2 IS NULL OR target_id = $2)
               AND ($3 IS NULL OR purchaser_id = $3 OR purchaser_upn = $3 COLLATE NOCASE)
             ORDER BY created_at DESC, id";
}

crate::sql_common::sql_store!(SqliteStore, Sqlite, SqliteRow, SqlitePool, {});
