//! What the hot paths need of a tenant, in memory: its facts, its policy values, and who may sign
//! in. Decisions and token checks read it without a database query; every write through this node
//! reloads the tenant before it is acknowledged.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use domain::{PolicyValue, Scope, UserType};
use store::{StoreError, Tenant};
use uuid::Uuid;

use crate::state::ApiContext;

#[derive(Debug, Clone)]
pub struct CachedUser {
    pub upn: String,
    pub user_type: UserType,
    pub tokens_valid_after: i64,
}

/// One policy's values in a tenant.
#[derive(Debug, Clone)]
pub struct PolicyValues {
    pub default: PolicyValue,
    pub products: HashMap<String, PolicyValue>,
    pub offer_types: HashMap<String, PolicyValue>,
}

impl PolicyValues {
    pub fn explicit(&self, scope: Scope, id: &str) -> Option<PolicyValue> {
        match scope {
            Scope::Product => self.products.get(id).copied(),
            Scope::OfferType => self.offer_types.get(id).copied(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TenantView {
    pub tenant: Tenant,
    pub policies: HashMap<String, PolicyValues>,
    pub users: HashMap<Uuid, CachedUser>,
    /// Lower-case UPN → user id.
    pub upns: HashMap<String, Uuid>,
    /// Application id → tokens valid after (unix ms).
    pub apps: HashMap<Uuid, i64>,
}

impl TenantView {
    pub fn user_by_key(&self, key: &str) -> Option<(Uuid, &CachedUser)> {
        let id = Uuid::parse_str(key)
            .ok()
            .or_else(|| self.upns.get(&key.trim().to_ascii_lowercase()).copied())?;
        self.users.get(&id).map(|u| (id, u))
    }
}

#[derive(Default)]
pub struct TenantCache {
    views: RwLock<HashMap<Uuid, Arc<TenantView>>>,
    /// Loads run one at a time, so a slow load of older data never replaces a newer one.
    loading: tokio::sync::Mutex<()>,
    /// Bumped by `forget_all`: a load that began before it does not install what it read.
    generation: std::sync::atomic::AtomicU64,
}

impl TenantCache {
    fn cached(&self, id: Uuid) -> Option<Arc<TenantView>> {
        self.views
            .read()
            .expect("tenant cache lock")
            .get(&id)
            .cloned()
    }

    /// The tenant's view, loading it on first use; None if the tenant does not exist.
    pub async fn get(
        &self,
        ctx: &ApiContext,
        id: Uuid,
    ) -> Result<Option<Arc<TenantView>>, StoreError> {
        if let Some(view) = self.cached(id) {
            return Ok(Some(view));
        }
        self.reload(ctx, id).await
    }

    /// Reads the tenant again from the database (after a write, before it is acknowledged).
    pub async fn reload(
        &self,
        ctx: &ApiContext,
        id: Uuid,
    ) -> Result<Option<Arc<TenantView>>, StoreError> {
        let _one_at_a_time = self.loading.lock().await;
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let view = load(ctx, id).await?.map(Arc::new);
        let mut views = self.views.write().expect("tenant cache lock");
        if self.generation.load(std::sync::atomic::Ordering::SeqCst) != generation {
            return Ok(view);
        }
        match &view {
            Some(v) => {
                views.insert(id, Arc::clone(v));
            }
            None => {
                views.remove(&id);
            }
        }
        Ok(view)
    }

    /// Drops a tenant's view; the next request loads it again.
    pub fn forget(&self, id: Uuid) {
        self.views.write().expect("tenant cache lock").remove(&id);
    }

    /// Drops every view (after changes may have been missed).
    pub fn forget_all(&self) {
        let mut views = self.views.write().expect("tenant cache lock");
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        views.clear();
    }
}

async fn load(ctx: &ApiContext, id: Uuid) -> Result<Option<TenantView>, StoreError> {
    let Some(tenant) = ctx
        .store
        .find_tenant(&id.to_string())
        .await?
        .filter(|t| t.id == id)
    else {
        return Ok(None);
    };
    let catalog = ctx.catalog();
    let mut policies = HashMap::new();
    for policy in catalog.policies() {
        let snap = ctx
            .store
            .policy_snapshot(id, &policy.id, ctx.fallback_default(policy))
            .await?;
        let mut values = PolicyValues {
            default: snap.default.value,
            products: HashMap::new(),
            offer_types: HashMap::new(),
        };
        for v in snap.values {
            if let Some(value) = v.value {
                match v.scope {
                    Scope::Product => values.products.insert(v.target_id, value),
                    Scope::OfferType => values.offer_types.insert(v.target_id, value),
                };
            }
        }
        policies.insert(policy.id.clone(), values);
    }
    let mut users = HashMap::new();
    let mut upns = HashMap::new();
    for u in ctx.store.list_users(id).await? {
        upns.insert(u.upn.to_string(), u.id);
        users.insert(
            u.id,
            CachedUser {
                upn: u.upn.to_string(),
                user_type: u.user_type,
                tokens_valid_after: u.tokens_valid_after,
            },
        );
    }
    let apps = ctx
        .store
        .list_applications(id)
        .await?
        .into_iter()
        .map(|a| (a.id, a.tokens_valid_after))
        .collect();
    Ok(Some(TenantView {
        tenant,
        policies,
        users,
        upns,
        apps,
    }))
}
