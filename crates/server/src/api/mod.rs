//! The HTTP surface: routes, the correlation-id and logging middleware, and JSON answers for
//! unknown routes and methods.

pub mod body;
mod policies;
mod purchases;
mod rows;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use proto::CORRELATION_HEADER;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::auth::{device, discovery, token};
use crate::error::ApiError;
use crate::state::ApiContext;

/// The request's correlation id: the caller's own `x-ms-correlation-id`, or a new GUID.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

/// Request bodies of this API are small JSON or form documents.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn policy_routes() -> Router<ApiContext> {
    use policies::*;
    Router::new()
        .route("/policies", get(list_policies))
        .route("/policies/{policy_id}", get(get_policy).patch(patch_policy))
        .route("/policies/{policy_id}/products", get(list_products))
        .route(
            "/policies/{policy_id}/products/{product_id}",
            get(get_product).put(put_product).delete(delete_product),
        )
        .route(
            "/policies/{policy_id}/offerTypes/{offer_type}",
            get(get_offer_type)
                .put(put_offer_type)
                .delete(delete_offer_type),
        )
        .route("/policies/{policy_id}/auditLog", get(audit_log))
        .route(
            "/selfServicePurchases",
            get(purchases::list).post(purchases::start),
        )
        .route("/selfServicePurchases/evaluate", post(purchases::evaluate))
        .route(
            "/selfServicePurchases/{id}",
            get(purchases::get).patch(purchases::patch),
        )
        .route("/selfServicePurchases/{id}/cancel", post(purchases::cancel))
        .route(
            "/selfServicePurchases/{id}/takeOver",
            post(purchases::take_over),
        )
        .route(
            "/selfServicePurchases/{id}/convert",
            post(purchases::convert),
        )
        .route("/notifications", get(purchases::notifications))
        .route(
            "/webhooks",
            get(purchases::list_webhooks).post(purchases::create_webhook),
        )
        .route(
            "/webhooks/{id}",
            axum::routing::delete(purchases::delete_webhook),
        )
        .route("/webhooks/{id}/deliveries", get(purchases::deliveries))
}

pub fn router(ctx: ApiContext) -> Router {
    let api = policy_routes();
    Router::new()
        // The module speaks /v1.0, Microsoft365DSC /v1: the same API (§2).
        .nest("/v1.0", api.clone())
        .nest("/v1", api)
        .nest("/admin/v1", crate::admin::router())
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route("/{tenant}/oauth2/v2.0/revoke", post(token::revoke))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(device::device_authorization),
        )
        .route(
            "/devicelogin",
            get(device::login_page).post(device::login_submit),
        )
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::jwks))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response()
        }))
        .layer(middleware::from_fn(correlate_and_log))
        .with_state(ctx)
}

async fn readyz(State(ctx): State<ApiContext>) -> Response {
    match ctx.store.meta("schema_check").await {
        Ok(_) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!(
        "There is no route {} {}. The API lives under /v1.0/policies (see SPEC §2).",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}. Policies and products take GET and PUT (products also DELETE); a policy takes GET and PATCH.",
        request.method(),
        request.uri().path()
    ))
}

/// A correlation id the caller sent is echoed if it is reasonable text; anything else is refused.
fn supplied_correlation_id(value: &HeaderValue) -> Result<String, String> {
    let text = value
        .to_str()
        .map_err(|_| "x-ms-correlation-id must be ASCII text".to_string())?;
    let ok = !text.is_empty()
        && text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(text.to_string())
    } else {
        Err("x-ms-correlation-id must be 1 to 128 characters of letters, digits, '-', '_', '.' or ':' (a GUID is best).".into())
    }
}

async fn correlate_and_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let supplied = request
        .headers()
        .get(CORRELATION_HEADER)
        .map(supplied_correlation_id);
    let (id, refusal) = match supplied {
        Some(Ok(id)) => (id, None),
        Some(Err(why)) => (uuid::Uuid::new_v4().to_string(), Some(why)),
        None => (uuid::Uuid::new_v4().to_string(), None),
    };
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let span = tracing::info_span!("request", correlation_id = %id, %method, %path);
    let mut response = match refusal {
        Some(why) => ApiError::BadRequest(why).into_response(),
        None => {
            request.extensions_mut().insert(CorrelationId(id.clone()));
            next.run(request).instrument(span.clone()).await
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(CORRELATION_HEADER, v);
    }
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        )
    });
    response
}
