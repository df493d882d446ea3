//! `POST /{tenant}/oauth2/v2.0/token` with every grant of SPEC §4 (password with TOTP,
//! refresh_token, client_credentials, device_code), and `…/revoke` for sign-out. Errors follow
//! RFC 6749 §5.2 and RFC 8628 §3.5.

use std::net::SocketAddr;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use domain::Upn;
use proto::{AccessTokenClaims, OAuthError, TokenResponse, CLI_CLIENT_ID, MODULE_CLIENT_ID};
use serde::Deserialize;
use store::{DeviceStatus, RefreshToken, RefreshUse, Tenant, User};
use uuid::Uuid;

use crate::auth::signin::{self, SignInError};
use crate::auth::{basic_header, decode_basic, random_secret, same_hash, secret_hash};
use crate::state::ApiContext;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    username: Option<String>,
    password: Option<String>,
    mfa_code: Option<String>,
    refresh_token: Option<String>,
    device_code: Option<String>,
}

pub struct OAuthFailure {
    status: StatusCode,
    body: OAuthError,
    retry_after: Option<i64>,
}

impl OAuthFailure {
    pub fn new(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        OAuthFailure {
            status,
            body: OAuthError {
                error: error.into(),
                error_description: description.into(),
            },
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn server_error(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "token endpoint failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The service could not complete the sign-in. Retry later.",
        )
    }
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

impl From<store::StoreError> for OAuthFailure {
    fn from(e: store::StoreError) -> Self {
        Self::server_error(e)
    }
}

impl From<SignInError> for OAuthFailure {
    fn from(e: SignInError) -> Self {
        let description = e.to_string();
        match e {
            SignInError::BadCredentials | SignInError::MfaInvalid => {
                Self::invalid_grant(description)
            }
            SignInError::MfaRequired => {
                Self::new(StatusCode::BAD_REQUEST, "mfa_required", description)
            }
            SignInError::AccountLocked(secs) => OAuthFailure {
                retry_after: Some(secs),
                ..Self::invalid_grant(description)
            },
            SignInError::AddressLocked(secs) => OAuthFailure {
                retry_after: Some(secs),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "temporarily_unavailable",
                    description,
                )
            },
            SignInError::Store(e) => Self::server_error(e),
        }
    }
}

/// Which client is asking, as the token endpoint sees it.
enum Client {
    /// The module or the command line: no secret.
    Public(String),
    /// An application with a client secret.
    Confidential(store::Application),
}

fn is_public_client(id: &str) -> bool {
    id.eq_ignore_ascii_case(CLI_CLIENT_ID) || id.eq_ignore_ascii_case(MODULE_CLIENT_ID)
}

/// `client_id`/`client_secret` from the form or from HTTP Basic authentication (RFC 6749 §2.3.1).
fn client_credentials(req: &TokenRequest, headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let basic = basic_header(headers).and_then(decode_basic);
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (req.client_id.clone(), req.client_secret.clone()),
    }
}

async fn authenticate_client(
    ctx: &ApiContext,
    tenant: &Tenant,
    req: &TokenRequest,
    headers: &HeaderMap,
    address: Option<std::net::IpAddr>,
) -> Result<Client, OAuthFailure> {
    let (id, secret) = client_credentials(req, headers);
    let id = id.unwrap_or_else(|| CLI_CLIENT_ID.to_string());
    let unknown = || {
        OAuthFailure::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!("Client '{id}' is not known to this tenant, or its secret is wrong. Public clients: {CLI_CLIENT_ID} (mscommerce) and {MODULE_CLIENT_ID} (the MSCommerce module)."),
        )
    };
    if is_public_client(&id) && secret.is_none() {
        return Ok(Client::Public(id.to_ascii_lowercase()));
    }
    let app = match Uuid::parse_str(&id) {
        Ok(app_id) => ctx
            .store
            .find_application(app_id)
            .await?
            .filter(|a| a.tenant_id == tenant.id),
        Err(_) => None,
    };
    let Some(app) = app else {
        signin::address_failed(ctx, address).await?;
        return Err(unknown());
    };
    let Some(secret) = secret else {
        return Err(OAuthFailure::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!("Application '{id}' must authenticate with client_secret."),
        ));
    };
    let presented = secret_hash(&secret);
    let now = chrono::Utc::now().timestamp();
    let mut matched = false;
    for s in ctx.store.app_secrets(tenant.id, app.id).await? {
        // Compare in constant time, and look at every secret, so timing tells nothing.
        let equal = same_hash(&s.secret_hash, &presented);
        matched |= equal && s.expires_at.is_none_or(|e| e > now);
    }
    if !matched {
        signin::address_failed(ctx, address).await?;
        return Err(unknown());
    }
    Ok(Client::Confidential(app))
}

/// The scopes a client may ask for: this service's resource (`{resource}/.default` as the module
/// asks, or `{resource}/user_impersonation`), plus the OpenID ones.
fn check_scope(ctx: &ApiContext, scope: Option<&str>) -> Result<(), OAuthFailure> {
    let resource = ctx.settings.resource_id.as_str();
    let Some(scope) = scope.filter(|s| !s.trim().is_empty()) else {
        return Ok(());
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
    Ok(())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn sign(ctx: &ApiContext, claims: &AccessTokenClaims) -> Result<String, OAuthFailure> {
    ctx.keys.sign(claims).map_err(OAuthFailure::server_error)
}

/// The claims every access token of this server carries, issued now for `subject` (a user's or an
/// application's object id); the caller fills in who it is and what it may do.
fn base_claims(
    ctx: &ApiContext,
    tenant: &Tenant,
    subject: Uuid,
    client_id: &str,
) -> AccessTokenClaims {
    let ms = now_ms();
    let now = ms / 1000;
    AccessTokenClaims {
        iss: ctx.issuer(tenant.id),
        aud: ctx.settings.resource_id.clone(),
        tid: tenant.id.to_string(),
        oid: subject.to_string(),
        upn: None,
        name: None,
        wids: vec![],
        scp: None,
        roles: vec![],
        azp: Some(client_id.to_string()),
        iat: now,
        nbf: now,
        exp: now + ctx.settings.token_lifetime_secs as i64,
        jti: Uuid::new_v4().to_string(),
        iat_ms: Some(ms),
    }
}

/// An access token for a user, and a refresh token in `family` (a new family if none).
pub async fn user_tokens(
    ctx: &ApiContext,
    tenant: &Tenant,
    user: &User,
    client_id: &str,
    family: Option<Uuid>,
) -> Result<TokenResponse, OAuthFailure> {
    let lifetime = ctx.settings.token_lifetime_secs;
    let claims = AccessTokenClaims {
        upn: Some(user.upn.to_string()),
        name: Some(user.display_name.clone()),
        wids: user
            .roles
            .iter()
            .map(|r| r.template_id().to_string())
            .collect(),
        scp: Some("user_impersonation".into()),
        ..base_claims(ctx, tenant, user.id, client_id)
    };
    let now = claims.iat;
    let access_token = sign(ctx, &claims)?;
    let refresh_token = format!("msr_{}", random_secret(32));
    ctx.store
        .insert_refresh_token(&RefreshToken {
            tenant_id: tenant.id,
            token_hash: secret_hash(&refresh_token),
            family_id: family.unwrap_or_else(Uuid::new_v4),
            user_id: user.id,
            client_id: client_id.to_string(),
            scope: format!(
                "{}/user_impersonation offline_access",
                ctx.settings.resource_id
            ),
            created_at: now,
            expires_at: now + ctx.settings.refresh_lifetime_secs as i64,
        })
        .await?;
    Ok(TokenResponse {
        token_type: "Bearer".into(),
        access_token,
        expires_in: lifetime,
        scope: format!("{}/user_impersonation", ctx.settings.resource_id),
        refresh_token: Some(refresh_token),
    })
}

fn app_token(
    ctx: &ApiContext,
    tenant: &Tenant,
    app: &store::Application,
) -> Result<TokenResponse, OAuthFailure> {
    let lifetime = ctx.settings.token_lifetime_secs;
    let claims = AccessTokenClaims {
        name: Some(app.display_name.clone()),
        roles: app
            .permissions
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        ..base_claims(ctx, tenant, app.id, &app.id.to_string())
    };
    Ok(TokenResponse {
        token_type: "Bearer".into(),
        access_token: sign(ctx, &claims)?,
        expires_in: lifetime,
        scope: format!("{}/.default", ctx.settings.resource_id),
        refresh_token: None,
    })
}

pub async fn find_tenant(ctx: &ApiContext, key: &str) -> Result<Tenant, OAuthFailure> {
    ctx.store.find_tenant(key).await?.ok_or_else(|| {
        OAuthFailure::invalid_request(format!(
            "Tenant '{key}' not found. Use the tenant's id (a GUID) or one of its verified domains."
        ))
    })
}

pub async fn token(
    State(ctx): State<ApiContext>,
    Path(tenant_key): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Json<TokenResponse>, OAuthFailure> {
    let Form(req) = form.map_err(|e| {
        OAuthFailure::invalid_request(format!(
            "The request must be an application/x-www-form-urlencoded body: {}",
            e.body_text()
        ))
    })?;
    let tenant = find_tenant(&ctx, &tenant_key).await?;
    let address = Some(peer.ip());
    signin::check_address(&ctx, address).await?;
    let grant_type = req
        .grant_type
        .clone()
        .ok_or_else(|| OAuthFailure::invalid_request("grant_type is missing; use password, refresh_token, client_credentials or urn:ietf:params:oauth:grant-type:device_code."))?;
    check_scope(&ctx, req.scope.as_deref())?;
    let client = authenticate_client(&ctx, &tenant, &req, &headers, address).await?;
    let response = match (grant_type.as_str(), client) {
        ("password", Client::Public(client_id)) => password_grant(&ctx, &tenant, &req, &client_id, address).await?,
        ("refresh_token", Client::Public(client_id)) => refresh_grant(&ctx, &tenant, &req, &client_id).await?,
        (DEVICE_CODE_GRANT, Client::Public(client_id)) => device_code_grant(&ctx, &tenant, &req, &client_id).await?,
        ("client_credentials", Client::Confidential(app)) => {
            tracing::info!(tenant = %tenant.id, application = %app.id, "application signed in");
            app_token(&ctx, &tenant, &app)?
        }
        ("client_credentials", Client::Public(id)) => {
            return Err(OAuthFailure::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                format!("client_credentials needs an application's client_id and client_secret; '{id}' is a public client."),
            ))
        }
        ("password" | "refresh_token" | DEVICE_CODE_GRANT, Client::Confidential(_)) => {
            return Err(OAuthFailure::new(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                format!("Applications sign in with grant_type=client_credentials, not {grant_type}."),
            ))
        }
        (other, _) => {
            return Err(OAuthFailure::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type '{other}' is not supported; use password, refresh_token, client_credentials or {DEVICE_CODE_GRANT}."),
            ))
        }
    };
    Ok(Json(response))
}

async fn password_grant(
    ctx: &ApiContext,
    tenant: &Tenant,
    req: &TokenRequest,
    client_id: &str,
    address: Option<std::net::IpAddr>,
) -> Result<TokenResponse, OAuthFailure> {
    let username = req
        .username
        .as_deref()
        .ok_or_else(|| OAuthFailure::invalid_request("username is missing."))?;
    let password = req
        .password
        .clone()
        .ok_or_else(|| OAuthFailure::invalid_request("password is missing."))?;
    let upn = Upn::parse(username).map_err(OAuthFailure::invalid_request)?;
    let user = signin::verify_user(
        ctx,
        tenant,
        upn.as_str(),
        password,
        req.mfa_code.as_deref(),
        address,
    )
    .await?;
    tracing::info!(tenant = %tenant.id, user = %user.upn, "signed in with password");
    user_tokens(ctx, tenant, &user, client_id, None).await
}

async fn refresh_grant(
    ctx: &ApiContext,
    tenant: &Tenant,
    req: &TokenRequest,
    client_id: &str,
) -> Result<TokenResponse, OAuthFailure> {
    let presented = req
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthFailure::invalid_request("refresh_token is missing."))?;
    let now = chrono::Utc::now().timestamp();
    match ctx
        .store
        .use_refresh_token(tenant.id, &secret_hash(presented), now)
        .await?
    {
        RefreshUse::Invalid => Err(OAuthFailure::invalid_grant(
            "The refresh token is not valid, or has expired or been revoked. Sign in again.",
        )),
        RefreshUse::Reused { family_id } => {
            tracing::warn!(tenant = %tenant.id, %family_id, "refresh token reused: its sign-in is revoked");
            Err(OAuthFailure::invalid_grant("The refresh token was already used. For safety every token of that sign-in is now revoked: sign in again."))
        }
        RefreshUse::Valid(record) => {
            if !record.client_id.eq_ignore_ascii_case(client_id) {
                return Err(OAuthFailure::invalid_grant(
                    "The refresh token was issued to another client.",
                ));
            }
            let user = ctx
                .store
                .find_user(tenant.id, record.user_id)
                .await?
                .ok_or_else(|| {
                    OAuthFailure::invalid_grant("The user of this refresh token no longer exists.")
                })?;
            user_tokens(ctx, tenant, &user, client_id, Some(record.family_id)).await
        }
    }
}

async fn device_code_grant(
    ctx: &ApiContext,
    tenant: &Tenant,
    req: &TokenRequest,
    client_id: &str,
) -> Result<TokenResponse, OAuthFailure> {
    let device_code = req
        .device_code
        .as_deref()
        .ok_or_else(|| OAuthFailure::invalid_request("device_code is missing."))?;
    let hash = secret_hash(device_code);
    let now = chrono::Utc::now().timestamp();
    let code = ctx
        .store
        .poll_device_code(tenant.id, &hash, now)
        .await?
        .ok_or_else(|| {
            OAuthFailure::invalid_grant("The device code is not known to this tenant.")
        })?;
    if !code.client_id.eq_ignore_ascii_case(client_id) {
        return Err(OAuthFailure::invalid_grant(
            "The device code was issued to another client.",
        ));
    }
    if now >= code.expires_at {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "expired_token",
            "The device code has expired: start the sign-in again.",
        ));
    }
    if code.status == DeviceStatus::Pending
        && code
            .last_poll_at
            .is_some_and(|last| now - last < code.interval_secs)
    {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "slow_down",
            format!(
                "Polling too fast: wait at least {} seconds between requests.",
                code.interval_secs
            ),
        ));
    }
    match code.status {
        DeviceStatus::Pending => Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "The user has not finished signing in at the verification page yet.",
        )),
        DeviceStatus::Denied => Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "access_denied",
            "The user declined the sign-in.",
        )),
        DeviceStatus::Consumed => Err(OAuthFailure::invalid_grant(
            "The device code was already used.",
        )),
        DeviceStatus::Approved => {
            if !ctx.store.consume_device_code(tenant.id, &hash).await? {
                return Err(OAuthFailure::invalid_grant(
                    "The device code was already used.",
                ));
            }
            let user_id = code
                .user_id
                .ok_or_else(|| OAuthFailure::server_error("approved device code without a user"))?;
            let user = ctx
                .store
                .find_user(tenant.id, user_id)
                .await?
                .ok_or_else(|| {
                    OAuthFailure::invalid_grant(
                        "The user who approved this sign-in no longer exists.",
                    )
                })?;
            tracing::info!(tenant = %tenant.id, user = %user.upn, "signed in with a device code");
            user_tokens(ctx, tenant, &user, client_id, None).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RevokeRequest {
    token: Option<String>,
}

/// `POST /{tenant}/oauth2/v2.0/revoke` (RFC 7009): ends the sign-in a refresh token belongs to.
/// Answers 200 whether or not the token was known, as the RFC asks.
pub async fn revoke(
    State(ctx): State<ApiContext>,
    Path(tenant_key): Path<String>,
    form: Result<Form<RevokeRequest>, FormRejection>,
) -> Result<Json<serde_json::Value>, OAuthFailure> {
    let Form(req) = form.map_err(|e| {
        OAuthFailure::invalid_request(format!("The request must be a form: {}", e.body_text()))
    })?;
    let token = req
        .token
        .ok_or_else(|| OAuthFailure::invalid_request("token is missing."))?;
    let tenant = find_tenant(&ctx, &tenant_key).await?;
    ctx.store
        .revoke_refresh_token(tenant.id, &secret_hash(&token))
        .await?;
    Ok(Json(serde_json::json!({})))
}
