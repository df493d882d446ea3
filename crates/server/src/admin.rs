//! The operator API, `/admin/v1`: tenants, users (passwords, roles, TOTP), applications (secrets,
//! permissions) and signing keys. It authenticates with the operator token alone.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use domain::{parse_country, parse_domain, AppPermission, Role, TenantType, Upn, UserType};
use proto::admin as wire;
use proto::Items;
use serde_json::Value;
use std::sync::Arc;

use uuid::Uuid;

use crate::api::body::json_body;
use crate::auth::password::hash_password_async;
use crate::auth::signin::totp;
use crate::auth::{random_secret, same_hash, secret_hash};
use crate::error::ApiError;
use crate::state::ApiContext;

/// Names under which an operator token's hash is kept (`--dev`'s, and the configured one's).
pub const OPERATOR_CREDENTIAL_IDS: [&str; 2] = ["dev", "config"];

/// The caller of `/admin/v1`: whoever holds the operator token.
pub struct Operator;

impl FromRequestParts<ApiContext> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &ApiContext,
    ) -> Result<Self, Self::Rejection> {
        let refused = || {
            ApiError::Unauthorized("The operator API needs 'Authorization: Bearer <operator token>' (see dev-credentials.json or --operator-token).".into())
        };
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(refused)?;
        let presented = secret_hash(token.trim());
        let mut matched = false;
        for id in OPERATOR_CREDENTIAL_IDS {
            if let Some(stored) = ctx.store.service_credential("operator", id).await? {
                matched |= same_hash(&stored, &presented);
            }
        }
        if matched {
            Ok(Operator)
        } else {
            Err(refused())
        }
    }
}

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/tenants", get(list_tenants).post(create_tenant))
        .route(
            "/tenants/{tenant}",
            get(get_tenant).patch(patch_tenant).delete(delete_tenant),
        )
        .route("/tenants/{tenant}/users", get(list_users).post(create_user))
        .route(
            "/tenants/{tenant}/users/{user}",
            get(get_user).patch(patch_user).delete(delete_user),
        )
        .route(
            "/tenants/{tenant}/users/{user}/totp",
            post(enrol_totp).delete(reset_totp),
        )
        .route(
            "/tenants/{tenant}/users/{user}/revokeSessions",
            post(revoke_sessions),
        )
        .route(
            "/tenants/{tenant}/applications",
            get(list_apps).post(create_app),
        )
        .route(
            "/tenants/{tenant}/applications/{app}",
            get(get_app).patch(patch_app).delete(delete_app),
        )
        .route(
            "/tenants/{tenant}/applications/{app}/secrets",
            post(add_secret),
        )
        .route(
            "/tenants/{tenant}/applications/{app}/secrets/{secret}",
            delete(remove_secret),
        )
        .route(
            "/catalog/products/{product}",
            axum::routing::patch(patch_product),
        )
        .route("/signingKeys", get(list_keys))
        .route("/signingKeys/rotate", post(rotate_keys))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn tenant_wire(t: &store::Tenant) -> wire::Tenant {
    wire::Tenant {
        id: t.id.to_string(),
        display_name: t.display_name.clone(),
        domains: t.domains.clone(),
        tenant_type: t.tenant_type.as_str().to_string(),
        country: t.country.clone(),
    }
}

fn user_wire(u: &store::User, password: Option<String>) -> wire::User {
    wire::User {
        id: u.id.to_string(),
        tenant_id: u.tenant_id.to_string(),
        user_principal_name: u.upn.to_string(),
        display_name: u.display_name.clone(),
        user_type: u.user_type.as_str().to_string(),
        roles: u
            .roles
            .iter()
            .map(|r| r.display_name().to_string())
            .collect(),
        has_password: u.password_hash.is_some(),
        has_totp: u.totp_secret.is_some(),
        password,
    }
}

async fn app_wire(ctx: &ApiContext, a: &store::Application) -> Result<wire::Application, ApiError> {
    let secrets = ctx
        .store
        .app_secrets(a.tenant_id, a.id)
        .await?
        .into_iter()
        .map(|s| wire::AppSecretInfo {
            id: s.id.to_string(),
            hint: s.hint,
            created_date_time: s.created_at,
            expires_date_time: s
                .expires_at
                .and_then(|e| chrono::DateTime::from_timestamp(e, 0))
                .map(store::timestamp),
        })
        .collect();
    Ok(wire::Application {
        id: a.id.to_string(),
        tenant_id: a.tenant_id.to_string(),
        display_name: a.display_name.clone(),
        permissions: a
            .permissions
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        secrets,
    })
}

async fn tenant(ctx: &ApiContext, key: &str) -> Result<store::Tenant, ApiError> {
    ctx.store.find_tenant(key).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "Tenant '{key}' was not found: name it by its id or one of its domains."
        ))
    })
}

async fn user(
    ctx: &ApiContext,
    tenant: &store::Tenant,
    key: &str,
) -> Result<store::User, ApiError> {
    let found = match Uuid::parse_str(key) {
        Ok(id) => ctx.store.find_user(tenant.id, id).await?,
        Err(_) => ctx.store.find_user_by_upn(tenant.id, key).await?,
    };
    found.ok_or_else(|| {
        ApiError::NotFound(format!(
            "User '{key}' was not found in {}: name it by its id or user principal name.",
            tenant.display_name
        ))
    })
}

async fn app(
    ctx: &ApiContext,
    tenant: &store::Tenant,
    key: &str,
) -> Result<store::Application, ApiError> {
    Uuid::parse_str(key)
        .ok()
        .map(|id| async move { ctx.store.find_application(id).await })
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "Application '{key}' was not found: name it by its client id (a GUID)."
            ))
        })?
        .await?
        .filter(|a| a.tenant_id == tenant.id)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "Application '{key}' was not found in {}.",
                tenant.display_name
            ))
        })
}

fn bad(e: String) -> ApiError {
    ApiError::BadRequest(e)
}

fn parse_roles(names: &[String]) -> Result<Vec<Role>, ApiError> {
    let mut roles = Vec::new();
    for n in names {
        let role = Role::parse(n).ok_or_else(|| {
            bad(format!("'{n}' is not a role: use Global Administrator, Billing Administrator or Global Reader (or their template ids)."))
        })?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

fn parse_permissions(names: &[String]) -> Result<Vec<AppPermission>, ApiError> {
    let mut perms = Vec::new();
    for n in names {
        let p = AppPermission::parse(n).ok_or_else(|| {
            bad(format!("'{n}' is not a permission: use Policy.Read.AllowSelfServicePurchase or Policy.ReadWrite.AllowSelfServicePurchase."))
        })?;
        if !perms.contains(&p) {
            perms.push(p);
        }
    }
    Ok(perms)
}

fn check_password(p: &str) -> Result<(), ApiError> {
    if p.chars().count() < 8 {
        return Err(bad("A password needs at least 8 characters.".into()));
    }
    Ok(())
}

fn parse_domains(domains: &[String]) -> Result<Vec<String>, ApiError> {
    if domains.is_empty() {
        return Err(bad(
            "A tenant needs at least one domain, e.g. [\"contoso.example\"].".into(),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for d in domains {
        let d = parse_domain(d).map_err(bad)?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

fn created<T: serde::Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn list_tenants(
    _: Operator,
    State(ctx): State<ApiContext>,
) -> Result<Json<Items<wire::Tenant>>, ApiError> {
    let tenants = ctx.store.list_tenants().await?;
    Ok(Json(Items {
        items: tenants.iter().map(tenant_wire).collect(),
    }))
}

const NEW_TENANT: &str = r#"{"displayName": "Contoso", "domains": ["contoso.example"], "tenantType": "commercial", "country": "US"}"#;

async fn create_tenant(
    _: Operator,
    State(ctx): State<ApiContext>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req: wire::NewTenant = json_body(body, NEW_TENANT)?;
    let display_name = req.display_name.trim().to_string();
    if display_name.is_empty() {
        return Err(bad("displayName must not be empty.".into()));
    }
    let id = match req.id.as_deref() {
        Some(id) => Uuid::parse_str(id).map_err(|_| bad(format!("id '{id}' is not a GUID.")))?,
        None => Uuid::new_v4(),
    };
    let t = store::NewTenant {
        id,
        display_name,
        domains: parse_domains(&req.domains)?,
        tenant_type: req
            .tenant_type
            .as_deref()
            .map(str::parse::<TenantType>)
            .transpose()
            .map_err(bad)?
            .unwrap_or(TenantType::Commercial),
        country: req
            .country
            .as_deref()
            .map(parse_country)
            .transpose()
            .map_err(bad)?
            .unwrap_or_else(|| "US".into()),
    };
    let t = ctx.store.create_tenant(t).await?;
    tracing::info!(tenant = %t.id, "tenant created");
    Ok(created(tenant_wire(&t)))
}

async fn get_tenant(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path(key): Path<String>,
) -> Result<Json<wire::Tenant>, ApiError> {
    Ok(Json(tenant_wire(&tenant(&ctx, &key).await?)))
}

async fn patch_tenant(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path(key): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<wire::Tenant>, ApiError> {
    let mut t = tenant(&ctx, &key).await?;
    let patch: wire::TenantPatch = json_body(
        body,
        r#"{"displayName"?, "domains"?, "tenantType"?, "country"?}"#,
    )?;
    if let Some(name) = patch.display_name {
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(bad("displayName must not be empty.".into()));
        }
        t.display_name = name;
    }
    if let Some(domains) = patch.domains {
        t.domains = parse_domains(&domains)?;
    }
    if let Some(kind) = patch.tenant_type {
        t.tenant_type = kind.parse().map_err(bad)?;
    }
    if let Some(country) = patch.country {
        t.country = parse_country(&country).map_err(bad)?;
    }
    ctx.store.update_tenant(&t).await?;
    ctx.tenant_changed(t.id).await?;
    Ok(Json(tenant_wire(&t)))
}

async fn delete_tenant(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    let t = tenant(&ctx, &key).await?;
    ctx.store.delete_tenant(t.id).await?;
    ctx.tenant_changed(t.id).await?;
    tracing::info!(tenant = %t.id, "tenant deleted with all its data");
    Ok(StatusCode::NO_CONTENT)
}

async fn list_users(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path(key): Path<String>,
) -> Result<Json<Items<wire::User>>, ApiError> {
    let t = tenant(&ctx, &key).await?;
    let users = ctx.store.list_users(t.id).await?;
    Ok(Json(Items {
        items: users.iter().map(|u| user_wire(u, None)).collect(),
    }))
}

const NEW_USER: &str = r#"{"userPrincipalName": "ana@contoso.example", "displayName"?, "userType"?: "Member" | "Guest", "roles"?: ["Global Reader"], "password"?}"#;

async fn create_user(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path(key): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let t = tenant(&ctx, &key).await?;
    let req: wire::NewUser = json_body(body, NEW_USER)?;
    let upn = Upn::parse(&req.user_principal_name).map_err(bad)?;
    if !t.domains.iter().any(|d| d == upn.domain()) {
        return Err(bad(format!(
            "{upn} is not in a domain of this tenant ({}).",
            t.domains.join(", ")
        )));
    }
    let (password, made) = match req.password {
        Some(p) => {
            check_password(&p)?;
            (p, false)
        }
        None => (random_secret(12), true),
    };
    let u = store::NewUser {
        tenant_id: t.id,
        id: Uuid::new_v4(),
        display_name: req.display_name.unwrap_or_else(|| {
            upn.as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_string()
        }),
        upn,
        user_type: req
            .user_type
            .as_deref()
            .map(str::parse::<UserType>)
            .transpose()
            .map_err(bad)?
            .unwrap_or(UserType::Member),
        roles: parse_roles(&req.roles)?,
        password_hash: Some(hash_password_async(password.clone()).await?),
        totp_secret: None,
        tokens_valid_after: 0,
    };
    let u = ctx.store.create_user(u).await?;
    ctx.tenant_changed(t.id).await?;
    Ok(created(user_wire(&u, made.then_some(password))))
}

async fn get_user(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, u)): Path<(String, String)>,
) -> Result<Json<wire::User>, ApiError> {
    let t = tenant(&ctx, &t).await?;
    Ok(Json(user_wire(&user(&ctx, &t, &u).await?, None)))
}

async fn patch_user(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, u)): Path<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<wire::User>, ApiError> {
    let t = tenant(&ctx, &t).await?;
    let mut u = user(&ctx, &t, &u).await?;
    let patch: wire::UserPatch = json_body(
        body,
        r#"{"displayName"?, "userType"?, "roles"?, "password"?, "resetPassword"?: true}"#,
    )?;
    if patch.password.is_some() && patch.reset_password {
        return Err(bad("Give password or resetPassword, not both.".into()));
    }
    let mut end_sessions = false;
    if let Some(name) = patch.display_name {
        u.display_name = name;
    }
    if let Some(kind) = patch.user_type {
        let kind: UserType = kind.parse().map_err(bad)?;
        end_sessions |= kind != u.user_type;
        u.user_type = kind;
    }
    if let Some(roles) = patch.roles {
        let roles = parse_roles(&roles)?;
        end_sessions |= roles != u.roles;
        u.roles = roles;
    }
    let mut made = None;
    let new_password = match (patch.password, patch.reset_password) {
        (Some(p), _) => {
            check_password(&p)?;
            Some(p)
        }
        (None, true) => {
            let p = random_secret(12);
            made = Some(p.clone());
            Some(p)
        }
        (None, false) => None,
    };
    if let Some(p) = new_password {
        u.password_hash = Some(hash_password_async(p).await?);
        end_sessions = true;
    }
    ctx.store.update_user(&u).await?;
    if end_sessions {
        // New roles or a new password take effect at once: every token issued before is refused.
        ctx.store.revoke_user_sessions(t.id, u.id, now_ms()).await?;
    }
    ctx.tenant_changed(t.id).await?;
    Ok(Json(user_wire(&u, made)))
}

async fn delete_user(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, u)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = tenant(&ctx, &t).await?;
    let u = user(&ctx, &t, &u).await?;
    ctx.store.delete_user(t.id, u.id).await?;
    ctx.tenant_changed(t.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enrol_totp(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, u)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = tenant(&ctx, &t).await?;
    let mut u = user(&ctx, &t, &u).await?;
    let secret = totp_rs::Secret::from(&crate::auth::random_bytes::<20>()[..]).to_base32();
    let uri = totp(&secret, u.upn.as_str())?
        .to_url()
        .map_err(|e| anyhow::anyhow!("cannot make the otpauth URI: {e:?}"))?;
    u.totp_secret = Some(secret.clone());
    ctx.store.update_user(&u).await?;
    ctx.store.revoke_user_sessions(t.id, u.id, now_ms()).await?;
    ctx.tenant_changed(t.id).await?;
    Ok(created(wire::TotpEnrolment {
        secret,
        otpauth_uri: uri,
    }))
}

async fn reset_totp(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, u)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = tenant(&ctx, &t).await?;
    let mut u = user(&ctx, &t, &u).await?;
    u.totp_secret = None;
    ctx.store.update_user(&u).await?;
    ctx.tenant_changed(t.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_sessions(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, u)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = tenant(&ctx, &t).await?;
    let u = user(&ctx, &t, &u).await?;
    ctx.store.revoke_user_sessions(t.id, u.id, now_ms()).await?;
    ctx.tenant_changed(t.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_apps(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path(key): Path<String>,
) -> Result<Json<Items<wire::Application>>, ApiError> {
    let t = tenant(&ctx, &key).await?;
    let mut items = Vec::new();
    for a in ctx.store.list_applications(t.id).await? {
        items.push(app_wire(&ctx, &a).await?);
    }
    Ok(Json(Items { items }))
}

const NEW_APP: &str = r#"{"displayName": "Nightly policy sync", "permissions": ["Policy.Read.AllowSelfServicePurchase"]}"#;

async fn create_app(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path(key): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let t = tenant(&ctx, &key).await?;
    let req: wire::NewApplication = json_body(body, NEW_APP)?;
    if req.display_name.trim().is_empty() {
        return Err(bad("displayName must not be empty.".into()));
    }
    let a = ctx
        .store
        .create_application(store::Application {
            tenant_id: t.id,
            id: Uuid::new_v4(),
            display_name: req.display_name.trim().to_string(),
            permissions: parse_permissions(&req.permissions)?,
            tokens_valid_after: 0,
        })
        .await?;
    ctx.tenant_changed(t.id).await?;
    Ok(created(app_wire(&ctx, &a).await?))
}

async fn get_app(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, a)): Path<(String, String)>,
) -> Result<Json<wire::Application>, ApiError> {
    let t = tenant(&ctx, &t).await?;
    let a = app(&ctx, &t, &a).await?;
    Ok(Json(app_wire(&ctx, &a).await?))
}

async fn patch_app(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, a)): Path<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<wire::Application>, ApiError> {
    let t = tenant(&ctx, &t).await?;
    let mut a = app(&ctx, &t, &a).await?;
    let patch: wire::ApplicationPatch =
        json_body(body, r#"{"displayName"?, "permissions"?: [...]}"#)?;
    if let Some(name) = patch.display_name {
        a.display_name = name;
    }
    if let Some(perms) = patch.permissions {
        let perms = parse_permissions(&perms)?;
        if perms != a.permissions {
            // Tokens carry permissions: the old ones must not outlive the change.
            a.tokens_valid_after = now_ms();
        }
        a.permissions = perms;
    }
    ctx.store.update_application(&a).await?;
    ctx.tenant_changed(t.id).await?;
    Ok(Json(app_wire(&ctx, &a).await?))
}

async fn delete_app(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, a)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = tenant(&ctx, &t).await?;
    let a = app(&ctx, &t, &a).await?;
    ctx.store.delete_application(t.id, a.id).await?;
    ctx.tenant_changed(t.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_secret(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, a)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let t = tenant(&ctx, &t).await?;
    let a = app(&ctx, &t, &a).await?;
    // The body is optional: none means a secret that does not expire.
    let req: wire::NewSecret = if body.iter().all(u8::is_ascii_whitespace) {
        wire::NewSecret::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            bad(format!(
                "The body is not valid ({e}); send {{\"expiresInDays\": 180}} or nothing."
            ))
        })?
    };
    let secret = format!("mss_{}", random_secret(32));
    let now = chrono::Utc::now();
    let expires_at = req
        .expires_in_days
        .map(|d| now.timestamp() + i64::from(d) * 86_400);
    let record = store::AppSecret {
        id: Uuid::new_v4(),
        secret_hash: secret_hash(&secret),
        hint: secret.chars().take(7).collect(),
        created_at: store::timestamp(now),
        expires_at,
    };
    ctx.store.add_app_secret(t.id, a.id, record.clone()).await?;
    Ok(created(wire::CreatedSecret {
        id: record.id.to_string(),
        hint: record.hint,
        expires_date_time: expires_at
            .and_then(|e| chrono::DateTime::from_timestamp(e, 0))
            .map(store::timestamp),
        secret,
    }))
}

async fn remove_secret(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path((t, a, s)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = tenant(&ctx, &t).await?;
    let a = app(&ctx, &t, &a).await?;
    let id = Uuid::parse_str(&s).map_err(|_| {
        ApiError::NotFound(format!("Secret '{s}' was not found: name it by its id."))
    })?;
    if !ctx.store.remove_app_secret(t.id, a.id, id).await? {
        return Err(ApiError::NotFound(format!(
            "Secret '{s}' was not found on application {}.",
            a.id
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn list_keys(
    _: Operator,
    State(ctx): State<ApiContext>,
) -> Json<Items<wire::SigningKeyInfo>> {
    Json(Items {
        items: ctx
            .keys
            .public_keys()
            .into_iter()
            .map(|(kid, _, created)| wire::SigningKeyInfo {
                kid,
                created_date_time: created,
            })
            .collect(),
    })
}

/// A new key signs from now on; the previous one keeps verifying the tokens it signed until they
/// have all expired.
async fn rotate_keys(
    _: Operator,
    State(ctx): State<ApiContext>,
) -> Result<Json<Items<wire::SigningKeyInfo>>, ApiError> {
    let keep = ctx.settings.token_lifetime_secs as i64 + 300;
    ctx.keys.rotate(ctx.store.as_ref(), keep).await?;
    tracing::info!("signing key rotated");
    Ok(list_keys(Operator, State(ctx)).await)
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProductPatch {
    trial_length_seconds: Option<u64>,
}

/// `PATCH /admin/v1/catalog/products/{id}`: the operator's trial length of a product (seconds),
/// taking effect at once for trials started from then on.
async fn patch_product(
    _: Operator,
    State(ctx): State<ApiContext>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let patch: ProductPatch = json_body(body, r#"{"trialLengthSeconds": 2592000}"#)?;
    let mut catalog = ctx.catalog();
    let id = catalog.product(&id)?.id.clone();
    if let Some(seconds) = patch.trial_length_seconds {
        if !(1..=366 * 86_400).contains(&seconds) {
            return Err(bad(format!(
                "trialLengthSeconds {seconds} is out of range: 1 second to 366 days."
            )));
        }
        ctx.store.set_trial_length(&id, seconds as i64).await?;
        catalog = Arc::new(catalog.with_trial_length(&id, seconds)?);
        ctx.catalog.store(Arc::clone(&catalog));
        // The other servers on the database read the catalog again.
        ctx.publish(crate::state::CATALOG_CHANGED).await?;
    }
    let p = catalog.product(&id)?;
    Ok(Json(serde_json::json!({
        "productId": p.id,
        "productName": p.name,
        "trialWithoutPaymentMethod": p.trial_without_payment_method,
        "trialLengthSeconds": p.trial_length_secs(),
    })))
}
