//! A property test: random and cross-tenant tokens, paths, methods and bodies thrown at the real
//! server never reach Contoso's data from outside Contoso, never change it, and never get a 5xx.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use crate::support::{TestServer, POLICY};

/// Appears only in Contoso's own data (its audit log), never in a request below.
const MARKER: &str = "contoso-private-marker-7f3a";

#[derive(Debug, Clone)]
struct Probe {
    method: &'static str,
    path: String,
    token: usize,
    body: Option<String>,
}

fn rewrite_payload(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    edit(&mut claims);
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    parts.join(".")
}

#[test]
fn no_request_from_outside_reaches_another_tenant() {
    let server = TestServer::start();
    let contoso = server.tenant("contoso.example").id.clone();
    let contoso_admin = server.token("admin@contoso.example");
    let marked = crate::support::Reply::from(
        server
            .raw()
            .put(format!(
                "{}/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP",
                server.url
            ))
            .bearer_auth(&contoso_admin)
            .header("x-ms-correlation-id", MARKER)
            .json(&json!({"policyValue": "Disabled"}))
            .send()
            .unwrap(),
    );
    assert_eq!(marked.status, 200);
    let before = server
        .get(&format!("/v1.0/policies/{POLICY}/products"), &contoso_admin)
        .text;
    let log_before = server
        .get(&format!("/v1.0/policies/{POLICY}/auditLog"), &contoso_admin)
        .json["items"]
        .as_array()
        .unwrap()
        .len();

    let fabrikam = server.token("admin@fabrikam.example");
    let tokens: Vec<Option<String>> = vec![
        Some(fabrikam.clone()),
        // Fabrikam's token claiming to be of Contoso, or to hold more.
        Some(rewrite_payload(&fabrikam, |c| {
            c["tid"] = json!(contoso.clone())
        })),
        Some(rewrite_payload(&fabrikam, |c| {
            c["tid"] = json!(contoso.clone());
            c["iss"] = json!(format!("{}/{}/v2.0", server.url, contoso));
        })),
        Some(format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            rewrite_payload(&fabrikam, |c| c["tid"] = json!(contoso.clone()))
                .split('.')
                .nth(1)
                .unwrap()
        )),
        Some("random.garbage.token".into()),
        None,
    ];

    let segments: Vec<String> = [
        "policies",
        POLICY,
        "allowselfservicepurchase",
        "products",
        "offerTypes",
        "auditLog",
        "CFQ7TTC0H9MP",
        "CFQ7TTC0KP0N",
        "CFQ7TTC0HHS9",
        "SaaS",
        "..",
        "%2e%2e",
        "%2F",
        "admin",
        "v1",
        "v1.0",
        "tenants",
        "users",
        "applications",
        "oauth2",
        "v2.0",
        "token",
        "devicecode",
        "discovery",
        "keys",
        "contoso.example",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(std::iter::once(contoso.clone()))
    .collect();
    let segment = prop_oneof![
        3 => proptest::sample::select(segments),
        1 => "[A-Za-z0-9%._~-]{0,12}",
    ];
    let query = prop_oneof![
        Just(String::new()),
        Just("?scope=OfferType".to_string()),
        Just("?scope=product".to_string()),
        Just("?top=1".to_string()),
        Just("?productId=CFQ7TTC0H9MP".to_string()),
        "\\?[a-z]{1,6}=[A-Za-z0-9%]{0,8}",
    ];
    let body = prop_oneof![
        Just(None),
        Just(Some(r#"{"policyValue":"Enabled"}"#.to_string())),
        Just(Some(r#"{"defaultValue":"Disabled"}"#.to_string())),
        "\\PC{0,40}".prop_map(Some),
    ];
    let prefix = proptest::sample::select(vec![
        "/v1.0",
        "/v1",
        "/admin/v1",
        "",
        "/v1.0/policies/AllowSelfServicePurchase",
    ]);
    let method = proptest::sample::select(vec!["GET", "PUT", "PATCH", "DELETE", "POST"]);
    let probe = (
        method,
        prefix,
        proptest::collection::vec(segment, 0..5),
        query,
        0..tokens.len(),
        body,
    )
        .prop_map(|(method, prefix, segs, query, token, body)| Probe {
            method,
            path: format!("{prefix}/{}{query}", segs.join("/")),
            token,
            body,
        });

    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&probe, |p| {
            let mut request = server.raw().request(
                reqwest::Method::from_bytes(p.method.as_bytes()).unwrap(),
                format!("{}{}", server.url, p.path),
            );
            if let Some(t) = &tokens[p.token] {
                request = request.bearer_auth(t);
            }
            if let Some(b) = &p.body {
                request = request
                    .header("Content-Type", "application/json")
                    .body(b.clone());
            }
            let reply = crate::support::Reply::from(request.send().unwrap());
            prop_assert!(
                reply.status < 500,
                "{} {} answered {}: {}",
                p.method,
                p.path,
                reply.status,
                reply.text
            );
            prop_assert!(
                !reply.text.contains(MARKER),
                "{} {} shows Contoso's audit log: {}",
                p.method,
                p.path,
                reply.text
            );
            prop_assert!(
                !reply.text.contains("admin@contoso.example"),
                "{} {} shows Contoso's data: {}",
                p.method,
                p.path,
                reply.text
            );
            Ok(())
        })
        .unwrap();

    // Contoso's data is as it was.
    let after = server
        .get(&format!("/v1.0/policies/{POLICY}/products"), &contoso_admin)
        .text;
    assert_eq!(before, after);
    let log_after = server
        .get(&format!("/v1.0/policies/{POLICY}/auditLog"), &contoso_admin)
        .json["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(log_before, log_after);
}
