//! Sends the webhook deliveries that purchases queue (the outbox is written in the purchase's own
//! transaction, so no event is lost), signed with HMAC-SHA256, retried with doubling waits, and
//! each attempt recorded in the delivery log.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::{Delivery, Webhook};

use crate::state::ApiContext;

/// After this many failed attempts a delivery is given up as `failed`.
pub const MAX_ATTEMPTS: i64 = 8;

/// `sha256=<hex>` of the body under the webhook's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Runs until the process ends: wakes on new deliveries or every second, sends what is due.
pub async fn run(ctx: ApiContext) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook sender cannot start");
            return;
        }
    };
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        match ctx.store.due_deliveries(now, 50).await {
            Ok(due) if !due.is_empty() => {
                for (delivery, hook) in due {
                    send(&ctx, &client, delivery, &hook).await;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading due webhook deliveries failed"),
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), ctx.deliveries.notified()).await;
    }
}

async fn send(ctx: &ApiContext, client: &reqwest::Client, mut d: Delivery, hook: &Webhook) {
    let body = d.event.clone().into_bytes();
    let outcome = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header(
            proto::purchases::SIGNATURE_HEADER,
            signature(&hook.secret, &body),
        )
        .header("x-mscommerce-delivery", d.id.to_string())
        .body(body)
        .send()
        .await;
    d.attempts += 1;
    let now = chrono::Utc::now();
    match outcome {
        Ok(r) if r.status().is_success() => {
            d.status = "delivered".into();
            d.last_status = Some(i64::from(r.status().as_u16()));
            d.last_error = None;
            d.delivered_at = Some(store::timestamp(now));
        }
        failed => {
            let (status, error) = match failed {
                Ok(r) => (
                    Some(i64::from(r.status().as_u16())),
                    format!("the receiver answered {}", r.status()),
                ),
                Err(e) => (None, format!("cannot reach the receiver: {e}")),
            };
            d.last_status = status;
            d.last_error = Some(error);
            if d.attempts >= MAX_ATTEMPTS {
                d.status = "failed".into();
            } else {
                let wait = ctx
                    .settings
                    .webhook_retry_base_ms
                    .saturating_mul(1 << (d.attempts - 1).min(16))
                    .min(300_000);
                d.next_attempt_at = now.timestamp_millis() + wait as i64;
            }
        }
    }
    if let Err(e) = ctx.store.record_delivery_attempt(&d).await {
        tracing::warn!(error = %e, delivery = %d.id, "recording a webhook attempt failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_in_hex() {
        // RFC 4231 test case 2.
        let sig = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
