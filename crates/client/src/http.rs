//! Talking to the service: one place that sends requests and turns answers into `proto` types or
//! a `ServiceError` that knows its exit status.

use proto::{ErrorBody, OAuthError, TokenResponse, CORRELATION_HEADER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A failed call, with what the server said.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// `code` is the API's `errorCode` or the OAuth `error`.
    #[error("{reason}")]
    Status {
        status: StatusCode,
        code: String,
        reason: String,
    },
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the server's answer could not be read: {0}")]
    Decode(String),
}

impl ServiceError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ServiceError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            ServiceError::Status { code, .. } => Some(code),
            _ => None,
        }
    }
}

pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("mscommerce/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("an HTTP client can be built")
}

fn unreachable(url: &str, e: reqwest::Error) -> ServiceError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    ServiceError::Unreachable {
        url: url.to_string(),
        detail,
    }
}

impl ApiClient {
    pub fn new(base: &str, token: &str) -> ApiClient {
        ApiClient {
            http: http_client(),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
    }

    /// `segments` are the path under the base address, e.g. `["v1.0", "policies", id]`; each is
    /// escaped, so an id typed by a user can never change the route.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, ServiceError> {
        let mut url = reqwest::Url::parse(&self.base).map_err(|e| ServiceError::Unreachable {
            url: self.base.clone(),
            detail: format!("not a valid address ({e}); pass --url http(s)://host:port"),
        })?;
        url.path_segments_mut()
            .map_err(|_| ServiceError::Unreachable {
                url: self.base.clone(),
                detail: "not an http(s) address".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header(CORRELATION_HEADER, uuid::Uuid::new_v4().to_string());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(&self.base, e))?;
        decode(response).await
    }
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ServiceError> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ServiceError::Decode(e.to_string()))?;
    if status.is_success() {
        // An answer without a body (204 No Content) reads as JSON null, which `()` accepts.
        let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        return serde_json::from_slice(body).map_err(|e| ServiceError::Decode(e.to_string()));
    }
    let (code, reason) = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => (body.error_code, body.reason),
        Err(_) => match serde_json::from_slice::<OAuthError>(&bytes) {
            Ok(body) => (body.error, body.error_description),
            Err(_) => (
                String::new(),
                format!(
                    "{status}: {}",
                    String::from_utf8_lossy(&bytes)
                        .chars()
                        .take(300)
                        .collect::<String>()
                ),
            ),
        },
    };
    Err(ServiceError::Status {
        status,
        code,
        reason,
    })
}

/// A form POST to the authorization server, e.g. `{authority}/{tenant}/oauth2/v2.0/token`.
pub async fn post_form<T: DeserializeOwned>(
    authority: &str,
    tenant: &str,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Result<T, ServiceError> {
    let url = format!(
        "{}/{}/oauth2/v2.0/{endpoint}",
        authority.trim_end_matches('/'),
        tenant
    );
    let response = http_client()
        .post(&url)
        .form(form)
        .send()
        .await
        .map_err(|e| unreachable(authority, e))?;
    decode(response).await
}

/// The token endpoint.
pub async fn token_request(
    authority: &str,
    tenant: &str,
    form: &[(&str, &str)],
) -> Result<TokenResponse, ServiceError> {
    post_form(authority, tenant, "token", form).await
}
