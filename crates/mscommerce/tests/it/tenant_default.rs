//! The tenant default (SPEC §1.4): products the tenant never set follow it, explicit values pin,
//! a reset follows it again; and ETags guard writes.

use serde_json::json;

use crate::support::{TestServer, POLICY};

#[test]
fn unset_products_follow_the_default_and_pinned_ones_do_not() {
    let server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let p = |rest: &str| format!("/v1.0/policies/{POLICY}{rest}");
    assert_eq!(
        server
            .put_value(&p("/products/CFQ7TTC0N8SS"), &admin, "Enabled")
            .status,
        200
    );

    let reply = server.request(
        "PATCH",
        &p(""),
        Some(&admin),
        Some(json!({"defaultValue": "onlytrialswithoutpaymentmethod"})),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["defaultValue"], "OnlyTrialsWithoutPaymentMethod");

    let products = server.get(&p("/products"), &admin);
    for item in products.json["items"].as_array().unwrap() {
        let expected = if item["productId"] == "CFQ7TTC0N8SS" {
            ("Enabled", false)
        } else if item["trialWithoutPaymentMethod"] == true {
            ("OnlyTrialsWithoutPaymentMethod", true)
        } else {
            ("Disabled", true)
        };
        assert_eq!(
            (
                item["policyValue"].as_str().unwrap(),
                item["isDefault"].as_bool().unwrap()
            ),
            expected,
            "{item}"
        );
    }
    // Offer types take only Enabled and Disabled: a trials-only default is Disabled for them.
    for item in server.get(&p("/products?scope=OfferType"), &admin).json["items"]
        .as_array()
        .unwrap()
    {
        assert_eq!(item["policyValue"], "Disabled", "{item}");
    }

    // Resetting the pinned product makes it follow the default again.
    let reply = server.request("DELETE", &p("/products/CFQ7TTC0N8SS"), Some(&admin), None);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        (
            reply.json["policyValue"].as_str(),
            reply.json["isDefault"].as_bool()
        ),
        (Some("Disabled"), Some(true))
    );

    // A new default reaches every unpinned row at once.
    let reply = server.request(
        "PATCH",
        &p(""),
        Some(&admin),
        Some(json!({"defaultValue": "Enabled"})),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0N8SS"), "Enabled");
    assert_eq!(server.value_of(&admin, "offerTypes/SaaS"), "Enabled");
}

#[test]
fn the_operator_can_choose_the_default_of_new_tenants() {
    let server = TestServer::start_with(&["--default-value", "Disabled"]);
    let reader = server.token("reader@contoso.example");
    assert_eq!(
        server
            .get(&format!("/v1.0/policies/{POLICY}"), &reader)
            .json["defaultValue"],
        "Disabled"
    );
    assert_eq!(
        server.value_of(&reader, "products/CFQ7TTC0H9MP"),
        "Disabled"
    );
    assert_eq!(server.value_of(&reader, "offerTypes/SaaS"), "Disabled");
}

#[test]
fn a_write_with_a_stale_etag_is_refused() {
    let server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let path = format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP");
    let first = server.get(&path, &admin);
    let etag = first.headers["etag"].to_str().unwrap().to_string();

    let put = |etag: &str, value: &str| {
        crate::support::Reply::from(
            server
                .raw()
                .put(format!("{}{path}", server.url))
                .bearer_auth(&admin)
                .header("If-Match", etag)
                .json(&json!({"policyValue": value}))
                .send()
                .unwrap(),
        )
    };
    let reply = put(&etag, "Disabled");
    assert_eq!(reply.status, 200, "{}", reply.text);
    let new_etag = reply.headers["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);

    let reply = put(&etag, "Enabled");
    assert_eq!(reply.status, 412, "{}", reply.text);
    assert_eq!(reply.error_code(), "PreconditionFailed");
    assert_eq!(
        server.value_of(&admin, "products/CFQ7TTC0H9MP"),
        "Disabled",
        "a refused write changes nothing"
    );

    // A change of the tenant default changes every row's ETag.
    let other = server
        .get(
            &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0J1FV"),
            &admin,
        )
        .headers["etag"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        server
            .request(
                "PATCH",
                &format!("/v1.0/policies/{POLICY}"),
                Some(&admin),
                Some(json!({"defaultValue": "Disabled"}))
            )
            .status,
        200
    );
    let reply = crate::support::Reply::from(
        server
            .raw()
            .put(format!(
                "{}/v1.0/policies/{POLICY}/products/CFQ7TTC0J1FV",
                server.url
            ))
            .bearer_auth(&admin)
            .header("If-Match", other)
            .json(&json!({"policyValue": "Enabled"}))
            .send()
            .unwrap(),
    );
    assert_eq!(reply.status, 412);
    assert_eq!(put(&new_etag, "Enabled").status, 412);
}
