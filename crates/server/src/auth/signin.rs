//! Checking a user's credentials: password (Argon2id), then TOTP when the user has enrolled one,
//! with slow-down and lockout after repeated failures, per account and per address. Shared by the
//! password grant and the device login page, so both defend the same way.

use std::net::IpAddr;

use store::{StoreError, Tenant, User};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::auth::password::verify_password;
use crate::state::ApiContext;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("The user name or password is incorrect.")]
    BadCredentials,
    #[error("This account needs a verification code from its authenticator app: send mfa_code.")]
    MfaRequired,
    #[error("The verification code is wrong, expired or already used.")]
    MfaInvalid,
    #[error("Too many failed sign-ins for this account: try again in {0} seconds.")]
    AccountLocked(i64),
    #[error("Too many failed sign-ins from this address: try again in {0} seconds.")]
    AddressLocked(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of skew) for a base32 secret.
pub fn totp(secret_base32: &str, account: &str) -> anyhow::Result<Totp> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|e| anyhow::anyhow!("stored TOTP secret is not base32: {e:?}"))?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some("mscommerce"))
        .with_account_name(account)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build a TOTP: {e:?}"))
}

pub fn account_key(tenant: &Tenant, username: &str) -> String {
    format!(
        "account:{}:{}",
        tenant.id,
        username.trim().to_ascii_lowercase()
    )
}

pub fn address_key(address: IpAddr) -> String {
    format!("address:{address}")
}

/// Refuses at once when the address is locked; answers how long is left.
pub async fn check_address(ctx: &ApiContext, address: Option<IpAddr>) -> Result<(), SignInError> {
    let Some(address) = address else {
        return Ok(());
    };
    let now = chrono::Utc::now().timestamp();
    let policy = ctx.settings.lockout;
    let state = ctx
        .store
        .sign_in_failures(&address_key(address), now, policy.window_secs)
        .await?;
    if state.locked_until > now {
        return Err(SignInError::AddressLocked(state.locked_until - now));
    }
    Ok(())
}

/// Counts a failure of the address (client secrets, unknown codes): locks it when there are too many.
pub async fn address_failed(ctx: &ApiContext, address: Option<IpAddr>) -> Result<(), SignInError> {
    let Some(address) = address else {
        return Ok(());
    };
    let now = chrono::Utc::now().timestamp();
    let policy = ctx.settings.lockout;
    let key = address_key(address);
    let count = ctx
        .store
        .record_sign_in_failure(&key, now, policy.window_secs)
        .await?;
    if let Some(until) = policy.address_locked_until(count.failures, now) {
        ctx.store.lock_sign_in(&key, until).await?;
    }
    Ok(())
}

/// Checks a user's password and, if enrolled, TOTP code. Every failure looks the same whether or
/// not the user exists, and counts toward slow-down and lockout.
pub async fn verify_user(
    ctx: &ApiContext,
    tenant: &Tenant,
    username: &str,
    password: String,
    mfa_code: Option<&str>,
    address: Option<IpAddr>,
) -> Result<User, SignInError> {
    let now = chrono::Utc::now().timestamp();
    let policy = ctx.settings.lockout;
    check_address(ctx, address).await?;
    let account = account_key(tenant, username);
    let state = ctx
        .store
        .sign_in_failures(&account, now, policy.window_secs)
        .await?;
    if state.locked_until > now {
        return Err(SignInError::AccountLocked(state.locked_until - now));
    }

    let user = ctx.store.find_user_by_upn(tenant.id, username).await?;
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| ctx.dummy_password_hash.to_string());
    let password_ok = verify_password(password, hash).await;
    let user = match user {
        Some(u) if password_ok && u.password_hash.is_some() => u,
        _ => return Err(failed(ctx, &account, address, SignInError::BadCredentials).await),
    };

    if let Some(secret) = &user.totp_secret {
        let Some(code) = mfa_code.map(str::trim).filter(|c| !c.is_empty()) else {
            return Err(SignInError::MfaRequired);
        };
        let step = totp(secret, user.upn.as_str())
            .map_err(|e| SignInError::Store(StoreError::Corrupt(e.to_string())))?
            .check(code, now as u64);
        let accepted = match step {
            // A code is good once: a step used before (or an earlier one) is refused (RFC 6238 §5.2).
            Some(step) => {
                ctx.store
                    .consume_totp_step(tenant.id, user.id, step as i64)
                    .await?
            }
            None => false,
        };
        if !accepted {
            return Err(failed(ctx, &account, address, SignInError::MfaInvalid).await);
        }
    }
    ctx.store.clear_sign_in_failures(&account).await?;
    Ok(user)
}

/// Counts the failure, locks what has failed too often, and waits the slow-down before answering.
async fn failed(
    ctx: &ApiContext,
    account: &str,
    address: Option<IpAddr>,
    error: SignInError,
) -> SignInError {
    let now = chrono::Utc::now().timestamp();
    let policy = ctx.settings.lockout;
    let outcome: Result<u64, StoreError> = async {
        let count = ctx
            .store
            .record_sign_in_failure(account, now, policy.window_secs)
            .await?;
        if let Some(until) = policy.account_locked_until(count.failures, now) {
            ctx.store.lock_sign_in(account, until).await?;
        }
        Ok(policy.delay_ms(count.failures))
    }
    .await;
    if let Err(e) = address_failed(ctx, address).await {
        return e;
    }
    match outcome {
        Ok(delay) => {
            if delay > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            }
            tracing::info!(%account, "sign-in failed");
            error
        }
        Err(e) => SignInError::Store(e),
    }
}
