//! Storage behind one trait, [`Store`], so that handlers never know which database they talk to.
//! SQLite is the embedded default ([`sqlite::SqliteStore`]); PostgreSQL implements the same trait.

pub mod copy;
pub mod model;
pub mod postgres;
mod sql_common;
pub mod sqlite;

use async_trait::async_trait;
use domain::PolicyValue;
use uuid::Uuid;

pub use model::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule would be broken (a domain or UPN already taken).
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named a version that is no longer current.
    #[error("the row changed since it was read: its ETag is now {current}")]
    PreconditionFailed { current: String },
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("'{0}' is not a database URL this server can use: give sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn create_tenant(&self, tenant: NewTenant) -> Result<Tenant>;
    /// A tenant by its id or any of its domains, case-insensitively.
    async fn find_tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>>;
    async fn list_tenants(&self) -> Result<Vec<Tenant>>;

    async fn create_user(&self, user: NewUser) -> Result<User>;
    async fn find_user_by_upn(&self, tenant_id: Uuid, upn: &str) -> Result<Option<User>>;
    async fn find_user(&self, tenant_id: Uuid, user_id: Uuid) -> Result<Option<User>>;
    async fn list_users(&self, tenant_id: Uuid) -> Result<Vec<User>>;
    /// Replaces the user's display name, type, roles, password hash and TOTP secret.
    async fn update_user(&self, user: &User) -> Result<()>;
    async fn delete_user(&self, tenant_id: Uuid, user_id: Uuid) -> Result<bool>;
    /// Records the use of a TOTP step; false if that step (or a later one) was used already.
    async fn consume_totp_step(&self, tenant_id: Uuid, user_id: Uuid, step: i64) -> Result<bool>;
    /// Ends every session of a user: access tokens issued before `at` and all refresh tokens.
    async fn revoke_user_sessions(&self, tenant_id: Uuid, user_id: Uuid, at: i64) -> Result<()>;

    async fn update_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// Deletes a tenant and every piece of its data.
    async fn delete_tenant(&self, tenant_id: Uuid) -> Result<bool>;

    async fn create_application(&self, app: Application) -> Result<Application>;
    /// An application by its client id, in whichever tenant it is.
    async fn find_application(&self, client_id: Uuid) -> Result<Option<Application>>;
    async fn list_applications(&self, tenant_id: Uuid) -> Result<Vec<Application>>;
    async fn update_application(&self, app: &Application) -> Result<()>;
    async fn delete_application(&self, tenant_id: Uuid, app_id: Uuid) -> Result<bool>;
    async fn add_app_secret(&self, tenant_id: Uuid, app_id: Uuid, secret: AppSecret) -> Result<()>;
    async fn remove_app_secret(
        &self,
        tenant_id: Uuid,
        app_id: Uuid,
        secret_id: Uuid,
    ) -> Result<bool>;
    async fn app_secrets(&self, tenant_id: Uuid, app_id: Uuid) -> Result<Vec<AppSecret>>;

    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<()>;
    /// Marks a refresh token used, atomically; a second use revokes its family.
    async fn use_refresh_token(
        &self,
        tenant_id: Uuid,
        token_hash: &str,
        now: i64,
    ) -> Result<RefreshUse>;
    /// Revokes the family of a refresh token (sign-out); false if the token is unknown.
    async fn revoke_refresh_token(&self, tenant_id: Uuid, token_hash: &str) -> Result<bool>;

    async fn insert_device_code(&self, code: &DeviceCode) -> Result<()>;
    async fn find_device_code_by_user_code(&self, user_code: &str) -> Result<Option<DeviceCode>>;
    /// Reads a device code for a poll and records the poll's time; answers the record as it was.
    async fn poll_device_code(
        &self,
        tenant_id: Uuid,
        device_code_hash: &str,
        now: i64,
    ) -> Result<Option<DeviceCode>>;
    /// Moves a pending code to `status` (approved with the user, or denied); false if not pending.
    async fn decide_device_code(
        &self,
        user_code: &str,
        status: DeviceStatus,
        user_id: Option<Uuid>,
        now: i64,
    ) -> Result<bool>;
    /// Marks an approved code consumed; false if it was not approved (or already consumed).
    async fn consume_device_code(&self, tenant_id: Uuid, device_code_hash: &str) -> Result<bool>;

    async fn sign_in_failures(&self, key: &str, now: i64, window_secs: i64)
        -> Result<FailureCount>;
    /// Counts one more failure under `key` (a new window if the last began over `window_secs` ago).
    async fn record_sign_in_failure(
        &self,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<FailureCount>;
    async fn lock_sign_in(&self, key: &str, until: i64) -> Result<()>;
    async fn clear_sign_in_failures(&self, key: &str) -> Result<()>;

    /// Adds a new signing key (the newest signs); keys retired before `prune_before` are deleted,
    /// the previous newest is retired now but still verifies.
    async fn rotate_signing_key(&self, key: SigningKey, now: i64, prune_before: i64) -> Result<()>;
    async fn signing_keys(&self) -> Result<Vec<SigningKey>>;

    /// The tenant default and every stored value of one policy in one tenant.
    /// `fallback_default` is the operator's default for a tenant that never set one.
    async fn policy_snapshot(
        &self,
        tenant_id: Uuid,
        policy_id: &str,
        fallback_default: PolicyValue,
    ) -> Result<PolicySnapshot>;

    /// Sets (or with `value: None` resets) one product's or offer type's value, and writes the
    /// audit entry in the same transaction. Answers whether anything changed.
    async fn set_value(
        &self,
        change: &ChangeContext,
        write: &ValueWrite,
        fallback_default: PolicyValue,
    ) -> Result<bool>;

    /// Sets the tenant default of a policy, with its audit entry, in one transaction.
    async fn set_default(
        &self,
        change: &ChangeContext,
        value: PolicyValue,
        if_match: Option<&str>,
        fallback_default: PolicyValue,
    ) -> Result<bool>;

    async fn audit_log(
        &self,
        tenant_id: Uuid,
        policy_id: &str,
        query: &AuditQuery,
    ) -> Result<Vec<AuditRecord>>;

    /// Stores `candidate` if there is no signing key yet, and answers all keys, oldest first.
    async fn ensure_signing_key(&self, candidate: SigningKey) -> Result<Vec<SigningKey>>;

    async fn put_service_credential(&self, kind: &str, id: &str, secret_hash: &str) -> Result<()>;
    async fn service_credential(&self, kind: &str, id: &str) -> Result<Option<String>>;
    async fn delete_service_credential(&self, kind: &str, id: &str) -> Result<()>;
    /// Every credential of a kind: (id, secret hash).
    async fn service_credentials(&self, kind: &str) -> Result<Vec<(String, String)>>;

    async fn set_trial_length(&self, product_id: &str, seconds: i64) -> Result<()>;
    async fn trial_lengths(&self) -> Result<Vec<(String, i64)>>;

    /// Decides and records a purchase or trial in one transaction, with its notifications and
    /// webhook deliveries; the decision reads the policy inside that transaction.
    async fn start_purchase(
        &self,
        purchase: &Purchase,
        judge: &Judge<'_>,
        notice: &PurchaseNotice,
    ) -> Result<PurchaseOutcome>;
    /// Turns a trial into a paid subscription, judged (as a purchase) by the value now.
    async fn convert_trial(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        judge: &Judge<'_>,
        notice: &PurchaseNotice,
        now: &str,
    ) -> Result<PurchaseOutcome>;
    /// Sets the quantity: less is always allowed; more is a purchase judged by the value now.
    async fn change_quantity(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        quantity: i64,
        judge: &Judge<'_>,
        now: &str,
    ) -> Result<PurchaseOutcome>;
    /// Replaces the assigned users; the caller has checked them.
    async fn set_assigned_users(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        users: &[String],
        now: &str,
    ) -> Result<Purchase>;
    /// Moves a purchase to `to` if its status is one of `from`; answers the record after.
    async fn set_purchase_status(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        from: &[PurchaseStatus],
        to: PurchaseStatus,
        now: &str,
    ) -> Result<Option<Purchase>>;
    async fn purchase(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<Purchase>>;
    async fn list_purchases(
        &self,
        tenant_id: Uuid,
        filter: &PurchaseFilter,
    ) -> Result<Vec<Purchase>>;
    async fn notifications(&self, tenant_id: Uuid, recipient_id: Uuid)
        -> Result<Vec<Notification>>;

    async fn create_webhook(&self, hook: &Webhook) -> Result<()>;
    async fn webhooks(&self, tenant_id: Uuid) -> Result<Vec<Webhook>>;
    async fn delete_webhook(&self, tenant_id: Uuid, id: Uuid) -> Result<bool>;
    async fn deliveries(&self, tenant_id: Uuid, webhook_id: Uuid) -> Result<Vec<Delivery>>;
    /// Pending deliveries whose time has come (unix ms), oldest first, with their webhooks.
    async fn due_deliveries(&self, now_ms: i64, limit: i64) -> Result<Vec<(Delivery, Webhook)>>;
    async fn record_delivery_attempt(&self, d: &Delivery) -> Result<()>;

    /// Tells every server sharing this database that something changed (`tenant:<id>`,
    /// `catalog`), after the change committed. A single-node backend has no one to tell.
    async fn publish_change(&self, _what: &str) -> Result<()> {
        Ok(())
    }

    /// A feed of the changes other servers publish; None where the backend has none.
    async fn subscribe_changes(&self) -> Result<Option<Box<dyn ChangeFeed>>> {
        Ok(None)
    }

    async fn meta(&self, key: &str) -> Result<Option<String>>;
    async fn set_meta(&self, key: &str, value: &str) -> Result<()>;
}

/// Changes published by other servers on the same database.
#[async_trait]
pub trait ChangeFeed: Send {
    /// The next change; `Ok(None)` when the connection was lost (and is being re-made), in which
    /// case changes may have been missed and everything cached must be read again.
    async fn next(&mut self) -> Result<Option<String>>;
}

/// Timestamps are stored as fixed-width UTC text, so that they sort and compare as strings.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
