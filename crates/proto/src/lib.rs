//! The wire types of the mscommerce API (SPEC §2–§4), shared by the server and the client so that
//! the two can never disagree on a field name. Values travel as strings here; the `domain` crate
//! parses them into validated types at the server's edge.

pub mod admin;
pub mod purchases;

use serde::{Deserialize, Serialize};

/// The one policy that exists today (SPEC §1.1).
pub const DEFAULT_POLICY_ID: &str = "AllowSelfServicePurchase";
/// The service's resource (audience) id, as the real service has it (SPEC §4).
pub const DEFAULT_RESOURCE_ID: &str = "aeb86249-8ea3-49e2-900b-54cc8e308f85";
/// The real MSCommerce module's public client id (SPEC §4).
pub const MODULE_CLIENT_ID: &str = "3d5cffa9-04da-4657-8cab-c7f074657cad";
/// This project's own command line's public client id.
pub const CLI_CLIENT_ID: &str = "6e3c1d4b-9f0e-4f5a-8d2b-2b7c6a1e9d10";
/// Header carrying the request's correlation id in both directions.
pub const CORRELATION_HEADER: &str = "x-ms-correlation-id";

/// `{"items": [...]}`, the list envelope of every collection route.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// A policy and the tenant's default value for it (`GET /v1.0/policies[/{id}]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub id: String,
    pub description: String,
    pub default_value: String,
}

/// One product's value (`scope` is always `"product"`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProductPolicy {
    pub policy_id: String,
    pub policy_value: String,
    pub scope: String,
    pub product_name: String,
    pub product_id: String,
    #[serde(default)]
    pub trial_without_payment_method: bool,
    /// True when the tenant never set this product and it follows the tenant default.
    #[serde(default)]
    pub is_default: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<String>,
}

/// One third-party offer type's value (`scope` is always `"OfferType"`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OfferTypePolicy {
    pub policy_id: String,
    pub policy_value: String,
    pub scope: String,
    pub scope_id: String,
    pub scope_value: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<String>,
}

/// Body of `PUT …/products/{id}` and `PUT …/offerTypes/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePolicyValue {
    pub policy_value: String,
}

/// Body of `PATCH /v1.0/policies/{id}`: the tenant default (SPEC §2.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDefaultValue {
    pub default_value: String,
}

/// The error body of every failed API call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_code: String,
    pub reason: String,
}

/// One change in the audit log (`GET /v1.0/policies/{id}/auditLog`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    pub activity_date_time: String,
    /// The user's UPN or the application's id.
    pub actor: String,
    /// `user` or `application`.
    pub actor_type: String,
    pub policy_id: String,
    /// `product`, `OfferType` or `tenantDefault`.
    pub scope: String,
    /// The product id or offer type id; absent for the tenant default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    /// The effective value before the change.
    pub old_value: String,
    /// The effective value after the change.
    pub new_value: String,
    /// What the change did: `set`, `reset` (follow the default again) or `setDefault`.
    pub action: String,
    pub correlation_id: String,
}

/// A page of the audit log; `nextLink` is present when more entries follow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// A successful answer of the token endpoint (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenResponse {
    pub token_type: String,
    pub access_token: String,
    pub expires_in: u64,
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// A failed answer of the token endpoint (RFC 6749 §5.2).
/// The answer of the device authorization endpoint (RFC 8628 §3.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceCodeResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: u64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
}

/// The claims of an access token issued by this server (SPEC §4).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub aud: String,
    pub tid: String,
    pub oid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub wids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// Issue time in milliseconds: sessions revoked within the same second as a new sign-in are
    /// told apart by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<i64>,
}
