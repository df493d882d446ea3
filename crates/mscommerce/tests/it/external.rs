//! External issuers (SPEC §4): tokens shaped like Entra ID's, signed by a key pair made here (the
//! identity provider is the one thing that cannot run here), are verified against its JWKS from a
//! file or a URL and authorised by `wids` and `roles`, as the server's own are.

use std::io::{Read, Write};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use crate::support::{TestServer, POLICY};

const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";

struct Idp {
    kid: String,
    key: jsonwebtoken::EncodingKey,
    jwk: Value,
}

impl Idp {
    fn new(kid: &str) -> Idp {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let public = private.to_public_key();
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        });
        let der = private.to_pkcs1_der().unwrap();
        Idp {
            kid: kid.into(),
            key: jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
            jwk,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

/// Serves a JWKS document over HTTP on loopback, as an identity provider's keys endpoint does.
fn serve_jwks(jwks: Value) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/keys", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let body = jwks.to_string();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn tokens_of_a_trusted_issuer_are_authorised_by_wids_and_roles() {
    let entra = Idp::new("entra-1");
    let keycloak = Idp::new("kc-1");
    let stranger = Idp::new("entra-1"); // same kid, another key: a forgery
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = dir.path().join("entra-jwks.json");
    std::fs::write(&jwks_file, json!({"keys": [entra.jwk]}).to_string()).unwrap();
    let jwks_url = serve_jwks(json!({"keys": [keycloak.jwk]}));
    let config = format!(
        r#"
[[external_issuers]]
issuer = "https://login.example.test/{{tenantid}}/v2.0"
jwks_file = "{}"
audience = "api://mscommerce-tests"

[[external_issuers]]
issuer = "https://keycloak.example.test/realms/contoso"
jwks_url = "{jwks_url}"
audience = "mscommerce"
tenant_claim = "tenant"
"#,
        jwks_file.display()
    );
    let server = TestServer::start_with_config(&config, &[]);
    let tid = server.tenant("contoso.example").id.clone();
    let t = now();
    let entra_claims = |wids: &[&str]| {
        json!({
            "aud": "api://mscommerce-tests", "iss": format!("https://login.example.test/{tid}/v2.0"),
            "tid": tid, "oid": "7d9c3f0e-1111-4c1e-9d7e-3f2b0a1c5e77", "upn": "ext.admin@contoso.example",
            "wids": wids, "scp": "user_impersonation", "iat": t, "nbf": t, "exp": t + 3600,
        })
    };
    let product = format!("/v1.0/policies/{POLICY}/products/CFQ7TTC0H9MP");

    let admin = entra.sign(&entra_claims(&[GLOBAL_ADMIN]));
    let reply = server.put_value(&product, &admin, "Disabled");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["lastModifiedBy"], "ext.admin@contoso.example");
    let reader = entra.sign(&entra_claims(&[GLOBAL_READER]));
    assert_eq!(server.get(&product, &reader).status, 200);
    assert_eq!(server.put_value(&product, &reader, "Enabled").status, 403);
    let nobody = entra.sign(&entra_claims(&[]));
    assert_eq!(server.get(&product, &nobody).status, 403);

    // An application token of the issuer: `roles`, no `scp`.
    let app = entra.sign(&json!({
        "aud": "api://mscommerce-tests", "iss": format!("https://login.example.test/{tid}/v2.0"), "tid": tid,
        "oid": "0b7e2f4a-2222-4a55-8b1d-5a0c9e7d3b11", "azp": "c0ffee00-3333-4bcd-9e8f-0123456789ab",
        "roles": ["Policy.ReadWrite.AllowSelfServicePurchase"], "iat": t, "nbf": t, "exp": t + 3600,
    }));
    let reply = server.put_value(&product, &app, "Enabled");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json["lastModifiedBy"],
        "c0ffee00-3333-4bcd-9e8f-0123456789ab"
    );

    // The JWKS from a URL, with the tenant in another claim.
    let kc = keycloak.sign(&json!({
        "aud": "mscommerce", "iss": "https://keycloak.example.test/realms/contoso", "tenant": tid,
        "preferred_username": "kc.user@contoso.example", "wids": [GLOBAL_READER], "scp": "openid",
        "iat": t, "nbf": t, "exp": t + 3600,
    }));
    assert_eq!(server.get(&product, &kc).status, 200);

    let refused = |token: &str, why: &str| {
        let reply = server.get(&product, token);
        assert_eq!(reply.status, 401, "{why}: {}", reply.text);
        assert!(reply.reason().contains(why), "{}: {}", why, reply.reason());
    };
    refused(&stranger.sign(&entra_claims(&[GLOBAL_ADMIN])), "signature");
    let mut c = entra_claims(&[GLOBAL_ADMIN]);
    c["aud"] = json!("api://someone-else");
    refused(&entra.sign(&c), "another resource");
    let mut c = entra_claims(&[GLOBAL_ADMIN]);
    c["exp"] = json!(t - 3600);
    c["iat"] = json!(t - 7200);
    c["nbf"] = json!(t - 7200);
    refused(&entra.sign(&c), "expired");
    let mut c = entra_claims(&[GLOBAL_ADMIN]);
    let unknown_tid = "9a9a9a9a-0000-4000-8000-000000000009";
    c["tid"] = json!(unknown_tid);
    c["iss"] = json!(format!("https://login.example.test/{unknown_tid}/v2.0"));
    refused(&entra.sign(&c), "not known");
    let mut c = entra_claims(&[GLOBAL_ADMIN]);
    c["iss"] = json!(format!("https://untrusted.example.test/{tid}/v2.0"));
    refused(&entra.sign(&c), "does not trust");
    // The tenant claim says Contoso, the issuer path says Fabrikam: the issuer check refuses it.
    let mut c = entra_claims(&[GLOBAL_ADMIN]);
    c["iss"] = json!(format!(
        "https://login.example.test/{}/v2.0",
        server.tenant("fabrikam.example").id
    ));
    refused(&entra.sign(&c), "does not trust");
}
