//! The product catalog (SPEC §1.3): products with their legacy ids and retired ones, third-party
//! offer types, and the policies with their default values. The binary ships the starting catalog
//! (`data/catalog.toml`, a copy of `shared/spec/catalog.toml`).

use std::collections::HashMap;

use serde::Deserialize;

const EMBEDDED_CATALOG: &str = include_str!("../data/catalog.toml");

/// A product that users can buy or trial.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub trial_without_payment_method: bool,
    #[serde(default)]
    pub unavailable_countries: Vec<String>,
    #[serde(default)]
    pub legacy_ids: Vec<String>,
    #[serde(default)]
    pub retired: bool,
    /// Length of the product's trials in days.
    #[serde(default = "default_trial_days")]
    pub trial_days: u32,
    /// The operator's override of the trial length, in seconds.
    #[serde(default)]
    pub trial_seconds: Option<u64>,
}

impl Product {
    /// How long a trial of this product lasts.
    pub fn trial_length_secs(&self) -> u64 {
        self.trial_seconds
            .unwrap_or(u64::from(self.trial_days) * 86_400)
    }
}

fn default_trial_days() -> u32 {
    30
}

/// A third-party offer type (Enabled or Disabled only).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferType {
    pub id: String,
    pub name: String,
}

/// A policy and the value a tenant has for it until it sets one (§1.4).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDef {
    pub id: String,
    pub description: String,
    pub default_value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    policies: Vec<PolicyDef>,
    #[serde(default)]
    unavailable_countries: Vec<String>,
    #[serde(default)]
    products: Vec<Product>,
    #[serde(default)]
    offer_types: Vec<OfferType>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the catalog is not valid TOML of the expected shape: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("the catalog names {0} twice (ids and legacy ids must be unique)")]
    Duplicate(String),
    #[error("policy {policy} has default value '{value}', which is not one of Enabled, OnlyTrialsWithoutPaymentMethod, Disabled")]
    BadDefault { policy: String, value: String },
}

/// Why an id named in a request does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("Policy '{0}' was not found. The known policy is AllowSelfServicePurchase.")]
    UnknownPolicy(String),
    #[error("Product '{0}' was not found. List the products with GET /v1.0/policies/AllowSelfServicePurchase/products.")]
    UnknownProduct(String),
    #[error(
        "Product '{id}' ({name}) is retired: it is no longer offered for self-service purchase."
    )]
    RetiredProduct { id: String, name: String },
    #[error("Offer type '{0}' was not found. Known offer types: {1}.")]
    UnknownOfferType(String, String),
}

/// The catalog with case-insensitive indexes on ids and legacy ids.
#[derive(Debug, Clone)]
pub struct Catalog {
    policies: Vec<PolicyDef>,
    unavailable_countries: Vec<String>,
    products: Vec<Product>,
    offer_types: Vec<OfferType>,
    /// Upper-cased id or legacy id → index into `products`.
    product_index: HashMap<String, usize>,
}

impl Catalog {
    /// The catalog the binary ships with.
    pub fn embedded() -> Catalog {
        Catalog::from_toml(EMBEDDED_CATALOG).expect("the embedded catalog is valid")
    }

    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = toml::from_str(text)?;
        for p in &file.policies {
            if p.default_value.parse::<crate::PolicyValue>().is_err() {
                return Err(CatalogError::BadDefault {
                    policy: p.id.clone(),
                    value: p.default_value.clone(),
                });
            }
        }
        let mut product_index = HashMap::new();
        for (i, p) in file.products.iter().enumerate() {
            for id in std::iter::once(&p.id).chain(&p.legacy_ids) {
                if product_index.insert(id.to_ascii_uppercase(), i).is_some() {
                    return Err(CatalogError::Duplicate(id.clone()));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for o in &file.offer_types {
            if !seen.insert(o.id.to_ascii_uppercase()) {
                return Err(CatalogError::Duplicate(o.id.clone()));
            }
        }
        Ok(Catalog {
            policies: file.policies,
            unavailable_countries: file.unavailable_countries,
            products: file.products,
            offer_types: file.offer_types,
            product_index,
        })
    }

    pub fn policies(&self) -> &[PolicyDef] {
        &self.policies
    }

    /// A policy by id, matched case-insensitively.
    pub fn policy(&self, id: &str) -> Result<&PolicyDef, LookupError> {
        self.policies
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(id.trim()))
            .ok_or_else(|| LookupError::UnknownPolicy(id.to_string()))
    }

    /// Products that are offered, in catalog order.
    pub fn active_products(&self) -> impl Iterator<Item = &Product> {
        self.products.iter().filter(|p| !p.retired)
    }

    /// A product by its id or a legacy id, case-insensitively; retired ones are an error that names them.
    pub fn product(&self, id: &str) -> Result<&Product, LookupError> {
        // Ids usually arrive in their canonical upper case: look up without allocating first.
        let product = self
            .product_index
            .get(id)
            .or_else(|| self.product_index.get(&id.trim().to_ascii_uppercase()))
            .map(|&i| &self.products[i])
            .ok_or_else(|| LookupError::UnknownProduct(id.to_string()))?;
        if product.retired {
            return Err(LookupError::RetiredProduct {
                id: product.id.clone(),
                name: product.name.clone(),
            });
        }
        Ok(product)
    }

    pub fn offer_types(&self) -> &[OfferType] {
        &self.offer_types
    }

    pub fn offer_type(&self, id: &str) -> Result<&OfferType, LookupError> {
        self.offer_types
            .iter()
            .find(|o| o.id.eq_ignore_ascii_case(id.trim()))
            .ok_or_else(|| {
                let known = self
                    .offer_types
                    .iter()
                    .map(|o| o.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                LookupError::UnknownOfferType(id.to_string(), known)
            })
    }

    /// The same catalog with another trial length for one product (current or legacy id).
    pub fn with_trial_length(&self, id: &str, seconds: u64) -> Result<Catalog, LookupError> {
        let index = *self
            .product_index
            .get(&id.trim().to_ascii_uppercase())
            .ok_or_else(|| LookupError::UnknownProduct(id.to_string()))?;
        let mut changed = self.clone();
        changed.products[index].trial_seconds = Some(seconds);
        Ok(changed)
    }

    /// Countries where no self-service purchase is available at all.
    pub fn unavailable_countries(&self) -> &[String] {
        &self.unavailable_countries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_lists_the_seventeen_products_and_four_offer_types() {
        let c = Catalog::embedded();
        assert_eq!(c.active_products().count(), 17);
        assert_eq!(c.offer_types().len(), 4);
        let first = c.active_products().next().unwrap();
        assert_eq!(
            (first.id.as_str(), first.name.as_str()),
            ("CFQ7TTC0N8SS", "Clipchamp Premium")
        );
        assert_eq!(
            c.policy("allowselfservicepurchase").unwrap().default_value,
            "Enabled"
        );
    }

    #[test]
    fn legacy_ids_resolve_to_the_current_product() {
        let c = Catalog::embedded();
        let p = c.product("cfq7ttc0kp0n").unwrap();
        assert_eq!(p.id, "CFQ7TTC0LH3L");
        assert_eq!(p.name, "Power Automate per user");
        assert_eq!(c.product("CFQ7TTC0LH3L").unwrap(), p);
    }

    #[test]
    fn retired_products_are_not_listed_and_name_themselves() {
        let c = Catalog::embedded();
        assert!(c.active_products().all(|p| p.id != "CFQ7TTC0HHS9"));
        assert_eq!(
            c.product("CFQ7TTC0HHS9"),
            Err(LookupError::RetiredProduct {
                id: "CFQ7TTC0HHS9".into(),
                name: "Windows 365 Enterprise".into()
            })
        );
        assert!(matches!(
            c.product("NOPE"),
            Err(LookupError::UnknownProduct(_))
        ));
    }

    #[test]
    fn offer_types_match_case_insensitively() {
        let c = Catalog::embedded();
        assert_eq!(c.offer_type("saas").unwrap().id, "SaaS");
        let err = c.offer_type("Widgets").unwrap_err().to_string();
        assert!(
            err.contains("SaaS, POWERBIVISUALS, DYNAMICSCE, DYNAMICSBC"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let text = r#"
            policies = [{ id = "P", description = "d", default_value = "Enabled" }]
            [[products]]
            id = "A"
            name = "a"
            trial_without_payment_method = false
            [[products]]
            id = "B"
            name = "b"
            trial_without_payment_method = false
            legacy_ids = ["a"]
        "#;
        assert!(matches!(
            Catalog::from_toml(text),
            Err(CatalogError::Duplicate(_))
        ));
    }

    #[test]
    fn embedded_catalog_is_the_spec_catalog() {
        // The binary ships a copy of shared/spec/catalog.toml; keep the two in sync.
        let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/spec/catalog.toml");
        if let Ok(text) = std::fs::read_to_string(&spec) {
            assert_eq!(
                text,
                EMBEDDED_CATALOG,
                "crates/domain/data/catalog.toml differs from {}",
                spec.display()
            );
        }
    }
}
