//! `server --dev`: demo tenants and users created on first start and kept after (SPEC §6), with
//! their passwords and the service's own credentials written to `dev-credentials.json` (0600).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use domain::{Role, TenantType, Upn, UserType};
use serde::Serialize;
use store::{NewTenant, NewUser, Store};
use uuid::Uuid;

use crate::auth::password::hash_password_async;
use crate::auth::{random_secret, secret_hash};

const SEEDED_KEY: &str = "dev_seeded";
pub const CREDENTIALS_FILE: &str = "dev-credentials.json";

#[derive(Debug, Serialize)]
struct DevCredentials {
    operator_token: String,
    checkout_credential: CheckoutCredential,
    tenants: Vec<DevTenant>,
}

#[derive(Debug, Serialize)]
struct CheckoutCredential {
    client_id: String,
    client_secret: String,
}

#[derive(Debug, Serialize)]
struct DevTenant {
    id: String,
    domain: String,
    display_name: String,
    users: Vec<DevUser>,
}

#[derive(Debug, Serialize)]
struct DevUser {
    upn: String,
    password: String,
    user_type: String,
    roles: Vec<String>,
}

struct DemoUser {
    name: &'static str,
    display_name: &'static str,
    user_type: UserType,
    roles: &'static [Role],
}

const CONTOSO_USERS: &[DemoUser] = &[
    DemoUser {
        name: "admin",
        display_name: "Contoso Admin",
        user_type: UserType::Member,
        roles: &[Role::GlobalAdministrator],
    },
    DemoUser {
        name: "billing",
        display_name: "Contoso Billing",
        user_type: UserType::Member,
        roles: &[Role::BillingAdministrator],
    },
    DemoUser {
        name: "reader",
        display_name: "Contoso Reader",
        user_type: UserType::Member,
        roles: &[Role::GlobalReader],
    },
    DemoUser {
        name: "user",
        display_name: "Contoso User",
        user_type: UserType::Member,
        roles: &[],
    },
    DemoUser {
        name: "guest",
        display_name: "Contoso Guest",
        user_type: UserType::Guest,
        roles: &[],
    },
];

const FABRIKAM_USERS: &[DemoUser] = &[DemoUser {
    name: "admin",
    display_name: "Fabrikam Admin",
    user_type: UserType::Member,
    roles: &[Role::GlobalAdministrator],
}];

pub fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join(CREDENTIALS_FILE)
}

/// Creates the demo data unless an earlier start did. Answers the credentials JSON when it was
/// created now (to be printed once), `None` when it already existed.
pub async fn ensure_demo_data(
    store: &dyn Store,
    data_dir: &Path,
) -> anyhow::Result<Option<String>> {
    if store.meta(SEEDED_KEY).await?.is_some() {
        return Ok(None);
    }
    if store.find_tenant("contoso.example").await?.is_some() {
        anyhow::bail!(
            "the database holds contoso.example but not the record that the demo data was completed; \
             an earlier first start was interrupted. Remove {} and start again.",
            data_dir.display()
        );
    }
    let mut tenants = Vec::new();
    for (domain, display_name, users) in [
        ("contoso.example", "Contoso", CONTOSO_USERS),
        ("fabrikam.example", "Fabrikam", FABRIKAM_USERS),
    ] {
        let tenant = store
            .create_tenant(NewTenant {
                id: Uuid::new_v4(),
                display_name: display_name.into(),
                domains: vec![domain.into()],
                tenant_type: TenantType::Commercial,
                country: "US".into(),
            })
            .await?;
        let mut dev_users = Vec::new();
        for u in users {
            let password = random_secret(12);
            let upn = Upn::parse(&format!("{}@{domain}", u.name)).map_err(anyhow::Error::msg)?;
            store
                .create_user(NewUser {
                    tenant_id: tenant.id,
                    id: Uuid::new_v4(),
                    upn: upn.clone(),
                    display_name: u.display_name.into(),
                    user_type: u.user_type,
                    roles: u.roles.to_vec(),
                    password_hash: Some(hash_password_async(password.clone()).await?),
                    totp_secret: None,
                    tokens_valid_after: 0,
                })
                .await?;
            dev_users.push(DevUser {
                upn: upn.to_string(),
                password,
                user_type: u.user_type.as_str().into(),
                roles: u
                    .roles
                    .iter()
                    .map(|r| r.display_name().to_string())
                    .collect(),
            });
        }
        tenants.push(DevTenant {
            id: tenant.id.to_string(),
            domain: domain.into(),
            display_name: display_name.into(),
            users: dev_users,
        });
    }
    let credentials = DevCredentials {
        operator_token: format!("mso_{}", random_secret(32)),
        checkout_credential: CheckoutCredential {
            client_id: Uuid::new_v4().to_string(),
            client_secret: random_secret(32),
        },
        tenants,
    };
    store
        .put_service_credential("operator", "dev", &secret_hash(&credentials.operator_token))
        .await?;
    store
        .put_service_credential(
            "checkout",
            &credentials.checkout_credential.client_id,
            &secret_hash(&credentials.checkout_credential.client_secret),
        )
        .await?;
    let json = serde_json::to_string_pretty(&credentials)?;
    write_private_file(&credentials_path(data_dir), &json)?;
    store
        .set_meta(SEEDED_KEY, &store::timestamp(chrono::Utc::now()))
        .await?;
    Ok(Some(json))
}

/// Writes a file only its owner can read (0600 on Unix), durably.
fn write_private_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}
