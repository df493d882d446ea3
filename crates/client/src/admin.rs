//! `mscommerce admin …`: the operator's commands over `/admin/v1`. They authenticate with the
//! operator token (`--operator-token`, `MSCOMMERCE_OPERATOR_TOKEN`, or `--dev-credentials FILE`)
//! and print JSON.

use std::path::PathBuf;

use proto::admin as wire;
use proto::Items;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::commands::{read_line, send, Failure, Outcome, EXIT_USAGE};
use crate::http::ApiClient;
use crate::{GlobalArgs, DEFAULT_URL};

#[derive(Debug, Clone, clap::Args)]
pub struct OperatorArgs {
    /// The operator token.
    #[arg(
        long,
        env = "MSCOMMERCE_OPERATOR_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub operator_token: Option<String>,
    /// Read the operator token from a dev-credentials.json written by `server --dev`.
    #[arg(long, value_name = "FILE")]
    pub dev_credentials: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminCommand {
    /// Tenants: list, show, create, update, delete.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Users of a tenant: passwords, roles, TOTP, sessions.
    #[command(subcommand)]
    User(UserCommand),
    /// Applications of a tenant: secrets and permissions.
    #[command(subcommand, alias = "application")]
    App(AppCommand),
    /// The service's token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TenantCommand {
    List(OperatorArgs),
    Show {
        #[command(flatten)]
        op: OperatorArgs,
        /// The tenant's id or one of its domains.
        tenant: String,
    },
    Create {
        #[command(flatten)]
        op: OperatorArgs,
        #[arg(long)]
        name: String,
        /// A verified domain (repeat for more; the first is the primary one).
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
        /// commercial, education or government.
        #[arg(long = "type")]
        tenant_type: Option<String>,
        /// ISO 3166-1 alpha-2 country code [default: US].
        #[arg(long)]
        country: Option<String>,
        /// The tenant id (a GUID) to use, e.g. its Entra ID tenant id [default: a new one].
        #[arg(long)]
        id: Option<String>,
    },
    Update {
        #[command(flatten)]
        op: OperatorArgs,
        tenant: String,
        #[arg(long)]
        name: Option<String>,
        /// Replaces the domains (repeat for more).
        #[arg(long = "domain")]
        domains: Vec<String>,
        #[arg(long = "type")]
        tenant_type: Option<String>,
        #[arg(long)]
        country: Option<String>,
    },
    /// Deletes the tenant and all of its data.
    Delete {
        #[command(flatten)]
        op: OperatorArgs,
        tenant: String,
        /// Confirm: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct TenantUserArgs {
    #[command(flatten)]
    pub op: OperatorArgs,
    /// The tenant's id or one of its domains.
    #[arg(long)]
    pub tenant: String,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum UserCommand {
    List(TenantUserArgs),
    Show {
        #[command(flatten)]
        t: TenantUserArgs,
        /// The user's id or user principal name.
        user: String,
    },
    Create {
        #[command(flatten)]
        t: TenantUserArgs,
        #[arg(long)]
        upn: String,
        #[arg(long)]
        name: Option<String>,
        /// Member or Guest [default: Member].
        #[arg(long)]
        user_type: Option<String>,
        /// A role (repeat for more): Global Administrator, Billing Administrator, Global Reader.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password from standard input [default: the server makes one and shows it once].
        #[arg(long)]
        password_stdin: bool,
    },
    Update {
        #[command(flatten)]
        t: TenantUserArgs,
        user: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        user_type: Option<String>,
        /// Replaces the roles (repeat for more); changing them ends the user's sessions.
        #[arg(long = "role", conflicts_with = "no_roles")]
        roles: Vec<String>,
        /// Removes every role.
        #[arg(long)]
        no_roles: bool,
    },
    /// Sets (from standard input) or resets the password; ends the user's sessions.
    SetPassword {
        #[command(flatten)]
        t: TenantUserArgs,
        user: String,
        #[arg(long, conflicts_with = "reset")]
        password_stdin: bool,
        /// Make a new random password, shown once.
        #[arg(long)]
        reset: bool,
    },
    /// Enrols a TOTP authenticator: prints the secret and an otpauth:// URI, once.
    EnrolTotp {
        #[command(flatten)]
        t: TenantUserArgs,
        user: String,
    },
    ResetTotp {
        #[command(flatten)]
        t: TenantUserArgs,
        user: String,
    },
    RevokeSessions {
        #[command(flatten)]
        t: TenantUserArgs,
        user: String,
    },
    Delete {
        #[command(flatten)]
        t: TenantUserArgs,
        user: String,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AppCommand {
    List(TenantUserArgs),
    Show {
        #[command(flatten)]
        t: TenantUserArgs,
        /// The application's client id.
        app: String,
    },
    Create {
        #[command(flatten)]
        t: TenantUserArgs,
        #[arg(long)]
        name: String,
        /// Policy.Read.AllowSelfServicePurchase or Policy.ReadWrite.AllowSelfServicePurchase (repeat).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    Update {
        #[command(flatten)]
        t: TenantUserArgs,
        app: String,
        #[arg(long)]
        name: Option<String>,
        /// Replaces the permissions (repeat for more); ends the application's tokens.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// Removes every permission.
        #[arg(long, conflicts_with = "permissions")]
        no_permissions: bool,
    },
    Delete {
        #[command(flatten)]
        t: TenantUserArgs,
        app: String,
    },
    /// Adds a client secret; it is shown once.
    AddSecret {
        #[command(flatten)]
        t: TenantUserArgs,
        app: String,
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    RemoveSecret {
        #[command(flatten)]
        t: TenantUserArgs,
        app: String,
        secret_id: String,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    List(OperatorArgs),
    /// A new key signs from now on; the old one verifies until its tokens have expired.
    Rotate(OperatorArgs),
}

fn operator_client(global: &GlobalArgs, op: &OperatorArgs) -> Result<ApiClient, Failure> {
    let token = match (&op.operator_token, &op.dev_credentials) {
        (Some(t), _) => t.clone(),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::new(EXIT_USAGE, format!("cannot read {}: {e}", path.display())))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Failure::new(EXIT_USAGE, format!("{} is not JSON: {e}", path.display())))?;
            value["operator_token"]
                .as_str()
                .ok_or_else(|| Failure::new(EXIT_USAGE, format!("{} has no operator_token", path.display())))?
                .to_string()
        }
        (None, None) => {
            return Err(Failure::new(
                EXIT_USAGE,
                "The admin commands need the operator token: --operator-token, MSCOMMERCE_OPERATOR_TOKEN or --dev-credentials FILE.",
            ))
        }
    };
    let url = global
        .url
        .clone()
        .unwrap_or_else(|| DEFAULT_URL.to_string());
    Ok(ApiClient::new(&url, &token))
}

fn print_json<T: Serialize>(value: &T) -> Outcome {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(anyhow::Error::from)?
    );
    Ok(())
}

/// A call to `/admin/v1/…`.
async fn call<B: Serialize, T: DeserializeOwned>(
    api: &ApiClient,
    method: Method,
    segments: &[&str],
    body: Option<&B>,
    context: &str,
) -> Result<T, Failure> {
    let mut path = vec!["admin", "v1"];
    path.extend_from_slice(segments);
    send(api, method, &path, &[], body, context).await
}

/// For answers without a body (204).
async fn call_empty(api: &ApiClient, method: Method, segments: &[&str], context: &str) -> Outcome {
    call::<(), ()>(api, method, segments, None, context).await
}

fn none() -> Option<&'static ()> {
    None
}

pub async fn run(global: &GlobalArgs, command: AdminCommand) -> Outcome {
    match command {
        AdminCommand::Tenant(c) => tenant(global, c).await,
        AdminCommand::User(c) => user(global, c).await,
        AdminCommand::App(c) => app(global, c).await,
        AdminCommand::Keys(c) => keys(global, c).await,
    }
}

async fn tenant(global: &GlobalArgs, command: TenantCommand) -> Outcome {
    match command {
        TenantCommand::List(op) => {
            let api = operator_client(global, &op)?;
            let items: Items<wire::Tenant> = call(
                &api,
                Method::GET,
                &["tenants"],
                none(),
                "Failed to list tenants",
            )
            .await?;
            print_json(&items.items)
        }
        TenantCommand::Show { op, tenant } => {
            let api = operator_client(global, &op)?;
            let t: wire::Tenant = call(
                &api,
                Method::GET,
                &["tenants", &tenant],
                none(),
                &format!("Failed to read tenant '{tenant}'"),
            )
            .await?;
            print_json(&t)
        }
        TenantCommand::Create {
            op,
            name,
            domains,
            tenant_type,
            country,
            id,
        } => {
            let api = operator_client(global, &op)?;
            let body = wire::NewTenant {
                id,
                display_name: name,
                domains,
                tenant_type,
                country,
            };
            let t: wire::Tenant = call(
                &api,
                Method::POST,
                &["tenants"],
                Some(&body),
                "Failed to create the tenant",
            )
            .await?;
            print_json(&t)
        }
        TenantCommand::Update {
            op,
            tenant,
            name,
            domains,
            tenant_type,
            country,
        } => {
            let api = operator_client(global, &op)?;
            let body = wire::TenantPatch {
                display_name: name,
                domains: (!domains.is_empty()).then_some(domains),
                tenant_type,
                country,
            };
            let t: wire::Tenant = call(
                &api,
                Method::PATCH,
                &["tenants", &tenant],
                Some(&body),
                &format!("Failed to update tenant '{tenant}'"),
            )
            .await?;
            print_json(&t)
        }
        TenantCommand::Delete { op, tenant, yes } => {
            if !yes {
                return Err(Failure::new(
                    EXIT_USAGE,
                    format!("Deleting tenant '{tenant}' removes all of its data for good: pass --yes to confirm."),
                ));
            }
            let api = operator_client(global, &op)?;
            call_empty(
                &api,
                Method::DELETE,
                &["tenants", &tenant],
                &format!("Failed to delete tenant '{tenant}'"),
            )
            .await?;
            eprintln!("Tenant {tenant} and all of its data are deleted.");
            Ok(())
        }
    }
}

async fn user(global: &GlobalArgs, command: UserCommand) -> Outcome {
    match command {
        UserCommand::List(t) => {
            let api = operator_client(global, &t.op)?;
            let items: Items<wire::User> = call(
                &api,
                Method::GET,
                &["tenants", &t.tenant, "users"],
                none(),
                "Failed to list users",
            )
            .await?;
            print_json(&items.items)
        }
        UserCommand::Show { t, user } => {
            let api = operator_client(global, &t.op)?;
            let u: wire::User = call(
                &api,
                Method::GET,
                &["tenants", &t.tenant, "users", &user],
                none(),
                &format!("Failed to read user '{user}'"),
            )
            .await?;
            print_json(&u)
        }
        UserCommand::Create {
            t,
            upn,
            name,
            user_type,
            roles,
            password_stdin,
        } => {
            let api = operator_client(global, &t.op)?;
            let password = if password_stdin {
                Some(read_line(None)?)
            } else {
                None
            };
            let body = wire::NewUser {
                user_principal_name: upn,
                display_name: name,
                user_type,
                roles,
                password,
            };
            let u: wire::User = call(
                &api,
                Method::POST,
                &["tenants", &t.tenant, "users"],
                Some(&body),
                "Failed to create the user",
            )
            .await?;
            print_json(&u)
        }
        UserCommand::Update {
            t,
            user,
            name,
            user_type,
            roles,
            no_roles,
        } => {
            let api = operator_client(global, &t.op)?;
            let roles = if no_roles {
                Some(Vec::new())
            } else {
                (!roles.is_empty()).then_some(roles)
            };
            let body = wire::UserPatch {
                display_name: name,
                user_type,
                roles,
                ..Default::default()
            };
            let u: wire::User = call(
                &api,
                Method::PATCH,
                &["tenants", &t.tenant, "users", &user],
                Some(&body),
                &format!("Failed to update user '{user}'"),
            )
            .await?;
            print_json(&u)
        }
        UserCommand::SetPassword {
            t,
            user,
            password_stdin,
            reset,
        } => {
            let api = operator_client(global, &t.op)?;
            let body = if reset {
                wire::UserPatch {
                    reset_password: true,
                    ..Default::default()
                }
            } else if password_stdin {
                wire::UserPatch {
                    password: Some(read_line(None)?),
                    ..Default::default()
                }
            } else {
                return Err(Failure::new(
                    EXIT_USAGE,
                    "Give --password-stdin or --reset.",
                ));
            };
            let u: wire::User = call(
                &api,
                Method::PATCH,
                &["tenants", &t.tenant, "users", &user],
                Some(&body),
                &format!("Failed to set the password of '{user}'"),
            )
            .await?;
            print_json(&u)
        }
        UserCommand::EnrolTotp { t, user } => {
            let api = operator_client(global, &t.op)?;
            let e: wire::TotpEnrolment = call(
                &api,
                Method::POST,
                &["tenants", &t.tenant, "users", &user, "totp"],
                none(),
                &format!("Failed to enrol TOTP for '{user}'"),
            )
            .await?;
            print_json(&e)
        }
        UserCommand::ResetTotp { t, user } => {
            let api = operator_client(global, &t.op)?;
            call_empty(
                &api,
                Method::DELETE,
                &["tenants", &t.tenant, "users", &user, "totp"],
                &format!("Failed to reset TOTP of '{user}'"),
            )
            .await?;
            eprintln!("TOTP removed from {user}.");
            Ok(())
        }
        UserCommand::RevokeSessions { t, user } => {
            let api = operator_client(global, &t.op)?;
            call_empty(
                &api,
                Method::POST,
                &["tenants", &t.tenant, "users", &user, "revokeSessions"],
                &format!("Failed to revoke the sessions of '{user}'"),
            )
            .await?;
            eprintln!("Every session of {user} is ended.");
            Ok(())
        }
        UserCommand::Delete { t, user } => {
            let api = operator_client(global, &t.op)?;
            call_empty(
                &api,
                Method::DELETE,
                &["tenants", &t.tenant, "users", &user],
                &format!("Failed to delete user '{user}'"),
            )
            .await?;
            eprintln!("User {user} is deleted.");
            Ok(())
        }
    }
}

async fn app(global: &GlobalArgs, command: AppCommand) -> Outcome {
    match command {
        AppCommand::List(t) => {
            let api = operator_client(global, &t.op)?;
            let items: Items<wire::Application> = call(
                &api,
                Method::GET,
                &["tenants", &t.tenant, "applications"],
                none(),
                "Failed to list applications",
            )
            .await?;
            print_json(&items.items)
        }
        AppCommand::Show { t, app } => {
            let api = operator_client(global, &t.op)?;
            let a: wire::Application = call(
                &api,
                Method::GET,
                &["tenants", &t.tenant, "applications", &app],
                none(),
                &format!("Failed to read application '{app}'"),
            )
            .await?;
            print_json(&a)
        }
        AppCommand::Create {
            t,
            name,
            permissions,
        } => {
            let api = operator_client(global, &t.op)?;
            let body = wire::NewApplication {
                display_name: name,
                permissions,
            };
            let a: wire::Application = call(
                &api,
                Method::POST,
                &["tenants", &t.tenant, "applications"],
                Some(&body),
                "Failed to create the application",
            )
            .await?;
            print_json(&a)
        }
        AppCommand::Update {
            t,
            app,
            name,
            permissions,
            no_permissions,
        } => {
            let api = operator_client(global, &t.op)?;
            let permissions = if no_permissions {
                Some(Vec::new())
            } else {
                (!permissions.is_empty()).then_some(permissions)
            };
            let body = wire::ApplicationPatch {
                display_name: name,
                permissions,
            };
            let a: wire::Application = call(
                &api,
                Method::PATCH,
                &["tenants", &t.tenant, "applications", &app],
                Some(&body),
                &format!("Failed to update application '{app}'"),
            )
            .await?;
            print_json(&a)
        }
        AppCommand::Delete { t, app } => {
            let api = operator_client(global, &t.op)?;
            call_empty(
                &api,
                Method::DELETE,
                &["tenants", &t.tenant, "applications", &app],
                &format!("Failed to delete application '{app}'"),
            )
            .await?;
            eprintln!("Application {app} is deleted.");
            Ok(())
        }
        AppCommand::AddSecret {
            t,
            app,
            expires_in_days,
        } => {
            let api = operator_client(global, &t.op)?;
            let body = wire::NewSecret { expires_in_days };
            let s: wire::CreatedSecret = call(
                &api,
                Method::POST,
                &["tenants", &t.tenant, "applications", &app, "secrets"],
                Some(&body),
                &format!("Failed to add a secret to '{app}'"),
            )
            .await?;
            print_json(&s)
        }
        AppCommand::RemoveSecret { t, app, secret_id } => {
            let api = operator_client(global, &t.op)?;
            call_empty(
                &api,
                Method::DELETE,
                &[
                    "tenants",
                    &t.tenant,
                    "applications",
                    &app,
                    "secrets",
                    &secret_id,
                ],
                &format!("Failed to remove secret '{secret_id}'"),
            )
            .await?;
            eprintln!("Secret {secret_id} is removed.");
            Ok(())
        }
    }
}

async fn keys(global: &GlobalArgs, command: KeysCommand) -> Outcome {
    match command {
        KeysCommand::List(op) => {
            let api = operator_client(global, &op)?;
            let items: Items<wire::SigningKeyInfo> = call(
                &api,
                Method::GET,
                &["signingKeys"],
                none(),
                "Failed to list signing keys",
            )
            .await?;
            print_json(&items.items)
        }
        KeysCommand::Rotate(op) => {
            let api = operator_client(global, &op)?;
            let items: Items<wire::SigningKeyInfo> = call(
                &api,
                Method::POST,
                &["signingKeys", "rotate"],
                none(),
                "Failed to rotate the signing key",
            )
            .await?;
            print_json(&items.items)
        }
    }
}
