//! Building the wire rows of §2 from the catalog and a tenant's stored values.

use domain::{effective_value, row_etag, OfferType, Product, Scope};
use proto::{OfferTypePolicy, ProductPolicy};
use store::PolicySnapshot;

pub fn product_row(
    policy_id: &str,
    product: &Product,
    snap: &PolicySnapshot,
) -> (ProductPolicy, String) {
    let stored = snap.value(Scope::Product, &product.id);
    let (value, is_default) = effective_value(
        stored.and_then(|s| s.value),
        snap.default.value,
        product.trial_without_payment_method,
    );
    let (modified_at, modified_by) = last_modified(stored, snap);
    let row = ProductPolicy {
        policy_id: policy_id.to_string(),
        policy_value: value.to_string(),
        scope: Scope::Product.as_str().to_string(),
        product_name: product.name.clone(),
        product_id: product.id.clone(),
        trial_without_payment_method: product.trial_without_payment_method,
        is_default,
        last_modified_date_time: modified_at,
        last_modified_by: modified_by,
    };
    (
        row,
        row_etag(snap.default.version, stored.map_or(0, |s| s.version)),
    )
}

pub fn offer_type_row(
    policy_id: &str,
    offer: &OfferType,
    snap: &PolicySnapshot,
) -> (OfferTypePolicy, String) {
    let stored = snap.value(Scope::OfferType, &offer.id);
    let (value, is_default) =
        effective_value(stored.and_then(|s| s.value), snap.default.value, false);
    let (modified_at, modified_by) = last_modified(stored, snap);
    let row = OfferTypePolicy {
        policy_id: policy_id.to_string(),
        policy_value: value.to_string(),
        scope: Scope::OfferType.as_str().to_string(),
        scope_id: offer.id.clone(),
        scope_value: offer.name.clone(),
        is_default,
        last_modified_date_time: modified_at,
        last_modified_by: modified_by,
    };
    (
        row,
        row_etag(snap.default.version, stored.map_or(0, |s| s.version)),
    )
}

/// The last change that shaped the row: its own, or the tenant default's when it follows that.
fn last_modified(
    stored: Option<&store::StoredValue>,
    snap: &PolicySnapshot,
) -> (Option<String>, Option<String>) {
    match stored {
        Some(s)
            if s.value.is_some()
                || snap
                    .default
                    .modified_at
                    .as_deref()
                    .is_none_or(|d| d < s.modified_at.as_str()) =>
        {
            (Some(s.modified_at.clone()), Some(s.modified_by.clone()))
        }
        _ => (
            snap.default.modified_at.clone(),
            snap.default.modified_by.clone(),
        ),
    }
}
