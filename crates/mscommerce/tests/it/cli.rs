//! The command line's contract (SPEC §5): messages, exit statuses, output formats, --what-if,
//! --token, and the extra commands.

use serde_json::Value;

use crate::support::{TestServer, POLICY};

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn commands_before_connect_and_after_expiry_say_what_to_do() {
    let server = TestServer::start();
    let cli = server.cli();
    let r = cli.run(&["Get-MSCommerceProductPolicies", "-PolicyId", POLICY]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("You must call `mscommerce connect` before any other command"),
        "{}",
        r.stderr
    );

    // A cached sign-in whose token has expired.
    let cache = cli.config.path().join("profiles/default.json");
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    std::fs::write(&cache, format!(r#"{{"url":"{}","tenant":"contoso.example","username":"admin@contoso.example","access_token":"x","expires_at":1}}"#, server.url)).unwrap();
    let r = cli.run(&["get-policies"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("Your credentials have expired. Please run `mscommerce connect` again"),
        "{}",
        r.stderr
    );

    // A token the server refuses reads the same way.
    std::fs::write(&cache, format!(r#"{{"url":"{}","tenant":"contoso.example","username":"admin@contoso.example","access_token":"x","expires_at":9999999999}}"#, server.url)).unwrap();
    let r = cli.run(&["get-policies"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("Your credentials have expired"),
        "{}",
        r.stderr
    );

    cli.connect(&server, "reader@contoso.example");
    assert_eq!(cli.run(&["get-policies"]).code, 0);
    let r = cli.run(&["disconnect"]);
    assert_eq!(r.code, 0);
    assert!(!cache.exists());
    assert_eq!(cli.run(&["get-policies"]).code, 3);
}

#[test]
fn failed_sign_in_is_reported() {
    let server = TestServer::start();
    let cli = server.cli();
    let r = cli.run_with_input(
        &[
            "connect",
            "--username",
            "admin@contoso.example",
            "--password-stdin",
        ],
        "wrong\n",
    );
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("The user name or password is incorrect"),
        "{}",
        r.stderr
    );
    let r = cli.run_with_input(&["connect", "--password-stdin"], "x\n");
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = cli.run_with_input(
        &[
            "connect",
            "--username",
            "admin@contoso.example",
            "--password-stdin",
            "--url",
            "http://127.0.0.1:1",
        ],
        "x\n",
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cannot reach"), "{}", r.stderr);
}

#[test]
fn exit_statuses_follow_the_spec() {
    let server = TestServer::start();
    let cli = server.cli();
    cli.connect(&server, "reader@contoso.example");
    // Forbidden: 4, in the module's words.
    let r = cli.line("Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0LH3L -Value Disabled");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("may not change"), "{}", r.stderr);
    // Not found: 5.
    let r =
        cli.line("Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId NOPE");
    assert_eq!(r.code, 5);
    assert!(r.stderr.contains("Failed to retrieve policy with PolicyId 'AllowSelfServicePurchase': Product 'NOPE' was not found"), "{}", r.stderr);
    let r = cli.line("Get-MSCommercePolicy -PolicyId Nope");
    assert_eq!(r.code, 5);
    assert!(
        r.stderr
            .contains("Failed to retrieve policy with PolicyId 'Nope'"),
        "{}",
        r.stderr
    );
    // Usage: 2.
    assert_eq!(
        cli.run(&["update-product-policy", "--product-id", "CFQ7TTC0LH3L"])
            .code,
        2
    );
    assert_eq!(cli.run(&["get-product-policy"]).code, 2);
    assert_eq!(cli.run(&["no-such-command"]).code, 2);
    assert_eq!(cli.run(&["get-product-policies", "--match", "("]).code, 2);
    // Failed: 1 (the server refuses the value).
    let admin = server.cli();
    admin.connect(&server, "admin@contoso.example");
    let r = admin.run(&[
        "update-product-policy",
        "--product-id",
        "CFQ7TTC0LH3L",
        "--value",
        "Sometimes",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("'Sometimes' is not a policy value"),
        "{}",
        r.stderr
    );
    // An unknown scope shows the server's answer.
    let r = admin.run(&["get-product-policies", "--scope", "Bogus"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Invalid scope."), "{}", r.stderr);
}

#[test]
fn json_and_csv_use_the_module_property_names() {
    let server = TestServer::start();
    let cli = server.cli();
    cli.connect(&server, "reader@contoso.example");
    let r = cli.run(&["get-product-policies", "--output", "json"]);
    let rows = r.json();
    assert_eq!(rows.as_array().unwrap().len(), 17);
    assert_eq!(
        keys(&rows[0]),
        ["PolicyId", "PolicyValue", "ProductId", "ProductName"]
    );
    assert_eq!(rows[0]["ProductName"], "Clipchamp Premium");
    let r = cli.run(&[
        "Get-MSCommerceProductPolicies",
        "-Scope",
        "OfferType",
        "-o",
        "json",
    ]);
    assert_eq!(
        keys(&r.json()[0]),
        ["PolicyId", "PolicyValue", "Scope", "ScopeId", "ScopeValue"]
    );
    let r = cli.run(&["get-policies", "-o", "json"]);
    assert_eq!(
        keys(&r.json()[0]),
        ["DefaultValue", "Description", "PolicyId"]
    );
    let r = cli.run(&["get-policy", "-o", "json"]);
    assert_eq!(r.json()["PolicyId"], POLICY, "one object for one policy");
    let r = cli.run_env(
        &["get-product-policy", "--product-id", "CFQ7TTC0PW0V"],
        &[("MSCOMMERCE_OUTPUT", "json")],
    );
    assert_eq!(
        r.json()["ProductName"],
        "Viva Goals (self-service trials only)"
    );

    let r = cli.run(&["get-product-policies", "--output", "csv"]);
    let mut lines = r.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("ProductName,ProductId,PolicyValue,PolicyId")
    );
    assert_eq!(
        lines.next(),
        Some("Clipchamp Premium,CFQ7TTC0N8SS,Enabled,AllowSelfServicePurchase")
    );
    assert!(
        r.stdout
            .contains("\"Viva Goals (self-service trials only)\"")
            || r.stdout.contains("Viva Goals (self-service trials only),")
    );
    assert_eq!(r.stdout.lines().count(), 18);
}

#[test]
fn what_if_shows_the_plan_and_changes_nothing() {
    let server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let cli = server.cli();
    cli.connect(&server, "admin@contoso.example");
    let r = cli.run(&[
        "update-product-policy",
        "--match",
        "^Power",
        "--value",
        "Disabled",
        "--what-if",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let planned: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("What if:"))
        .collect();
    assert_eq!(planned.len(), 5, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Power BI Pro (CFQ7TTC0H9MP)\": Enabled -> Disabled"),
        "{}",
        r.stdout
    );
    let r = cli.line("Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -OfferType SaaS -Value Disabled -WhatIf");
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("Software as a Service (SaaS)"),
        "{}",
        r.stdout
    );
    // Nothing changed, nothing logged.
    for item in server
        .get(&format!("/v1.0/policies/{POLICY}/products"), &admin)
        .json["items"]
        .as_array()
        .unwrap()
    {
        assert_eq!(item["policyValue"], "Enabled");
    }
    assert_eq!(server.value_of(&admin, "offerTypes/SaaS"), "Enabled");
    assert_eq!(
        server
            .get(&format!("/v1.0/policies/{POLICY}/auditLog"), &admin)
            .json["items"],
        serde_json::json!([])
    );

    // Many rows without --yes, from a script: refused, nothing changed.
    let r = cli.run(&["update-product-policy", "--all", "--value", "Disabled"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0H9MP"), "Enabled");

    // With --yes, all of them.
    let r = cli.run(&[
        "update-product-policy",
        "--all",
        "--value",
        "Disabled",
        "--yes",
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json().as_array().unwrap().len(), 17);
    for item in server
        .get(&format!("/v1.0/policies/{POLICY}/products"), &admin)
        .json["items"]
        .as_array()
        .unwrap()
    {
        assert_eq!(item["policyValue"], "Disabled");
    }
}

#[test]
fn a_token_from_the_environment_skips_the_cache() {
    let server = TestServer::start();
    let token = server.token("reader@contoso.example");
    let cli = server.cli();
    let r = cli.run_env(
        &["get-product-policy", "--offer-type", "saas", "-o", "json"],
        &[("MSCOMMERCE_TOKEN", &token)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["ScopeId"], "SaaS");
    let r = cli.run(&["get-policies", "--token", &token]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn default_and_reset_commands() {
    let server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let cli = server.cli();
    cli.connect(&server, "admin@contoso.example");
    assert_eq!(
        cli.run(&[
            "update-product-policy",
            "--product-id",
            "CFQ7TTC0J1FV",
            "--value",
            "Enabled"
        ])
        .code,
        0
    );
    let r = cli.run(&["set-default-policy", "--value", "Disabled", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["DefaultValue"], "Disabled");
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0H9MP"), "Disabled");
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0J1FV"), "Enabled");
    let r = cli.run(&[
        "reset-product-policy",
        "--product-id",
        "CFQ7TTC0J1FV",
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["PolicyValue"], "Disabled");
    // Billing administrators may not change the default.
    let billing = server.cli();
    billing.connect(&server, "billing@contoso.example");
    let r = billing.run(&["set-default-policy", "--value", "Enabled"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
}

/// `connect` on a terminal asks for the user name, then the password without echoing it. The
/// terminal is a real pseudo-terminal made by `script` (util-linux, on every Debian machine).
#[test]
fn interactive_connect_hides_the_password() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let server = TestServer::start();
    let config = tempfile::tempdir().unwrap();
    let command_line = format!(
        "{} Connect-MSCommerce --url {}",
        crate::support::binary(),
        server.url
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command_line, "/dev/null"])
        .env("MSCOMMERCE_CONFIG_DIR", config.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("script(1) from util-linux");
    let screen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let screen = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let wait_for = |text: &str| {
        let started = Instant::now();
        while !screen.lock().unwrap().contains(text) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no {text:?} on the screen: {}",
                screen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    wait_for("Username: ");
    stdin.write_all(b"admin@contoso.example\n").unwrap();
    wait_for("Password: ");
    // Let the prompt turn echo off before the password arrives.
    std::thread::sleep(Duration::from_millis(500));
    let password = server.password("admin@contoso.example");
    stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
    wait_for("Connected to contoso.example as admin@contoso.example");
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success());
    let screen = screen.lock().unwrap().clone();
    assert!(
        screen.contains("admin@contoso.example"),
        "the user name is echoed: {screen}"
    );
    assert!(
        !screen.contains(&password),
        "the password must not be echoed: {screen}"
    );
    assert!(config.path().join("profiles/default.json").exists());
}

#[test]
fn connect_by_tenant_id_with_a_password_from_standard_input() {
    let server = TestServer::start();
    let cli = server.cli();
    let tenant_id = server.tenant("contoso.example").id.clone();
    let r = cli.run_with_input(
        &[
            "connect",
            "--tenant",
            &tenant_id,
            "--username",
            "billing@contoso.example",
            "--password-stdin",
        ],
        &format!("{}\n", server.password("billing@contoso.example")),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = cli.run(&[
        "update-product-policy",
        "--offer-type",
        "powerbivisuals",
        "--value",
        "disabled",
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["ScopeId"], "POWERBIVISUALS");
    assert_eq!(r.json()["PolicyValue"], "Disabled");
}
