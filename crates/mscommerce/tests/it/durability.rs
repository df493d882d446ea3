//! Acknowledged writes survive `kill -9`; `--dev` restarts are idempotent and keep their data.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::support::{TestServer, POLICY};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn acknowledged_writes_survive_kill_9_and_restart() {
    let mut server = TestServer::start();
    assert!(
        server.startup_output.contains("operator_token"),
        "first start prints the credentials once"
    );
    let credentials_file = server.data_dir().join("dev-credentials.json");
    let credentials_before = std::fs::read_to_string(&credentials_file).unwrap();
    let jwks_before = server
        .raw()
        .get(format!(
            "{}/contoso.example/discovery/v2.0/keys",
            server.url
        ))
        .send()
        .unwrap()
        .text()
        .unwrap();

    let admin = server.token("admin@contoso.example");
    let cli = server.cli();
    cli.connect(&server, "admin@contoso.example");
    let r = cli.run(&[
        "update-product-policy",
        "--product-id",
        "CFQ7TTC0H9MP",
        "CFQ7TTC0KXG7",
        "--value",
        "Disabled",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        server
            .put_value(
                &format!("/v1.0/policies/{POLICY}/offerTypes/DYNAMICSCE"),
                &admin,
                "Disabled"
            )
            .status,
        200
    );
    let reply = server.request(
        "PATCH",
        &format!("/v1.0/policies/{POLICY}"),
        Some(&admin),
        Some(json!({"defaultValue": "OnlyTrialsWithoutPaymentMethod"})),
    );
    assert_eq!(reply.status, 200);
    // The last write is acknowledged, and the process dies at once.
    assert_eq!(
        server
            .put_value(
                &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0J1FV"),
                &admin,
                "Enabled"
            )
            .status,
        200
    );
    server.kill();

    server.restart();
    assert!(
        !server.startup_output.contains("operator_token"),
        "a restart does not print or make new credentials"
    );
    assert!(server.startup_output.contains("dev-credentials.json"));
    assert_eq!(
        std::fs::read_to_string(&credentials_file).unwrap(),
        credentials_before
    );
    let jwks_after = server
        .raw()
        .get(format!(
            "{}/contoso.example/discovery/v2.0/keys",
            server.url
        ))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(jwks_before, jwks_after, "the signing key is kept");

    let admin = server.token("admin@contoso.example");
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0H9MP"), "Disabled");
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0H6RP"), "Disabled");
    assert_eq!(server.value_of(&admin, "offerTypes/DYNAMICSCE"), "Disabled");
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0J1FV"), "Enabled");
    assert_eq!(
        server.get(&format!("/v1.0/policies/{POLICY}"), &admin).json["defaultValue"],
        "OnlyTrialsWithoutPaymentMethod"
    );
    let log = server.get(&format!("/v1.0/policies/{POLICY}/auditLog"), &admin);
    assert_eq!(
        log.json["items"].as_array().unwrap().len(),
        5,
        "{}",
        log.text
    );

    // The secrets on disk are the owner's alone.
    assert_eq!(mode(&credentials_file), 0o600);
    assert_eq!(mode(&server.data_dir()), 0o700);
}

#[test]
fn the_client_token_cache_is_private() {
    let server = TestServer::start();
    let cli = server.cli();
    cli.connect(&server, "reader@contoso.example");
    assert_eq!(
        mode(&cli.config.path().join("profiles/default.json")),
        0o600
    );
}

#[test]
fn sigterm_stops_the_server_cleanly_and_the_log_keeps_no_secrets() {
    let mut server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let reply = crate::support::Reply::from(
        server
            .raw()
            .put(format!(
                "{}/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP",
                server.url
            ))
            .bearer_auth(&admin)
            .header("x-ms-correlation-id", "trace-me-42")
            .json(&json!({"policyValue": "Disabled"}))
            .send()
            .unwrap(),
    );
    assert_eq!(reply.status, 200);
    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM ends the server with status 0, got {status}"
    );

    let log = server.log();
    // One line per request, with its correlation id...
    assert!(
        log.lines()
            .any(|l| l.contains("trace-me-42") && l.contains("status=200")),
        "{log}"
    );
    // ...and never a password or a token.
    for user in ["admin@contoso.example", "reader@contoso.example"] {
        assert!(
            !log.contains(&server.password(user)),
            "a password is in the log"
        );
    }
    assert!(!log.contains(&admin), "an access token is in the log");
    assert!(
        !log.contains(admin.split('.').nth(2).unwrap()),
        "a token signature is in the log"
    );

    server.restart();
    let admin = server.token("admin@contoso.example");
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0H9MP"), "Disabled");
}
