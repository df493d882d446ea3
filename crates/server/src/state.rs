//! The state every handler shares.

use std::sync::Arc;

use arc_swap::ArcSwap;

use domain::{Catalog, LockoutPolicy, PolicyValue};
use store::Store;

use crate::auth::external::ExternalIssuer;
use crate::auth::keys::KeySet;
use crate::cache::TenantCache;

/// Settings that handlers need, resolved once at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base of token issuers: `{issuer_base}/{tenant id}/v2.0`.
    pub issuer_base: String,
    /// The service's resource id, the audience of its access tokens.
    pub resource_id: String,
    pub token_lifetime_secs: u64,
    /// The tenant default a tenant has until it sets one, overriding the catalog's.
    pub default_value: Option<PolicyValue>,
    pub refresh_lifetime_secs: u64,
    pub device_code_lifetime_secs: u64,
    pub device_code_interval_secs: u64,
    pub lockout: LockoutPolicy,
    /// The first wait before a failed webhook delivery is tried again; it doubles each time.
    pub webhook_retry_base_ms: u64,
}

#[derive(Clone)]
pub struct ApiContext {
    pub store: Arc<dyn Store>,
    /// Swapped whole when the operator changes it, so a request sees one consistent catalog.
    pub catalog: Arc<ArcSwap<Catalog>>,
    pub keys: Arc<KeySet>,
    pub settings: Arc<Settings>,
    /// Verified against when a user does not exist, so that failures take the same time.
    pub dummy_password_hash: Arc<str>,
    /// Issuers whose tokens are trusted besides this server's own.
    pub external: Arc<Vec<ExternalIssuer>>,
    /// Tenants as the hot paths read them.
    pub tenants: Arc<TenantCache>,
    /// The operator's checkout credentials: client id → SHA-256 of the secret.
    pub checkout: Arc<std::collections::HashMap<String, String>>,
    /// Wakes the webhook sender when a purchase has queued deliveries.
    pub deliveries: Arc<tokio::sync::Notify>,
    /// This process's name among the servers sharing a database, so it can skip its own notices.
    pub node: Arc<str>,
}

/// What a server publishes when the operator changed the catalog.
pub const CATALOG_CHANGED: &str = "catalog";

impl ApiContext {
    /// A tenant changed through this server: its view here is read again before the change is
    /// acknowledged, and every other server sharing the database is told to drop its own.
    pub async fn tenant_changed(&self, id: uuid::Uuid) -> Result<(), store::StoreError> {
        self.tenants.reload(self, id).await?;
        self.publish(&format!("tenant:{id}")).await
    }

    /// Tells the other servers on the database of a change, signed with this node's name.
    pub async fn publish(&self, change: &str) -> Result<(), store::StoreError> {
        self.store
            .publish_change(&format!("{change}@{}", self.node))
            .await
    }

    /// The catalog as it is now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// The default a tenant that never set one has for `policy_id`.
    pub fn fallback_default(&self, policy: &domain::PolicyDef) -> PolicyValue {
        self.settings
            .default_value
            .or_else(|| policy.default_value.parse().ok())
            .unwrap_or(PolicyValue::Enabled)
    }

    pub fn issuer(&self, tenant_id: uuid::Uuid) -> String {
        format!("{}/{}/v2.0", self.settings.issuer_base, tenant_id)
    }
}
