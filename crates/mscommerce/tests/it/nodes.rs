//! Several server processes on one PostgreSQL database (SPEC §6): tokens good on every node,
//! decisions that follow a write made on another node, purchases that respect it at once, and no
//! loss when a node is killed. These run in the PostgreSQL pass of scripts/test.sh; on SQLite,
//! which serves one node, they say so and return.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{TestServer, POLICY};

/// Nodes behind one load balancer share the address clients use, and so the tokens' issuer.
const PUBLIC: [&str; 2] = ["--public-url", "https://mscommerce.test"];

fn on_postgres() -> bool {
    if !TestServer::on_postgres() {
        eprintln!("two-node tests run in the PostgreSQL pass of scripts/test.sh");
    }
    TestServer::on_postgres()
}

#[test]
fn a_write_on_one_node_reaches_the_other_nodes_decisions_and_purchases() {
    if !on_postgres() {
        return;
    }
    let a = TestServer::start_with(&PUBLIC);
    let b = a.join(&PUBLIC);
    // One sign-in, good on both nodes: they share the signing keys.
    let admin = a.token("admin@contoso.example");
    let user = b.token("user@contoso.example");
    assert_eq!(
        b.get(&format!("/v1.0/policies/{POLICY}"), &admin).status,
        200
    );
    assert_eq!(
        a.get(&format!("/v1.0/policies/{POLICY}"), &user).status,
        403
    );

    let evaluate = |server: &TestServer| {
        server.request(
            "POST",
            "/v1.0/selfServicePurchases/evaluate",
            Some(&user),
            Some(json!({"kind": "purchase", "productId": "CFQ7TTC0H9MP"})),
        )
    };
    assert_eq!(evaluate(&b).json["decision"], "Allow");

    // Disabled on A; B's decisions follow (LISTEN/NOTIFY), its purchases at once (the database).
    assert_eq!(
        a.put_value(
            &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
            &admin,
            "Disabled"
        )
        .status,
        200
    );
    let acknowledged = Instant::now();
    let purchase = b.request(
        "POST",
        "/v1.0/selfServicePurchases",
        Some(&user),
        Some(json!({"kind": "purchase", "productId": "CFQ7TTC0H9MP"})),
    );
    assert_eq!(
        purchase.status, 403,
        "a purchase on B right after A acknowledged Disabled: {}",
        purchase.text
    );
    loop {
        if evaluate(&b).json["decision"] == "Deny" {
            break;
        }
        assert!(
            acknowledged.elapsed() < Duration::from_secs(5),
            "B's decisions never saw A's write"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!(
        "B's decisions followed A's write after {:?}",
        acknowledged.elapsed()
    );

    // And back, through the other node.
    assert_eq!(
        b.put_value(
            &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
            &admin,
            "Enabled"
        )
        .status,
        200
    );
    let acknowledged = Instant::now();
    while evaluate(&a).json["decision"] != "Allow" {
        assert!(
            acknowledged.elapsed() < Duration::from_secs(5),
            "A's decisions never saw B's write"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The operator's trial length, set through one node, holds for trials started on the other.
    let r = a.admin(
        "PATCH",
        "/catalog/products/CFQ7TTC0J1FV",
        Some(json!({"trialLengthSeconds": 3600})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let changed = Instant::now();
    loop {
        let trial = b.request(
            "POST",
            "/v1.0/selfServicePurchases",
            Some(&admin),
            Some(json!({"kind": "trial", "productId": "CFQ7TTC0J1FV"})),
        );
        assert_eq!(trial.status, 201, "{}", trial.text);
        let length = |field: &str| chrono_seconds(trial.json[field].as_str().unwrap());
        if length("expiryDateTime") - length("createdDateTime") == 3600 {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(5),
            "B never took the new trial length"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // A revocation on one node ends the session on the other.
    let r = a.admin(
        "POST",
        "/tenants/contoso.example/users/user@contoso.example/revokeSessions",
        None,
    );
    assert_eq!(r.status, 204);
    let revoked = Instant::now();
    while b.get("/v1.0/selfServicePurchases", &user).status != 401 {
        assert!(
            revoked.elapsed() < Duration::from_secs(5),
            "B kept accepting a revoked token"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn killing_a_node_loses_nothing_and_the_other_keeps_serving() {
    if !on_postgres() {
        return;
    }
    let mut a = TestServer::start_with(&PUBLIC);
    let b = a.join(&PUBLIC);
    let admin = a.token("admin@contoso.example");
    let user = a.token("user@contoso.example");
    for product in ["CFQ7TTC0H9MP", "CFQ7TTC0H6RP", "CFQ7TTC0N8SS"] {
        assert_eq!(
            a.put_value(
                &format!("/v1.0/policies/{POLICY}/products/{product}"),
                &admin,
                "Disabled"
            )
            .status,
            200
        );
    }
    let bought = a.request(
        "POST",
        "/v1.0/selfServicePurchases",
        Some(&user),
        Some(json!({"kind": "trial", "productId": "CFQ7TTC0J1FV"})),
    );
    assert_eq!(bought.status, 201);
    a.kill();

    for product in ["CFQ7TTC0H9MP", "CFQ7TTC0H6RP", "CFQ7TTC0N8SS"] {
        assert_eq!(
            b.value_of(&admin, &format!("products/{product}")),
            "Disabled"
        );
    }
    let id = bought.json["id"].as_str().unwrap();
    assert_eq!(
        b.get(&format!("/v1.0/selfServicePurchases/{id}"), &user)
            .json["status"],
        "Trial"
    );
    let more = b.request(
        "POST",
        "/v1.0/selfServicePurchases",
        Some(&user),
        Some(json!({"kind": "trial", "productId": "CFQ7TTC0RM8K"})),
    );
    assert_eq!(more.status, 201, "{}", more.text);
    let log = b.get(&format!("/v1.0/policies/{POLICY}/auditLog"), &admin);
    assert_eq!(log.json["items"].as_array().unwrap().len(), 3);
}

fn chrono_seconds(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp()
}
