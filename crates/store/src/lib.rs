//! Storage behind one trait, [`Store`], so that handlers never know which database they talk to.
//! SQLite is the embedded default ([`sqlite::SqliteStore`]); PostgreSQL implements the same trait.

pub mod model;
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

    async fn meta(&self, key: &str) -> Result<Option<String>>;
    async fn set_meta(&self, key: &str, value: &str) -> Result<()>;
}

/// Timestamps are stored as fixed-width UTC text, so that they sort and compare as strings.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
