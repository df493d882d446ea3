//! The in-process decision of SPEC §1.2/§1.5: what every checkout pays per product.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use domain::decision::{decide, Kind, Request, Target};
use domain::{Catalog, PolicyValue, TenantType, UserType};

fn decision(c: &mut Criterion) {
    let catalog = Catalog::embedded();
    let teams = catalog.product("CFQ7TTC0J1FV").unwrap();
    let allowed = Request {
        tenant_type: TenantType::Commercial,
        country: "US",
        user_type: UserType::Member,
        target: Target::Product(teams),
        kind: Kind::Trial,
        payment_method: false,
        explicit: Some(PolicyValue::OnlyTrialsWithoutPaymentMethod),
        tenant_default: PolicyValue::Enabled,
    };
    let denied = Request {
        kind: Kind::Purchase,
        payment_method: true,
        ..allowed
    };
    c.bench_function("decide/allow_trial_without_payment_method", |b| {
        b.iter(|| decide(black_box(&catalog), black_box(&allowed)))
    });
    c.bench_function("decide/deny_purchase", |b| {
        b.iter(|| decide(black_box(&catalog), black_box(&denied)))
    });
    let lookup = "cfq7ttc0kp0n";
    c.bench_function("decide/with_catalog_lookup_by_legacy_id", |b| {
        b.iter(|| {
            let product = catalog.product(black_box(lookup)).unwrap();
            decide(
                &catalog,
                &Request {
                    target: Target::Product(product),
                    ..allowed
                },
            )
        })
    });
}

criterion_group!(benches, decision);
criterion_main!(benches);
