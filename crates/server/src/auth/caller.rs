//! The `Caller` extractor: who is calling, in which tenant, and what they may do. The tenant comes
//! from the verified token alone, so no request can reach another tenant's data.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use domain::{Access, AppPermission, Role, UserType};
use jsonwebtoken::{Algorithm, Validation};
use proto::AccessTokenClaims;
use store::{ActorKind, Tenant};

use crate::error::ApiError;
use crate::state::ApiContext;

#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    /// The user's UPN or the application's client id.
    pub actor: String,
    pub actor_kind: ActorKind,
    pub user_type: Option<UserType>,
    pub access: Access,
}

impl Caller {
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

/// Verifies an access token of this server and answers its claims.
pub fn verify_access_token(ctx: &ApiContext, token: &str) -> Result<AccessTokenClaims, ApiError> {
    let invalid = |why: &str| {
        ApiError::Unauthorized(format!(
            "The access token is not valid: {why}. Sign in again with `mscommerce connect`."
        ))
    };
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
    let key = ctx
        .keys
        .decoding_key(&kid)
        .ok_or_else(|| invalid("it is signed by a key this service does not know"))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[ctx.settings.resource_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
    validation.validate_nbf = true;
    validation.leeway = 60;
    let data = jsonwebtoken::decode::<AccessTokenClaims>(token, key, &validation).map_err(|e| {
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

impl FromRequestParts<ApiContext> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &ApiContext,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        let claims = verify_access_token(ctx, token)?;
        let tenant = ctx
            .store
            .find_tenant(&claims.tid)
            .await?
            .filter(|t| t.id.to_string() == claims.tid)
            .ok_or_else(|| ApiError::Unauthorized("The token's tenant no longer exists.".into()))?;
        if claims.scp.is_some() {
            let roles: Vec<Role> = claims
                .wids
                .iter()
                .filter_map(|w| Role::from_template_id(w))
                .collect();
            let actor = claims.upn.clone().unwrap_or_else(|| claims.oid.clone());
            let user = ctx.store.find_user_by_upn(tenant.id, &actor).await?;
            let user = user
                .filter(|u| u.id.to_string() == claims.oid)
                .ok_or_else(|| {
                    ApiError::Unauthorized("The token's user no longer exists.".into())
                })?;
            Ok(Caller {
                tenant,
                actor,
                actor_kind: ActorKind::User,
                user_type: Some(user.user_type),
                access: Access::for_roles(&roles),
            })
        } else {
            let perms: Vec<AppPermission> = claims
                .roles
                .iter()
                .filter_map(|r| AppPermission::parse(r))
                .collect();
            Ok(Caller {
                tenant,
                actor: claims.azp.clone().unwrap_or_else(|| claims.oid.clone()),
                actor_kind: ActorKind::Application,
                user_type: None,
                access: Access::for_app_permissions(&perms),
            })
        }
    }
}
