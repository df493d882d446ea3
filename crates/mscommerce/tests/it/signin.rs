//! Sign-in like a real directory (SPEC §4): TOTP, refresh tokens, applications, device code,
//! lockout, revocation, discovery and key rotation; each failure with its OAuth error code.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::{Reply, TestServer, POLICY};

fn totp_code(secret: &str, at: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .unwrap()
        .generate(at)
        .to_string()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(token: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

fn password_form<'a>(upn: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "password"),
        ("username", upn),
        ("password", password),
    ]
}

fn enrol_totp(server: &TestServer, upn: &str) -> String {
    let reply = server.admin(
        "POST",
        &format!("/tenants/contoso.example/users/{upn}/totp"),
        None,
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert!(
        reply.json["otpauthUri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/"),
        "{}",
        reply.text
    );
    reply.json["secret"].as_str().unwrap().to_string()
}

#[test]
fn a_user_with_totp_needs_a_fresh_code() {
    let server = TestServer::start();
    let upn = "reader@contoso.example";
    let password = server.password(upn);
    let secret = enrol_totp(&server, upn);

    let reply = server.oauth("contoso.example", "token", &password_form(upn, &password));
    assert_eq!(
        (reply.status, reply.json["error"].as_str()),
        (400, Some("mfa_required")),
        "{}",
        reply.text
    );

    let mut form = password_form(upn, &password);
    form.push(("mfa_code", "000000"));
    let wrong = if totp_code(&secret, now()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    form[3] = ("mfa_code", wrong);
    let reply = server.oauth("contoso.example", "token", &form);
    assert_eq!(
        (reply.status, reply.json["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        reply.text
    );

    let code = totp_code(&secret, now());
    form[3] = ("mfa_code", &code);
    let reply = server.oauth("contoso.example", "token", &form);
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The same code a second time is refused (RFC 6238 §5.2).
    let reply = server.oauth("contoso.example", "token", &form);
    assert_eq!(
        (reply.status, reply.json["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        reply.text
    );
    assert!(reply.json["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));

    // The command line asks for the code only because the server asks: a second line of stdin.
    let cli = server.cli();
    let next_step = (now() / 30 + 1) * 30;
    let later_code = totp_code(&secret, next_step);
    // Wait for the next step, so the code is fresh and not the one used above.
    std::thread::sleep(std::time::Duration::from_secs(
        next_step.saturating_sub(now()),
    ));
    let r = cli.run_with_input(
        &["connect", "--username", upn, "--password-stdin"],
        &format!("{password}\n{later_code}\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(cli.run(&["get-policies"]).code, 0);
}

#[test]
fn refresh_tokens_rotate_and_a_reused_one_revokes_the_sign_in() {
    let server = TestServer::start();
    let upn = "billing@contoso.example";
    let password = server.password(upn);
    let first = server.oauth("contoso.example", "token", &password_form(upn, &password));
    assert_eq!(first.status, 200);
    let r1 = first.json["refresh_token"].as_str().unwrap().to_string();

    let second = server.oauth(
        "contoso.example",
        "token",
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    );
    assert_eq!(second.status, 200, "{}", second.text);
    let r2 = second.json["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2, "rotated on every use");
    let access = second.json["access_token"].as_str().unwrap();
    assert_eq!(
        server
            .get(&format!("/v1.0/policies/{POLICY}"), access)
            .status,
        200
    );

    // The old one again: theft. Both it and its successor are now dead.
    let reuse = server.oauth(
        "contoso.example",
        "token",
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    );
    assert_eq!(
        (reuse.status, reuse.json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(reuse.json["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));
    let after = server.oauth(
        "contoso.example",
        "token",
        &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
    );
    assert_eq!(
        (after.status, after.json["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A refresh token is good only in its own tenant.
    let fresh = server.oauth("contoso.example", "token", &password_form(upn, &password));
    let r3 = fresh.json["refresh_token"].as_str().unwrap().to_string();
    let other = server.oauth(
        "fabrikam.example",
        "token",
        &[("grant_type", "refresh_token"), ("refresh_token", &r3)],
    );
    assert_eq!(
        (other.status, other.json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let garbage = server.oauth(
        "contoso.example",
        "token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "msr_nope"),
        ],
    );
    assert_eq!(garbage.json["error"], "invalid_grant");
}

#[test]
fn applications_sign_in_with_a_secret_and_hold_their_permissions() {
    let server = TestServer::start();
    let make_app = |name: &str, permission: &str| {
        let app = server.admin(
            "POST",
            "/tenants/contoso.example/applications",
            Some(json!({"displayName": name, "permissions": [permission]})),
        );
        assert_eq!(app.status, 201, "{}", app.text);
        let id = app.json["id"].as_str().unwrap().to_string();
        let secret = server.admin(
            "POST",
            &format!("/tenants/contoso.example/applications/{id}/secrets"),
            None,
        );
        assert_eq!(secret.status, 201, "{}", secret.text);
        (id, secret.json["secret"].as_str().unwrap().to_string())
    };
    let app_token = |id: &str, secret: &str| {
        let scope = format!("{}/.default", proto::DEFAULT_RESOURCE_ID);
        server.oauth(
            "contoso.example",
            "token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", &scope),
            ],
        )
    };
    let (reader_id, reader_secret) = make_app("Report", "Policy.Read.AllowSelfServicePurchase");
    let (writer_id, writer_secret) = make_app("Sync", "Policy.ReadWrite.AllowSelfServicePurchase");

    let reply = app_token(&reader_id, &reader_secret);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.json.get("refresh_token").is_none());
    let reader = reply.json["access_token"].as_str().unwrap().to_string();
    let c = claims(&reader);
    assert_eq!(c["roles"], json!(["Policy.Read.AllowSelfServicePurchase"]));
    assert!(c.get("scp").is_none() && c.get("upn").is_none());
    assert_eq!(
        server
            .get(&format!("/v1.0/policies/{POLICY}/products"), &reader)
            .status,
        200
    );
    let refused = server.put_value(
        &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
        &reader,
        "Disabled",
    );
    assert_eq!(refused.status, 403, "{}", refused.text);

    let writer = app_token(&writer_id, &writer_secret).json["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let done = server.put_value(
        &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
        &writer,
        "Disabled",
    );
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json["lastModifiedBy"], writer_id.as_str());
    let admin = server.token("admin@contoso.example");
    let log = server.get(&format!("/v1.0/policies/{POLICY}/auditLog"), &admin);
    assert_eq!(log.json["items"][0]["actor"], writer_id.as_str());
    assert_eq!(log.json["items"][0]["actorType"], "application");

    // Wrong secret, unknown client, the secret sent with HTTP Basic.
    let bad = app_token(&writer_id, "mss_wrong");
    assert_eq!(
        (bad.status, bad.json["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let unknown = app_token("00000000-0000-0000-0000-00000000abcd", &writer_secret);
    assert_eq!(
        (unknown.status, unknown.json["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let basic = Reply::from(
        server
            .raw()
            .post(format!("{}/contoso.example/oauth2/v2.0/token", server.url))
            .basic_auth(&writer_id, Some(&writer_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap(),
    );
    assert_eq!(basic.status, 200, "{}", basic.text);
    // An application of Contoso cannot sign in at Fabrikam.
    let elsewhere = server.oauth(
        "fabrikam.example",
        "token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &writer_id),
            ("client_secret", &writer_secret),
        ],
    );
    assert_eq!(elsewhere.json["error"], "invalid_client");
    // An application cannot use a user's grant.
    let wrong_grant = server.oauth(
        "contoso.example",
        "token",
        &[
            ("grant_type", "password"),
            ("client_id", &writer_id),
            ("client_secret", &writer_secret),
            ("username", "admin@contoso.example"),
            ("password", "x"),
        ],
    );
    assert_eq!(wrong_grant.json["error"], "unauthorized_client");

    // Taking the write permission away ends the tokens that carry it.
    let patched = server.admin(
        "PATCH",
        &format!("/tenants/contoso.example/applications/{writer_id}"),
        Some(json!({"permissions": ["Policy.Read.AllowSelfServicePurchase"]})),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    let stale = server.put_value(
        &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
        &writer,
        "Enabled",
    );
    assert_eq!(stale.status, 401, "{}", stale.text);
    assert!(stale.reason().contains("revoked"), "{}", stale.reason());

    // The command line signs in as the application.
    let cli = server.cli();
    let r = cli.run_with_input(
        &[
            "connect",
            "--tenant",
            "contoso.example",
            "--client-id",
            &reader_id,
            "--client-secret-stdin",
        ],
        &format!("{reader_secret}\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("application {reader_id}")),
        "{}",
        r.stderr
    );
    let r = cli.run(&[
        "get-product-policy",
        "--product-id",
        "CFQ7TTC0H9MP",
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["PolicyValue"], "Disabled");
    assert_eq!(
        cli.run(&[
            "update-product-policy",
            "--product-id",
            "CFQ7TTC0H9MP",
            "--value",
            "Enabled"
        ])
        .code,
        4
    );
}

fn poll(server: &TestServer, device_code: &str) -> Reply {
    server.oauth(
        "contoso.example",
        "token",
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
        ],
    )
}

fn submit_page(server: &TestServer, form: &[(&str, &str)]) -> Reply {
    Reply::from(
        server
            .raw()
            .post(format!("{}/devicelogin", server.url))
            .form(form)
            .send()
            .unwrap(),
    )
}

#[test]
fn device_code_sign_in_end_to_end_through_the_page() {
    let server = TestServer::start_with(&["--device-code-interval", "1"]);
    let start = server.oauth(
        "contoso.example",
        "devicecode",
        &[("scope", &format!("{}/.default", proto::DEFAULT_RESOURCE_ID))],
    );
    assert_eq!(start.status, 200, "{}", start.text);
    let device_code = start.json["device_code"].as_str().unwrap().to_string();
    let user_code = start.json["user_code"].as_str().unwrap().to_string();
    assert_eq!(
        start.json["verification_uri"],
        format!("{}/devicelogin", server.url)
    );
    assert!(start.json["message"].as_str().unwrap().contains(&user_code));
    assert_eq!(start.json["interval"], 1);

    let pending = poll(&server, &device_code);
    assert_eq!(
        (pending.status, pending.json["error"].as_str()),
        (400, Some("authorization_pending")),
        "{}",
        pending.text
    );
    let fast = poll(&server, &device_code);
    assert_eq!(fast.json["error"], "slow_down", "{}", fast.text);

    // The page: a form that carries the code given in the link.
    let page = Reply::from(
        server
            .raw()
            .get(format!(
                "{}/devicelogin?code={}",
                server.url,
                user_code.to_lowercase()
            ))
            .send()
            .unwrap(),
    );
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("<form") && page.text.contains(&format!(r#"value="{user_code}""#)),
        "{}",
        page.text
    );
    assert!(page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));

    // A wrong password is answered on the page, and the code stays pending.
    let wrong = submit_page(
        &server,
        &[
            ("user_code", &user_code),
            ("username", "admin@contoso.example"),
            ("password", "wrong"),
            ("action", "approve"),
        ],
    );
    assert_eq!(wrong.status, 400);
    assert!(
        wrong
            .text
            .contains("The user name or password is incorrect."),
        "{}",
        wrong.text
    );
    // A user of another tenant cannot approve Contoso's code.
    let foreign = submit_page(
        &server,
        &[
            ("user_code", &user_code),
            ("username", "admin@fabrikam.example"),
            ("password", &server.password("admin@fabrikam.example")),
            ("action", "approve"),
        ],
    );
    assert_eq!(foreign.status, 400, "{}", foreign.text);
    // Markup typed into the form comes back escaped.
    let hostile = submit_page(
        &server,
        &[
            ("user_code", &user_code),
            ("username", "<script>x</script>"),
            ("password", "x"),
            ("action", "approve"),
        ],
    );
    assert!(
        !hostile.text.contains("<script>x</script>") && hostile.text.contains("&lt;script&gt;"),
        "{}",
        hostile.text
    );

    let ok = submit_page(
        &server,
        &[
            ("user_code", &user_code.replace('-', "")),
            ("username", "admin@contoso.example"),
            ("password", &server.password("admin@contoso.example")),
            ("action", "approve"),
        ],
    );
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert!(
        ok.text
            .contains("You are signed in as admin@contoso.example"),
        "{}",
        ok.text
    );

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let tokens = poll(&server, &device_code);
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = tokens.json["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["upn"], "admin@contoso.example");
    assert_eq!(
        server
            .get(&format!("/v1.0/policies/{POLICY}"), access)
            .status,
        200
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = poll(&server, &device_code);
    assert_eq!(
        again.json["error"], "invalid_grant",
        "a device code is good once"
    );

    // Declined at the page.
    let start = server.oauth("contoso.example", "devicecode", &[]);
    let code = start.json["device_code"].as_str().unwrap().to_string();
    let declined = submit_page(
        &server,
        &[
            ("user_code", start.json["user_code"].as_str().unwrap()),
            ("action", "deny"),
        ],
    );
    assert_eq!(declined.status, 200);
    assert!(declined.text.contains("cancelled"));
    assert_eq!(poll(&server, &code).json["error"], "access_denied");

    // A code nobody issued.
    let unknown = submit_page(
        &server,
        &[
            ("user_code", "BCDF-GHJK"),
            ("username", "admin@contoso.example"),
            ("password", "x"),
            ("action", "approve"),
        ],
    );
    assert_eq!(unknown.status, 400);
    assert!(unknown.text.contains("not valid"));
    assert_eq!(poll(&server, "msd_unknown").json["error"], "invalid_grant");
}

#[test]
fn an_unused_device_code_expires() {
    let server =
        TestServer::start_with(&["--device-code-lifetime", "1", "--device-code-interval", "1"]);
    let start = server.oauth("contoso.example", "devicecode", &[]);
    let code = start.json["device_code"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let reply = poll(&server, &code);
    assert_eq!(
        (reply.status, reply.json["error"].as_str()),
        (400, Some("expired_token")),
        "{}",
        reply.text
    );
    let page = submit_page(
        &server,
        &[
            ("user_code", start.json["user_code"].as_str().unwrap()),
            ("username", "admin@contoso.example"),
            ("password", &server.password("admin@contoso.example")),
            ("action", "approve"),
        ],
    );
    assert!(page.text.contains("expired"), "{}", page.text);
}

#[test]
fn the_command_line_signs_in_with_a_device_code() {
    use std::io::{BufRead, BufReader};
    let server = TestServer::start_with(&["--device-code-interval", "1"]);
    let cli = server.cli();
    let mut child = std::process::Command::new(crate::support::binary())
        .args(["connect", "--device-code", "--tenant", "contoso.example"])
        .env("MSCOMMERCE_CONFIG_DIR", cli.config.path())
        .env("MSCOMMERCE_URL", &server.url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let user_code = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('.')
        .to_string();
    assert!(line.contains("/devicelogin"), "{line}");
    let ok = submit_page(
        &server,
        &[
            ("user_code", &user_code),
            ("username", "reader@contoso.example"),
            ("password", &server.password("reader@contoso.example")),
            ("action", "approve"),
        ],
    );
    assert_eq!(ok.status, 200, "{}", ok.text);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "{rest}");
    assert!(rest.contains("Connected to contoso.example"), "{rest}");
    assert_eq!(cli.run(&["get-policies"]).code, 0);
}

#[test]
fn repeated_failures_lock_the_account_with_the_same_answer_for_unknown_users() {
    let server = TestServer::start_with(&["--lockout-threshold", "3", "--lockout-seconds", "60"]);
    let upn = "billing@contoso.example";
    for _ in 0..3 {
        let r = server.oauth("contoso.example", "token", &password_form(upn, "wrong"));
        assert_eq!(r.json["error"], "invalid_grant");
    }
    // Now even the right password is refused for a while.
    let locked = server.oauth(
        "contoso.example",
        "token",
        &password_form(upn, &server.password(upn)),
    );
    assert_eq!(
        (locked.status, locked.json["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        locked.text
    );
    assert!(
        locked.json["error_description"]
            .as_str()
            .unwrap()
            .contains("Too many failed sign-ins"),
        "{}",
        locked.text
    );
    assert!(locked.headers.contains_key("retry-after"));
    // An account that does not exist is answered exactly alike.
    for _ in 0..3 {
        server.oauth(
            "contoso.example",
            "token",
            &password_form("ghost@contoso.example", "wrong"),
        );
    }
    let ghost = server.oauth(
        "contoso.example",
        "token",
        &password_form("ghost@contoso.example", "whatever"),
    );
    let without_digits = |r: &Reply| {
        r.json["error_description"]
            .as_str()
            .unwrap()
            .replace(|c: char| c.is_ascii_digit(), "")
    };
    assert_eq!(
        (ghost.status, ghost.json["error"].as_str()),
        (locked.status, locked.json["error"].as_str())
    );
    assert_eq!(without_digits(&ghost), without_digits(&locked));
    // Other accounts are not affected.
    let other = server.oauth(
        "contoso.example",
        "token",
        &password_form(
            "admin@contoso.example",
            &server.password("admin@contoso.example"),
        ),
    );
    assert_eq!(other.status, 200);
}

#[test]
fn changing_a_password_or_roles_ends_the_sessions() {
    let server = TestServer::start();
    let upn = "billing@contoso.example";
    let first = server.oauth(
        "contoso.example",
        "token",
        &password_form(upn, &server.password(upn)),
    );
    let access = first.json["access_token"].as_str().unwrap().to_string();
    let refresh = first.json["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        server
            .put_value(
                &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
                &access,
                "Disabled"
            )
            .status,
        200
    );

    // Billing Administrator becomes Global Reader: the old token, which says Billing, is refused.
    let patched = server.admin(
        "PATCH",
        &format!("/tenants/contoso.example/users/{upn}"),
        Some(json!({"roles": ["Global Reader"]})),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.json["roles"], json!(["Global Reader"]));
    let stale = server.put_value(
        &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
        &access,
        "Enabled",
    );
    assert_eq!(stale.status, 401, "{}", stale.text);
    assert!(stale.reason().contains("revoked"));
    let refreshed = server.oauth(
        "contoso.example",
        "token",
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    );
    assert_eq!(refreshed.json["error"], "invalid_grant");
    // A new sign-in carries the new role.
    let now_reader = server.token(upn);
    assert_eq!(
        server
            .put_value(
                &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
                &now_reader,
                "Enabled"
            )
            .status,
        403
    );

    // A new password: the old one fails, sessions end.
    let reset = server.admin(
        "PATCH",
        &format!("/tenants/contoso.example/users/{upn}"),
        Some(json!({"resetPassword": true})),
    );
    assert_eq!(reset.status, 200);
    let new_password = reset.json["password"].as_str().unwrap().to_string();
    assert_eq!(
        server
            .get(&format!("/v1.0/policies/{POLICY}"), &now_reader)
            .status,
        401
    );
    let old = server.oauth(
        "contoso.example",
        "token",
        &password_form(upn, &server.password(upn)),
    );
    assert_eq!(old.json["error"], "invalid_grant");
    let new = server.oauth(
        "contoso.example",
        "token",
        &password_form(upn, &new_password),
    );
    assert_eq!(new.status, 200);
}

#[test]
fn tokens_are_checked_for_expiry_audience_and_issuer() {
    let server = TestServer::start();
    let (kid, pkcs8) = server.signing_key();
    let tenant = server.tenant("contoso.example").id.clone();
    let admin = server.token("admin@contoso.example");
    let base = claims(&admin);
    let forge = |edit: &dyn Fn(&mut Value)| {
        let mut c = base.clone();
        edit(&mut c);
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, &c, &jsonwebtoken::EncodingKey::from_ed_der(&pkcs8)).unwrap()
    };
    let path = format!("/v1.0/policies/{POLICY}");
    // The forged-but-faithful token works: the key is the server's own.
    assert_eq!(server.get(&path, &forge(&|_| {})).status, 200);
    let t = now() as i64;
    let expired = forge(&|c| {
        c["iat"] = json!(t - 7200);
        c["nbf"] = json!(t - 7200);
        c["exp"] = json!(t - 3600);
    });
    let reply = server.get(&path, &expired);
    assert_eq!(reply.status, 401);
    assert!(reply.reason().contains("expired"), "{}", reply.reason());
    // Within the clock skew allowance, a just-expired token still works.
    let skewed = forge(&|c| c["exp"] = json!(t - 10));
    assert_eq!(server.get(&path, &skewed).status, 200);
    let not_yet = forge(&|c| c["nbf"] = json!(t + 3600));
    assert!(server
        .get(&path, &not_yet)
        .reason()
        .contains("not valid yet"));
    let audience = forge(&|c| c["aud"] = json!("https://graph.example"));
    assert!(server
        .get(&path, &audience)
        .reason()
        .contains("another resource"));
    let issuer = forge(&|c| c["iss"] = json!(format!("https://elsewhere.example/{tenant}/v2.0")));
    assert_eq!(server.get(&path, &issuer).status, 401);
    let unknown_tenant = forge(&|c| {
        c["tid"] = json!("00000000-0000-0000-0000-000000000042");
        c["iss"] = json!(format!(
            "{}/00000000-0000-0000-0000-000000000042/v2.0",
            server.url
        ));
    });
    let reply = server.get(&path, &unknown_tenant);
    assert_eq!(reply.status, 401);
    assert!(reply.reason().contains("not known"), "{}", reply.reason());
}

#[test]
fn discovery_and_signing_key_rotation() {
    let server = TestServer::start();
    let tenant = server.tenant("contoso.example").id.clone();
    let config = Reply::from(
        server
            .raw()
            .get(format!(
                "{}/contoso.example/v2.0/.well-known/openid-configuration",
                server.url
            ))
            .send()
            .unwrap(),
    );
    assert_eq!(config.status, 200);
    assert_eq!(
        config.json["issuer"],
        format!("{}/{tenant}/v2.0", server.url)
    );
    assert_eq!(
        config.json["token_endpoint"],
        format!("{}/{tenant}/oauth2/v2.0/token", server.url)
    );
    assert_eq!(
        config.json["device_authorization_endpoint"],
        format!("{}/{tenant}/oauth2/v2.0/devicecode", server.url)
    );
    let jwks_url = config.json["jwks_uri"].as_str().unwrap().to_string();
    let keys = |server: &TestServer| {
        Reply::from(server.raw().get(&jwks_url).send().unwrap()).json["keys"]
            .as_array()
            .unwrap()
            .clone()
    };
    assert_eq!(keys(&server).len(), 1);

    let before = server.token("admin@contoso.example");
    let kid_before = keys(&server)[0]["kid"].as_str().unwrap().to_string();
    let cli = server.cli();
    let r = cli.run(&[
        "admin",
        "keys",
        "rotate",
        "--operator-token",
        &server.credentials.operator_token,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let now_keys = keys(&server);
    assert_eq!(now_keys.len(), 2, "the old key is still published");
    let after = server.token("admin@contoso.example");
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(after.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_ne!(header["kid"], kid_before.as_str(), "the new key signs");
    // Tokens signed before the rotation keep working for their lifetime.
    assert_eq!(
        server
            .get(&format!("/v1.0/policies/{POLICY}"), &before)
            .status,
        200
    );
    assert_eq!(
        server
            .get(&format!("/v1.0/policies/{POLICY}"), &after)
            .status,
        200
    );
}

#[test]
fn disconnect_revokes_the_refresh_token_and_cached_tokens_refresh_silently() {
    let server = TestServer::start_with(&["--token-lifetime", "60"]);
    let cli = server.cli();
    cli.connect(&server, "admin@contoso.example");
    let profile = cli.config.path().join("profiles/default.json");
    let read =
        || serde_json::from_str::<Value>(&std::fs::read_to_string(&profile).unwrap()).unwrap();
    let first = read();
    // A 60-second token is inside the refresh margin: the next command refreshes it first.
    assert_eq!(cli.run(&["get-policies"]).code, 0);
    let second = read();
    assert_ne!(first["access_token"], second["access_token"]);
    assert_ne!(first["refresh_token"], second["refresh_token"]);

    let refresh = second["refresh_token"].as_str().unwrap().to_string();
    let r = cli.run(&["disconnect"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!profile.exists());
    let reply = server.oauth(
        "contoso.example",
        "token",
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    );
    assert_eq!(
        reply.json["error"], "invalid_grant",
        "disconnect revoked it at the server"
    );
}

#[test]
fn named_profiles_keep_connections_apart() {
    let server = TestServer::start();
    let cli = server.cli();
    let r = cli.run_with_input(
        &[
            "connect",
            "--profile",
            "fab",
            "--username",
            "admin@fabrikam.example",
            "--password-stdin",
        ],
        &format!("{}\n", server.password("admin@fabrikam.example")),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    cli.connect(&server, "admin@contoso.example");
    assert_eq!(
        cli.run(&[
            "update-product-policy",
            "--product-id",
            "CFQ7TTC0H9MP",
            "--value",
            "Disabled"
        ])
        .code,
        0
    );
    let fab = cli.run_env(
        &[
            "get-product-policy",
            "--product-id",
            "CFQ7TTC0H9MP",
            "-o",
            "json",
        ],
        &[("MSCOMMERCE_PROFILE", "fab")],
    );
    assert_eq!(
        fab.json()["PolicyValue"],
        "Enabled",
        "Fabrikam's value, through the fab profile"
    );
    let contoso = cli.run(&[
        "get-product-policy",
        "--product-id",
        "CFQ7TTC0H9MP",
        "-o",
        "json",
    ]);
    assert_eq!(contoso.json()["PolicyValue"], "Disabled");
    assert_eq!(cli.run(&["get-policies", "--profile", "../etc"]).code, 1);
}

#[test]
fn an_address_that_fails_too_often_is_slowed_to_a_stop() {
    let server = TestServer::start();
    // Twenty failures spread over twenty names (no single account reaches its own limit)...
    for i in 0..20 {
        let upn = format!("guess{i}@contoso.example");
        let r = server.oauth("contoso.example", "token", &password_form(&upn, "wrong"));
        assert_eq!(r.json["error"], "invalid_grant", "{}", r.text);
    }
    // ...lock the address, whatever it asks next.
    let r = server.oauth(
        "contoso.example",
        "token",
        &password_form(
            "admin@contoso.example",
            &server.password("admin@contoso.example"),
        ),
    );
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (429, Some("temporarily_unavailable")),
        "{}",
        r.text
    );
    assert!(r.headers.contains_key("retry-after"));
}
