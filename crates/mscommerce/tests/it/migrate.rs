//! `server migrate` and `server migrate-data`: an installation moves from SQLite to PostgreSQL
//! whole, and the server on the new database goes on as before. Runs in the PostgreSQL pass.

use serde_json::json;

use crate::support::{binary, TestServer, POLICY};

#[test]
fn a_whole_installation_moves_from_sqlite_to_postgres() {
    let Some(target) = TestServer::new_postgres_database() else {
        eprintln!("migrate-data runs in the PostgreSQL pass of scripts/test.sh");
        return;
    };
    let old = TestServer::start_on_sqlite();
    let admin = old.token("admin@contoso.example");
    let user = old.token("user@contoso.example");
    assert_eq!(
        old.put_value(
            &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
            &admin,
            "Disabled"
        )
        .status,
        200
    );
    let r = old.request(
        "PATCH",
        &format!("/v1.0/policies/{POLICY}"),
        Some(&admin),
        Some(json!({"defaultValue": "OnlyTrialsWithoutPaymentMethod"})),
    );
    assert_eq!(r.status, 200);
    let trial = old.request(
        "POST",
        "/v1.0/selfServicePurchases",
        Some(&user),
        Some(json!({"kind": "trial", "productId": "CFQ7TTC0J1FV"})),
    );
    assert_eq!(trial.status, 201, "{}", trial.text);
    let app = old.admin(
        "POST",
        "/tenants/contoso.example/applications",
        Some(
            json!({"displayName": "Sync", "permissions": ["Policy.Read.AllowSelfServicePurchase"]}),
        ),
    );
    assert_eq!(app.status, 201);
    let credentials = old.credentials.clone();
    let source = format!(
        "sqlite://{}",
        old.data_dir().join("mscommerce.db").display()
    );
    let dir = old.into_dir();

    // Its schema first (the server would do it at start too), then the data.
    let migrate = std::process::Command::new(binary())
        .args(["server", "migrate", "--database", &target])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let copy = std::process::Command::new(binary())
        .args(["server", "migrate-data", "--from", &source, "--to", &target])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&copy.stdout).to_string();
    assert!(
        copy.status.success(),
        "{}{}",
        said,
        String::from_utf8_lossy(&copy.stderr)
    );
    assert!(said.contains("every table's count matches"), "{said}");
    assert!(
        said.lines()
            .any(|l| l.starts_with("purchases") && l.trim_end().ends_with("1 rows")),
        "{said}"
    );
    // A second copy into the same database is refused: it is not empty any more.
    let again = std::process::Command::new(binary())
        .args(["server", "migrate-data", "--from", &source, "--to", &target])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // The server on PostgreSQL: same passwords, same keys, same values, ledger and audit log.
    let new = TestServer::start_on(dir, &target);
    assert_eq!(new.credentials.operator_token, credentials.operator_token);
    let admin = new.token("admin@contoso.example");
    assert_eq!(new.value_of(&admin, "products/CFQ7TTC0H9MP"), "Disabled");
    assert_eq!(
        new.get(&format!("/v1.0/policies/{POLICY}"), &admin).json["defaultValue"],
        "OnlyTrialsWithoutPaymentMethod"
    );
    let ledger = new.get("/v1.0/selfServicePurchases", &admin);
    assert_eq!(ledger.json["items"][0]["id"], trial.json["id"]);
    let log = new.get(&format!("/v1.0/policies/{POLICY}/auditLog"), &admin);
    assert_eq!(log.json["items"].as_array().unwrap().len(), 2);
    // New writes continue the audit log's numbering.
    assert_eq!(
        new.put_value(
            &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
            &admin,
            "Enabled"
        )
        .status,
        200
    );
    assert_eq!(
        new.get(&format!("/v1.0/policies/{POLICY}/auditLog"), &admin)
            .json["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        new.admin("GET", "/tenants/contoso.example/applications", None)
            .json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
