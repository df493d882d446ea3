//! The catalog through the wire API: the list, legacy ids, retired products, and the rule on
//! `OnlyTrialsWithoutPaymentMethod`.

use serde_json::Value;

use crate::support::{TestServer, POLICY};

fn catalog() -> toml::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../domain/data/catalog.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn product_list_equals_the_catalog() {
    let server = TestServer::start();
    let token = server.token("reader@contoso.example");
    let catalog = catalog();
    let expected: Vec<(String, String, bool)> = catalog["products"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            !p.get("retired")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false)
        })
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["id"].as_str().unwrap().to_string(),
                p["trial_without_payment_method"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(expected.len(), 17);

    for path in [
        format!("/v1.0/policies/{POLICY}/products"),
        format!("/v1.0/policies/{POLICY}/products?scope=product"),
        format!("/v1/policies/{POLICY}/products?Scope=PRODUCT"),
    ] {
        let reply = server.get(&path, &token);
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        let items = reply.json["items"].as_array().unwrap();
        let got: Vec<(String, String, bool)> = items
            .iter()
            .map(|i| {
                (
                    i["productName"].as_str().unwrap().to_string(),
                    i["productId"].as_str().unwrap().to_string(),
                    i["trialWithoutPaymentMethod"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, expected, "{path}");
        for i in items {
            assert_eq!(i["policyId"], POLICY);
            assert_eq!(i["scope"], "product");
            assert_eq!(i["policyValue"], "Enabled");
        }
    }

    let reply = server.get(
        &format!("/v1.0/policies/{POLICY}/products?scope=OfferType"),
        &token,
    );
    assert_eq!(reply.status, 200);
    let got: Vec<(&str, &str, &str)> = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["scopeId"].as_str().unwrap(),
                i["scopeValue"].as_str().unwrap(),
                i["scope"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("SaaS", "Software as a Service", "OfferType"),
            ("POWERBIVISUALS", "Power BI Visuals", "OfferType"),
            ("DYNAMICSCE", "Dynamics 365 Dataverse Apps", "OfferType"),
            ("DYNAMICSBC", "Dynamics 365 Business Central", "OfferType"),
        ]
    );
}

#[test]
fn ids_and_values_are_case_insensitive_and_answered_canonically() {
    let server = TestServer::start();
    let token = server.token("admin@contoso.example");
    let reply = server.put_value(
        "/v1.0/policies/allowselfservicepurchase/products/cfq7ttc0lh3l",
        &token,
        "disabled",
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["policyId"], POLICY);
    assert_eq!(reply.json["productId"], "CFQ7TTC0LH3L");
    assert_eq!(reply.json["policyValue"], "Disabled");
    assert_eq!(reply.json["isDefault"], false);
    assert_eq!(reply.json["lastModifiedBy"], "admin@contoso.example");
    let reply = server.put_value(
        "/v1.0/policies/ALLOWSELFSERVICEPURCHASE/offerTypes/saas",
        &token,
        "DISABLED",
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["scopeId"], "SaaS");
    assert_eq!(reply.json["policyValue"], "Disabled");
    let reply = server.get("/v1.0/policies/allowSelfServicePurchase", &token);
    assert_eq!(reply.json["id"], POLICY);
}

#[test]
fn a_value_set_through_a_legacy_id_shows_on_the_current_id() {
    let server = TestServer::start();
    let token = server.token("admin@contoso.example");
    let reply = server.put_value(
        &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0KP0N"),
        &token,
        "Disabled",
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json["productId"], "CFQ7TTC0LH3L",
        "the answer shows the current id"
    );
    assert_eq!(server.value_of(&token, "products/CFQ7TTC0LH3L"), "Disabled");
    // Reading through the legacy id answers the current product too.
    let reply = server.get(
        &format!("/v1.0/policies/{POLICY}/products/cfq7ttc0kp0n"),
        &token,
    );
    assert_eq!(reply.json["productId"], "CFQ7TTC0LH3L");
    assert_eq!(reply.json["productName"], "Power Automate per user");
    // The list carries it once, under the current id.
    let list = server.get(&format!("/v1.0/policies/{POLICY}/products"), &token);
    let rows: Vec<&Value> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["productName"] == "Power Automate per user")
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["policyValue"], "Disabled");
}

#[test]
fn retired_products_answer_404_with_their_name() {
    let server = TestServer::start();
    let token = server.token("admin@contoso.example");
    for method in ["GET", "PUT", "DELETE"] {
        let body = (method == "PUT").then(|| serde_json::json!({"policyValue": "Disabled"}));
        let reply = server.request(
            method,
            &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0HHS9"),
            Some(&token),
            body,
        );
        assert_eq!(reply.status, 404, "{method}: {}", reply.text);
        assert_eq!(reply.error_code(), "NotFound");
        assert!(
            reply.reason().contains("retired") && reply.reason().contains("Windows 365 Enterprise"),
            "{}",
            reply.reason()
        );
    }
    let list = server.get(&format!("/v1.0/policies/{POLICY}/products"), &token);
    assert!(!list.text.contains("CFQ7TTC0HHS9"));
}

#[test]
fn trials_only_is_refused_where_there_is_no_free_trial() {
    let server = TestServer::start();
    let token = server.token("admin@contoso.example");
    // A product without a trial without payment method.
    let reply = server.put_value(
        &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0MM8R"),
        &token,
        "OnlyTrialsWithoutPaymentMethod",
    );
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error_code(), "BadRequest");
    let reason = reply.reason();
    assert!(
        reason.contains("Microsoft 365 Copilot") && reason.contains("CFQ7TTC0MM8R"),
        "{reason}"
    );
    for with_trial in [
        "CFQ7TTC0N8SL",
        "CFQ7TTC0HDB1",
        "CFQ7TTC0J1FV",
        "CFQ7TTC0RM8K",
        "CFQ7TTC0HD33",
        "CFQ7TTC0PW0V",
    ] {
        assert!(
            reason.contains(with_trial),
            "{reason} should list {with_trial}"
        );
    }
    assert!(!reason.contains("CFQ7TTC0H9MP"), "{reason}");
    // An offer type.
    let reply = server.put_value(
        &format!("/v1.0/policies/{POLICY}/offerTypes/SaaS"),
        &token,
        "OnlyTrialsWithoutPaymentMethod",
    );
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.reason().contains("Enabled or Disabled"),
        "{}",
        reply.reason()
    );
    // Nothing changed.
    assert_eq!(server.value_of(&token, "products/CFQ7TTC0MM8R"), "Enabled");
    assert_eq!(server.value_of(&token, "offerTypes/SaaS"), "Enabled");
    // Through a legacy id of a product that has such a trial, it is accepted.
    let reply = server.put_value(
        &format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0KXND"),
        &token,
        "OnlyTrialsWithoutPaymentMethod",
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["productId"], "CFQ7TTC0HDB1");
}
