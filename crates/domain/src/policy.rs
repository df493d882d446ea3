//! Policy values, scopes and the rules that tie them to the catalog (SPEC §1.1, §1.2, §1.4).

use std::fmt;
use std::str::FromStr;

use crate::catalog::{Catalog, Product};

/// The value of `AllowSelfServicePurchase` for a product, an offer type or a tenant default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyValue {
    Enabled,
    OnlyTrialsWithoutPaymentMethod,
    Disabled,
}

/// A rule of §1 that a request broke; the message says what was wrong and what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("'{0}' is not a policy value. Use one of: Enabled, OnlyTrialsWithoutPaymentMethod, Disabled.")]
    UnknownValue(String),
    #[error("'{0}' is not a scope. Use 'product' or 'OfferType'.")]
    UnknownScope(String),
    #[error("OnlyTrialsWithoutPaymentMethod cannot be set on {name} ({id}): it has no trial without a payment method. Products that have one: {with_trial}.")]
    NoTrialWithoutPaymentMethod {
        id: String,
        name: String,
        with_trial: String,
    },
    #[error("Offer type {0} takes only Enabled or Disabled; OnlyTrialsWithoutPaymentMethod applies to Microsoft products that have a trial without a payment method.")]
    OfferTypeValue(String),
}

impl PolicyValue {
    pub const ALL: [PolicyValue; 3] = [
        PolicyValue::Enabled,
        PolicyValue::OnlyTrialsWithoutPaymentMethod,
        PolicyValue::Disabled,
    ];

    /// The canonical spelling, as every answer shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyValue::Enabled => "Enabled",
            PolicyValue::OnlyTrialsWithoutPaymentMethod => "OnlyTrialsWithoutPaymentMethod",
            PolicyValue::Disabled => "Disabled",
        }
    }
}

impl FromStr for PolicyValue {
    type Err = RuleError;

    /// Values are matched case-insensitively (§1.1).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        PolicyValue::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| RuleError::UnknownValue(s.to_string()))
    }
}

impl fmt::Display for PolicyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a policy value is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Product,
    OfferType,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Product => "product",
            Scope::OfferType => "OfferType",
        }
    }
}

impl FromStr for Scope {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("product") {
            Ok(Scope::Product)
        } else if s.eq_ignore_ascii_case("offertype") {
            Ok(Scope::OfferType)
        } else {
            Err(RuleError::UnknownScope(s.to_string()))
        }
    }
}

/// The value a product or offer type has in a tenant (§1.4): its own if the tenant set one, else the
/// tenant default, where a default of `OnlyTrialsWithoutPaymentMethod` counts as `Disabled` for
/// whatever has no trial without a payment method. The flag says whether the default was used.
pub fn effective_value(
    explicit: Option<PolicyValue>,
    tenant_default: PolicyValue,
    has_trial_without_payment_method: bool,
) -> (PolicyValue, bool) {
    match explicit {
        Some(v) => (v, false),
        None if tenant_default == PolicyValue::OnlyTrialsWithoutPaymentMethod
            && !has_trial_without_payment_method =>
        {
            (PolicyValue::Disabled, true)
        }
        None => (tenant_default, true),
    }
}

/// §1.2: `OnlyTrialsWithoutPaymentMethod` only on products that have such a trial.
pub fn validate_product_value(
    catalog: &Catalog,
    product: &Product,
    value: PolicyValue,
) -> Result<(), RuleError> {
    if value == PolicyValue::OnlyTrialsWithoutPaymentMethod && !product.trial_without_payment_method
    {
        let with_trial = catalog
            .active_products()
            .filter(|p| p.trial_without_payment_method)
            .map(|p| format!("{} ({})", p.name, p.id))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(RuleError::NoTrialWithoutPaymentMethod {
            id: product.id.clone(),
            name: product.name.clone(),
            with_trial,
        });
    }
    Ok(())
}

/// §1.2: offer types take only `Enabled` and `Disabled`.
pub fn validate_offer_type_value(offer_type_id: &str, value: PolicyValue) -> Result<(), RuleError> {
    if value == PolicyValue::OnlyTrialsWithoutPaymentMethod {
        return Err(RuleError::OfferTypeValue(offer_type_id.to_string()));
    }
    Ok(())
}

/// The entity tag of a row: it changes whenever the tenant default or the row's own value changes,
/// so that a write with a stale `If-Match` is refused (§2.1).
pub fn row_etag(default_version: i64, row_version: i64) -> String {
    format!("\"{default_version}.{row_version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_case_insensitively_and_print_canonically() {
        assert_eq!("enabled".parse(), Ok(PolicyValue::Enabled));
        assert_eq!("DISABLED".parse(), Ok(PolicyValue::Disabled));
        let v: PolicyValue = "onlytrialswithoutpaymentmethod".parse().unwrap();
        assert_eq!(v.to_string(), "OnlyTrialsWithoutPaymentMethod");
        assert!(matches!(
            "On".parse::<PolicyValue>(),
            Err(RuleError::UnknownValue(_))
        ));
        assert!("".parse::<PolicyValue>().is_err());
    }

    #[test]
    fn scopes_parse_case_insensitively() {
        assert_eq!("PRODUCT".parse(), Ok(Scope::Product));
        assert_eq!("offertype".parse(), Ok(Scope::OfferType));
        assert_eq!(Scope::OfferType.as_str(), "OfferType");
        assert!("offer".parse::<Scope>().is_err());
    }

    #[test]
    fn explicit_value_pins_and_unset_follows_default() {
        assert_eq!(
            effective_value(Some(PolicyValue::Disabled), PolicyValue::Enabled, false),
            (PolicyValue::Disabled, false)
        );
        assert_eq!(
            effective_value(None, PolicyValue::Disabled, true),
            (PolicyValue::Disabled, true)
        );
    }

    #[test]
    fn trials_only_default_is_disabled_where_there_is_no_free_trial() {
        let d = PolicyValue::OnlyTrialsWithoutPaymentMethod;
        assert_eq!(
            effective_value(None, d, false),
            (PolicyValue::Disabled, true)
        );
        assert_eq!(effective_value(None, d, true), (d, true));
    }

    #[test]
    fn trials_only_is_refused_on_a_product_without_a_free_trial() {
        let catalog = Catalog::embedded();
        let copilot = catalog.product("CFQ7TTC0MM8R").unwrap();
        let err = validate_product_value(
            &catalog,
            copilot,
            PolicyValue::OnlyTrialsWithoutPaymentMethod,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("Microsoft 365 Copilot (CFQ7TTC0MM8R)"),
            "{err}"
        );
        assert!(err.contains("Teams Exploratory (CFQ7TTC0J1FV)"), "{err}");
        assert!(!err.contains("Power BI Pro"), "{err}");
        let teams = catalog.product("CFQ7TTC0J1FV").unwrap();
        assert!(validate_product_value(
            &catalog,
            teams,
            PolicyValue::OnlyTrialsWithoutPaymentMethod
        )
        .is_ok());
        assert!(validate_product_value(&catalog, copilot, PolicyValue::Disabled).is_ok());
    }

    #[test]
    fn offer_types_take_only_enabled_and_disabled() {
        assert!(validate_offer_type_value("SaaS", PolicyValue::Enabled).is_ok());
        assert!(validate_offer_type_value("SaaS", PolicyValue::Disabled).is_ok());
        assert_eq!(
            validate_offer_type_value("SaaS", PolicyValue::OnlyTrialsWithoutPaymentMethod),
            Err(RuleError::OfferTypeValue("SaaS".into()))
        );
    }

    #[test]
    fn etag_changes_with_either_version() {
        assert_ne!(row_etag(1, 0), row_etag(2, 0));
        assert_ne!(row_etag(1, 0), row_etag(1, 1));
        assert_eq!(row_etag(3, 4), "\"3.4\"");
    }
}
