//! The `Caller` extractor: who is calling, in which tenant, and what they may do. The tenant comes
//! from the verified token alone, so no request can reach another tenant's data.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use domain::{Access, AppPermission, Role, UserType};
use jsonwebtoken::{Algorithm, Validation};
use proto::AccessTokenClaims;
use store::{ActorKind, Tenant};

use std::sync::Arc;

use crate::cache::TenantView;
use crate::error::ApiError;
use crate::state::ApiContext;

#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's tenant as the hot paths see it (from memory).
    pub view: Arc<TenantView>,
    /// The signed-in user, for user tokens.
    pub user_id: Option<uuid::Uuid>,
    /// The user's UPN or the application's client id.
    pub actor: String,
    pub actor_kind: ActorKind,
    pub user_type: Option<UserType>,
    pub access: Access,
}

impl Caller {
    /// The caller's tenant: the only one any request of theirs can reach.
    pub fn tenant(&self) -> &Tenant {
        &self.view.tenant
    }

    pub fn require_read(&self) -> Result<(), ApiError> {
        if self.access.read_policies {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{} may not read self-service purchase policies: that needs the Global Administrator, Billing Administrator or Global Reader role, or the application permission Policy.Read.AllowSelfServicePurchase.",
                self.actor
            )))
        }
    }

    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.access.write_policies {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{} may not change self-service purchase policies: that needs the Global Administrator or Billing Administrator role, or the application permission Policy.ReadWrite.AllowSelfServicePurchase.",
                self.actor
            )))
        }
    }

    pub fn require_write_default(&self) -> Result<(), ApiError> {
        if self.access.write_default {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{} may not change the tenant default: that needs the Global Administrator role, or the application permission Policy.ReadWrite.AllowSelfServicePurchase.",
                self.actor
            )))
        }
    }
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized(
            "No access token. Send 'Authorization: Bearer <access token>'; `mscommerce connect` gets one.".into(),
        )
    })?;
    let value = value.to_str().map_err(|_| {
        ApiError::Unauthorized("The Authorization header is not valid text.".into())
    })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthorized(
            "The Authorization header must be 'Bearer <access token>'.".into(),
        )),
    }
}

fn invalid(why: &str) -> ApiError {
    ApiError::Unauthorized(format!(
        "The access token is not valid: {why}. Sign in again with `mscommerce connect`."
    ))
}

/// The payload of a JWT, read without verifying it: only to choose which issuer verifies it.
fn unverified_claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Verifies an access token of this server and answers its claims.
pub async fn verify_access_token(
    ctx: &ApiContext,
    token: &str,
) -> Result<AccessTokenClaims, ApiError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| invalid("it is not a signed JWT this service accepts"))?;
    if header.alg != Algorithm::EdDSA {
        return Err(invalid(
            "it is not signed with this service's algorithm (EdDSA)",
        ));
    }
    let kid = header
        .kid
        .ok_or_else(|| invalid("it names no signing key (kid)"))?;
    let key = match ctx.keys.decoding_key(&kid) {
        Some(k) => k,
        None => {
            // Another node may have rotated the keys since this one loaded them.
            ctx.keys.reload_for_unknown_kid(ctx.store.as_ref()).await;
            ctx.keys
                .decoding_key(&kid)
                .ok_or_else(|| invalid("it is signed by a key this service does not know"))?
        }
    };
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[ctx.settings.resource_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
    validation.validate_nbf = true;
    validation.leeway = 60;
    let data =
        jsonwebtoken::decode::<AccessTokenClaims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::Unauthorized(
                    "The access token has expired. Run `mscommerce connect` again.".into(),
                ),
                ErrorKind::ImmatureSignature => invalid("it is not valid yet (nbf)"),
                ErrorKind::InvalidAudience => invalid("it is for another resource (aud)"),
                ErrorKind::InvalidSignature => invalid("its signature does not match"),
                _ => invalid("its claims are malformed"),
            }
        })?;
    let claims = data.claims;
    let tid = uuid::Uuid::parse_str(&claims.tid)
        .map_err(|_| invalid("its tenant id (tid) is not a GUID"))?;
    if claims.iss != ctx.issuer(tid) {
        return Err(invalid("it was issued by another issuer (iss)"));
    }
    Ok(claims)
}

async fn tenant_by_id(ctx: &ApiContext, tid: &str) -> Result<Arc<TenantView>, ApiError> {
    let unknown = || {
        ApiError::Unauthorized(format!(
            "The token's tenant {tid} is not known to this service."
        ))
    };
    let id = uuid::Uuid::parse_str(tid).map_err(|_| unknown())?;
    ctx.tenants.get(ctx, id).await?.ok_or_else(unknown)
}

fn revoked() -> ApiError {
    ApiError::Unauthorized("The access token was revoked (the password, roles or permissions changed, or the session was ended). Run `mscommerce connect` again.".into())
}

async fn caller_from_own_token(ctx: &ApiContext, token: &str) -> Result<Caller, ApiError> {
    let claims = verify_access_token(ctx, token).await?;
    let view = tenant_by_id(ctx, &claims.tid).await?;
    let issued_ms = claims.iat_ms.unwrap_or(claims.iat * 1000);
    if claims.scp.is_some() {
        let user_id = uuid::Uuid::parse_str(&claims.oid)
            .map_err(|_| invalid("its object id (oid) is not a GUID"))?;
        let user = view
            .users
            .get(&user_id)
            .ok_or_else(|| ApiError::Unauthorized("The token's user no longer exists.".into()))?;
        if issued_ms < user.tokens_valid_after {
            return Err(revoked());
        }
        let roles: Vec<Role> = claims
            .wids
            .iter()
            .filter_map(|w| Role::from_template_id(w))
            .collect();
        Ok(Caller {
            actor: user.upn.clone(),
            actor_kind: ActorKind::User,
            user_type: Some(user.user_type),
            access: Access::for_roles(&roles),
            user_id: Some(user_id),
            view,
        })
    } else {
        let app_id = claims
            .azp
            .as_deref()
            .and_then(|a| uuid::Uuid::parse_str(a).ok())
            .ok_or_else(|| invalid("it names no application (azp)"))?;
        let valid_after = *view.apps.get(&app_id).ok_or_else(|| {
            ApiError::Unauthorized("The token's application no longer exists.".into())
        })?;
        if issued_ms < valid_after {
            return Err(revoked());
        }
        let perms: Vec<AppPermission> = claims
            .roles
            .iter()
            .filter_map(|r| AppPermission::parse(r))
            .collect();
        Ok(Caller {
            actor: app_id.to_string(),
            actor_kind: ActorKind::Application,
            user_type: None,
            access: Access::for_app_permissions(&perms),
            user_id: None,
            view,
        })
    }
}

async fn caller_from_external_token(
    ctx: &ApiContext,
    token: &str,
    iss: &str,
    unverified: &serde_json::Value,
) -> Result<Caller, ApiError> {
    let issuer = ctx
        .external
        .iter()
        .find(|e| {
            let tenant = unverified
                .get(&e.config.tenant_claim)
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            e.matches(iss, tenant)
        })
        .ok_or_else(|| invalid("it was issued by an issuer this service does not trust (iss)"))?;
    let tid = unverified
        .get(&issuer.config.tenant_claim)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let claims = issuer
        .verify(token, &tid)
        .await
        .map_err(|why| invalid(&why))?;
    let view = tenant_by_id(ctx, &tid).await?;
    if claims.scp.is_some() {
        let actor = claims
            .upn
            .or(claims.preferred_username)
            .or(claims.unique_name)
            .or(claims.oid)
            .ok_or_else(|| invalid("it names no user (upn, preferred_username or oid)"))?;
        let roles: Vec<Role> = claims
            .wids
            .iter()
            .filter_map(|w| Role::from_template_id(w))
            .collect();
        let user_type = if claims.acct == Some(1) {
            UserType::Guest
        } else {
            UserType::Member
        };
        // A user of the external directory who is also known here by UPN gets that user's id,
        // so that purchases and notifications reach the same person.
        let user_id = view.user_by_key(&actor).map(|(id, _)| id);
        Ok(Caller {
            actor,
            actor_kind: ActorKind::User,
            user_type: Some(user_type),
            access: Access::for_roles(&roles),
            user_id,
            view,
        })
    } else {
        let actor = claims
            .azp
            .or(claims.appid)
            .ok_or_else(|| invalid("it names no application (azp or appid)"))?;
        let perms: Vec<AppPermission> = claims
            .roles
            .iter()
            .filter_map(|r| AppPermission::parse(r))
            .collect();
        Ok(Caller {
            actor,
            actor_kind: ActorKind::Application,
            user_type: None,
            access: Access::for_app_permissions(&perms),
            user_id: None,
            view,
        })
    }
}

impl FromRequestParts<ApiContext> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &ApiContext,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        let unverified = unverified_claims(token)
            .ok_or_else(|| invalid("it is not a signed JWT this service accepts"))?;
        let iss = unverified
            .get("iss")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let own_prefix = format!("{}/", ctx.settings.issuer_base);
        if iss.starts_with(&own_prefix) || ctx.external.is_empty() {
            caller_from_own_token(ctx, token).await
        } else {
            caller_from_external_token(ctx, token, iss, &unverified).await
        }
    }
}
