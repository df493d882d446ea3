//! The records that cross the storage trait.

use chrono::{DateTime, Utc};
use domain::{PolicyValue, Role, Scope, TenantType, Upn, UserType};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct NewTenant {
    pub id: Uuid,
    pub display_name: String,
    /// Verified domains, lower-case; the first is the primary one.
    pub domains: Vec<String>,
    pub tenant_type: TenantType,
    /// ISO 3166-1 alpha-2, upper-case.
    pub country: String,
}

pub type Tenant = NewTenant;

#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub upn: Upn,
    pub display_name: String,
    pub user_type: UserType,
    pub roles: Vec<Role>,
    /// Argon2id PHC string; None for a user who cannot sign in with a password.
    pub password_hash: Option<String>,
}

pub type User = NewUser;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Application,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Application => "application",
        }
    }
}

/// Who makes a change, and under which request.
#[derive(Debug, Clone)]
pub struct ChangeContext {
    pub tenant_id: Uuid,
    pub policy_id: String,
    /// The user's UPN or the application's id.
    pub actor: String,
    pub actor_kind: ActorKind,
    pub correlation_id: String,
    pub at: DateTime<Utc>,
}

/// One product's or offer type's new value; `None` resets it to follow the tenant default.
#[derive(Debug, Clone)]
pub struct ValueWrite {
    pub scope: Scope,
    /// Canonical id (a legacy id is resolved before it gets here).
    pub target_id: String,
    pub target_name: String,
    pub value: Option<PolicyValue>,
    /// Whether the product has a trial without a payment method (offer types: false); needed to
    /// record the effective value before and after in the audit log.
    pub has_trial_without_payment_method: bool,
    pub if_match: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantDefault {
    pub value: PolicyValue,
    pub version: i64,
    pub modified_at: Option<String>,
    pub modified_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredValue {
    pub scope: Scope,
    pub target_id: String,
    /// None: reset, follows the default.
    pub value: Option<PolicyValue>,
    pub version: i64,
    pub modified_at: String,
    pub modified_by: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicySnapshot {
    pub default: TenantDefault,
    pub values: Vec<StoredValue>,
}

impl PolicySnapshot {
    pub fn value(&self, scope: Scope, target_id: &str) -> Option<&StoredValue> {
        self.values
            .iter()
            .find(|v| v.scope == scope && v.target_id == target_id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub seq: i64,
    pub id: String,
    pub at: String,
    pub actor: String,
    pub actor_type: String,
    pub policy_id: String,
    pub scope: String,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
    pub old_value: String,
    pub new_value: String,
    pub action: String,
    pub correlation_id: String,
}

/// Filters and paging of the audit log; entries come newest first, `before_seq` pages back.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub target_id: Option<String>,
    pub before_seq: Option<i64>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SigningKey {
    pub kid: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: String,
}
