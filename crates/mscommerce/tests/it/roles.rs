//! The role table of SPEC §1.5, for reads and writes, and the isolation of tenants.

use serde_json::json;

use crate::support::{TestServer, POLICY};

struct Expect {
    upn: &'static str,
    read: u16,
    write: u16,
    write_default: u16,
}

#[test]
fn each_role_reads_and_writes_what_the_table_says() {
    let server = TestServer::start();
    let cases = [
        Expect {
            upn: "admin@contoso.example",
            read: 200,
            write: 200,
            write_default: 200,
        },
        Expect {
            upn: "billing@contoso.example",
            read: 200,
            write: 200,
            write_default: 403,
        },
        Expect {
            upn: "reader@contoso.example",
            read: 200,
            write: 403,
            write_default: 403,
        },
        Expect {
            upn: "user@contoso.example",
            read: 403,
            write: 403,
            write_default: 403,
        },
        Expect {
            upn: "guest@contoso.example",
            read: 403,
            write: 403,
            write_default: 403,
        },
    ];
    let admin = server.token("admin@contoso.example");
    for case in &cases {
        let token = server.token(case.upn);
        for path in [
            "/v1.0/policies".to_string(),
            format!("/v1.0/policies/{POLICY}"),
            format!("/v1.0/policies/{POLICY}/products"),
            format!("/v1.0/policies/{POLICY}/products?scope=OfferType"),
            format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
            format!("/v1.0/policies/{POLICY}/offerTypes/SaaS"),
            format!("/v1.0/policies/{POLICY}/auditLog"),
        ] {
            let reply = server.get(&path, &token);
            assert_eq!(
                reply.status, case.read,
                "{} GET {path}: {}",
                case.upn, reply.text
            );
            if case.read == 403 {
                assert_eq!(reply.error_code(), "Forbidden");
                assert!(
                    reply.reason().contains(case.upn) && reply.reason().contains("Global Reader"),
                    "{}",
                    reply.reason()
                );
                assert!(reply.json.get("items").is_none());
            }
        }

        // Writes: a product, an offer type, a reset. Each that is refused changes nothing.
        let before = server.value_of(&admin, "products/CFQ7TTC0H9MP");
        let target = if before == "Enabled" {
            "Disabled"
        } else {
            "Enabled"
        };
        let reply = server.put_value(
            &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
            &token,
            target,
        );
        assert_eq!(
            reply.status, case.write,
            "{} PUT product: {}",
            case.upn, reply.text
        );
        let after = server.value_of(&admin, "products/CFQ7TTC0H9MP");
        assert_eq!(
            after,
            if case.write == 200 {
                target
            } else {
                before.as_str()
            },
            "{}",
            case.upn
        );

        let reply = server.put_value(
            &format!("/v1.0/policies/{POLICY}/offerTypes/DYNAMICSBC"),
            &token,
            "Disabled",
        );
        assert_eq!(
            reply.status, case.write,
            "{} PUT offer type: {}",
            case.upn, reply.text
        );
        let reply = server.request(
            "DELETE",
            &format!("/v1.0/policies/{POLICY}/offerTypes/DYNAMICSBC"),
            Some(&token),
            None,
        );
        assert_eq!(
            reply.status, case.write,
            "{} DELETE offer type: {}",
            case.upn, reply.text
        );

        let reply = server.request(
            "PATCH",
            &format!("/v1.0/policies/{POLICY}"),
            Some(&token),
            Some(json!({"defaultValue": "Enabled"})),
        );
        assert_eq!(
            reply.status, case.write_default,
            "{} PATCH default: {}",
            case.upn, reply.text
        );
        if case.write_default == 403 {
            assert!(
                reply.reason().contains("Global Administrator"),
                "{}",
                reply.reason()
            );
        }
    }
    // Only the admin and billing changes are in the audit log, with their names.
    let log = server.get(&format!("/v1.0/policies/{POLICY}/auditLog"), &admin);
    let actors: std::collections::BTreeSet<&str> = log.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(
        actors,
        ["admin@contoso.example", "billing@contoso.example"]
            .into_iter()
            .collect()
    );
}

#[test]
fn fabrikam_admin_sees_nothing_of_contoso() {
    let server = TestServer::start();
    let contoso = server.token("admin@contoso.example");
    let fabrikam = server.token("admin@fabrikam.example");
    assert_eq!(
        server
            .put_value(
                &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP"),
                &contoso,
                "Disabled"
            )
            .status,
        200
    );
    assert_eq!(
        server
            .put_value(
                &format!("/v1.0/policies/{POLICY}/offerTypes/SaaS"),
                &contoso,
                "Disabled"
            )
            .status,
        200
    );
    let reply = server.request(
        "PATCH",
        &format!("/v1.0/policies/{POLICY}"),
        Some(&contoso),
        Some(json!({"defaultValue": "Disabled"})),
    );
    assert_eq!(reply.status, 200);

    // Fabrikam sees its own values: all still Enabled, nobody changed anything.
    let products = server.get(&format!("/v1.0/policies/{POLICY}/products"), &fabrikam);
    assert_eq!(products.status, 200);
    for item in products.json["items"].as_array().unwrap() {
        assert_eq!(item["policyValue"], "Enabled", "{item}");
        assert!(item.get("lastModifiedBy").is_none(), "{item}");
    }
    assert_eq!(
        server
            .get(&format!("/v1.0/policies/{POLICY}"), &fabrikam)
            .json["defaultValue"],
        "Enabled"
    );
    assert_eq!(server.value_of(&fabrikam, "offerTypes/SaaS"), "Enabled");
    let log = server.get(&format!("/v1.0/policies/{POLICY}/auditLog"), &fabrikam);
    assert_eq!(
        log.json["items"].as_array().unwrap().len(),
        0,
        "{}",
        log.text
    );
    assert!(!log.text.contains("contoso"));

    // Fabrikam's own change leaves Contoso alone.
    assert_eq!(
        server
            .put_value(
                &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0J1FV"),
                &fabrikam,
                "Disabled"
            )
            .status,
        200
    );
    assert_eq!(
        server.value_of(&contoso, "products/CFQ7TTC0J1FV"),
        "Disabled",
        "Contoso's default is Disabled, it follows that"
    );
    let row = server.get(
        &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0J1FV"),
        &contoso,
    );
    assert_eq!(row.json["isDefault"], true);

    // Fabrikam's admin cannot sign in at Contoso, nor the reverse.
    let reply = server
        .raw()
        .post(format!("{}/contoso.example/oauth2/v2.0/token", server.url))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin@fabrikam.example"),
            (
                "password",
                server.password("admin@fabrikam.example").as_str(),
            ),
        ])
        .send()
        .unwrap();
    assert_eq!(reply.status(), 400);
    let body: serde_json::Value = reply.json().unwrap();
    assert_eq!(body["error"], "invalid_grant");
    // Signing in by the tenant's id works as by its domain.
    let reply = server
        .raw()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            server.url,
            server.tenant("fabrikam.example").id
        ))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin@fabrikam.example"),
            (
                "password",
                server.password("admin@fabrikam.example").as_str(),
            ),
        ])
        .send()
        .unwrap();
    assert_eq!(reply.status(), 200);
}
