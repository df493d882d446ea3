//! Turning body and query rejections into the API's error body, with a reason that says what the
//! right input looks like.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// The body of a write, checked after authorisation so that a caller without the right role
/// learns that first. `expected` shows the right shape in the error.
/// Only a JSON object is accepted: serde would otherwise read `["Disabled"]` as a struct too.
pub fn json_body<T: DeserializeOwned>(
    body: Result<Json<Value>, JsonRejection>,
    expected: &str,
) -> Result<T, ApiError> {
    match body {
        Ok(Json(v)) if v.is_object() => serde_json::from_value(v).map_err(|e| {
            ApiError::BadRequest(format!(
                "The body does not have the expected shape ({e}); send {expected}."
            ))
        }),
        Ok(Json(_)) => Err(ApiError::BadRequest(format!(
            "The body must be a JSON object: send {expected}."
        ))),
        Err(JsonRejection::MissingJsonContentType(_)) => {
            Err(ApiError::UnsupportedMediaType(format!(
            "The body must be JSON sent with 'Content-Type: application/json', shaped {expected}."
        )))
        }
        Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::BadRequest(format!(
            "The body is not valid JSON ({}); send {expected}.",
            e.body_text()
        ))),
        Err(JsonRejection::JsonDataError(e)) => Err(ApiError::BadRequest(format!(
            "The body does not have the expected shape ({}); send {expected}.",
            e.body_text()
        ))),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::PayloadTooLarge(
            format!("The body is too large; send {expected}, at most 64 KiB."),
        )),
        Err(e) => Err(ApiError::BadRequest(format!(
            "The body could not be read ({}); send {expected}.",
            e.body_text()
        ))),
    }
}

/// A JSON object body read straight into `T` (no intermediate tree), for hot paths. The content
/// type must be JSON and the body an object.
pub fn object_body<T: DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
    expected: &str,
) -> Result<T, ApiError> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        });
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(format!(
            "The body must be JSON sent with 'Content-Type: application/json', shaped {expected}."
        )));
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::BadRequest(format!(
            "The body must be a JSON object: send {expected}."
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::BadRequest(format!(
                "The body is not valid JSON ({e}); send {expected}."
            ))
        } else {
            ApiError::BadRequest(format!(
                "The body does not have the expected shape ({e}); send {expected}."
            ))
        }
    })
}

pub fn query_rejection(e: QueryRejection, allowed: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "The query string is not valid ({}). Allowed parameters: {allowed}.",
        e.body_text()
    ))
}
