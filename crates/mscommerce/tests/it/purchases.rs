//! Self-service purchases and trials (SPEC §3) through the real server: the seed's promises, the
//! ledger and its admin actions, notifications, webhooks, and the race with a policy write.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::{Reply, TestServer, POLICY};

const TEAMS: &str = "CFQ7TTC0J1FV"; // Teams Exploratory: has a trial without a payment method
const BI_PRO: &str = "CFQ7TTC0H9MP"; // Power BI Pro: its trials need a payment method

fn set(server: &TestServer, token: &str, product: &str, value: &str) {
    let r = server.put_value(
        &format!("/v1.0/policies/{POLICY}/products/{product}"),
        token,
        value,
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

fn buy(server: &TestServer, token: &str, body: Value) -> Reply {
    server.request(
        "POST",
        "/v1.0/selfServicePurchases",
        Some(token),
        Some(body),
    )
}

#[test]
fn trials_only_lets_a_user_try_but_never_buy() {
    let server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let user = server.token("user@contoso.example");
    set(&server, &admin, TEAMS, "OnlyTrialsWithoutPaymentMethod");
    let r = server.admin(
        "PATCH",
        &format!("/catalog/products/{TEAMS}"),
        Some(json!({"trialLengthSeconds": 2})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["trialLengthSeconds"], 2);

    // The trial without a payment method starts.
    let trial = buy(
        &server,
        &user,
        json!({"kind": "trial", "productId": TEAMS, "paymentMethod": false}),
    );
    assert_eq!(trial.status, 201, "{}", trial.text);
    assert_eq!(trial.json["status"], "Trial");
    assert_eq!(trial.json["policyValue"], "OnlyTrialsWithoutPaymentMethod");
    assert!(trial.json["expiryDateTime"].is_string());
    let id = trial.json["id"].as_str().unwrap().to_string();

    // Buying is refused, and so is a trial with a payment method.
    let purchase = buy(
        &server,
        &user,
        json!({"kind": "purchase", "productId": TEAMS}),
    );
    assert_eq!(purchase.status, 403, "{}", purchase.text);
    assert_eq!(purchase.error_code(), "SelfServicePurchaseNotAllowed");
    assert!(
        purchase.reason().contains("cannot be bought"),
        "{}",
        purchase.reason()
    );
    let with_card = buy(
        &server,
        &user,
        json!({"kind": "trial", "productId": TEAMS, "paymentMethod": true}),
    );
    assert_eq!(with_card.status, 403, "{}", with_card.text);

    // The trial ends; converting it is a purchase, refused under this value.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let record = server.get(&format!("/v1.0/selfServicePurchases/{id}"), &user);
    assert_eq!(record.json["status"], "Expired", "{}", record.text);
    let convert = server.request(
        "POST",
        &format!("/v1.0/selfServicePurchases/{id}/convert"),
        Some(&user),
        None,
    );
    assert_eq!(convert.status, 403, "{}", convert.text);
    assert_eq!(convert.error_code(), "SelfServicePurchaseNotAllowed");

    // Judged by the value at the time: once purchases are allowed, it converts.
    set(&server, &admin, TEAMS, "Enabled");
    let convert = server.request(
        "POST",
        &format!("/v1.0/selfServicePurchases/{id}/convert"),
        Some(&user),
        None,
    );
    assert_eq!(convert.status, 200, "{}", convert.text);
    assert_eq!(
        (
            convert.json["status"].as_str(),
            convert.json["kind"].as_str()
        ),
        (Some("Active"), Some("purchase"))
    );
}

#[test]
fn disabled_starts_nothing_and_existing_purchases_stay() {
    let server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let user = server.token("user@contoso.example");
    let bought = buy(
        &server,
        &user,
        json!({"kind": "purchase", "productId": BI_PRO, "quantity": 3}),
    );
    assert_eq!(bought.status, 201, "{}", bought.text);
    let id = bought.json["id"].as_str().unwrap().to_string();

    set(&server, &admin, BI_PRO, "Disabled");
    for body in [
        json!({"kind": "purchase", "productId": BI_PRO}),
        json!({"kind": "trial", "productId": BI_PRO, "paymentMethod": true}),
        json!({"kind": "trial", "productId": BI_PRO}),
    ] {
        let r = buy(&server, &user, body.clone());
        assert_eq!(r.status, 403, "{body}: {}", r.text);
        assert!(r.reason().contains("turned off"), "{}", r.reason());
    }
    // The purchase made while Enabled is untouched.
    let record = server.get(&format!("/v1.0/selfServicePurchases/{id}"), &user);
    assert_eq!(
        (
            record.json["status"].as_str(),
            record.json["policyValue"].as_str()
        ),
        (Some("Active"), Some("Enabled"))
    );
    // Fewer licenses is always allowed; more is a purchase, refused now.
    let fewer = server.request(
        "PATCH",
        &format!("/v1.0/selfServicePurchases/{id}"),
        Some(&user),
        Some(json!({"quantity": 2})),
    );
    assert_eq!(
        (fewer.status, fewer.json["quantity"].as_i64()),
        (200, Some(2)),
        "{}",
        fewer.text
    );
    let more = server.request(
        "PATCH",
        &format!("/v1.0/selfServicePurchases/{id}"),
        Some(&user),
        Some(json!({"quantity": 5})),
    );
    assert_eq!(more.status, 403, "{}", more.text);
    // Offer types: Disabled too.
    let r = server.put_value(
        &format!("/v1.0/policies/{POLICY}/offerTypes/SaaS"),
        &admin,
        "Disabled",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        buy(
            &server,
            &user,
            json!({"kind": "purchase", "offerType": "saas"})
        )
        .status,
        403
    );
}

#[test]
fn guests_and_education_tenants_are_always_refused() {
    let server = TestServer::start();
    let guest = server.token("guest@contoso.example");
    let r = buy(
        &server,
        &guest,
        json!({"kind": "trial", "productId": TEAMS}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.reason().contains("Guest"), "{}", r.reason());
    let user = server.token("user@contoso.example");
    let r = server.admin(
        "PATCH",
        "/tenants/contoso.example",
        Some(json!({"tenantType": "education"})),
    );
    assert_eq!(r.status, 200);
    let r = buy(&server, &user, json!({"kind": "trial", "productId": TEAMS}));
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.reason().contains("education"), "{}", r.reason());
    let d = server.request(
        "POST",
        "/v1.0/selfServicePurchases/evaluate",
        Some(&user),
        Some(json!({"kind": "trial", "productId": TEAMS})),
    );
    assert_eq!(
        (d.json["decision"].as_str(), d.json["reasonCode"].as_str()),
        (Some("Deny"), Some("TenantTypeNotEligible"))
    );
    // A country where nothing is sold.
    server.admin(
        "PATCH",
        "/tenants/contoso.example",
        Some(json!({"tenantType": "commercial", "country": "IN"})),
    );
    let d = server.request(
        "POST",
        "/v1.0/selfServicePurchases/evaluate",
        Some(&user),
        Some(json!({"kind": "purchase", "productId": BI_PRO})),
    );
    assert_eq!(d.json["reasonCode"], "CountryNotEligible", "{}", d.text);
}

#[test]
fn decisions_for_users_and_for_the_checkout() {
    let server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let user = server.token("user@contoso.example");
    let evaluate =
        |auth: &dyn Fn(reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder,
         body: Value| {
            let request = server
                .raw()
                .post(format!("{}/v1.0/selfServicePurchases/evaluate", server.url))
                .json(&body);
            Reply::from(auth(request).send().unwrap())
        };
    let as_user = |r: reqwest::blocking::RequestBuilder| r.bearer_auth(&user);
    let r = evaluate(
        &as_user,
        json!({"kind": "purchase", "productId": "cfq7ttc0kp0n"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            r.json["decision"].as_str(),
            r.json["policyValue"].as_str(),
            r.json["productId"].as_str()
        ),
        (Some("Allow"), Some("Enabled"), Some("CFQ7TTC0LH3L"))
    );

    // A write is seen by the very next decision.
    set(&server, &admin, "CFQ7TTC0LH3L", "Disabled");
    let r = evaluate(
        &as_user,
        json!({"kind": "purchase", "productId": "CFQ7TTC0LH3L"}),
    );
    assert_eq!(
        (r.json["decision"].as_str(), r.json["reasonCode"].as_str()),
        (Some("Deny"), Some("PolicyDisabled"))
    );

    // A batch answers in order, with unknown names denied in place.
    let r = evaluate(
        &as_user,
        json!({"requests": [
            {"kind": "purchase", "productId": BI_PRO},
            {"kind": "trial", "productId": "NOPE"},
            {"kind": "purchase", "offerType": "SaaS"},
            {"kind": "trial", "productId": BI_PRO, "paymentMethod": false},
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let decisions: Vec<(&str, &str)> = r.json["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["decision"].as_str().unwrap(),
                d["reasonCode"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("Allow", "Allowed"),
            ("Deny", "NotFound"),
            ("Allow", "Allowed"),
            ("Deny", "PaymentMethodRequired")
        ]
    );
    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({"kind": "purchase", "productId": BI_PRO}))
        .collect();
    let r = evaluate(&as_user, json!({"requests": too_many}));
    assert_eq!(r.status, 413, "{}", r.text);

    // The checkout credential decides for any user of any tenant.
    let checkout = server.credentials.checkout_credential.clone();
    let as_checkout = |r: reqwest::blocking::RequestBuilder| {
        r.basic_auth(&checkout.client_id, Some(&checkout.client_secret))
    };
    let contoso = server.tenant("contoso.example").id.clone();
    let fabrikam = server.tenant("fabrikam.example").id.clone();
    let r = evaluate(
        &as_checkout,
        json!({"requests": [
            {"kind": "purchase", "productId": "CFQ7TTC0LH3L", "tenantId": contoso, "userId": "user@contoso.example"},
            {"kind": "purchase", "productId": "CFQ7TTC0LH3L", "tenantId": fabrikam, "userId": "admin@fabrikam.example"},
            {"kind": "trial", "productId": TEAMS, "tenantId": contoso, "userId": "guest@contoso.example"},
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let decisions: Vec<&str> = r.json["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reasonCode"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["PolicyDisabled", "Allowed", "GuestUser"]);
    let r = evaluate(
        &as_checkout,
        json!({"kind": "purchase", "productId": BI_PRO}),
    );
    assert_eq!(r.status, 400, "the checkout must say for whom: {}", r.text);
    let wrong =
        |r: reqwest::blocking::RequestBuilder| r.basic_auth(&checkout.client_id, Some("wrong"));
    assert_eq!(
        evaluate(&wrong, json!({"kind": "purchase", "productId": BI_PRO})).status,
        401
    );
    // A user cannot ask for someone else.
    let r = evaluate(
        &as_user,
        json!({"kind": "purchase", "productId": BI_PRO, "tenantId": fabrikam, "userId": "admin@fabrikam.example"}),
    );
    assert_eq!(r.status, 400);
    let r = evaluate(&as_user, json!({"kind": "lease", "productId": BI_PRO}));
    assert_eq!(r.status, 400);
    assert!(r.reason().contains("purchase or trial"));
}

#[test]
fn administrators_see_cancel_and_take_over_purchases() {
    let server = TestServer::start();
    let user = server.token("user@contoso.example");
    let admin = server.token("admin@contoso.example");
    let a = buy(
        &server,
        &user,
        json!({"kind": "purchase", "productId": BI_PRO, "quantity": 2}),
    );
    let b = buy(
        &server,
        &admin,
        json!({"kind": "trial", "productId": TEAMS}),
    );
    assert_eq!((a.status, b.status), (201, 201));
    let (a, b) = (
        a.json["id"].as_str().unwrap().to_string(),
        b.json["id"].as_str().unwrap().to_string(),
    );

    let all = server.get(
        "/v1.0/selfServicePurchases",
        &server.token("reader@contoso.example"),
    );
    assert_eq!(
        all.json["items"].as_array().unwrap().len(),
        2,
        "{}",
        all.text
    );
    let own = server.get("/v1.0/selfServicePurchases", &user);
    let own_ids: Vec<&str> = own.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(own_ids, [a.as_str()], "a user sees only their own");
    assert_eq!(
        server
            .get(&format!("/v1.0/selfServicePurchases/{b}"), &user)
            .status,
        404
    );
    let trials = server.get("/v1.0/selfServicePurchases?status=trial", &admin);
    assert_eq!(trials.json["items"].as_array().unwrap().len(), 1);
    let by_product = server.get("/v1.0/selfServicePurchases?productId=CFQ7TTC0L3PB", &admin);
    assert_eq!(
        by_product.json["items"][0]["id"],
        a.as_str(),
        "a legacy id filters too"
    );
    assert_eq!(
        server
            .get("/v1.0/selfServicePurchases?status=Sold", &admin)
            .status,
        400
    );

    // Fabrikam sees none of it.
    let fabrikam = server.get(
        "/v1.0/selfServicePurchases",
        &server.token("admin@fabrikam.example"),
    );
    assert_eq!(fabrikam.json["items"], json!([]));
    assert_eq!(
        server
            .get(
                &format!("/v1.0/selfServicePurchases/{a}"),
                &server.token("admin@fabrikam.example")
            )
            .status,
        404
    );

    // A user cannot take over; a reader cannot cancel; billing can do both.
    assert_eq!(
        server
            .request(
                "POST",
                &format!("/v1.0/selfServicePurchases/{a}/takeOver"),
                Some(&user),
                None
            )
            .status,
        403
    );
    assert_eq!(
        server
            .request(
                "POST",
                &format!("/v1.0/selfServicePurchases/{a}/cancel"),
                Some(&server.token("reader@contoso.example")),
                None
            )
            .status,
        403
    );
    let cli = server.cli();
    cli.connect(&server, "billing@contoso.example");
    let r = cli.run(&["take-over-purchase", "--id", &a, "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["Status"], "TakenOver");
    let r = cli.run(&["cancel-purchase", "--id", &b, "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["Status"], "Canceled");
    let r = cli.run(&["cancel-purchase", "--id", &b]);
    assert_eq!(
        r.code, 1,
        "a canceled subscription cannot be canceled again"
    );
    assert!(r.stderr.contains("Canceled"), "{}", r.stderr);
    let r = cli.run(&["get-purchases", "--output", "csv"]);
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some("Id,Name,ProductId,Kind,Quantity,Status,Purchaser,PolicyValue,AssignedUsers,CreatedDateTime,ExpiryDateTime"));
    assert_eq!(r.stdout.lines().count(), 3);
    assert!(
        r.stdout.contains(
            "Power BI Pro,CFQ7TTC0H9MP,purchase,2,TakenOver,user@contoso.example,Enabled"
        ),
        "{}",
        r.stdout
    );

    // Notifications went to the Global and Billing Administrators, not to the reader.
    let r = cli.run(&["get-notifications", "-o", "json"]);
    let messages: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m == "user@contoso.example bought 2 licenses of Power BI Pro."),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(
            |m| m == "admin@contoso.example started a trial of Teams Exploratory (1 licenses)."
        ),
        "{messages:?}"
    );
    let reader = server.get(
        "/v1.0/notifications",
        &server.token("reader@contoso.example"),
    );
    assert_eq!(reader.json["items"], json!([]));
}

#[test]
fn purchasers_assign_licenses_to_members() {
    let server = TestServer::start();
    let user = server.token("user@contoso.example");
    let p = buy(
        &server,
        &user,
        json!({"kind": "purchase", "productId": BI_PRO, "quantity": 2}),
    );
    let id = p.json["id"].as_str().unwrap().to_string();
    let path = format!("/v1.0/selfServicePurchases/{id}");
    let patch = |body: Value| server.request("PATCH", &path, Some(&user), Some(body));
    let r = patch(json!({"assign": ["reader@contoso.example", "USER@contoso.example"]}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["assignedUsers"],
        json!(["reader@contoso.example", "user@contoso.example"])
    );
    assert_eq!(
        patch(json!({"assign": ["billing@contoso.example"]})).status,
        409,
        "more users than licenses"
    );
    assert_eq!(
        patch(json!({"assign": ["guest@contoso.example"]})).status,
        400,
        "guests get no licenses"
    );
    assert_eq!(
        patch(json!({"assign": ["admin@fabrikam.example"]})).status,
        400,
        "another tenant's user"
    );
    let twenty_one: Vec<String> = (0..21).map(|i| format!("u{i}@contoso.example")).collect();
    assert_eq!(patch(json!({"assign": twenty_one})).status, 400);
    assert_eq!(
        patch(json!({"quantity": 1})).status,
        409,
        "unassign before going below the assigned count"
    );
    let r = patch(json!({"unassign": ["reader@contoso.example"], "assign": []}));
    assert_eq!(r.json["assignedUsers"], json!(["user@contoso.example"]));
    // Someone else's purchase is not theirs to change.
    assert_eq!(
        server
            .request(
                "PATCH",
                &path,
                Some(&server.token("admin@contoso.example")),
                Some(json!({"quantity": 1}))
            )
            .status,
        403
    );
}

/// What the receiver got: (signature header, body) per request.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver on loopback: answers 500 to the first delivery, then 200, and keeps what it got.
fn receiver() -> (String, Received) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Received = Arc::default();
    let seen = Arc::clone(&got);
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut data = Vec::new();
            let mut buf = [0u8; 8192];
            // Read headers, then the body by Content-Length.
            loop {
                let k = stream.read(&mut buf).unwrap_or(0);
                if k == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..k]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        let head = text[..end].to_string();
                        let body =
                            String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
                        let signature = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .starts_with("x-mscommerce-signature:")
                                    .then(|| l.split_once(':').unwrap().1.trim().to_string())
                            })
                            .unwrap_or_default();
                        seen.lock().unwrap().push((signature, body));
                        break;
                    }
                }
            }
            let status = if n == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

#[test]
fn webhooks_receive_signed_events_and_failed_deliveries_are_retried() {
    let server = TestServer::start_with(&["--webhook-retry-base-ms", "100"]);
    let admin = server.token("admin@contoso.example");
    let (url, got) = receiver();
    let hook = server.request(
        "POST",
        "/v1.0/webhooks",
        Some(&admin),
        Some(json!({"url": url})),
    );
    assert_eq!(hook.status, 201, "{}", hook.text);
    let secret = hook.json["secret"].as_str().unwrap().to_string();
    let hook_id = hook.json["id"].as_str().unwrap().to_string();
    assert!(
        server.get("/v1.0/webhooks", &admin).json["items"][0]
            .get("secret")
            .is_none(),
        "the secret is shown once"
    );
    assert_eq!(
        server
            .request(
                "POST",
                "/v1.0/webhooks",
                Some(&server.token("reader@contoso.example")),
                Some(json!({"url": "http://x.example"}))
            )
            .status,
        403
    );
    assert_eq!(
        server
            .request(
                "POST",
                "/v1.0/webhooks",
                Some(&admin),
                Some(json!({"url": "ftp://x.example"}))
            )
            .status,
        400
    );

    let user = server.token("user@contoso.example");
    let p = buy(&server, &user, json!({"kind": "trial", "productId": TEAMS}));
    assert_eq!(p.status, 201);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while got.lock().unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the delivery was not retried: {:?}",
            got.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let received = got.lock().unwrap().clone();
    assert_eq!(
        received[0].1, received[1].1,
        "the retry sends the same event"
    );
    let (signature, body) = &received[1];
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(signature, &format!("sha256={expected}"));
    let event: Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["type"], "purchase.created");
    assert_eq!(event["purchase"]["id"], p.json["id"]);

    // The delivery log shows the failure and the success.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = server.get(&format!("/v1.0/webhooks/{hook_id}/deliveries"), &admin);
        let d = &log.json["items"][0];
        if d["status"] == "delivered" {
            assert_eq!(d["attempts"], 2);
            assert_eq!(d["lastStatusCode"], 200);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", log.text);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        server
            .request(
                "DELETE",
                &format!("/v1.0/webhooks/{hook_id}"),
                Some(&admin),
                None
            )
            .status,
        204
    );
}

#[test]
fn no_purchase_starts_after_a_disabled_write_is_acknowledged() {
    let server = TestServer::start();
    let admin = server.token("admin@contoso.example");
    let user = server.token("user@contoso.example");
    let acknowledged = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let violations = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(Mutex::new(0usize));
    let mut workers = Vec::new();
    for _ in 0..6 {
        let (url, user, acknowledged, stop, violations, started) = (
            server.url.clone(),
            user.clone(),
            acknowledged.clone(),
            stop.clone(),
            violations.clone(),
            started.clone(),
        );
        workers.push(std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            while !stop.load(Ordering::SeqCst) {
                let after_ack = acknowledged.load(Ordering::SeqCst);
                let r = http
                    .post(format!("{url}/v1.0/selfServicePurchases"))
                    .bearer_auth(&user)
                    .json(&json!({"kind": "purchase", "productId": BI_PRO}))
                    .send()
                    .unwrap();
                let status = r.status().as_u16();
                match status {
                    201 => {
                        *started.lock().unwrap() += 1;
                        if after_ack {
                            violations.lock().unwrap().push(r.text().unwrap());
                        }
                    }
                    403 => {}
                    other => panic!("unexpected {other}: {}", r.text().unwrap()),
                }
            }
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    set(&server, &admin, BI_PRO, "Disabled");
    acknowledged.store(true, Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    assert!(
        violations.lock().unwrap().is_empty(),
        "purchases started after the acknowledgement: {:?}",
        violations.lock().unwrap()
    );
    // The ledger holds exactly the purchases that were answered 201, all allowed under Enabled.
    let ledger = server.get(
        &format!("/v1.0/selfServicePurchases?productId={BI_PRO}"),
        &admin,
    );
    let items = ledger.json["items"].as_array().unwrap();
    assert!(
        *started.lock().unwrap() > 0,
        "the race needs purchases before the write"
    );
    assert_eq!(items.len(), *started.lock().unwrap());
    assert!(items.iter().all(|p| p["policyValue"] == "Enabled"));
}
