//! `POST /{tenant}/oauth2/v2.0/token` (SPEC §4), the resource-owner password grant, and the
//! discovery documents. Errors follow RFC 6749 §5.2.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use domain::Upn;
use proto::{AccessTokenClaims, OAuthError, TokenResponse, CLI_CLIENT_ID, MODULE_CLIENT_ID};
use serde::Deserialize;

use crate::auth::password::verify_password;
use crate::state::ApiContext;

#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

pub struct OAuthFailure {
    status: StatusCode,
    body: OAuthError,
}

impl OAuthFailure {
    fn new(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        OAuthFailure {
            status,
            body: OAuthError {
                error: error.into(),
                error_description: description.into(),
            },
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        response
    }
}

impl From<store::StoreError> for OAuthFailure {
    fn from(e: store::StoreError) -> Self {
        tracing::error!(error = %e, "token endpoint storage failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The service could not complete the sign-in. Retry later.",
        )
    }
}

/// The scopes a client may ask for: this service's resource (`{resource}/.default` as the module
/// asks, or `{resource}/user_impersonation`), plus the OpenID ones.
fn check_scope(ctx: &ApiContext, scope: Option<&str>) -> Result<String, OAuthFailure> {
    let resource = ctx.settings.resource_id.as_str();
    let Some(scope) = scope.filter(|s| !s.trim().is_empty()) else {
        return Ok(format!("{resource}/user_impersonation"));
    };
    let mut for_us = false;
    for s in scope.split_whitespace() {
        let lower = s.to_ascii_lowercase();
        let bare = lower.strip_prefix("api://").unwrap_or(&lower);
        if bare == resource || bare.starts_with(&format!("{resource}/")) {
            for_us = true;
        } else if !matches!(
            lower.as_str(),
            "openid" | "profile" | "offline_access" | "email"
        ) {
            return Err(OAuthFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("The scope '{s}' is not offered by this service. Ask for '{resource}/.default'."),
            ));
        }
    }
    if !for_us {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!("The scope names no resource of this service. Ask for '{resource}/.default'."),
        ));
    }
    Ok(format!("{resource}/user_impersonation"))
}

pub async fn token(
    State(ctx): State<ApiContext>,
    Path(tenant_key): Path<String>,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Json<TokenResponse>, OAuthFailure> {
    let Form(req) = form.map_err(|e| {
        OAuthFailure::invalid_request(format!(
            "The request must be an application/x-www-form-urlencoded body: {}",
            e.body_text()
        ))
    })?;
    let tenant = ctx.store.find_tenant(&tenant_key).await?.ok_or_else(|| {
        OAuthFailure::invalid_request(format!(
            "Tenant '{tenant_key}' not found. Use the tenant's id (a GUID) or one of its verified domains."
        ))
    })?;
    let client_id = req.client_id.as_deref().unwrap_or(CLI_CLIENT_ID);
    if !client_id.eq_ignore_ascii_case(CLI_CLIENT_ID)
        && !client_id.eq_ignore_ascii_case(MODULE_CLIENT_ID)
    {
        return Err(OAuthFailure::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!("Application '{client_id}' is not known to tenant {}. Public clients: {CLI_CLIENT_ID} (mscommerce) and {MODULE_CLIENT_ID} (the MSCommerce module).", tenant.id),
        ));
    }
    let grant_type = req.grant_type.as_deref().ok_or_else(|| {
        OAuthFailure::invalid_request("grant_type is missing; use grant_type=password.")
    })?;
    if grant_type != "password" {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type '{grant_type}' is not supported; use 'password'."),
        ));
    }
    let scope = check_scope(&ctx, req.scope.as_deref())?;
    let username = req
        .username
        .as_deref()
        .ok_or_else(|| OAuthFailure::invalid_request("username is missing."))?;
    let password = req
        .password
        .clone()
        .ok_or_else(|| OAuthFailure::invalid_request("password is missing."))?;
    let upn = Upn::parse(username).map_err(OAuthFailure::invalid_request)?;
    let user = ctx.store.find_user_by_upn(tenant.id, upn.as_str()).await?;
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| ctx.dummy_password_hash.to_string());
    let verified = verify_password(password, hash).await;
    let user = match user {
        Some(u) if verified && u.password_hash.is_some() => u,
        _ => {
            tracing::info!(tenant = %tenant.id, "password sign-in failed");
            return Err(OAuthFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "The user name or password is incorrect.",
            ));
        }
    };
    let now = chrono::Utc::now().timestamp();
    let lifetime = ctx.settings.token_lifetime_secs;
    let claims = AccessTokenClaims {
        iss: ctx.issuer(tenant.id),
        aud: ctx.settings.resource_id.clone(),
        tid: tenant.id.to_string(),
        oid: user.id.to_string(),
        upn: Some(user.upn.to_string()),
        name: Some(user.display_name.clone()),
        wids: user
            .roles
            .iter()
            .map(|r| r.template_id().to_string())
            .collect(),
        scp: Some("user_impersonation".into()),
        roles: vec![],
        azp: Some(client_id.to_ascii_lowercase()),
        iat: now,
        nbf: now,
        exp: now + lifetime as i64,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let access_token = ctx.keys.sign(&claims).map_err(|e| {
        tracing::error!(error = %e, "signing failed");
        OAuthFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The service could not sign the token.",
        )
    })?;
    tracing::info!(tenant = %tenant.id, user = %user.upn, "signed in with password");
    Ok(Json(TokenResponse {
        token_type: "Bearer".into(),
        access_token,
        expires_in: lifetime,
        scope,
        refresh_token: None,
    }))
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`
pub async fn openid_configuration(
    State(ctx): State<ApiContext>,
    Path(tenant_key): Path<String>,
) -> Response {
    let Ok(Some(tenant)) = ctx.store.find_tenant(&tenant_key).await else {
        return OAuthFailure::invalid_request(format!("Tenant '{tenant_key}' not found."))
            .into_response();
    };
    let base = &ctx.settings.issuer_base;
    let tid = tenant.id;
    Json(serde_json::json!({
        "issuer": ctx.issuer(tid),
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "grant_types_supported": ["password"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "token_endpoint_auth_methods_supported": ["none"],
        "tenant_region_scope": null,
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`
pub async fn jwks(State(ctx): State<ApiContext>) -> Json<serde_json::Value> {
    let keys: Vec<_> = ctx
        .keys
        .entries()
        .iter()
        .map(|k| serde_json::json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": k.kid, "x": k.x}))
        .collect();
    Json(serde_json::json!({ "keys": keys }))
}
