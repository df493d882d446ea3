//! Trusting external issuers (Entra ID, Keycloak, …) by configuration: their tokens are verified
//! against the issuer's JWKS (from a URL or a file) and authorised by the same `wids` and `roles`
//! claims as ours.

use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use anyhow::Context;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// One `[[external_issuers]]` entry of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIssuerConfig {
    /// The `iss` of its tokens; `{tenantid}` stands for the token's tenant, as in Entra ID's
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`.
    pub issuer: String,
    pub jwks_url: Option<String>,
    pub jwks_file: Option<PathBuf>,
    /// The `aud` its tokens must carry for this service.
    pub audience: String,
    /// The claim that names the tenant [default: tid].
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
}

fn default_tenant_claim() -> String {
    "tid".into()
}

/// The claims read from an external token; names as Entra ID writes them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExternalClaims {
    #[serde(default)]
    pub oid: Option<String>,
    #[serde(default)]
    pub upn: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub unique_name: Option<String>,
    #[serde(default)]
    pub wids: Vec<String>,
    #[serde(default)]
    pub scp: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub appid: Option<String>,
    /// Entra ID: 1 for a guest account.
    #[serde(default)]
    pub acct: Option<i64>,
}

pub struct ExternalIssuer {
    pub config: ExternalIssuerConfig,
    keys: RwLock<JwkSet>,
    last_fetch: RwLock<Instant>,
}

async fn load_jwks(config: &ExternalIssuerConfig) -> anyhow::Result<JwkSet> {
    let text = match (&config.jwks_url, &config.jwks_file) {
        (Some(url), _) => {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?
                .get(url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .with_context(|| format!("cannot fetch the JWKS of {} from {url}", config.issuer))?
                .text()
                .await?
        }
        (None, Some(path)) => std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the JWKS of {} from {}",
                config.issuer,
                path.display()
            )
        })?,
        (None, None) => anyhow::bail!(
            "external issuer {} needs jwks_url or jwks_file",
            config.issuer
        ),
    };
    serde_json::from_str(&text)
        .with_context(|| format!("the JWKS of {} is not a JWK set", config.issuer))
}

impl ExternalIssuer {
    pub async fn load(config: ExternalIssuerConfig) -> anyhow::Result<ExternalIssuer> {
        let keys = load_jwks(&config).await?;
        Ok(ExternalIssuer {
            config,
            keys: RwLock::new(keys),
            last_fetch: RwLock::new(Instant::now()),
        })
    }

    /// Whether this issuer issued a token with this `iss` for this tenant.
    pub fn matches(&self, iss: &str, tenant: &str) -> bool {
        self.config.issuer.replace("{tenantid}", tenant) == iss
    }

    fn key(&self, kid: Option<&str>) -> Option<(DecodingKey, Option<Algorithm>)> {
        let keys = self.keys.read().expect("jwks lock");
        let jwk = match kid {
            Some(kid) => keys.find(kid)?,
            None if keys.keys.len() == 1 => &keys.keys[0],
            None => return None,
        };
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<Algorithm>().ok());
        DecodingKey::from_jwk(jwk).ok().map(|k| (k, alg))
    }

    /// Verifies a token of this issuer and answers its claims, or why it is refused.
    pub async fn verify(
        &self,
        token: &str,
        tenant_claim_value: &str,
    ) -> Result<ExternalClaims, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| "it is not a signed JWT".to_string())?;
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(
                "it is signed with a shared secret, which external issuers may not use".into(),
            );
        }
        let mut found = self.key(header.kid.as_deref());
        if found.is_none() && self.config.jwks_url.is_some() {
            // A new key at the issuer: fetch its JWKS again, at most once a minute.
            let due =
                self.last_fetch.read().expect("jwks lock").elapsed() > Duration::from_secs(60);
            if due {
                *self.last_fetch.write().expect("jwks lock") = Instant::now();
                match load_jwks(&self.config).await {
                    Ok(keys) => *self.keys.write().expect("jwks lock") = keys,
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "refreshing an external JWKS failed")
                    }
                }
                found = self.key(header.kid.as_deref());
            }
        }
        let (key, key_alg) =
            found.ok_or_else(|| "it is signed by a key its issuer does not publish".to_string())?;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err("its algorithm does not match its key".into());
        }
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[self.config.audience.as_str()]);
        validation.set_issuer(&[self.config.issuer.replace("{tenantid}", tenant_claim_value)]);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.leeway = 60;
        jsonwebtoken::decode::<ExternalClaims>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => "it has expired".into(),
                    ErrorKind::InvalidAudience => "it is for another resource (aud)".into(),
                    ErrorKind::InvalidSignature => "its signature does not match".into(),
                    ErrorKind::ImmatureSignature => "it is not valid yet (nbf)".into(),
                    _ => "its claims are malformed".into(),
                }
            })
    }
}
