//! Self-service purchases and trials (SPEC §3): decisions, records, notifications, webhooks.

use serde::{Deserialize, Serialize};

/// One decision request. With a user's token it is for that user; with the operator's checkout
/// credential, `tenantId` and `userId` say for whom.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluateRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_type: Option<String>,
    /// `purchase` or `trial`.
    pub kind: String,
    /// Whether the user gives a payment method [default: true for a purchase, false for a trial].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The user's object id or user principal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// The body of `evaluate` as read in one pass: a batch (`requests`) or the fields of one request.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluateBody {
    #[serde(default)]
    pub requests: Option<Vec<EvaluateRequest>>,
    #[serde(default)]
    pub product_id: Option<String>,
    #[serde(default)]
    pub offer_type: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub payment_method: Option<bool>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DecisionResponse {
    /// `Allow` or `Deny`.
    pub decision: String,
    pub reason: String,
    /// A stable code for the reason, for programs.
    pub reason_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecisionBatch {
    /// The answers, in the order of the requests.
    pub responses: Vec<DecisionResponse>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartPurchase {
    /// `purchase` or `trial`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_type: Option<String>,
    /// Licenses [default: 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseRecord {
    pub id: String,
    pub tenant_id: String,
    pub purchaser_id: String,
    pub purchaser: String,
    /// `product` or `OfferType`.
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_type: Option<String>,
    pub name: String,
    pub kind: String,
    pub quantity: i64,
    pub assigned_users: Vec<String>,
    /// `Active`, `Trial`, `Expired`, `Canceled` or `TakenOver`.
    pub status: String,
    pub payment_method: bool,
    /// The policy value it was allowed under.
    pub policy_value: String,
    pub created_date_time: String,
    pub last_modified_date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date_time: Option<String>,
}

/// `PATCH /v1.0/selfServicePurchases/{id}`: the purchaser changes the quantity or assignments.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurchasePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// Users (UPNs) to assign licenses to, up to 20 at a time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assign: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unassign: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    pub id: String,
    pub purchase_id: String,
    pub message: String,
    pub created_date_time: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRecord {
    pub id: String,
    pub url: String,
    pub created_date_time: String,
    pub created_by: String,
    /// The HMAC-SHA256 key, shown once when the webhook is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub id: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_date_time: Option<String>,
    pub event: serde_json::Value,
}

/// The header carrying a webhook body's signature: `sha256=<hex HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "x-mscommerce-signature";
