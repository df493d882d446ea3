//! Every command line of the seed document (000), run as it stands after `mscommerce `, does what
//! the page says.

use crate::support::{TestServer, POLICY};

#[test]
fn seed_walkthrough_runs_verbatim() {
    let server = TestServer::start();
    let cli = server.cli();
    let admin = server.token("admin@contoso.example");

    // Install-Module / Import-Module: nothing to do, and they say so.
    for line in [
        "Install-Module -Name MSCommerce",
        "Import-Module -Name MSCommerce",
    ] {
        let r = cli.line(line);
        assert_eq!(r.code, 0, "{line}: {}", r.stderr);
        assert!(r.stderr.contains("single binary"), "{}", r.stderr);
    }

    // Connect-MSCommerce prompts for a user name and a password.
    let r = cli.run_with_input(
        &["Connect-MSCommerce"],
        &format!(
            "admin@contoso.example\n{}\n",
            server.password("admin@contoso.example")
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Connected to contoso.example as admin@contoso.example"),
        "{}",
        r.stderr
    );

    // View details for AllowSelfServicePurchase.
    let r = cli.line("Get-MSCommercePolicy -PolicyId AllowSelfServicePurchase");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("PolicyId") && r.stdout.contains("DefaultValue"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("AllowSelfServicePurchase") && r.stdout.contains("Enabled"),
        "{}",
        r.stdout
    );

    // View a list of products and their status.
    let r = cli.line("Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase");
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (name, id) in [
        ("Power Automate per user", "CFQ7TTC0LH3L"),
        ("Viva Goals (self-service trials only)", "CFQ7TTC0PW0V"),
    ] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.contains(name) && l.contains(id) && l.contains("Enabled")),
            "{}",
            r.stdout
        );
    }

    // Get one product's setting.
    let r = cli.line(
        "Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0LH3L",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Power Automate per user") && r.stdout.contains("Enabled"),
        "{}",
        r.stdout
    );

    // Disable, enable, and trials without payment method (on a product that has such a trial).
    let r = cli.line(r#"Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0LH3L -Value "Disabled""#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0LH3L"), "Disabled");
    let r = cli.line(r#"Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0LH3L -Value "Enabled""#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0LH3L"), "Enabled");
    let r = cli.line(r#"Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0J1FV -Value "OnlyTrialsWithoutPaymentMethod" "#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        server.value_of(&admin, "products/CFQ7TTC0J1FV"),
        "OnlyTrialsWithoutPaymentMethod"
    );

    // Third-party offer types.
    let r = cli
        .line("Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -Scope OfferType");
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (name, id) in [
        ("Software as a Service", "SaaS"),
        ("Power BI Visuals", "POWERBIVISUALS"),
        ("Dynamics 365 Dataverse Apps", "DYNAMICSCE"),
        ("Dynamics 365 Business Central", "DYNAMICSBC"),
    ] {
        assert!(
            r.stdout.lines().any(|l| l.contains(name) && l.contains(id)),
            "{}",
            r.stdout
        );
    }
    let r =
        cli.line("Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -OfferType SaaS");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Software as a Service"), "{}", r.stdout);
    let r = cli.line(r#"Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -OfferType SaaS -Value "Disabled""#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.value_of(&admin, "offerTypes/SaaS"), "Disabled");
    let r = cli.line(r#"Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -OfferType SaaS -Value "Enabled""#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.value_of(&admin, "offerTypes/SaaS"), "Enabled");

    // The example script: find Power Automate per user by name, then disable it.
    let r = cli.line("Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -Match 'Power Automate per user' --output json");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let found = r.json();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let id = found[0]["ProductId"].as_str().unwrap().to_string();
    assert_eq!(id, "CFQ7TTC0LH3L");
    let r = cli.line(&format!(r#"Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId {id} -Value "Disabled""#));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0LH3L"), "Disabled");
    // ...and the same in one step, with the match done by the client.
    let r = cli.line("Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -Match 'Power Automate' -Value Disabled -Confirm:$false");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0LSGZ"), "Disabled");

    // The older page's lines, with the legacy id, still work and act on the current product.
    let r = cli.line(r#"Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value "Enabled""#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0LH3L"), "Enabled");
    let r = cli.line("Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Enabled false");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.value_of(&admin, "products/CFQ7TTC0LH3L"), "Disabled");

    let policy = server.get(&format!("/v1.0/policies/{POLICY}"), &admin);
    assert_eq!(policy.json["defaultValue"], "Enabled");
}
