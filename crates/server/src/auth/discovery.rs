//! Discovery (`/{tenant}/v2.0/.well-known/openid-configuration`) and the signing keys (JWKS).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::auth::token::{find_tenant, DEVICE_CODE_GRANT};
use crate::state::ApiContext;

pub async fn openid_configuration(
    State(ctx): State<ApiContext>,
    Path(tenant_key): Path<String>,
) -> Response {
    let tenant = match find_tenant(&ctx, &tenant_key).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let base = &ctx.settings.issuer_base;
    let tid = tenant.id;
    Json(serde_json::json!({
        "issuer": ctx.issuer(tid),
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/devicecode"),
        "revocation_endpoint": format!("{base}/{tid}/oauth2/v2.0/revoke"),
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "grant_types_supported": ["password", "refresh_token", "client_credentials", DEVICE_CODE_GRANT],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "claims_supported": ["iss", "aud", "tid", "oid", "upn", "name", "wids", "scp", "roles", "azp", "iat", "nbf", "exp", "jti"],
    }))
    .into_response()
}

pub async fn jwks(State(ctx): State<ApiContext>) -> Json<serde_json::Value> {
    let keys: Vec<_> = ctx
        .keys
        .public_keys()
        .into_iter()
        .map(|(kid, x, _)| serde_json::json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid, "x": x}))
        .collect();
    Json(serde_json::json!({ "keys": keys }))
}
