//! Self-service purchases and trials (SPEC §3): decisions from memory, purchases decided and
//! recorded in one transaction, the ledger and its admin actions, notifications and webhooks.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::decision::{decide, Decision, Explained, Kind, Request, Target};
use domain::{Catalog, LookupError, PolicyDef, Scope, UserType};
use proto::purchases as wire;
use proto::{Items, DEFAULT_POLICY_ID};
use serde::Deserialize;
use serde_json::Value;
use store::{Purchase, PurchaseFilter, PurchaseNotice, PurchaseOutcome, PurchaseStatus, Webhook};
use uuid::Uuid;

use super::body::{json_body, object_body, query_rejection};
use crate::auth::caller::Caller;
use crate::auth::{basic_header, decode_basic, random_secret, same_hash, secret_hash};
use crate::cache::TenantView;
use crate::error::ApiError;
use crate::state::ApiContext;

/// The most decisions one batch may ask for.
pub const MAX_BATCH: usize = 1000;

/// Who asks for a decision: a signed-in user for themselves, or the operator's checkout service
/// (HTTP Basic with the checkout credential) for any user of any tenant.
pub enum Evaluator {
    Checkout,
    User(Caller),
}

impl FromRequestParts<ApiContext> for Evaluator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &ApiContext,
    ) -> Result<Self, Self::Rejection> {
        let Some(encoded) = basic_header(&parts.headers) else {
            return Ok(Evaluator::User(
                Caller::from_request_parts(parts, ctx).await?,
            ));
        };
        let refused = || {
            ApiError::Unauthorized("The checkout credential is not valid: send HTTP Basic with its client_id and client_secret.".into())
        };
        let (id, secret) = decode_basic(encoded).ok_or_else(refused)?;
        let stored = ctx.checkout.get(&id).ok_or_else(refused)?;
        if same_hash(stored, &secret_hash(&secret)) {
            Ok(Evaluator::Checkout)
        } else {
            Err(refused())
        }
    }
}

fn policy(catalog: &Catalog) -> Result<&PolicyDef, ApiError> {
    Ok(catalog.policy(DEFAULT_POLICY_ID)?)
}

fn parse_kind(raw: &str) -> Result<Kind, ApiError> {
    Kind::parse(raw).ok_or_else(|| {
        ApiError::BadRequest(format!("kind '{raw}' is not known: use purchase or trial."))
    })
}

fn resolve_target<'a>(
    catalog: &'a Catalog,
    product: Option<&str>,
    offer: Option<&str>,
) -> Result<Target<'a>, ApiError> {
    match (product, offer) {
        (Some(p), None) => Ok(Target::Product(catalog.product(p)?)),
        (None, Some(o)) => Ok(Target::OfferType(catalog.offer_type(o)?)),
        _ => Err(ApiError::BadRequest(
            "Name exactly one of productId or offerType.".into(),
        )),
    }
}

fn scope_of(target: &Target<'_>) -> Scope {
    match target {
        Target::Product(_) => Scope::Product,
        Target::OfferType(_) => Scope::OfferType,
    }
}

/// A trial's usual kind of payment: none for a product that has a trial without one.
fn default_payment_method(kind: Kind, target: &Target<'_>) -> bool {
    match (kind, target) {
        (Kind::Purchase, _) => true,
        (Kind::Trial, Target::Product(p)) => !p.trial_without_payment_method,
        (Kind::Trial, Target::OfferType(_)) => true,
    }
}

fn decision_request<'a>(
    view: &'a TenantView,
    user_type: UserType,
    target: Target<'a>,
    kind: Kind,
    payment_method: bool,
    policy_id: &str,
) -> Request<'a> {
    let values = view.policies.get(policy_id);
    Request {
        tenant_type: view.tenant.tenant_type,
        country: &view.tenant.country,
        user_type,
        target,
        kind,
        payment_method,
        explicit: values.and_then(|v| v.explicit(scope_of(&target), target.id())),
        tenant_default: values
            .map(|v| v.default)
            .unwrap_or(domain::PolicyValue::Enabled),
    }
}

/// The decision as the store takes it inside its transaction: these facts, with the value it reads.
fn judge_with<'a>(
    catalog: &'a Catalog,
    facts: Request<'a>,
) -> impl Fn(Option<domain::PolicyValue>, domain::PolicyValue) -> Decision + Send + Sync + 'a {
    move |explicit, tenant_default| {
        decide(
            catalog,
            &Request {
                explicit,
                tenant_default,
                ..facts
            },
        )
    }
}

fn decision_body(decision: &Decision, request: &Request<'_>) -> wire::DecisionResponse {
    let (product_id, offer_type) = match request.target {
        Target::Product(p) => (Some(p.id.clone()), None),
        Target::OfferType(o) => (None, Some(o.id.clone())),
    };
    wire::DecisionResponse {
        decision: if decision.allowed { "Allow" } else { "Deny" }.into(),
        reason: Explained { decision, request }.to_string(),
        reason_code: decision.reason.code().into(),
        policy_value: Some(decision.value.to_string()),
        product_id,
        offer_type,
    }
}

/// One decision, from memory.
async fn evaluate_one(
    ctx: &ApiContext,
    catalog: &Catalog,
    who: &Evaluator,
    req: &wire::EvaluateRequest,
) -> Result<wire::DecisionResponse, ApiError> {
    let kind = parse_kind(&req.kind)?;
    let target = resolve_target(
        catalog,
        req.product_id.as_deref(),
        req.offer_type.as_deref(),
    )?;
    let (view, user_type): (Arc<TenantView>, UserType) = match who {
        Evaluator::User(caller) => {
            if req.tenant_id.is_some() || req.user_id.is_some() {
                return Err(ApiError::BadRequest("tenantId and userId are for the checkout credential; a user asks for themselves.".into()));
            }
            let user_type = caller.user_type.ok_or_else(|| {
                ApiError::Forbidden("Applications cannot buy: decisions are for users.".into())
            })?;
            (Arc::clone(&caller.view), user_type)
        }
        Evaluator::Checkout => {
            let tenant = req.tenant_id.as_deref().ok_or_else(|| {
                ApiError::BadRequest(
                    "The checkout credential must name tenantId and userId.".into(),
                )
            })?;
            let user = req.user_id.as_deref().ok_or_else(|| {
                ApiError::BadRequest(
                    "The checkout credential must name tenantId and userId.".into(),
                )
            })?;
            let tenant_id = Uuid::parse_str(tenant)
                .map_err(|_| ApiError::BadRequest(format!("tenantId '{tenant}' is not a GUID.")))?;
            let view = ctx
                .tenants
                .get(ctx, tenant_id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("Tenant {tenant} was not found.")))?;
            let user_type = view
                .user_by_key(user)
                .map(|(_, u)| u.user_type)
                .ok_or_else(|| {
                    ApiError::NotFound(format!("User '{user}' was not found in tenant {tenant}."))
                })?;
            (view, user_type)
        }
    };
    let payment_method = req
        .payment_method
        .unwrap_or_else(|| default_payment_method(kind, &target));
    let request = decision_request(
        &view,
        user_type,
        target,
        kind,
        payment_method,
        DEFAULT_POLICY_ID,
    );
    let decision = decide(catalog, &request);
    Ok(decision_body(&decision, &request))
}

/// `POST /v1.0/selfServicePurchases/evaluate`: one decision, or `{"requests": [...]}` for up to
/// 1,000, answered in order; in a batch, a request that names something unknown is a denial with
/// its reason rather than a failure of the whole batch.
pub async fn evaluate(
    State(ctx): State<ApiContext>,
    who: Evaluator,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let catalog = ctx.catalog();
    let shape = r#"{"productId" | "offerType", "kind": "purchase" | "trial", "paymentMethod"?: bool} or {"requests": [...]}"#;
    let body: wire::EvaluateBody = object_body(&headers, &body, shape)?;
    if let Some(requests) = body.requests {
        if body.kind.is_some() || body.product_id.is_some() || body.offer_type.is_some() {
            return Err(ApiError::BadRequest(format!(
                "Send either one request or {{\"requests\": [...]}}, not both: {shape}."
            )));
        }
        if requests.len() > MAX_BATCH {
            return Err(ApiError::PayloadTooLarge(format!(
                "A batch takes at most {MAX_BATCH} requests; this one has {}.",
                requests.len()
            )));
        }
        let mut responses = Vec::with_capacity(requests.len());
        for req in &requests {
            responses.push(match evaluate_one(&ctx, &catalog, &who, req).await {
                Ok(r) => r,
                Err(e @ (ApiError::NotFound(_) | ApiError::BadRequest(_))) => {
                    wire::DecisionResponse {
                        decision: "Deny".into(),
                        reason: e.to_string(),
                        reason_code: if matches!(e, ApiError::NotFound(_)) {
                            "NotFound"
                        } else {
                            "BadRequest"
                        }
                        .into(),
                        policy_value: None,
                        product_id: req.product_id.clone(),
                        offer_type: req.offer_type.clone(),
                    }
                }
                Err(e) => return Err(e),
            });
        }
        return Ok(Json(wire::DecisionBatch { responses }).into_response());
    }
    let req = wire::EvaluateRequest {
        kind: body
            .kind
            .ok_or_else(|| ApiError::BadRequest(format!("kind is missing: send {shape}.")))?,
        product_id: body.product_id,
        offer_type: body.offer_type,
        payment_method: body.payment_method,
        tenant_id: body.tenant_id,
        user_id: body.user_id,
    };
    Ok(Json(evaluate_one(&ctx, &catalog, &who, &req).await?).into_response())
}

fn now_text() -> String {
    store::timestamp(chrono::Utc::now())
}

fn record(p: &Purchase, now: &str) -> wire::PurchaseRecord {
    let (product_id, offer_type) = match p.scope {
        Scope::Product => (Some(p.target_id.clone()), None),
        Scope::OfferType => (None, Some(p.target_id.clone())),
    };
    wire::PurchaseRecord {
        id: p.id.to_string(),
        tenant_id: p.tenant_id.to_string(),
        purchaser_id: p.purchaser_id.to_string(),
        purchaser: p.purchaser_upn.clone(),
        scope: p.scope.as_str().into(),
        product_id,
        offer_type,
        name: p.target_name.clone(),
        kind: p.kind.as_str().into(),
        quantity: p.quantity,
        assigned_users: p.assigned_users.clone(),
        status: p.status_at(now).as_str().into(),
        payment_method: p.payment_method,
        policy_value: p.policy_value.to_string(),
        created_date_time: p.created_at.clone(),
        last_modified_date_time: p.updated_at.clone(),
        expiry_date_time: p.expires_at.clone(),
    }
}

/// The signed-in user who buys: applications and unknown users cannot.
fn purchaser(caller: &Caller) -> Result<(Uuid, UserType), ApiError> {
    match (caller.user_id, caller.user_type) {
        (Some(id), Some(t)) => Ok((id, t)),
        _ => Err(ApiError::Forbidden("Only a user of this tenant can buy or start a trial; applications and unknown users cannot.".into())),
    }
}

fn notice(caller: &Caller, p: &Purchase, what: &str) -> PurchaseNotice {
    let message = match (what, p.kind) {
        ("converted", _) => format!(
            "{} converted the trial of {} to a paid subscription ({} licenses).",
            caller.actor, p.target_name, p.quantity
        ),
        (_, Kind::Trial) => format!(
            "{} started a trial of {} ({} licenses).",
            caller.actor, p.target_name, p.quantity
        ),
        (_, Kind::Purchase) => format!(
            "{} bought {} licenses of {}.",
            caller.actor, p.quantity, p.target_name
        ),
    };
    let event = serde_json::json!({
        "type": if what == "converted" { "purchase.converted" } else { "purchase.created" },
        "tenantId": p.tenant_id.to_string(),
        "message": message,
        "purchase": record(p, &now_text()),
    });
    PurchaseNotice {
        message,
        event: event.to_string(),
    }
}

fn not_allowed(decision: &Decision, request: &Request<'_>) -> ApiError {
    ApiError::PurchaseNotAllowed(Explained { decision, request }.to_string())
}

/// `POST /v1.0/selfServicePurchases`: the decision is taken inside the transaction that records the
/// purchase, so once a policy write is acknowledged nothing it forbids can start.
pub async fn start(
    State(ctx): State<ApiContext>,
    caller: Caller,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user_id, user_type) = purchaser(&caller)?;
    let req: wire::StartPurchase = json_body(
        body,
        r#"{"kind": "purchase" | "trial", "productId" | "offerType", "quantity"?: 1, "paymentMethod"?: bool}"#,
    )?;
    let catalog = ctx.catalog();
    let policy = policy(&catalog)?;
    let kind = parse_kind(&req.kind)?;
    let target = resolve_target(
        &catalog,
        req.product_id.as_deref(),
        req.offer_type.as_deref(),
    )?;
    let quantity = req.quantity.unwrap_or(1);
    if !(1..=10_000).contains(&quantity) {
        return Err(ApiError::BadRequest(format!(
            "quantity {quantity} is out of range: buy 1 to 10000 licenses."
        )));
    }
    let payment_method = req
        .payment_method
        .unwrap_or_else(|| default_payment_method(kind, &target));
    let now = chrono::Utc::now();
    let expires_at = match (kind, target) {
        (Kind::Trial, Target::Product(p)) => Some(store::timestamp(
            now + chrono::Duration::seconds(p.trial_length_secs() as i64),
        )),
        (Kind::Trial, Target::OfferType(_)) => {
            Some(store::timestamp(now + chrono::Duration::days(30)))
        }
        (Kind::Purchase, _) => None,
    };
    let purchase = Purchase {
        tenant_id: caller.tenant().id,
        id: Uuid::new_v4(),
        purchaser_id: user_id,
        purchaser_upn: caller.actor.clone(),
        scope: scope_of(&target),
        target_id: target.id().to_string(),
        target_name: target.name().to_string(),
        kind,
        quantity,
        assigned_users: vec![],
        status: if kind == Kind::Trial {
            PurchaseStatus::Trial
        } else {
            PurchaseStatus::Active
        },
        payment_method,
        policy_value: domain::PolicyValue::Enabled,
        created_at: store::timestamp(now),
        updated_at: store::timestamp(now),
        expires_at,
    };
    let facts = decision_request(
        &caller.view,
        user_type,
        target,
        kind,
        payment_method,
        &policy.id,
    );
    let decide_now = judge_with(&catalog, facts);
    let notice = notice(&caller, &purchase, "created");
    match ctx
        .store
        .start_purchase(
            &purchase,
            &store::Judge {
                policy_id: &policy.id,
                fallback_default: ctx.fallback_default(policy),
                decide: &decide_now,
            },
            &notice,
        )
        .await?
    {
        PurchaseOutcome::Done(p) => {
            ctx.deliveries.notify_one();
            tracing::info!(tenant = %p.tenant_id, purchase = %p.id, kind = p.kind.as_str(), "purchase recorded");
            Ok((StatusCode::CREATED, Json(record(&p, &now_text()))).into_response())
        }
        PurchaseOutcome::Denied(d) => Err(not_allowed(
            &d,
            &Request {
                explicit: None,
                tenant_default: d.value,
                ..facts
            },
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
    product_id: Option<String>,
    purchaser: Option<String>,
}

/// Administrators (and readers) see the tenant's records; a user without a role sees their own.
pub async fn list(
    State(ctx): State<ApiContext>,
    caller: Caller,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Items<wire::PurchaseRecord>>, ApiError> {
    let Query(params) = query.map_err(|e| query_rejection(e, "status, productId, purchaser"))?;
    let now = now_text();
    let status = params
        .status
        .as_deref()
        .map(|s| {
            PurchaseStatus::parse(s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "status '{s}' is not known: use Active, Trial, Expired, Canceled or TakenOver."
                ))
            })
        })
        .transpose()?;
    let catalog = ctx.catalog();
    let target_id = params
        .product_id
        .as_deref()
        .map(|id| match catalog.product(id) {
            Ok(p) => p.id.clone(),
            Err(LookupError::RetiredProduct { id, .. }) => id,
            Err(_) => catalog
                .offer_type(id)
                .map(|o| o.id.clone())
                .unwrap_or_else(|_| id.to_ascii_uppercase()),
        });
    let purchaser = if caller.access.read_policies {
        params.purchaser
    } else {
        let (me, _) = purchaser(&caller)?;
        Some(me.to_string())
    };
    let filter = PurchaseFilter {
        status,
        target_id,
        purchaser,
        now: now.clone(),
    };
    let items = ctx
        .store
        .list_purchases(caller.tenant().id, &filter)
        .await?;
    Ok(Json(Items {
        items: items.iter().map(|p| record(p, &now)).collect(),
    }))
}

fn purchase_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::NotFound(format!(
            "Purchase '{raw}' was not found: purchases are named by their id (a GUID)."
        ))
    })
}

/// A record the caller may see: their own, or any of the tenant's for administrators and readers.
async fn visible(ctx: &ApiContext, caller: &Caller, raw: &str) -> Result<Purchase, ApiError> {
    let id = purchase_id(raw)?;
    let p = ctx.store.purchase(caller.tenant().id, id).await?;
    match p {
        Some(p) if caller.access.read_policies || Some(p.purchaser_id) == caller.user_id => Ok(p),
        _ => Err(ApiError::NotFound(format!("Purchase {raw} was not found."))),
    }
}

pub async fn get(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<wire::PurchaseRecord>, ApiError> {
    let p = visible(&ctx, &caller, &id).await?;
    Ok(Json(record(&p, &now_text())))
}

/// Cancel: the tenant's Global and Billing Administrators, or the purchaser for their own.
pub async fn cancel(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<wire::PurchaseRecord>, ApiError> {
    let p = visible(&ctx, &caller, &id).await?;
    if !caller.access.write_policies && Some(p.purchaser_id) != caller.user_id {
        return Err(ApiError::Forbidden(format!("{} may not cancel another user's purchase: that needs the Global or Billing Administrator role.", caller.actor)));
    }
    let now = now_text();
    let from = [
        PurchaseStatus::Active,
        PurchaseStatus::Trial,
        PurchaseStatus::Expired,
    ];
    let done = ctx
        .store
        .set_purchase_status(
            caller.tenant().id,
            p.id,
            &from,
            PurchaseStatus::Canceled,
            &now,
        )
        .await?;
    Ok(Json(record(
        &done.ok_or_else(|| ApiError::NotFound(format!("Purchase {id} was not found.")))?,
        &now,
    )))
}

/// Take over: the organisation manages the subscription from now on (Global and Billing Administrators).
pub async fn take_over(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<wire::PurchaseRecord>, ApiError> {
    if !caller.access.write_policies {
        return Err(ApiError::Forbidden(format!(
            "{} may not take over purchases: that needs the Global or Billing Administrator role.",
            caller.actor
        )));
    }
    let p = visible(&ctx, &caller, &id).await?;
    let now = now_text();
    let from = [PurchaseStatus::Active, PurchaseStatus::Trial];
    let done = ctx
        .store
        .set_purchase_status(
            caller.tenant().id,
            p.id,
            &from,
            PurchaseStatus::TakenOver,
            &now,
        )
        .await?;
    Ok(Json(record(
        &done.ok_or_else(|| ApiError::NotFound(format!("Purchase {id} was not found.")))?,
        &now,
    )))
}

/// The purchaser's own record, for the purchaser's own actions.
async fn own(
    ctx: &ApiContext,
    caller: &Caller,
    raw: &str,
) -> Result<(Purchase, UserType), ApiError> {
    let (me, user_type) = purchaser(caller)?;
    let p = visible(ctx, caller, raw).await?;
    if p.purchaser_id != me {
        return Err(ApiError::Forbidden(
            "Only the purchaser can change or convert this subscription.".into(),
        ));
    }
    Ok((p, user_type))
}

fn target_of<'a>(catalog: &'a Catalog, p: &Purchase) -> Result<Target<'a>, ApiError> {
    match p.scope {
        Scope::Product => Ok(Target::Product(catalog.product(&p.target_id)?)),
        Scope::OfferType => Ok(Target::OfferType(catalog.offer_type(&p.target_id)?)),
    }
}

/// `POST …/{id}/convert`: a trial becomes a paid subscription if buying is allowed now.
pub async fn convert(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<wire::PurchaseRecord>, ApiError> {
    let (p, user_type) = own(&ctx, &caller, &id).await?;
    let catalog = ctx.catalog();
    let policy = policy(&catalog)?;
    let target = target_of(&catalog, &p)?;
    let facts = decision_request(
        &caller.view,
        user_type,
        target,
        Kind::Purchase,
        true,
        &policy.id,
    );
    let decide_now = judge_with(&catalog, facts);
    let now = now_text();
    let notice = notice(&caller, &p, "converted");
    match ctx
        .store
        .convert_trial(
            caller.tenant().id,
            p.id,
            &store::Judge {
                policy_id: &policy.id,
                fallback_default: ctx.fallback_default(policy),
                decide: &decide_now,
            },
            &notice,
            &now,
        )
        .await?
    {
        PurchaseOutcome::Done(p) => {
            ctx.deliveries.notify_one();
            Ok(Json(record(&p, &now)))
        }
        PurchaseOutcome::Denied(d) => Err(not_allowed(
            &d,
            &Request {
                explicit: None,
                tenant_default: d.value,
                ..facts
            },
        )),
    }
}

/// `PATCH …/{id}`: the purchaser changes the quantity (more is a purchase judged now) and assigns
/// licenses to members of the tenant, up to 20 at a time.
pub async fn patch(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<wire::PurchaseRecord>, ApiError> {
    let (p, user_type) = own(&ctx, &caller, &id).await?;
    let change: wire::PurchasePatch = json_body(
        body,
        r#"{"quantity"?: 5, "assign"?: ["ana@contoso.example"], "unassign"?: [...]}"#,
    )?;
    let now = now_text();
    let mut current = p.clone();
    if let Some(quantity) = change.quantity {
        if !(1..=10_000).contains(&quantity) {
            return Err(ApiError::BadRequest(format!(
                "quantity {quantity} is out of range: 1 to 10000."
            )));
        }
        let catalog = ctx.catalog();
        let policy = policy(&catalog)?;
        let target = target_of(&catalog, &p)?;
        let facts = decision_request(
            &caller.view,
            user_type,
            target,
            Kind::Purchase,
            true,
            &policy.id,
        );
        let decide_now = judge_with(&catalog, facts);
        current = match ctx
            .store
            .change_quantity(
                caller.tenant().id,
                p.id,
                quantity,
                &store::Judge {
                    policy_id: &policy.id,
                    fallback_default: ctx.fallback_default(policy),
                    decide: &decide_now,
                },
                &now,
            )
            .await?
        {
            PurchaseOutcome::Done(p) => *p,
            PurchaseOutcome::Denied(d) => {
                return Err(not_allowed(
                    &d,
                    &Request {
                        explicit: None,
                        tenant_default: d.value,
                        ..facts
                    },
                ))
            }
        };
    }
    if !change.assign.is_empty() || !change.unassign.is_empty() {
        if change.assign.len() > 20 {
            return Err(ApiError::BadRequest(format!(
                "Assign at most 20 users at a time; this request names {}.",
                change.assign.len()
            )));
        }
        let mut users = current.assigned_users.clone();
        for u in &change.unassign {
            users.retain(|x| !x.eq_ignore_ascii_case(u));
        }
        for u in &change.assign {
            let (_, found) = caller.view.user_by_key(u).ok_or_else(|| {
                ApiError::BadRequest(format!("'{u}' is not a user of this tenant."))
            })?;
            if found.user_type != UserType::Member {
                return Err(ApiError::BadRequest(format!(
                    "{} is a guest: licenses go to members of the tenant.",
                    found.upn
                )));
            }
            if !users.iter().any(|x| x == &found.upn) {
                users.push(found.upn.clone());
            }
        }
        if users.len() as i64 > current.quantity {
            return Err(ApiError::Conflict(format!(
                "{} users cannot share {} licenses: raise the quantity or assign fewer.",
                users.len(),
                current.quantity
            )));
        }
        current = ctx
            .store
            .set_assigned_users(caller.tenant().id, p.id, &users, &now)
            .await?;
    }
    Ok(Json(record(&current, &now)))
}

/// `GET /v1.0/notifications`: the caller's notifications of new purchases and trials.
pub async fn notifications(
    State(ctx): State<ApiContext>,
    caller: Caller,
) -> Result<Json<Items<wire::NotificationRecord>>, ApiError> {
    let Some(me) = caller.user_id else {
        return Ok(Json(Items { items: vec![] }));
    };
    let items = ctx
        .store
        .notifications(caller.tenant().id, me)
        .await?
        .into_iter()
        .map(|n| wire::NotificationRecord {
            id: n.id.to_string(),
            purchase_id: n.purchase_id.to_string(),
            message: n.message,
            created_date_time: n.created_at,
        })
        .collect();
    Ok(Json(Items { items }))
}

fn require_webhook_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.access.write_policies {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{} may not manage webhooks: that needs the Global or Billing Administrator role.",
            caller.actor
        )))
    }
}

fn webhook_record(h: &Webhook, with_secret: bool) -> wire::WebhookRecord {
    wire::WebhookRecord {
        id: h.id.to_string(),
        url: h.url.clone(),
        created_date_time: h.created_at.clone(),
        created_by: h.created_by.clone(),
        secret: with_secret.then(|| h.secret.clone()),
    }
}

pub async fn create_webhook(
    State(ctx): State<ApiContext>,
    caller: Caller,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_webhook_admin(&caller)?;
    let req: wire::NewWebhook = json_body(
        body,
        r#"{"url": "https://hooks.contoso.example/purchases"}"#,
    )?;
    let url = reqwest::Url::parse(&req.url)
        .map_err(|e| ApiError::BadRequest(format!("url '{}' is not an address ({e}).", req.url)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ApiError::BadRequest(format!(
            "url '{}' must be an http(s) address.",
            req.url
        )));
    }
    let hook = Webhook {
        tenant_id: caller.tenant().id,
        id: Uuid::new_v4(),
        url: url.to_string(),
        secret: format!("whsec_{}", random_secret(32)),
        created_at: now_text(),
        created_by: caller.actor.clone(),
    };
    ctx.store.create_webhook(&hook).await?;
    Ok((StatusCode::CREATED, Json(webhook_record(&hook, true))).into_response())
}

pub async fn list_webhooks(
    State(ctx): State<ApiContext>,
    caller: Caller,
) -> Result<Json<Items<wire::WebhookRecord>>, ApiError> {
    require_webhook_admin(&caller)?;
    let hooks = ctx.store.webhooks(caller.tenant().id).await?;
    Ok(Json(Items {
        items: hooks.iter().map(|h| webhook_record(h, false)).collect(),
    }))
}

fn webhook_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::NotFound(format!(
            "Webhook '{raw}' was not found: webhooks are named by their id."
        ))
    })
}

pub async fn delete_webhook(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_webhook_admin(&caller)?;
    if !ctx
        .store
        .delete_webhook(caller.tenant().id, webhook_id(&id)?)
        .await?
    {
        return Err(ApiError::NotFound(format!("Webhook {id} was not found.")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log of one webhook: each event, its attempts and the last answer.
pub async fn deliveries(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Items<wire::DeliveryRecord>>, ApiError> {
    require_webhook_admin(&caller)?;
    let hook = webhook_id(&id)?;
    let hooks = ctx.store.webhooks(caller.tenant().id).await?;
    if !hooks.iter().any(|h| h.id == hook) {
        return Err(ApiError::NotFound(format!("Webhook {id} was not found.")));
    }
    let items = ctx
        .store
        .deliveries(caller.tenant().id, hook)
        .await?
        .into_iter()
        .map(|d| wire::DeliveryRecord {
            id: d.id.to_string(),
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status,
            last_error: d.last_error,
            created_date_time: d.created_at,
            delivered_date_time: d.delivered_at,
            event: serde_json::from_str(&d.event).unwrap_or(Value::Null),
        })
        .collect();
    Ok(Json(Items { items }))
}
