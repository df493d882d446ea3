//! The device authorization grant (RFC 8628): `POST /{tenant}/oauth2/v2.0/devicecode` gives the
//! client a device code and the user a short code, which the user types at `/devicelogin` in any
//! browser and signs in there with password and TOTP.

use std::net::SocketAddr;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use proto::DeviceCodeResponse;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use store::{DeviceCode, DeviceStatus, StoreError};

use crate::auth::signin::{self, SignInError};
use crate::auth::token::{find_tenant, OAuthFailure};
use crate::auth::{random_secret, secret_hash};
use crate::state::ApiContext;

/// Letters that cannot be misread or spell words: no vowels, no 0/O or 1/I.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

fn new_user_code() -> String {
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes).expect("random source");
    let chars: String = bytes
        .iter()
        .map(|b| USER_CODE_ALPHABET[*b as usize % USER_CODE_ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// What a person types, as stored: upper case, `XXXX-XXXX`.
fn normalize_user_code(raw: &str) -> String {
    let squashed: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if squashed.len() == 8 {
        format!("{}-{}", &squashed[..4], &squashed[4..])
    } else {
        squashed
    }
}

#[derive(Debug, Deserialize)]
pub struct DeviceCodeRequest {
    client_id: Option<String>,
    scope: Option<String>,
}

pub async fn device_authorization(
    State(ctx): State<ApiContext>,
    Path(tenant_key): Path<String>,
    form: Result<Form<DeviceCodeRequest>, FormRejection>,
) -> Result<Json<DeviceCodeResponse>, OAuthFailure> {
    let Form(req) = form.map_err(|e| {
        OAuthFailure::invalid_request(format!("The request must be a form: {}", e.body_text()))
    })?;
    let tenant = find_tenant(&ctx, &tenant_key).await?;
    let client_id = req
        .client_id
        .unwrap_or_else(|| proto::CLI_CLIENT_ID.to_string())
        .to_ascii_lowercase();
    if client_id != proto::CLI_CLIENT_ID && client_id != proto::MODULE_CLIENT_ID {
        return Err(OAuthFailure::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!(
                "The device code flow is for the public clients ({} and {}).",
                proto::CLI_CLIENT_ID,
                proto::MODULE_CLIENT_ID
            ),
        ));
    }
    let now = chrono::Utc::now().timestamp();
    let device_code = format!("msd_{}", random_secret(32));
    let lifetime = ctx.settings.device_code_lifetime_secs;
    let interval = ctx.settings.device_code_interval_secs;
    // A user code is short, so a clash with a live one is possible: draw again.
    let mut user_code = new_user_code();
    for attempt in 0.. {
        let record = DeviceCode {
            tenant_id: tenant.id,
            device_code_hash: secret_hash(&device_code),
            user_code: user_code.clone(),
            client_id: client_id.clone(),
            scope: req.scope.clone().unwrap_or_default(),
            created_at: now,
            expires_at: now + lifetime as i64,
            interval_secs: interval as i64,
            last_poll_at: None,
            status: DeviceStatus::Pending,
            user_id: None,
        };
        match ctx.store.insert_device_code(&record).await {
            Ok(()) => break,
            Err(StoreError::Conflict(_)) if attempt < 5 => user_code = new_user_code(),
            Err(e) => return Err(e.into()),
        }
    }
    let verification_uri = format!("{}/devicelogin", ctx.settings.issuer_base);
    Ok(Json(DeviceCodeResponse {
        message: format!(
            "To sign in, open {verification_uri} in a browser and enter the code {user_code}."
        ),
        device_code,
        user_code,
        verification_uri,
        expires_in: lifetime,
        interval,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageForm {
    user_code: Option<String>,
    username: Option<String>,
    password: Option<String>,
    mfa_code: Option<String>,
    action: Option<String>,
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mscommerce device sign-in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}
label{{display:block;margin-top:.8rem}}input{{width:100%;padding:.4rem;font-size:1rem}}
button{{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}}.error{{color:#a00}}</style></head>
<body><h1>Sign in to mscommerce</h1>{body}</body></html>"#
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    response
}

fn form(error: Option<&str>, code: &str, username: &str) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, text(e)))
        .unwrap_or_default();
    format!(
        r#"{error}<p>Enter the code your device shows, then your work account.</p>
<form method="post" action="/devicelogin">
<label for="user_code">Code</label><input id="user_code" name="user_code" value="{code}" autocomplete="off" required>
<label for="username">User name</label><input id="username" name="username" value="{username}" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<label for="mfa_code">Verification code (if your account uses an authenticator app)</label><input id="mfa_code" name="mfa_code" inputmode="numeric" autocomplete="one-time-code">
<button name="action" value="approve" type="submit">Sign in</button>
<button name="action" value="deny" type="submit">Cancel sign-in</button>
</form>"#,
        code = attr(code),
        username = attr(username),
    )
}

/// `GET /devicelogin`
pub async fn login_page(
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let code = query
        .ok()
        .and_then(|Query(q)| q.code)
        .map(|c| normalize_user_code(&c))
        .unwrap_or_default();
    page(StatusCode::OK, &form(None, &code, ""))
}

/// `POST /devicelogin`: approve or decline the sign-in of a device.
pub async fn login_submit(
    State(ctx): State<ApiContext>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    submitted: Result<Form<PageForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = submitted else {
        return page(
            StatusCode::BAD_REQUEST,
            &form(
                Some("The form could not be read. Fill it in again."),
                "",
                "",
            ),
        );
    };
    let code = normalize_user_code(f.user_code.as_deref().unwrap_or_default());
    let username = f.username.clone().unwrap_or_default().trim().to_string();
    let again =
        |status: StatusCode, message: &str| page(status, &form(Some(message), &code, &username));
    let now = chrono::Utc::now().timestamp();
    let record = match ctx.store.find_device_code_by_user_code(&code).await {
        Ok(Some(r)) if r.status == DeviceStatus::Pending && r.expires_at > now => r,
        Ok(Some(r)) if r.expires_at <= now => {
            return again(
                StatusCode::BAD_REQUEST,
                "That code has expired. Start the sign-in on your device again.",
            )
        }
        Ok(_) => {
            let _ = signin::address_failed(&ctx, Some(peer.ip())).await;
            return again(
                StatusCode::BAD_REQUEST,
                "That code is not valid. Check the code your device shows.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "device login failed");
            return again(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The service could not complete the sign-in. Try again.",
            );
        }
    };
    if f.action.as_deref() == Some("deny") {
        return match ctx
            .store
            .decide_device_code(&code, DeviceStatus::Denied, None, now)
            .await
        {
            Ok(_) => page(
                StatusCode::OK,
                "<p>You cancelled the sign-in. Your device will not be signed in.</p>",
            ),
            Err(_) => again(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The service could not record your answer. Try again.",
            ),
        };
    }
    let tenant = match ctx.store.find_tenant(&record.tenant_id.to_string()).await {
        Ok(Some(t)) => t,
        _ => {
            return again(
                StatusCode::BAD_REQUEST,
                "That code is not valid. Check the code your device shows.",
            )
        }
    };
    let password = f.password.clone().unwrap_or_default();
    let user = match signin::verify_user(
        &ctx,
        &tenant,
        &username,
        password,
        f.mfa_code.as_deref(),
        Some(peer.ip()),
    )
    .await
    {
        Ok(u) => u,
        Err(SignInError::Store(e)) => {
            tracing::error!(error = %e, "device login failed");
            return again(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The service could not complete the sign-in. Try again.",
            );
        }
        Err(e @ (SignInError::AccountLocked(_) | SignInError::AddressLocked(_))) => {
            return again(StatusCode::TOO_MANY_REQUESTS, &e.to_string())
        }
        Err(SignInError::MfaRequired) => {
            return again(
                StatusCode::BAD_REQUEST,
                "Your account uses an authenticator app: enter its verification code too.",
            )
        }
        Err(e) => return again(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match ctx
        .store
        .decide_device_code(&code, DeviceStatus::Approved, Some(user.id), now)
        .await
    {
        Ok(true) => page(
            StatusCode::OK,
            &format!(
                "<p>You are signed in as {} on your device. You can close this window.</p>",
                text(user.upn.as_str())
            ),
        ),
        Ok(false) => again(
            StatusCode::BAD_REQUEST,
            "That code was used or has expired. Start the sign-in on your device again.",
        ),
        Err(_) => again(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The service could not complete the sign-in. Try again.",
        ),
    }
}
