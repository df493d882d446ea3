//! Whether a user may start a purchase or a trial (SPEC §1.2, §1.5, §3). Pure and allocation-free,
//! so it can sit in every checkout: the reason is a code, turned into words only when answered.

use std::fmt;

use crate::catalog::{Catalog, OfferType, Product};
use crate::policy::{effective_value, PolicyValue};
use crate::tenant::{TenantType, UserType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Purchase,
    Trial,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Purchase => "purchase",
            Kind::Trial => "trial",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        if s.eq_ignore_ascii_case("purchase") {
            Some(Kind::Purchase)
        } else if s.eq_ignore_ascii_case("trial") {
            Some(Kind::Trial)
        } else {
            None
        }
    }
}

/// What is being bought or tried.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Product(&'a Product),
    OfferType(&'a OfferType),
}

impl Target<'_> {
    pub fn id(&self) -> &str {
        match self {
            Target::Product(p) => &p.id,
            Target::OfferType(o) => &o.id,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Target::Product(p) => &p.name,
            Target::OfferType(o) => &o.name,
        }
    }

    fn has_trial_without_payment_method(&self) -> bool {
        matches!(self, Target::Product(p) if p.trial_without_payment_method)
    }
}

/// The facts a decision rests on.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub tenant_type: TenantType,
    /// ISO 3166-1 alpha-2, upper-case.
    pub country: &'a str,
    pub user_type: UserType,
    pub target: Target<'a>,
    pub kind: Kind,
    pub payment_method: bool,
    /// The value the target has set in the tenant, if any, and the tenant default.
    pub explicit: Option<PolicyValue>,
    pub tenant_default: PolicyValue,
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Allowed,
    TenantTypeUnavailable,
    CountryUnavailable,
    ProductUnavailableInCountry,
    Guest,
    Disabled,
    OnlyTrialsWithoutPaymentMethod,
    TrialNeedsNoPaymentMethodHere,
    NoTrialWithoutPaymentMethod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
    /// The effective policy value the decision was taken under.
    pub value: PolicyValue,
}

/// The decision of §1.2 and §1.5. Checks run from the broadest (the tenant) to the narrowest (the
/// value), so the reason names the first thing that stands in the way.
pub fn decide(catalog: &Catalog, r: &Request<'_>) -> Decision {
    let (value, _) = effective_value(
        r.explicit,
        r.tenant_default,
        r.target.has_trial_without_payment_method(),
    );
    let deny = |reason| Decision {
        allowed: false,
        reason,
        value,
    };
    if r.tenant_type != TenantType::Commercial {
        return deny(Reason::TenantTypeUnavailable);
    }
    if catalog
        .unavailable_countries()
        .iter()
        .any(|c| c == r.country)
    {
        return deny(Reason::CountryUnavailable);
    }
    if let Target::Product(p) = r.target {
        if p.unavailable_countries.iter().any(|c| c == r.country) {
            return deny(Reason::ProductUnavailableInCountry);
        }
    }
    if r.user_type == UserType::Guest {
        return deny(Reason::Guest);
    }
    match (value, r.kind) {
        (PolicyValue::Disabled, _) => deny(Reason::Disabled),
        (PolicyValue::OnlyTrialsWithoutPaymentMethod, Kind::Purchase) => {
            deny(Reason::OnlyTrialsWithoutPaymentMethod)
        }
        (PolicyValue::OnlyTrialsWithoutPaymentMethod, Kind::Trial) if r.payment_method => {
            deny(Reason::TrialNeedsNoPaymentMethodHere)
        }
        (PolicyValue::OnlyTrialsWithoutPaymentMethod, Kind::Trial)
            if !r.target.has_trial_without_payment_method() =>
        {
            deny(Reason::NoTrialWithoutPaymentMethod)
        }
        (PolicyValue::Enabled, Kind::Trial)
            if !r.payment_method
                && matches!(r.target, Target::Product(p) if !p.trial_without_payment_method) =>
        {
            deny(Reason::NoTrialWithoutPaymentMethod)
        }
        _ => Decision {
            allowed: true,
            reason: Reason::Allowed,
            value,
        },
    }
}

/// The reason in words a person understands.
pub struct Explained<'a> {
    pub decision: &'a Decision,
    pub request: &'a Request<'a>,
}

impl fmt::Display for Explained<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.request;
        let name = r.target.name();
        let kind = r.kind.as_str();
        match self.decision.reason {
            Reason::Allowed => write!(f, "The {kind} of {name} is allowed: self-service purchase is {} for it in this tenant.", self.decision.value),
            Reason::TenantTypeUnavailable => write!(
                f,
                "Self-service purchase is not available to {} tenants.",
                r.tenant_type.as_str()
            ),
            Reason::CountryUnavailable => write!(f, "Self-service purchase is not available in this tenant's country ({}).", r.country),
            Reason::ProductUnavailableInCountry => {
                write!(f, "{name} is not available for self-service purchase in this tenant's country ({}).", r.country)
            }
            Reason::Guest => write!(f, "Guest users cannot make self-service purchases or start trials."),
            Reason::Disabled => write!(f, "Your administrator has turned off self-service purchases and trials of {name}."),
            Reason::OnlyTrialsWithoutPaymentMethod => write!(
                f,
                "Your administrator allows only trials without a payment method for {name}: it cannot be bought."
            ),
            Reason::TrialNeedsNoPaymentMethodHere => write!(
                f,
                "Your administrator allows only trials without a payment method for {name}: start the trial without one."
            ),
            Reason::NoTrialWithoutPaymentMethod => {
                write!(f, "{name} has no trial without a payment method: its trials need a payment method.")
            }
        }
    }
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::Allowed => "Allowed",
            Reason::TenantTypeUnavailable => "TenantTypeNotEligible",
            Reason::CountryUnavailable => "CountryNotEligible",
            Reason::ProductUnavailableInCountry => "ProductNotAvailableInCountry",
            Reason::Guest => "GuestUser",
            Reason::Disabled => "PolicyDisabled",
            Reason::OnlyTrialsWithoutPaymentMethod => "OnlyTrialsWithoutPaymentMethod",
            Reason::TrialNeedsNoPaymentMethodHere => "PaymentMethodNotAllowed",
            Reason::NoTrialWithoutPaymentMethod => "PaymentMethodRequired",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        catalog: &'a Catalog,
        product: &str,
        kind: Kind,
        pm: bool,
        value: Option<PolicyValue>,
    ) -> Request<'a> {
        Request {
            tenant_type: TenantType::Commercial,
            country: "US",
            user_type: UserType::Member,
            target: Target::Product(catalog.product(product).unwrap()),
            kind,
            payment_method: pm,
            explicit: value,
            tenant_default: PolicyValue::Enabled,
        }
    }

    const TEAMS: &str = "CFQ7TTC0J1FV"; // has a trial without payment method
    const BI: &str = "CFQ7TTC0H9MP"; // has not
    use PolicyValue::*;

    #[test]
    fn the_table_of_section_1_2() {
        let c = Catalog::embedded();
        let cases = [
            (TEAMS, Kind::Purchase, true, Enabled, true),
            (TEAMS, Kind::Trial, true, Enabled, true),
            (TEAMS, Kind::Trial, false, Enabled, true),
            (
                TEAMS,
                Kind::Purchase,
                true,
                OnlyTrialsWithoutPaymentMethod,
                false,
            ),
            (
                TEAMS,
                Kind::Trial,
                true,
                OnlyTrialsWithoutPaymentMethod,
                false,
            ),
            (
                TEAMS,
                Kind::Trial,
                false,
                OnlyTrialsWithoutPaymentMethod,
                true,
            ),
            (TEAMS, Kind::Purchase, true, Disabled, false),
            (TEAMS, Kind::Trial, true, Disabled, false),
            (TEAMS, Kind::Trial, false, Disabled, false),
            (BI, Kind::Purchase, true, Enabled, true),
            (BI, Kind::Trial, true, Enabled, true),
            (BI, Kind::Trial, false, Enabled, false),
        ];
        for (product, kind, pm, value, allowed) in cases {
            let d = decide(&c, &request(&c, product, kind, pm, Some(value)));
            assert_eq!(d.allowed, allowed, "{product} {kind:?} pm={pm} {value}");
            assert_eq!(d.value, value);
        }
    }

    #[test]
    fn tenants_countries_and_guests_are_refused_first() {
        let c = Catalog::embedded();
        let mut r = request(&c, TEAMS, Kind::Trial, false, Some(Enabled));
        r.tenant_type = TenantType::Education;
        assert_eq!(decide(&c, &r).reason, Reason::TenantTypeUnavailable);
        r.tenant_type = TenantType::Government;
        assert_eq!(decide(&c, &r).reason, Reason::TenantTypeUnavailable);
        let mut r = request(&c, TEAMS, Kind::Trial, false, Some(Enabled));
        r.country = "IN";
        assert_eq!(decide(&c, &r).reason, Reason::CountryUnavailable);
        let mut r = request(&c, "CFQ7TTC0HD33", Kind::Purchase, true, Some(Enabled));
        r.country = "BR";
        assert_eq!(decide(&c, &r).reason, Reason::ProductUnavailableInCountry);
        r.country = "DE";
        assert!(decide(&c, &r).allowed);
        let mut r = request(&c, TEAMS, Kind::Trial, false, Some(Enabled));
        r.user_type = UserType::Guest;
        assert_eq!(decide(&c, &r).reason, Reason::Guest);
    }

    #[test]
    fn the_tenant_default_applies_where_nothing_is_set() {
        let c = Catalog::embedded();
        let mut r = request(&c, BI, Kind::Trial, false, None);
        r.tenant_default = OnlyTrialsWithoutPaymentMethod;
        let d = decide(&c, &r);
        assert_eq!(
            (d.allowed, d.value),
            (false, Disabled),
            "a trials-only default is Disabled where there is no free trial"
        );
        let mut r = request(&c, TEAMS, Kind::Trial, false, None);
        r.tenant_default = OnlyTrialsWithoutPaymentMethod;
        assert!(decide(&c, &r).allowed);
    }

    #[test]
    fn offer_types_follow_enabled_and_disabled() {
        let c = Catalog::embedded();
        let saas = c.offer_type("SaaS").unwrap();
        let mut r = request(&c, TEAMS, Kind::Purchase, true, Some(Enabled));
        r.target = Target::OfferType(saas);
        assert!(decide(&c, &r).allowed);
        r.explicit = Some(Disabled);
        assert_eq!(decide(&c, &r).reason, Reason::Disabled);
    }

    #[test]
    fn reasons_read_as_sentences() {
        let c = Catalog::embedded();
        let r = request(
            &c,
            TEAMS,
            Kind::Purchase,
            true,
            Some(OnlyTrialsWithoutPaymentMethod),
        );
        let d = decide(&c, &r);
        let text = Explained {
            decision: &d,
            request: &r,
        }
        .to_string();
        assert!(
            text.contains("Teams Exploratory") && text.contains("cannot be bought"),
            "{text}"
        );
    }
}
