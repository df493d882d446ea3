//! The operator's administration: `/admin/v1` and `mscommerce admin …`.

use serde_json::json;

use crate::support::{TestServer, POLICY};

#[test]
fn operator_manages_a_tenant_from_creation_to_deletion() {
    let server = TestServer::start();
    let cli = server.cli();
    let op = [
        "--operator-token",
        server.credentials.operator_token.as_str(),
    ];
    let admin = |args: &[&str]| {
        let mut all: Vec<&str> = vec!["admin"];
        all.extend_from_slice(args);
        all.extend_from_slice(&op);
        cli.run(&all)
    };

    let r = admin(&[
        "tenant",
        "create",
        "--name",
        "Northwind",
        "--domain",
        "Northwind.example",
        "--domain",
        "nw.example",
        "--country",
        "de",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let tenant = r.json();
    assert_eq!(
        tenant["domains"],
        json!(["northwind.example", "nw.example"])
    );
    assert_eq!(
        (tenant["tenantType"].as_str(), tenant["country"].as_str()),
        (Some("commercial"), Some("DE"))
    );
    let r = admin(&["tenant", "list"]);
    assert_eq!(r.json().as_array().unwrap().len(), 3);

    let r = cli.run_with_input(
        &[
            "admin",
            "user",
            "create",
            "--tenant",
            "nw.example",
            "--upn",
            "boss@northwind.example",
            "--role",
            "Global Administrator",
            "--password-stdin",
            "--operator-token",
            &server.credentials.operator_token,
        ],
        "correct horse battery\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["roles"], json!(["Global Administrator"]));
    assert!(
        r.json().get("password").is_none(),
        "a password given is never echoed"
    );
    let r = admin(&[
        "user",
        "create",
        "--tenant",
        "northwind.example",
        "--upn",
        "guest@northwind.example",
        "--user-type",
        "guest",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let made = r.json()["password"].as_str().unwrap().to_string();
    assert!(made.len() >= 12);
    let r = admin(&[
        "user",
        "enrol-totp",
        "--tenant",
        "northwind.example",
        "guest@northwind.example",
    ]);
    assert!(
        r.json()["otpauthUri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/mscommerce:guest%40northwind.example?"),
        "{}",
        r.stdout
    );
    let r = admin(&["user", "list", "--tenant", "northwind.example"]);
    let users = r.json();
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert_eq!(users[1]["hasTotp"], true);

    // The new tenant's admin works with its policies.
    let boss = server.oauth(
        "northwind.example",
        "token",
        &[
            ("grant_type", "password"),
            ("username", "boss@northwind.example"),
            ("password", "correct horse battery"),
        ],
    );
    assert_eq!(boss.status, 200, "{}", boss.text);
    let token = boss.json["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        server
            .put_value(
                &format!("/v1.0/policies/{POLICY}/offerTypes/SaaS"),
                &token,
                "Disabled"
            )
            .status,
        200
    );

    let r = admin(&[
        "tenant",
        "update",
        "northwind.example",
        "--type",
        "education",
    ]);
    assert_eq!(r.json()["tenantType"], "education");

    // Deleting asks for --yes, then removes everything: sign-in and tokens stop working.
    let r = admin(&["tenant", "delete", "northwind.example"]);
    assert_eq!(r.code, 2);
    let r = admin(&["tenant", "delete", "northwind.example", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        server
            .get(&format!("/v1.0/policies/{POLICY}"), &token)
            .status,
        401
    );
    let gone = server.oauth(
        "northwind.example",
        "token",
        &[
            ("grant_type", "password"),
            ("username", "boss@northwind.example"),
            ("password", "correct horse battery"),
        ],
    );
    assert_eq!(gone.json["error"], "invalid_request");
    assert_eq!(admin(&["tenant", "show", "northwind.example"]).code, 5);
    // The domain is free again, and a new tenant there starts empty.
    let r = admin(&[
        "tenant",
        "create",
        "--name",
        "Northwind again",
        "--domain",
        "northwind.example",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        admin(&["user", "list", "--tenant", "northwind.example"]).json(),
        json!([])
    );
}

#[test]
fn operator_api_refuses_bad_input_and_other_tokens() {
    let server = TestServer::start();
    let user_token = server.token("admin@contoso.example");
    let no_token = server.request("GET", "/admin/v1/tenants", None, None);
    assert_eq!(no_token.status, 401);
    let with_user_token = server.request("GET", "/admin/v1/tenants", Some(&user_token), None);
    assert_eq!(
        with_user_token.status, 401,
        "a tenant admin is not the operator"
    );

    let cases = [
        (
            "POST",
            "/tenants",
            json!({"displayName": "X", "domains": ["not a domain"]}),
            400,
            "not a domain name",
        ),
        (
            "POST",
            "/tenants",
            json!({"displayName": "X", "domains": []}),
            400,
            "at least one domain",
        ),
        (
            "POST",
            "/tenants",
            json!({"displayName": "X", "domains": ["contoso.example"]}),
            409,
            "another tenant",
        ),
        (
            "POST",
            "/tenants",
            json!({"displayName": "X", "domains": ["x.example"], "tenantType": "school"}),
            400,
            "commercial, education or government",
        ),
        (
            "POST",
            "/tenants",
            json!({"displayName": "X", "domains": ["x.example"], "country": "Germany"}),
            400,
            "two letters",
        ),
        (
            "POST",
            "/tenants",
            json!({"displayName": "X", "domains": ["x.example"], "id": "nope"}),
            400,
            "not a GUID",
        ),
        ("POST", "/tenants", json!({"name": "X"}), 400, "displayName"),
        (
            "POST",
            "/tenants/contoso.example/users",
            json!({"userPrincipalName": "eve@evil.example"}),
            400,
            "not in a domain of this tenant",
        ),
        (
            "POST",
            "/tenants/contoso.example/users",
            json!({"userPrincipalName": "eve@contoso.example", "roles": ["root"]}),
            400,
            "not a role",
        ),
        (
            "POST",
            "/tenants/contoso.example/users",
            json!({"userPrincipalName": "eve@contoso.example", "password": "short"}),
            400,
            "at least 8",
        ),
        (
            "POST",
            "/tenants/contoso.example/users",
            json!({"userPrincipalName": "admin@contoso.example"}),
            409,
            "already exists",
        ),
        (
            "PATCH",
            "/tenants/contoso.example/users/nobody@contoso.example",
            json!({"displayName": "x"}),
            404,
            "not found",
        ),
        (
            "POST",
            "/tenants/contoso.example/applications",
            json!({"displayName": "A", "permissions": ["Everything"]}),
            400,
            "not a permission",
        ),
        (
            "GET",
            "/tenants/nowhere.example",
            json!(null),
            404,
            "not found",
        ),
    ];
    for (method, path, body, status, says) in cases {
        let body = (!body.is_null()).then_some(body);
        let reply = server.admin(method, path, body);
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.text);
        assert!(
            reply.reason().contains(says),
            "{method} {path}: {:?} should say {says:?}",
            reply.reason()
        );
    }
    // Nothing was created by the refused requests.
    assert_eq!(
        server.admin("GET", "/tenants", None).json["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        server
            .admin("GET", "/tenants/contoso.example/users", None)
            .json["items"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn a_configured_operator_token_works_until_it_is_taken_out() {
    const TOKEN: &str = "configured-operator-token-0123456789";
    let mut server = TestServer::start_with(&["--operator-token", TOKEN]);
    assert_eq!(
        server
            .request("GET", "/admin/v1/tenants", Some(TOKEN), None)
            .status,
        200
    );
    server.restart();
    assert_eq!(
        server
            .request("GET", "/admin/v1/tenants", Some(TOKEN), None)
            .status,
        401
    );
    assert_eq!(
        server.admin("GET", "/tenants", None).status,
        200,
        "--dev's own token still works"
    );
}
