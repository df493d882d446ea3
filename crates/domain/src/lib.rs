//! The rules of SPEC §1: policy values, the catalog, the tenant default, roles and what each may
//! do. Pure: no I/O and no async, so every rule is unit-tested here without a server.

pub mod access;
pub mod catalog;
pub mod decision;
pub mod policy;
pub mod signin;
pub mod tenant;

pub use access::{Access, AppPermission, Role};
pub use catalog::{Catalog, CatalogError, LookupError, OfferType, PolicyDef, Product};
pub use policy::{
    effective_value, row_etag, validate_offer_type_value, validate_product_value, PolicyValue,
    RuleError, Scope,
};
pub use signin::LockoutPolicy;
pub use tenant::{parse_country, parse_domain, TenantType, Upn, UserType};
