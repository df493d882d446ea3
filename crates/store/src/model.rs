//! The records that cross the storage trait.

use chrono::{DateTime, Utc};
use domain::{AppPermission, PolicyValue, Role, Scope, TenantType, Upn, UserType};
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
    /// Base32 TOTP secret, when the user has enrolled one.
    pub totp_secret: Option<String>,
    /// Tokens issued before this moment (unix seconds) are no longer accepted.
    pub tokens_valid_after: i64,
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

/// An application that signs in with its own secret (client credentials).
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub tenant_id: Uuid,
    /// The client id.
    pub id: Uuid,
    pub display_name: String,
    pub permissions: Vec<AppPermission>,
    /// Tokens issued before this moment (unix seconds) are no longer accepted.
    pub tokens_valid_after: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppSecret {
    pub id: Uuid,
    pub secret_hash: String,
    pub hint: String,
    pub created_at: String,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub tenant_id: Uuid,
    pub token_hash: String,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshUse {
    /// Good: it is now used, and must be replaced by a new one of the same family.
    Valid(RefreshToken),
    /// It had been used or revoked already: its whole family is now revoked.
    Reused { family_id: Uuid },
    /// Unknown or expired.
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    Consumed,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Consumed => "consumed",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceStatus> {
        [
            DeviceStatus::Pending,
            DeviceStatus::Approved,
            DeviceStatus::Denied,
            DeviceStatus::Consumed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceCode {
    pub tenant_id: Uuid,
    pub device_code_hash: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub interval_secs: i64,
    pub last_poll_at: Option<i64>,
    pub status: DeviceStatus,
    pub user_id: Option<Uuid>,
}

/// Failed sign-ins counted under one key (an account or an address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureCount {
    pub failures: i64,
    pub locked_until: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseStatus {
    Active,
    Trial,
    Expired,
    Canceled,
    TakenOver,
}

impl PurchaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PurchaseStatus::Active => "Active",
            PurchaseStatus::Trial => "Trial",
            PurchaseStatus::Expired => "Expired",
            PurchaseStatus::Canceled => "Canceled",
            PurchaseStatus::TakenOver => "TakenOver",
        }
    }

    pub fn parse(s: &str) -> Option<PurchaseStatus> {
        [
            PurchaseStatus::Active,
            PurchaseStatus::Trial,
            PurchaseStatus::Expired,
            PurchaseStatus::Canceled,
            PurchaseStatus::TakenOver,
        ]
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

/// A self-service purchase or trial.
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub purchaser_id: Uuid,
    pub purchaser_upn: String,
    pub scope: Scope,
    pub target_id: String,
    pub target_name: String,
    pub kind: domain::decision::Kind,
    pub quantity: i64,
    pub assigned_users: Vec<String>,
    /// As stored: a trial past its expiry is still `Trial` here; see `status_at`.
    pub status: PurchaseStatus,
    pub payment_method: bool,
    pub policy_value: PolicyValue,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
}

impl Purchase {
    /// The status as a person sees it at `now`: a trial past its end is `Expired`.
    pub fn status_at(&self, now: &str) -> PurchaseStatus {
        match (&self.status, &self.expires_at) {
            (PurchaseStatus::Trial, Some(end)) if end.as_str() <= now => PurchaseStatus::Expired,
            (s, _) => *s,
        }
    }
}

/// What a purchase write is decided on inside its transaction: the target's own value (if set)
/// and the tenant default go in, the decision comes out.
pub type DecideFn<'a> =
    &'a (dyn Fn(Option<PolicyValue>, PolicyValue) -> domain::decision::Decision + Send + Sync);

/// Which policy a purchase write reads, and how it decides.
pub struct Judge<'a> {
    pub policy_id: &'a str,
    /// The default of a tenant that never set one.
    pub fallback_default: PolicyValue,
    pub decide: DecideFn<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PurchaseOutcome {
    Done(Box<Purchase>),
    Denied(domain::decision::Decision),
}

/// The notice of a new purchase or trial, for the tenant's Global and Billing Administrators and
/// its webhooks; written with the purchase.
#[derive(Debug, Clone)]
pub struct PurchaseNotice {
    pub message: String,
    /// The JSON body each webhook receives.
    pub event: String,
}

#[derive(Debug, Clone, Default)]
pub struct PurchaseFilter {
    pub status: Option<PurchaseStatus>,
    pub target_id: Option<String>,
    /// A purchaser's id or UPN.
    pub purchaser: Option<String>,
    pub now: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: Uuid,
    pub purchase_id: Uuid,
    pub message: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub url: String,
    pub secret: String,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}
