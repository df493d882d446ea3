//! The policy routes of SPEC §2 and §2.1. Handlers are thin: parse, check the caller, ask the
//! domain, write through the store, answer with `proto` rows.

use std::collections::HashMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use domain::{
    validate_offer_type_value, validate_product_value, Catalog, OfferType, PolicyDef, PolicyValue,
    Product, Scope,
};
use proto::{AuditEntry, AuditPage, Items, Policy, UpdateDefaultValue, UpdatePolicyValue};
use serde::Deserialize;
use serde_json::Value;
use store::{AuditQuery, ChangeContext, PolicySnapshot, ValueWrite};

use super::body::{json_body, query_rejection};
use super::rows::{offer_type_row, product_row};
use super::CorrelationId;
use crate::auth::caller::Caller;
use crate::error::ApiError;
use crate::state::ApiContext;

const VALUE_BODY: &str =
    r#"{"policyValue": "Enabled" | "OnlyTrialsWithoutPaymentMethod" | "Disabled"}"#;
const OFFER_TYPE_VALUE_BODY: &str = r#"{"policyValue": "Enabled" | "Disabled"}"#;
const DEFAULT_BODY: &str =
    r#"{"defaultValue": "Enabled" | "OnlyTrialsWithoutPaymentMethod" | "Disabled"}"#;

fn with_etag<T: serde::Serialize>(row: T, etag: &str) -> Response {
    let mut response = Json(row).into_response();
    if let Ok(v) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

fn if_match(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get(header::IF_MATCH)
        .map(|v| {
            v.to_str().map(str::to_string).map_err(|_| {
                ApiError::BadRequest("If-Match must be the ETag of the row, as text.".into())
            })
        })
        .transpose()
}

async fn snapshot(
    ctx: &ApiContext,
    caller: &Caller,
    policy: &PolicyDef,
) -> Result<PolicySnapshot, ApiError> {
    Ok(ctx
        .store
        .policy_snapshot(caller.tenant().id, &policy.id, ctx.fallback_default(policy))
        .await?)
}

fn change_context(
    caller: &Caller,
    policy: &PolicyDef,
    correlation: &CorrelationId,
) -> ChangeContext {
    ChangeContext {
        tenant_id: caller.tenant().id,
        policy_id: policy.id.clone(),
        actor: caller.actor.clone(),
        actor_kind: caller.actor_kind,
        correlation_id: correlation.0.clone(),
        at: chrono::Utc::now(),
    }
}

fn policy_body(policy: &PolicyDef, snap: &PolicySnapshot) -> Policy {
    Policy {
        id: policy.id.clone(),
        description: policy.description.clone(),
        default_value: snap.default.value.to_string(),
    }
}

fn parse_value(raw: &str) -> Result<PolicyValue, ApiError> {
    raw.parse::<PolicyValue>().map_err(ApiError::from)
}

pub async fn list_policies(
    State(ctx): State<ApiContext>,
    caller: Caller,
) -> Result<Json<Items<Policy>>, ApiError> {
    let catalog = ctx.catalog();
    caller.require_read()?;
    let mut items = Vec::new();
    for policy in catalog.policies() {
        let snap = snapshot(&ctx, &caller, policy).await?;
        items.push(policy_body(policy, &snap));
    }
    Ok(Json(Items { items }))
}

pub async fn get_policy(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(policy_id): Path<String>,
) -> Result<Response, ApiError> {
    let catalog = ctx.catalog();
    caller.require_read()?;
    let policy = catalog.policy(&policy_id)?;
    let snap = snapshot(&ctx, &caller, policy).await?;
    Ok(with_etag(
        policy_body(policy, &snap),
        &domain::row_etag(snap.default.version, 0),
    ))
}

pub async fn patch_policy(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Extension(correlation): Extension<CorrelationId>,
    Path(policy_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let catalog = ctx.catalog();
    caller.require_write_default()?;
    let policy = catalog.policy(&policy_id)?;
    let body: UpdateDefaultValue = json_body(body, DEFAULT_BODY)?;
    let value = parse_value(&body.default_value)?;
    let change = change_context(&caller, policy, &correlation);
    let precondition = if_match(&headers)?;
    ctx.store
        .set_default(
            &change,
            value,
            precondition.as_deref(),
            ctx.fallback_default(policy),
        )
        .await?;
    // Decisions read the tenant from memory: bring it up to date before acknowledging.
    ctx.tenant_changed(caller.tenant().id).await?;
    let snap = snapshot(&ctx, &caller, policy).await?;
    Ok(with_etag(
        policy_body(policy, &snap),
        &domain::row_etag(snap.default.version, 0),
    ))
}

pub async fn list_products(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(policy_id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let catalog = ctx.catalog();
    caller.require_read()?;
    let Query(query) = query.map_err(|e| query_rejection(e, "scope"))?;
    let policy = catalog.policy(&policy_id)?;
    // Parameter names are matched case-insensitively, as values are (§1.1).
    let scope = match query.iter().find(|(k, _)| k.eq_ignore_ascii_case("scope")) {
        Some((_, v)) => v.parse::<Scope>()?,
        None => Scope::Product,
    };
    let snap = snapshot(&ctx, &caller, policy).await?;
    Ok(match scope {
        Scope::Product => Json(Items {
            items: catalog
                .active_products()
                .map(|p| product_row(&policy.id, p, &snap).0)
                .collect(),
        })
        .into_response(),
        Scope::OfferType => Json(Items {
            items: catalog
                .offer_types()
                .iter()
                .map(|o| offer_type_row(&policy.id, o, &snap).0)
                .collect(),
        })
        .into_response(),
    })
}

/// The row a route names: a product (by current or legacy id) or an offer type.
#[derive(Clone, Copy)]
enum Target<'a> {
    Product(&'a Product),
    OfferType(&'a OfferType),
}

impl<'a> Target<'a> {
    fn resolve(catalog: &'a Catalog, scope: Scope, id: &str) -> Result<Target<'a>, ApiError> {
        Ok(match scope {
            Scope::Product => Target::Product(catalog.product(id)?),
            Scope::OfferType => Target::OfferType(catalog.offer_type(id)?),
        })
    }

    /// Parses and checks a new value against the rules of §1.2.
    fn value_from(
        &self,
        catalog: &Catalog,
        body: Result<Json<Value>, JsonRejection>,
    ) -> Result<PolicyValue, ApiError> {
        let expected = match self {
            Target::Product(_) => VALUE_BODY,
            Target::OfferType(_) => OFFER_TYPE_VALUE_BODY,
        };
        let body: UpdatePolicyValue = json_body(body, expected)?;
        let value = parse_value(&body.policy_value)?;
        match self {
            Target::Product(p) => validate_product_value(catalog, p, value)?,
            Target::OfferType(o) => validate_offer_type_value(&o.id, value)?,
        }
        Ok(value)
    }

    fn write(&self, value: Option<PolicyValue>, if_match: Option<String>) -> ValueWrite {
        let (scope, id, name, has_trial) = match self {
            Target::Product(p) => (
                Scope::Product,
                &p.id,
                &p.name,
                p.trial_without_payment_method,
            ),
            Target::OfferType(o) => (Scope::OfferType, &o.id, &o.name, false),
        };
        ValueWrite {
            scope,
            target_id: id.clone(),
            target_name: name.clone(),
            value,
            has_trial_without_payment_method: has_trial,
            if_match,
        }
    }

    fn response(&self, policy_id: &str, snap: &PolicySnapshot) -> Response {
        match self {
            Target::Product(p) => {
                let (row, etag) = product_row(policy_id, p, snap);
                with_etag(row, &etag)
            }
            Target::OfferType(o) => {
                let (row, etag) = offer_type_row(policy_id, o, snap);
                with_etag(row, &etag)
            }
        }
    }
}

async fn read_row(
    ctx: &ApiContext,
    caller: &Caller,
    policy_id: &str,
    scope: Scope,
    id: &str,
) -> Result<Response, ApiError> {
    let catalog = ctx.catalog();
    caller.require_read()?;
    let policy = catalog.policy(policy_id)?;
    let target = Target::resolve(&catalog, scope, id)?;
    let snap = snapshot(ctx, caller, policy).await?;
    Ok(target.response(&policy.id, &snap))
}

/// PUT sets the row's own value; DELETE (no body) makes it follow the tenant default again.
async fn write_row(
    ctx: &ApiContext,
    caller: &Caller,
    correlation: &CorrelationId,
    (policy_id, id): (&str, &str),
    scope: Scope,
    headers: &HeaderMap,
    body: Option<Result<Json<Value>, JsonRejection>>,
) -> Result<Response, ApiError> {
    let catalog = ctx.catalog();
    caller.require_write()?;
    let policy = catalog.policy(policy_id)?;
    let target = Target::resolve(&catalog, scope, id)?;
    let value = body.map(|b| target.value_from(&catalog, b)).transpose()?;
    let write = target.write(value, if_match(headers)?);
    ctx.store
        .set_value(
            &change_context(caller, policy, correlation),
            &write,
            ctx.fallback_default(policy),
        )
        .await?;
    // Decisions read the tenant from memory: bring it up to date before acknowledging.
    ctx.tenant_changed(caller.tenant().id).await?;
    let snap = snapshot(ctx, caller, policy).await?;
    Ok(target.response(&policy.id, &snap))
}

pub async fn get_product(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path((policy_id, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    read_row(&ctx, &caller, &policy_id, Scope::Product, &id).await
}

pub async fn put_product(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Extension(correlation): Extension<CorrelationId>,
    Path((policy_id, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    write_row(
        &ctx,
        &caller,
        &correlation,
        (&policy_id, &id),
        Scope::Product,
        &headers,
        Some(body),
    )
    .await
}

pub async fn delete_product(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Extension(correlation): Extension<CorrelationId>,
    Path((policy_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    write_row(
        &ctx,
        &caller,
        &correlation,
        (&policy_id, &id),
        Scope::Product,
        &headers,
        None,
    )
    .await
}

pub async fn get_offer_type(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path((policy_id, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    read_row(&ctx, &caller, &policy_id, Scope::OfferType, &id).await
}

pub async fn put_offer_type(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Extension(correlation): Extension<CorrelationId>,
    Path((policy_id, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    write_row(
        &ctx,
        &caller,
        &correlation,
        (&policy_id, &id),
        Scope::OfferType,
        &headers,
        Some(body),
    )
    .await
}

pub async fn delete_offer_type(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Extension(correlation): Extension<CorrelationId>,
    Path((policy_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    write_row(
        &ctx,
        &caller,
        &correlation,
        (&policy_id, &id),
        Scope::OfferType,
        &headers,
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditParams {
    since: Option<String>,
    until: Option<String>,
    actor: Option<String>,
    product_id: Option<String>,
    top: Option<u32>,
    skip_token: Option<i64>,
}

const AUDIT_PARAMS: &str =
    "since, until (RFC 3339 times or dates), actor, productId, top (1-1000), skipToken";

fn parse_time(name: &str, raw: &str, end_of_day: bool) -> Result<String, ApiError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(store::timestamp(t.with_timezone(&chrono::Utc)));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let t = if end_of_day {
            d.and_hms_milli_opt(23, 59, 59, 999)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        if let Some(t) = t {
            return Ok(store::timestamp(t.and_utc()));
        }
    }
    Err(ApiError::BadRequest(format!(
        "{name} '{raw}' is not a time: use RFC 3339 (2026-11-21T08:00:00Z) or a date (2026-11-21)."
    )))
}

pub async fn audit_log(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(policy_id): Path<String>,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let catalog = ctx.catalog();
    caller.require_read()?;
    let policy = catalog.policy(&policy_id)?;
    let Query(params) = query.map_err(|e| query_rejection(e, AUDIT_PARAMS))?;
    let limit = params.top.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "top {limit} is out of range: use 1 to 1000."
        )));
    }
    // A product named by a legacy id, or a retired one, still finds its history.
    let target_id = params
        .product_id
        .as_deref()
        .map(|id| match catalog.product(id) {
            Ok(p) => p.id.clone(),
            Err(domain::LookupError::RetiredProduct { id, .. }) => id,
            Err(_) => catalog
                .offer_type(id)
                .map(|o| o.id.clone())
                .unwrap_or_else(|_| id.to_ascii_uppercase()),
        });
    let query = AuditQuery {
        since: params
            .since
            .as_deref()
            .map(|s| parse_time("since", s, false))
            .transpose()?,
        until: params
            .until
            .as_deref()
            .map(|s| parse_time("until", s, true))
            .transpose()?,
        actor: params.actor.clone(),
        target_id,
        before_seq: params.skip_token,
        limit: limit + 1,
    };
    let mut records = ctx
        .store
        .audit_log(caller.tenant().id, &policy.id, &query)
        .await?;
    let next_link = if records.len() > limit as usize {
        records.truncate(limit as usize);
        let last = records.last().map(|r| r.seq).unwrap_or_default();
        let mut link = url_for_next(&policy.id, &params, limit);
        link.push_str(&format!("&skipToken={last}"));
        Some(link)
    } else {
        None
    };
    let items = records
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            activity_date_time: r.at,
            actor: r.actor,
            actor_type: r.actor_type,
            policy_id: r.policy_id,
            scope: r.scope,
            target_id: r.target_id,
            target_name: r.target_name,
            old_value: r.old_value,
            new_value: r.new_value,
            action: r.action,
            correlation_id: r.correlation_id,
        })
        .collect();
    Ok(Json(AuditPage { items, next_link }))
}

fn url_for_next(policy_id: &str, p: &AuditParams, limit: u32) -> String {
    let mut pairs = vec![("top", limit.to_string())];
    for (k, v) in [
        ("since", &p.since),
        ("until", &p.until),
        ("actor", &p.actor),
        ("productId", &p.product_id),
    ] {
        if let Some(v) = v {
            pairs.push((k, v.clone()));
        }
    }
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("/v1.0/policies/{policy_id}/auditLog?{query}")
}
