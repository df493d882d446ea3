//! The audit log: every change, who made it, from which value to which, with the correlation id;
//! filters and paging.

use serde_json::{json, Value};

use crate::support::{Reply, TestServer, POLICY};

#[test]
fn every_change_is_in_the_audit_log_with_who_and_when() {
    let server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let billing = server.token("billing@contoso.example");
    let p = |rest: &str| format!("/v1.0/policies/{POLICY}{rest}");
    let put_with_correlation = |token: &str, path: &str, value: &str, correlation: &str| {
        Reply::from(
            server
                .raw()
                .put(format!("{}{path}", server.url))
                .bearer_auth(token)
                .header("x-ms-correlation-id", correlation)
                .json(&json!({"policyValue": value}))
                .send()
                .unwrap(),
        )
    };
    let reply = put_with_correlation(
        &admin,
        &p("/products/CFQ7TTC0KP0N"),
        "Disabled",
        "9f1c2d3e-0000-4000-8000-000000000001",
    );
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.headers["x-ms-correlation-id"],
        "9f1c2d3e-0000-4000-8000-000000000001"
    );
    // Writing the same value again changes nothing and logs nothing.
    assert_eq!(
        put_with_correlation(&admin, &p("/products/CFQ7TTC0LH3L"), "Disabled", "again").status,
        200
    );
    assert_eq!(
        put_with_correlation(&billing, &p("/offerTypes/SaaS"), "Disabled", "c-2").status,
        200
    );
    assert_eq!(
        server
            .request("DELETE", &p("/products/CFQ7TTC0LH3L"), Some(&billing), None)
            .status,
        200
    );
    assert_eq!(
        server
            .request(
                "PATCH",
                &p(""),
                Some(&admin),
                Some(json!({"defaultValue": "Disabled"}))
            )
            .status,
        200
    );

    let reader = server.token("reader@contoso.example");
    let log = server.get(&p("/auditLog"), &reader);
    assert_eq!(log.status, 200, "{}", log.text);
    let items = log.json["items"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str, &str, &str, &str)> = items
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["targetId"].as_str().unwrap_or("-"),
                e["oldValue"].as_str().unwrap(),
                e["newValue"].as_str().unwrap(),
                e["correlationId"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary.len(), 4, "{summary:?}");
    // Newest first.
    let head = |i: usize| {
        let s = summary[i];
        (s.0, s.1, s.2, s.3, s.4)
    };
    assert_eq!(
        head(0),
        (
            "admin@contoso.example",
            "setDefault",
            "-",
            "Enabled",
            "Disabled"
        )
    );
    assert_eq!(
        head(1),
        (
            "billing@contoso.example",
            "reset",
            "CFQ7TTC0LH3L",
            "Disabled",
            "Enabled"
        )
    );
    assert_eq!(
        summary[2],
        (
            "billing@contoso.example",
            "set",
            "SaaS",
            "Enabled",
            "Disabled",
            "c-2"
        )
    );
    assert_eq!(
        summary[3],
        (
            "admin@contoso.example",
            "set",
            "CFQ7TTC0LH3L",
            "Enabled",
            "Disabled",
            "9f1c2d3e-0000-4000-8000-000000000001"
        )
    );
    assert_eq!(items[3]["targetName"], "Power Automate per user");
    assert_eq!(items[3]["actorType"], "user");
    assert!(items[3]["activityDateTime"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    // Filters: product (through a legacy id too), actor, time.
    let by_product = server.get(&p("/auditLog?productId=cfq7ttc0kp0n"), &reader);
    assert_eq!(
        by_product.json["items"].as_array().unwrap().len(),
        2,
        "{}",
        by_product.text
    );
    let by_actor = server.get(&p("/auditLog?actor=BILLING@contoso.example"), &reader);
    assert_eq!(
        by_actor.json["items"].as_array().unwrap().len(),
        2,
        "{}",
        by_actor.text
    );
    let first_time = items[3]["activityDateTime"].as_str().unwrap();
    let until_first = server.get(&p(&format!("/auditLog?until={first_time}")), &reader);
    assert_eq!(
        until_first.json["items"].as_array().unwrap().len(),
        1,
        "{}",
        until_first.text
    );
    let future = server.get(&p("/auditLog?since=2999-01-01"), &reader);
    assert_eq!(future.json["items"], json!([]));

    // Paging: two at a time, following nextLink to the end.
    let mut seen: Vec<Value> = Vec::new();
    let mut next = Some(p("/auditLog?top=2"));
    while let Some(link) = next {
        let page = server.get(&link, &reader);
        assert_eq!(page.status, 200, "{}", page.text);
        let page_items = page.json["items"].as_array().unwrap();
        assert!(page_items.len() <= 2);
        seen.extend(page_items.iter().cloned());
        next = page.json["nextLink"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 4);
    assert_eq!(&seen, items);

    // Users without a role do not see it.
    let user = server.token("user@contoso.example");
    assert_eq!(server.get(&p("/auditLog"), &user).status, 403);
}

#[test]
fn the_client_shows_the_audit_log() {
    let server = TestServer::start();
    let cli = server.cli();
    cli.connect(&server, "billing@contoso.example");
    assert_eq!(
        cli.run(&[
            "update-product-policy",
            "--product-id",
            "CFQ7TTC0HD32",
            "--value",
            "Disabled"
        ])
        .code,
        0
    );
    let r = cli.run(&["get-audit-log", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let entries = r.json();
    assert_eq!(entries.as_array().unwrap().len(), 1);
    assert_eq!(entries[0]["Actor"], "billing@contoso.example");
    assert_eq!(entries[0]["TargetId"], "CFQ7TTC0HD32");
    assert_eq!(entries[0]["OldValue"], "Enabled");
    assert_eq!(entries[0]["NewValue"], "Disabled");
    let r = cli.run(&[
        "get-audit-log",
        "--product-id",
        "CFQ7TTC0HD33",
        "--output",
        "json",
    ]);
    assert_eq!(r.json(), json!([]));
}
