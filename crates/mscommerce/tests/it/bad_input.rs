//! Bad input of every kind gets a clear 4xx with the error body, and changes nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::{TestServer, POLICY};

/// A token with its header or payload rewritten and the signature kept.
fn rewrite(token: &str, part: usize, edit: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut value: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[part]).unwrap()).unwrap();
    edit(&mut value);
    parts[part] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).unwrap());
    parts.join(".")
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    auth: Option<String>,
    body: Body,
    status: u16,
    code: &'static str,
    reason_has: &'static str,
}

#[test]
fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let bearer = |t: &str| Some(format!("Bearer {t}"));
    let p = |rest: &str| format!("/v1.0/policies/{POLICY}{rest}");
    let fabrikam_tid = server.tenant("fabrikam.example").id.clone();
    let admin_of_fabrikam = rewrite(&admin, 1, |c| c["tid"] = json!(fabrikam_tid));
    let with_more_roles = rewrite(&server.token("reader@contoso.example"), 1, |c| {
        c["wids"] = json!(["62e90394-69f5-4237-9190-012177145e10"])
    });
    let alg_none = {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = admin.split('.').nth(1).unwrap();
        format!("{header}.{payload}.")
    };
    let unknown_kid = rewrite(&admin, 0, |h| h["kid"] = json!("not-a-key-of-ours"));
    let hs256 = rewrite(&admin, 0, |h| h["alg"] = json!("HS256"));

    let cases = vec![
        Case {
            what: "unknown scope",
            method: "GET",
            path: p("/products?scope=Bogus"),
            auth: bearer(&admin),
            body: Body::None,
            status: 400,
            code: "BadRequest",
            reason_has: "Invalid scope.",
        },
        Case {
            what: "unknown policy",
            method: "GET",
            path: "/v1.0/policies/NoSuchPolicy".into(),
            auth: bearer(&admin),
            body: Body::None,
            status: 404,
            code: "NotFound",
            reason_has: "NoSuchPolicy",
        },
        Case {
            what: "unknown product",
            method: "GET",
            path: p("/products/NOSUCHPRODUCT"),
            auth: bearer(&admin),
            body: Body::None,
            status: 404,
            code: "NotFound",
            reason_has: "NOSUCHPRODUCT",
        },
        Case {
            what: "unknown offer type",
            method: "PUT",
            path: p("/offerTypes/Widgets"),
            auth: bearer(&admin),
            body: Body::Json(json!({"policyValue": "Disabled"})),
            status: 404,
            code: "NotFound",
            reason_has: "SaaS, POWERBIVISUALS",
        },
        Case {
            what: "retired product",
            method: "PUT",
            path: p("/products/CFQ7TTC0J203"),
            auth: bearer(&admin),
            body: Body::Json(json!({"policyValue": "Disabled"})),
            status: 404,
            code: "NotFound",
            reason_has: "Windows 365 Business",
        },
        Case {
            what: "unknown value",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Json(json!({"policyValue": "Maybe"})),
            status: 400,
            code: "BadRequest",
            reason_has: "Enabled, OnlyTrialsWithoutPaymentMethod, Disabled",
        },
        Case {
            what: "empty value",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Json(json!({"policyValue": ""})),
            status: 400,
            code: "BadRequest",
            reason_has: "not a policy value",
        },
        Case {
            what: "trials only on a product without a free trial",
            method: "PUT",
            path: p("/products/CFQ7TTC0H9MP"),
            auth: bearer(&admin),
            body: Body::Json(json!({"policyValue": "OnlyTrialsWithoutPaymentMethod"})),
            status: 400,
            code: "BadRequest",
            reason_has: "Power BI Pro",
        },
        Case {
            what: "trials only on an offer type",
            method: "PUT",
            path: p("/offerTypes/SaaS"),
            auth: bearer(&admin),
            body: Body::Json(json!({"policyValue": "OnlyTrialsWithoutPaymentMethod"})),
            status: 400,
            code: "BadRequest",
            reason_has: "only Enabled or Disabled",
        },
        Case {
            what: "body is not JSON",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Raw("application/json", b"{policyValue: Disabled".to_vec()),
            status: 400,
            code: "BadRequest",
            reason_has: "not valid JSON",
        },
        Case {
            what: "empty object",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Json(json!({})),
            status: 400,
            code: "BadRequest",
            reason_has: "policyValue",
        },
        Case {
            what: "value of the wrong type",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Json(json!({"policyValue": 1})),
            status: 400,
            code: "BadRequest",
            reason_has: "expected shape",
        },
        Case {
            what: "JSON array",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Json(json!(["Disabled"])),
            status: 400,
            code: "BadRequest",
            reason_has: "policyValue",
        },
        Case {
            what: "no body",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Raw("application/json", Vec::new()),
            status: 400,
            code: "BadRequest",
            reason_has: "policyValue",
        },
        Case {
            what: "wrong content type",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Raw("text/plain", br#"{"policyValue":"Disabled"}"#.to_vec()),
            status: 415,
            code: "UnsupportedMediaType",
            reason_has: "application/json",
        },
        Case {
            what: "oversized body",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Raw(
                "application/json",
                format!(
                    r#"{{"policyValue":"Disabled","pad":"{}"}}"#,
                    "x".repeat(70_000)
                )
                .into_bytes(),
            ),
            status: 413,
            code: "PayloadTooLarge",
            reason_has: "64 KiB",
        },
        Case {
            what: "unknown default value",
            method: "PATCH",
            path: p(""),
            auth: bearer(&admin),
            body: Body::Json(json!({"defaultValue": "Sometimes"})),
            status: 400,
            code: "BadRequest",
            reason_has: "Sometimes",
        },
        Case {
            what: "default sent as policyValue",
            method: "PATCH",
            path: p(""),
            auth: bearer(&admin),
            body: Body::Json(json!({"policyValue": "Disabled"})),
            status: 400,
            code: "BadRequest",
            reason_has: "defaultValue",
        },
        Case {
            what: "no token",
            method: "GET",
            path: p("/products"),
            auth: None,
            body: Body::None,
            status: 401,
            code: "Unauthorized",
            reason_has: "Bearer",
        },
        Case {
            what: "not a JWT",
            method: "GET",
            path: p("/products"),
            auth: bearer("garbage"),
            body: Body::None,
            status: 401,
            code: "Unauthorized",
            reason_has: "not valid",
        },
        Case {
            what: "alg none",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&alg_none),
            body: Body::Json(json!({"policyValue": "Disabled"})),
            status: 401,
            code: "Unauthorized",
            reason_has: "not valid",
        },
        Case {
            what: "payload moved to another tenant",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin_of_fabrikam),
            body: Body::Json(json!({"policyValue": "Disabled"})),
            status: 401,
            code: "Unauthorized",
            reason_has: "signature",
        },
        Case {
            what: "roles added to the payload",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&with_more_roles),
            body: Body::Json(json!({"policyValue": "Disabled"})),
            status: 401,
            code: "Unauthorized",
            reason_has: "signature",
        },
        Case {
            what: "unknown signing key",
            method: "GET",
            path: p("/products"),
            auth: bearer(&unknown_kid),
            body: Body::None,
            status: 401,
            code: "Unauthorized",
            reason_has: "key",
        },
        Case {
            what: "algorithm swapped to HS256",
            method: "GET",
            path: p("/products"),
            auth: bearer(&hs256),
            body: Body::None,
            status: 401,
            code: "Unauthorized",
            reason_has: "algorithm",
        },
        Case {
            what: "basic authentication",
            method: "GET",
            path: p("/products"),
            auth: Some("Basic YWRtaW46eA==".into()),
            body: Body::None,
            status: 401,
            code: "Unauthorized",
            reason_has: "Bearer",
        },
        Case {
            what: "method not allowed",
            method: "DELETE",
            path: "/v1.0/policies".into(),
            auth: bearer(&admin),
            body: Body::None,
            status: 405,
            code: "MethodNotAllowed",
            reason_has: "DELETE",
        },
        Case {
            what: "POST to a product",
            method: "POST",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Json(json!({"policyValue": "Disabled"})),
            status: 405,
            code: "MethodNotAllowed",
            reason_has: "POST",
        },
        Case {
            what: "unknown route",
            method: "GET",
            path: "/v1.0/nothing/here".into(),
            auth: bearer(&admin),
            body: Body::None,
            status: 404,
            code: "NotFound",
            reason_has: "/v1.0/policies",
        },
        Case {
            what: "audit time not a time",
            method: "GET",
            path: p("/auditLog?since=yesterday"),
            auth: bearer(&admin),
            body: Body::None,
            status: 400,
            code: "BadRequest",
            reason_has: "RFC 3339",
        },
        Case {
            what: "audit top out of range",
            method: "GET",
            path: p("/auditLog?top=0"),
            auth: bearer(&admin),
            body: Body::None,
            status: 400,
            code: "BadRequest",
            reason_has: "1 to 1000",
        },
        Case {
            what: "audit top not a number",
            method: "GET",
            path: p("/auditLog?top=many"),
            auth: bearer(&admin),
            body: Body::None,
            status: 400,
            code: "BadRequest",
            reason_has: "Allowed parameters",
        },
        Case {
            what: "audit unknown parameter",
            method: "GET",
            path: p("/auditLog?user=x"),
            auth: bearer(&admin),
            body: Body::None,
            status: 400,
            code: "BadRequest",
            reason_has: "Allowed parameters",
        },
        Case {
            what: "stale If-Match",
            method: "PUT",
            path: p("/products/CFQ7TTC0LH3L"),
            auth: bearer(&admin),
            body: Body::Json(json!({"policyValue": "Disabled"})),
            status: 412,
            code: "PreconditionFailed",
            reason_has: "ETag",
        },
    ];
    assert!(cases.len() >= 20);

    for case in &cases {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut request = server
            .raw()
            .request(method, format!("{}{}", server.url, case.path));
        if let Some(a) = &case.auth {
            request = request.header("Authorization", a);
        }
        if case.what == "stale If-Match" {
            request = request.header("If-Match", "\"0.7\"");
        }
        request = match &case.body {
            Body::None => request,
            Body::Json(v) => request.json(v),
            Body::Raw(ct, bytes) => request.header("Content-Type", *ct).body(bytes.clone()),
        };
        let reply = crate::support::Reply::from(request.send().unwrap());
        assert_eq!(reply.status, case.status, "{}: {}", case.what, reply.text);
        assert_eq!(
            reply.error_code(),
            case.code,
            "{}: {}",
            case.what,
            reply.text
        );
        assert!(
            reply.reason().contains(case.reason_has),
            "{}: reason {:?} should say {:?}",
            case.what,
            reply.reason(),
            case.reason_has
        );
        assert!(
            reply.headers.contains_key("x-ms-correlation-id"),
            "{}",
            case.what
        );
        if case.status == 401 {
            let challenge = reply
                .headers
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            assert!(
                challenge.starts_with("Bearer"),
                "{}: WWW-Authenticate {challenge:?}",
                case.what
            );
        }
    }

    // A correlation id that is not reasonable text is refused too.
    let reply = crate::support::Reply::from(
        server
            .raw()
            .get(format!("{}{}", server.url, p("")))
            .bearer_auth(&admin)
            .header("x-ms-correlation-id", "x".repeat(300))
            .send()
            .unwrap(),
    );
    assert_eq!(reply.status, 400);
    assert!(reply.reason().contains("x-ms-correlation-id"));

    // Nothing changed: every row still follows the untouched default, and the audit log is empty.
    let products = server.get(&p("/products"), &admin);
    for item in products.json["items"].as_array().unwrap() {
        assert_eq!(
            (item["policyValue"].as_str(), item["isDefault"].as_bool()),
            (Some("Enabled"), Some(true)),
            "{item}"
        );
    }
    let offers = server.get(&p("/products?scope=OfferType"), &admin);
    for item in offers.json["items"].as_array().unwrap() {
        assert_eq!(item["policyValue"], "Enabled", "{item}");
    }
    assert_eq!(server.get(&p(""), &admin).json["defaultValue"], "Enabled");
    let log = server.get(&p("/auditLog"), &admin);
    assert_eq!(log.json["items"], json!([]), "{}", log.text);
}

#[test]
fn token_endpoint_answers_oauth_errors() {
    let server = TestServer::start();
    let token_url = |tenant: &str| format!("{}/{tenant}/oauth2/v2.0/token", server.url);
    let post = |tenant: &str, form: &[(&str, &str)]| {
        let r = server
            .raw()
            .post(token_url(tenant))
            .form(form)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap())
    };
    let good = server.password("admin@contoso.example");

    let (status, wrong_password) = post(
        "contoso.example",
        &[
            ("grant_type", "password"),
            ("username", "admin@contoso.example"),
            ("password", "wrong"),
        ],
    );
    assert_eq!(
        (status, wrong_password["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // An unknown user gets exactly the same answer: nothing tells whether the user exists.
    let (status, unknown_user) = post(
        "contoso.example",
        &[
            ("grant_type", "password"),
            ("username", "nobody@contoso.example"),
            ("password", "wrong"),
        ],
    );
    assert_eq!(status, 400);
    assert_eq!(unknown_user, wrong_password);

    let (status, body) = post(
        "nowhere.example",
        &[
            ("grant_type", "password"),
            ("username", "admin@contoso.example"),
            ("password", &good),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("nowhere.example"));

    let (status, body) = post(
        "contoso.example",
        &[
            ("grant_type", "magic"),
            ("username", "admin@contoso.example"),
            ("password", &good),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let (status, body) = post(
        "contoso.example",
        &[("username", "admin@contoso.example"), ("password", &good)],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let (status, body) = post(
        "contoso.example",
        &[
            ("grant_type", "password"),
            ("client_id", "00000000-0000-0000-0000-000000000001"),
            ("username", "admin@contoso.example"),
            ("password", &good),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    let (status, body) = post(
        "contoso.example",
        &[
            ("grant_type", "password"),
            ("scope", "https://graph.example/.default"),
            ("username", "admin@contoso.example"),
            ("password", &good),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    let (status, body) = post(
        "contoso.example",
        &[
            ("grant_type", "password"),
            ("username", "not-an-upn"),
            ("password", &good),
        ],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let r = server
        .raw()
        .post(token_url("contoso.example"))
        .json(&json!({"grant_type": "password"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().unwrap()["error"], "invalid_request");

    // The module's own client id and scope, as it asks for them, work.
    let scope = format!("{}/.default", proto::DEFAULT_RESOURCE_ID);
    let (status, body) = post(
        "CONTOSO.EXAMPLE",
        &[
            ("grant_type", "password"),
            ("client_id", proto::MODULE_CLIENT_ID),
            ("scope", &scope),
            ("username", "Admin@Contoso.Example"),
            ("password", &good),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                body["access_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], proto::DEFAULT_RESOURCE_ID);
    assert_eq!(claims["tid"], server.tenant("contoso.example").id);
    assert_eq!(claims["upn"], "admin@contoso.example");
    assert_eq!(
        claims["wids"],
        json!(["62e90394-69f5-4237-9190-012177145e10"])
    );
    assert_eq!(
        claims["iss"],
        format!(
            "{}/{}/v2.0",
            server.url,
            server.tenant("contoso.example").id
        )
    );
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() == 3600);
}
