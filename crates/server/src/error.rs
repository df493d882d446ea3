//! One error type for the wire API: each variant maps to a status and the `{"errorCode","reason"}`
//! body in one place, so every handler answers errors the same way.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use proto::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A purchase or trial that the tenant's policy (or the rules of §1.5) forbid.
    #[error("{0}")]
    PurchaseNotAllowed(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{reason}")]
    PreconditionFailed {
        reason: String,
        current_etag: String,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Kept apart from `BadRequest` because the spec gives this body literally (§2).
    #[error("Invalid scope.")]
    InvalidScope,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidScope => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::PurchaseNotAllowed(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidScope => "BadRequest",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::PurchaseNotAllowed(_) => "SelfServicePurchaseNotAllowed",
            ApiError::NotFound(_) => "NotFound",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::Conflict(_) => "Conflict",
            ApiError::PreconditionFailed { .. } => "PreconditionFailed",
            ApiError::PayloadTooLarge(_) => "PayloadTooLarge",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Internal(_) => "InternalServerError",
        }
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::Conflict(m) => ApiError::Conflict(m),
            store::StoreError::PreconditionFailed { current } => ApiError::PreconditionFailed {
                reason: format!(
                    "If-Match does not match the current version of this row ({current}): it changed since you read it. Read it again and retry with the new ETag."
                ),
                current_etag: current,
            },
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<domain::LookupError> for ApiError {
    fn from(e: domain::LookupError) -> Self {
        ApiError::NotFound(e.to_string())
    }
}

impl From<domain::RuleError> for ApiError {
    fn from(e: domain::RuleError) -> Self {
        match e {
            domain::RuleError::UnknownScope(_) => ApiError::InvalidScope,
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let reason = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "request failed");
                "The service failed to complete the request. Retry later; if it persists, give the operator the x-ms-correlation-id of this response.".to_string()
            }
            other => other.to_string(),
        };
        let status = self.status();
        let mut response = (
            status,
            Json(ErrorBody {
                error_code: self.error_code().to_string(),
                reason,
            }),
        )
            .into_response();
        match &self {
            ApiError::Unauthorized(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            ApiError::PreconditionFailed { current_etag, .. } => {
                if let Ok(v) = HeaderValue::from_str(current_etag) {
                    response.headers_mut().insert(header::ETAG, v);
                }
            }
            _ => {}
        }
        response
    }
}
