//! What each command does: resolve the session, call the service, print, and choose the exit
//! status of SPEC §5 (0 done, 1 failed, 2 usage, 3 not signed in or expired, 4 forbidden, 5 not found).

use std::io::{BufRead, IsTerminal, Write};

use proto::{
    AuditPage, Items, OfferTypePolicy, Policy, ProductPolicy, TokenResponse, UpdateDefaultValue,
    UpdatePolicyValue,
};
use reqwest::{Method, StatusCode};

use crate::cache::{self, CachedConnection};
use crate::http::{token_request, ApiClient, ServiceError};
use crate::output::{
    self, AuditRecord, OfferTypeRecord, OutputFormat, PolicyRecord, ProductRecord,
};
use crate::{
    AuditArgs, Command, ConnectArgs, GetProductPoliciesArgs, GetProductPolicyArgs,
    GetPurchasesArgs, GlobalArgs, ModuleArgs, ResetArgs, SetDefaultArgs, UpdateArgs, DEFAULT_URL,
};

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_NOT_SIGNED_IN: u8 = 3;
pub const EXIT_FORBIDDEN: u8 = 4;
pub const EXIT_NOT_FOUND: u8 = 5;

/// A command that did not succeed: what to tell the user, and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A failed call, in the module's words: "<context>: <the server's reason>".
    pub fn service(context: &str, e: ServiceError) -> Failure {
        match e.status() {
            Some(StatusCode::UNAUTHORIZED) => Failure::new(
                EXIT_NOT_SIGNED_IN,
                format!(
                    "Your credentials have expired. Please run `mscommerce connect` again. ({e})"
                ),
            ),
            Some(StatusCode::FORBIDDEN) => Failure::new(EXIT_FORBIDDEN, format!("{context}: {e}")),
            Some(StatusCode::NOT_FOUND) => Failure::new(EXIT_NOT_FOUND, format!("{context}: {e}")),
            _ => Failure::new(EXIT_FAILED, format!("{context}: {e}")),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::new(EXIT_FAILED, format!("{e:#}"))
    }
}

pub type Outcome = Result<(), Failure>;

/// A call to the service; a failure reads in the module's words, under `context`.
pub(crate) async fn send<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    api: &ApiClient,
    method: Method,
    segments: &[&str],
    query: &[(&str, String)],
    body: Option<&B>,
    context: &str,
) -> Result<T, Failure> {
    api.call(method, segments, query, body)
        .await
        .map_err(|e| Failure::service(context, e))
}

/// Runs one client command and answers its exit status.
pub async fn run(global: GlobalArgs, command: Command) -> u8 {
    let result = match command {
        Command::Connect(args) => connect(&global, args).await,
        Command::Disconnect => disconnect(&global).await,
        Command::Admin(command) => crate::admin::run(&global, command).await,
        Command::GetPurchases(args) => get_purchases(&global, args).await,
        Command::CancelPurchase(args) => {
            purchase_action(&global, &args.id, "cancel", "cancel").await
        }
        Command::TakeOverPurchase(args) => {
            purchase_action(&global, &args.id, "takeOver", "take over").await
        }
        Command::GetNotifications => get_notifications(&global).await,
        Command::GetPolicies => get_policies(&global).await,
        Command::GetPolicy(args) => get_policy(&global, &args.policy_id).await,
        Command::GetProductPolicies(args) => get_product_policies(&global, args).await,
        Command::GetProductPolicy(args) => get_product_policy(&global, args).await,
        Command::UpdateProductPolicy(args) => update_product_policy(&global, args).await,
        Command::SetDefaultPolicy(args) => set_default_policy(&global, args).await,
        Command::ResetProductPolicy(args) => reset_product_policy(&global, args).await,
        Command::GetAuditLog(args) => get_audit_log(&global, args).await,
        Command::InstallModule(args) => module_shim("install", args),
        Command::ImportModule(args) => module_shim("import", args),
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("{}", f.message);
            f.code
        }
    }
}

fn format(global: &GlobalArgs) -> OutputFormat {
    global.output.unwrap_or(OutputFormat::Table)
}

fn policy_path<'a>(policy_id: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut segments = vec!["v1.0", "policies", policy_id];
    segments.extend_from_slice(rest);
    segments
}

/// The signed-in session: `--token` if given, else the profile's cached sign-in, refreshed
/// silently with its refresh token when it is about to expire.
async fn session(global: &GlobalArgs) -> Result<ApiClient, Failure> {
    let cached = cache::load(&global.profile)?;
    if let Some(token) = &global.token {
        let url = global
            .url
            .clone()
            .or_else(|| cached.map(|c| c.url))
            .unwrap_or_else(|| DEFAULT_URL.to_string());
        return Ok(ApiClient::new(&url, token));
    }
    let Some(mut conn) = cached else {
        return Err(Failure::new(
            EXIT_NOT_SIGNED_IN,
            "You must call `mscommerce connect` before any other command.",
        ));
    };
    let now = chrono::Utc::now().timestamp();
    if conn.expires_at <= now + REFRESH_MARGIN_SECS {
        conn = refresh(&global.profile, conn, now).await?;
    }
    let url = global.url.clone().unwrap_or_else(|| conn.url.clone());
    Ok(ApiClient::new(&url, &conn.access_token))
}

/// Tokens are refreshed this long before they expire, so a command never starts with a token that
/// runs out mid-way.
const REFRESH_MARGIN_SECS: i64 = 300;

async fn refresh(
    profile: &str,
    mut conn: CachedConnection,
    now: i64,
) -> Result<CachedConnection, Failure> {
    let expired = || {
        Failure::new(
            EXIT_NOT_SIGNED_IN,
            "Your credentials have expired. Please run `mscommerce connect` again.",
        )
    };
    let Some(refresh_token) = conn.refresh_token.clone() else {
        return if conn.expires_at > now + 30 {
            Ok(conn)
        } else {
            Err(expired())
        };
    };
    let client_id = conn
        .client_id
        .clone()
        .unwrap_or_else(|| proto::CLI_CLIENT_ID.to_string());
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
        ("client_id", client_id.as_str()),
    ];
    match token_request(conn.authority(), &conn.tenant, &form).await {
        Ok(token) => {
            conn.access_token = token.access_token;
            conn.expires_at = chrono::Utc::now().timestamp() + token.expires_in as i64;
            conn.refresh_token = token.refresh_token.or(Some(refresh_token));
            cache::save(profile, &conn)?;
            Ok(conn)
        }
        // The server is out of reach: the current token may still do.
        Err(ServiceError::Unreachable { .. }) if conn.expires_at > now + 30 => Ok(conn),
        Err(ServiceError::Status { reason, .. }) => Err(Failure::new(
            EXIT_NOT_SIGNED_IN,
            format!(
                "Your credentials have expired. Please run `mscommerce connect` again. ({reason})"
            ),
        )),
        Err(e) => Err(Failure::new(
            EXIT_FAILED,
            format!("Could not refresh the sign-in: {e}"),
        )),
    }
}

pub fn read_line(prompt: Option<&str>) -> anyhow::Result<String> {
    if let Some(p) = prompt {
        eprint!("{p}");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn sign_in_failure(e: ServiceError) -> Failure {
    match e {
        ServiceError::Status { reason, .. } => {
            Failure::new(EXIT_NOT_SIGNED_IN, format!("Sign-in failed: {reason}"))
        }
        other => Failure::new(EXIT_FAILED, format!("Sign-in failed: {other}")),
    }
}

async fn connect(global: &GlobalArgs, args: ConnectArgs) -> Outcome {
    let url = global
        .url
        .clone()
        .or_else(|| cache::load(&global.profile).ok().flatten().map(|c| c.url))
        .unwrap_or_else(|| DEFAULT_URL.to_string());
    let authority = args.authority.clone().unwrap_or_else(|| url.clone());
    let scope = format!("{}/.default offline_access", args.resource);
    let (tenant, username, client_id, token) = if let Some(client_id) = &args.client_id {
        let tenant = args.tenant.clone().ok_or_else(|| {
            Failure::new(
                EXIT_USAGE,
                "--client-id needs --tenant: the tenant the application belongs to.",
            )
        })?;
        let secret = read_line(None)?;
        if secret.is_empty() {
            return Err(Failure::new(
                EXIT_USAGE,
                "No client secret on standard input.",
            ));
        }
        let scope = format!("{}/.default", args.resource);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", scope.as_str()),
        ];
        let token = token_request(&authority, &tenant, &form)
            .await
            .map_err(sign_in_failure)?;
        (tenant, None, client_id.clone(), token)
    } else if args.device_code {
        let tenant = args
            .tenant
            .clone()
            .or_else(|| {
                args.username
                    .as_deref()
                    .and_then(|u| u.split_once('@'))
                    .map(|(_, d)| d.to_ascii_lowercase())
            })
            .ok_or_else(|| {
                Failure::new(
                    EXIT_USAGE,
                    "--device-code needs --tenant (or --username): the tenant to sign in to.",
                )
            })?;
        let token = device_code_flow(&authority, &tenant, &scope).await?;
        (tenant, None, proto::CLI_CLIENT_ID.to_string(), token)
    } else {
        let (tenant, username, token) = password_flow(&authority, &args, &scope).await?;
        (
            tenant,
            Some(username),
            proto::CLI_CLIENT_ID.to_string(),
            token,
        )
    };
    let conn = CachedConnection {
        url,
        authority: args.authority.clone(),
        tenant: tenant.clone(),
        username: username.clone(),
        client_id: Some(client_id.clone()),
        access_token: token.access_token,
        expires_at: chrono::Utc::now().timestamp() + token.expires_in as i64,
        refresh_token: token.refresh_token,
    };
    cache::save(&global.profile, &conn)?;
    let who = username.unwrap_or_else(|| format!("application {client_id}"));
    eprintln!("Connected to {tenant} as {who} at {}.", conn.url);
    Ok(())
}

/// Password sign-in; asks for (or reads) the TOTP code only when the server says the account needs it.
async fn password_flow(
    authority: &str,
    args: &ConnectArgs,
    scope: &str,
) -> Result<(String, String, TokenResponse), Failure> {
    let interactive = std::io::stdin().is_terminal() && !args.password_stdin;
    let username = match &args.username {
        Some(u) => u.clone(),
        None if args.password_stdin => {
            return Err(Failure::new(
                EXIT_USAGE,
                "--password-stdin needs --username: standard input carries only the password.",
            ))
        }
        None => read_line(interactive.then_some("Username: "))?
            .trim()
            .to_string(),
    };
    if username.is_empty() {
        return Err(Failure::new(
            EXIT_USAGE,
            "No user name given: pass --username admin@contoso.example.",
        ));
    }
    let password = if interactive {
        rpassword::prompt_password("Password: ").map_err(anyhow::Error::from)?
    } else {
        read_line(None)?
    };
    if password.is_empty() {
        return Err(Failure::new(
            EXIT_USAGE,
            "No password given on standard input.",
        ));
    }
    let tenant = match &args.tenant {
        Some(t) => t.clone(),
        None => match username.split_once('@') {
            Some((_, domain)) if !domain.is_empty() => domain.to_ascii_lowercase(),
            _ => {
                return Err(Failure::new(
                    EXIT_USAGE,
                    format!("'{username}' is not a user principal name (name@domain); pass --tenant or a full user name."),
                ))
            }
        },
    };
    let mut mfa_code = args.mfa_code.clone();
    loop {
        let mut form = vec![
            ("grant_type", "password"),
            ("client_id", proto::CLI_CLIENT_ID),
            ("scope", scope),
            ("username", username.as_str()),
            ("password", password.as_str()),
        ];
        if let Some(code) = &mfa_code {
            form.push(("mfa_code", code.as_str()));
        }
        match token_request(authority, &tenant, &form).await {
            Ok(token) => return Ok((tenant, username, token)),
            Err(e) if e.code() == Some("mfa_required") && mfa_code.is_none() => {
                let code = if interactive {
                    read_line(Some("Verification code from your authenticator app: "))?
                } else {
                    read_line(None)?
                };
                if code.trim().is_empty() {
                    return Err(Failure::new(
                        EXIT_NOT_SIGNED_IN,
                        "Sign-in failed: this account needs a verification code (--mfa-code, or a second line on standard input).",
                    ));
                }
                mfa_code = Some(code.trim().to_string());
            }
            Err(e) => return Err(sign_in_failure(e)),
        }
    }
}

/// The device authorization grant (RFC 8628): show the code, then poll until the user has signed
/// in at the verification page, declined, or the code expired.
async fn device_code_flow(
    authority: &str,
    tenant: &str,
    scope: &str,
) -> Result<TokenResponse, Failure> {
    let start: proto::DeviceCodeResponse = crate::http::post_form(
        authority,
        tenant,
        "devicecode",
        &[("client_id", proto::CLI_CLIENT_ID), ("scope", scope)],
    )
    .await
    .map_err(sign_in_failure)?;
    eprintln!("{}", start.message);
    let mut interval = std::time::Duration::from_secs(start.interval.max(1));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(start.expires_in + 5);
    loop {
        tokio::time::sleep(interval).await;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", proto::CLI_CLIENT_ID),
            ("device_code", start.device_code.as_str()),
        ];
        match token_request(authority, tenant, &form).await {
            Ok(token) => return Ok(token),
            Err(e)
                if e.code() == Some("authorization_pending")
                    && std::time::Instant::now() < deadline => {}
            // RFC 8628 §3.5: slow down by five seconds.
            Err(e) if e.code() == Some("slow_down") => {
                interval += std::time::Duration::from_secs(5)
            }
            Err(e) => return Err(sign_in_failure(e)),
        }
    }
}

async fn disconnect(global: &GlobalArgs) -> Outcome {
    let Some(conn) = cache::load(&global.profile)? else {
        eprintln!("Not signed in: there was no cached token.");
        return Ok(());
    };
    // Revoke the refresh token at the server, so a copy of the cache is worth nothing; the local
    // copy goes even if the server cannot be reached.
    if let Some(refresh_token) = &conn.refresh_token {
        let revoked = crate::http::post_form::<serde_json::Value>(
            conn.authority(),
            &conn.tenant,
            "revoke",
            &[
                ("token", refresh_token.as_str()),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
        if let Err(e) = revoked {
            eprintln!("warning: the server did not confirm the sign-out ({e}); the local token is removed anyway.");
        }
    }
    cache::clear(&global.profile)?;
    eprintln!("Signed out of {}.", conn.tenant);
    Ok(())
}

fn module_shim(verb: &str, args: ModuleArgs) -> Outcome {
    match args.name.as_deref() {
        Some(name) if name.eq_ignore_ascii_case("MSCommerce") => {
            eprintln!("Nothing to {verb}: mscommerce is a single binary and is ready to use.");
            Ok(())
        }
        Some(name) => Err(Failure::new(
            EXIT_USAGE,
            format!("mscommerce stands in for the MSCommerce module only, not '{name}'."),
        )),
        None => Err(Failure::new(
            EXIT_USAGE,
            format!("{verb}-module needs -Name MSCommerce."),
        )),
    }
}

async fn get_policies(global: &GlobalArgs) -> Outcome {
    let api = session(global).await?;
    let items: Items<Policy> = send::<(), _>(
        &api,
        Method::GET,
        &["v1.0", "policies"],
        &[],
        None,
        "Failed to retrieve policies",
    )
    .await?;
    let records: Vec<PolicyRecord> = items.items.into_iter().map(Into::into).collect();
    output::print(format(global), &records, false)?;
    Ok(())
}

fn retrieve_context(policy_id: &str) -> String {
    format!("Failed to retrieve policy with PolicyId '{policy_id}'")
}

async fn get_policy(global: &GlobalArgs, policy_id: &str) -> Outcome {
    let api = session(global).await?;
    let policy: Policy = send::<(), _>(
        &api,
        Method::GET,
        &policy_path(policy_id, &[]),
        &[],
        None,
        &retrieve_context(policy_id),
    )
    .await?;
    output::print(format(global), &[PolicyRecord::from(policy)], true)?;
    Ok(())
}

fn name_filter(pattern: Option<&str>) -> Result<Option<regex::Regex>, Failure> {
    pattern
        .map(|p| {
            regex::RegexBuilder::new(p)
                .case_insensitive(true)
                .build()
                .map_err(|e| {
                    Failure::new(
                        EXIT_USAGE,
                        format!("--match '{p}' is not a valid regular expression: {e}"),
                    )
                })
        })
        .transpose()
}

fn is_offer_type_scope(scope: &str) -> bool {
    scope.eq_ignore_ascii_case("offertype")
}

/// The rows of one scope (`product` or `OfferType`), as the server lists them.
async fn list_rows<T: serde::de::DeserializeOwned>(
    api: &ApiClient,
    policy_id: &str,
    scope: &str,
) -> Result<Vec<T>, Failure> {
    let items: Items<T> = send::<(), _>(
        api,
        Method::GET,
        &policy_path(policy_id, &["products"]),
        &[("scope", scope.to_string())],
        None,
        &retrieve_context(policy_id),
    )
    .await?;
    Ok(items.items)
}

async fn get_product_policies(global: &GlobalArgs, args: GetProductPoliciesArgs) -> Outcome {
    let api = session(global).await?;
    let policy_id = &args.policy.policy_id;
    let filter = name_filter(args.matching.as_deref())?;
    let matches = |name: &str, id: &str| {
        filter
            .as_ref()
            .is_none_or(|re| re.is_match(name) || re.is_match(id))
    };
    if is_offer_type_scope(&args.scope) {
        let rows: Vec<OfferTypePolicy> = list_rows(&api, policy_id, &args.scope).await?;
        let records: Vec<OfferTypeRecord> = rows
            .into_iter()
            .filter(|r| matches(&r.scope_value, &r.scope_id))
            .map(Into::into)
            .collect();
        output::print(format(global), &records, false)?;
    } else {
        // Any other scope goes to the server as typed, so its answer ("Invalid scope.") is the one shown.
        let rows: Vec<ProductPolicy> = list_rows(&api, policy_id, &args.scope).await?;
        let records: Vec<ProductRecord> = rows
            .into_iter()
            .filter(|r| matches(&r.product_name, &r.product_id))
            .map(Into::into)
            .collect();
        output::print(format(global), &records, false)?;
    }
    Ok(())
}

async fn get_product_policy(global: &GlobalArgs, args: GetProductPolicyArgs) -> Outcome {
    let api = session(global).await?;
    let policy_id = &args.policy.policy_id;
    let context = retrieve_context(policy_id);
    if let Some(offer) = &args.offer_type {
        let row: OfferTypePolicy = send::<(), _>(
            &api,
            Method::GET,
            &policy_path(policy_id, &["offerTypes", offer]),
            &[],
            None,
            &context,
        )
        .await?;
        output::print(format(global), &[OfferTypeRecord::from(row)], true)?;
    } else if let Some(product) = &args.product_id {
        let row: ProductPolicy = send::<(), _>(
            &api,
            Method::GET,
            &policy_path(policy_id, &["products", product]),
            &[],
            None,
            &context,
        )
        .await?;
        output::print(format(global), &[ProductRecord::from(row)], true)?;
    }
    Ok(())
}

/// One row an update would touch.
struct Target {
    /// `products` or `offerTypes`: the route segment.
    collection: &'static str,
    id: String,
    label: String,
    current: String,
    pinned: bool,
}

/// The rows named by --product-id, --offer-type, --match or --all, read from the server so that
/// --what-if can show each one's value before and after.
async fn update_targets(api: &ApiClient, args: &UpdateArgs) -> Result<Vec<Target>, Failure> {
    let policy_id = &args.policy.policy_id;
    let context = retrieve_context(policy_id);
    let product_target = |r: ProductPolicy| Target {
        collection: "products",
        label: format!("{} ({})", r.product_name, r.product_id),
        id: r.product_id,
        current: r.policy_value,
        pinned: !r.is_default,
    };
    let offer_target = |r: OfferTypePolicy| Target {
        collection: "offerTypes",
        label: format!("{} ({})", r.scope_value, r.scope_id),
        id: r.scope_id,
        current: r.policy_value,
        pinned: !r.is_default,
    };
    if let Some(offer) = &args.offer_type {
        let row: OfferTypePolicy = send::<(), _>(
            api,
            Method::GET,
            &policy_path(policy_id, &["offerTypes", offer]),
            &[],
            None,
            &context,
        )
        .await?;
        return Ok(vec![offer_target(row)]);
    }
    if !args.product_id.is_empty() {
        let mut targets: Vec<Target> = Vec::new();
        for id in &args.product_id {
            let row: ProductPolicy = send::<(), _>(
                api,
                Method::GET,
                &policy_path(policy_id, &["products", id]),
                &[],
                None,
                &context,
            )
            .await?;
            // A legacy id and its current id name one product: change it once.
            if !targets.iter().any(|t| t.id == row.product_id) {
                targets.push(product_target(row));
            }
        }
        return Ok(targets);
    }
    let filter = name_filter(args.matching.as_deref())?;
    let keep = |name: &str| filter.as_ref().is_none_or(|re| re.is_match(name));
    let targets: Vec<Target> = if is_offer_type_scope(&args.scope) {
        list_rows::<OfferTypePolicy>(api, policy_id, "OfferType")
            .await?
            .into_iter()
            .filter(|r| keep(&r.scope_value) || keep(&r.scope_id))
            .map(offer_target)
            .collect()
    } else {
        list_rows::<ProductPolicy>(api, policy_id, "product")
            .await?
            .into_iter()
            .filter(|r| keep(&r.product_name))
            .map(product_target)
            .collect()
    };
    if targets.is_empty() {
        return Err(Failure::new(
            EXIT_NOT_FOUND,
            format!(
                "No {} matches '{}'.",
                if is_offer_type_scope(&args.scope) {
                    "offer type"
                } else {
                    "product"
                },
                args.matching.as_deref().unwrap_or("")
            ),
        ));
    }
    Ok(targets)
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let answer = read_line(None)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

async fn update_product_policy(global: &GlobalArgs, args: UpdateArgs) -> Outcome {
    let value = match (&args.value, args.enabled) {
        (Some(v), _) => v.clone(),
        (None, Some(true)) => "Enabled".to_string(),
        (None, Some(false)) => "Disabled".to_string(),
        (None, None) => return Err(Failure::new(EXIT_USAGE, "Give --value or --enabled.")),
    };
    let api = session(global).await?;
    let policy_id = args.policy.policy_id.clone();
    let targets = update_targets(&api, &args).await?;
    // A row changes when its value differs, or when it follows the default and is now pinned.
    let changing: Vec<&Target> = targets
        .iter()
        .filter(|t| !t.current.eq_ignore_ascii_case(&value) || !t.pinned)
        .collect();
    if args.what_if {
        if changing.is_empty() {
            eprintln!("What if: nothing would change; every target already has the value {value}.");
        }
        for t in &changing {
            println!(
                "What if: Performing the operation \"Update-MSCommerceProductPolicy\" on target \"{}\": {} -> {value}.",
                t.label, t.current
            );
        }
        return Ok(());
    }
    let bulk = args.matching.is_some() || args.all;
    if bulk && !args.yes && !changing.is_empty() {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::new(
                EXIT_USAGE,
                format!(
                    "This would change {} rows; pass --yes to confirm (or --what-if to list them first).",
                    changing.len()
                ),
            ));
        }
        for t in &changing {
            eprintln!("  {}: {} -> {value}", t.label, t.current);
        }
        if !confirm(&format!("Change {} rows?", changing.len()))? {
            return Err(Failure::new(EXIT_FAILED, "Nothing changed."));
        }
    }
    let body = UpdatePolicyValue {
        policy_value: value.clone(),
    };
    let mut products = Vec::new();
    let mut offers = Vec::new();
    let mut first_failure: Option<Failure> = None;
    // Explicitly named rows are always written (that pins them, as the module does); rows chosen by
    // --match/--all only when they change.
    let to_write: Vec<&Target> = if bulk {
        changing
    } else {
        targets.iter().collect()
    };
    for t in to_write {
        let segments = policy_path(&policy_id, &[t.collection, &t.id]);
        let context = format!(
            "Failed to update policy with PolicyId '{policy_id}' for {}",
            t.label
        );
        let result = if t.collection == "products" {
            api.call::<_, ProductPolicy>(Method::PUT, &segments, &[], Some(&body))
                .await
                .map(|r| products.push(ProductRecord::from(r)))
        } else {
            api.call::<_, OfferTypePolicy>(Method::PUT, &segments, &[], Some(&body))
                .await
                .map(|r| offers.push(OfferTypeRecord::from(r)))
        };
        if let Err(e) = result {
            let failure = Failure::service(&context, e);
            if targets.len() > 1 {
                eprintln!("{}", failure.message);
            }
            first_failure.get_or_insert(failure);
        }
    }
    let single = targets.len() == 1;
    if !products.is_empty() {
        output::print(format(global), &products, single)?;
    }
    if !offers.is_empty() {
        output::print(format(global), &offers, single)?;
    }
    match first_failure {
        Some(f) if targets.len() == 1 => Err(f),
        // Each failure was printed above, one line per row.
        Some(f) => Err(Failure::new(
            f.code,
            format!(
                "{} of {} changes failed.",
                targets.len() - products.len() - offers.len(),
                targets.len()
            ),
        )),
        None => Ok(()),
    }
}

async fn set_default_policy(global: &GlobalArgs, args: SetDefaultArgs) -> Outcome {
    let api = session(global).await?;
    let policy_id = &args.policy.policy_id;
    let body = UpdateDefaultValue {
        default_value: args.value.clone(),
    };
    let context = format!("Failed to update policy with PolicyId '{policy_id}'");
    let policy: Policy = send(
        &api,
        Method::PATCH,
        &policy_path(policy_id, &[]),
        &[],
        Some(&body),
        &context,
    )
    .await?;
    output::print(format(global), &[PolicyRecord::from(policy)], true)?;
    Ok(())
}

async fn reset_product_policy(global: &GlobalArgs, args: ResetArgs) -> Outcome {
    let api = session(global).await?;
    let policy_id = &args.policy.policy_id;
    let context = format!("Failed to reset policy with PolicyId '{policy_id}'");
    if let Some(offer) = &args.offer_type {
        let row: OfferTypePolicy = send::<(), _>(
            &api,
            Method::DELETE,
            &policy_path(policy_id, &["offerTypes", offer]),
            &[],
            None,
            &context,
        )
        .await?;
        output::print(format(global), &[OfferTypeRecord::from(row)], true)?;
        return Ok(());
    }
    let mut records = Vec::new();
    for id in &args.product_id {
        let row: ProductPolicy = send::<(), _>(
            &api,
            Method::DELETE,
            &policy_path(policy_id, &["products", id]),
            &[],
            None,
            &context,
        )
        .await?;
        records.push(ProductRecord::from(row));
    }
    output::print(format(global), &records, args.product_id.len() == 1)?;
    Ok(())
}

async fn get_audit_log(global: &GlobalArgs, args: AuditArgs) -> Outcome {
    let api = session(global).await?;
    let policy_id = &args.policy.policy_id;
    let mut query: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("since", &args.since),
        ("until", &args.until),
        ("actor", &args.actor),
        ("productId", &args.product_id),
    ] {
        if let Some(v) = v {
            query.push((k, v.clone()));
        }
    }
    let wanted = args.top.map(|t| t as usize).unwrap_or(usize::MAX);
    let mut entries = Vec::new();
    // Follow the pages until enough entries, or the end.
    loop {
        let mut q = query.clone();
        q.push(("top", (wanted - entries.len()).min(1000).to_string()));
        let page: AuditPage = api
            .call::<(), _>(
                Method::GET,
                &policy_path(policy_id, &["auditLog"]),
                &q,
                None,
            )
            .await
            .map_err(|e| {
                Failure::service(
                    &format!("Failed to retrieve the audit log of PolicyId '{policy_id}'"),
                    e,
                )
            })?;
        entries.extend(page.items.into_iter().map(AuditRecord::from));
        let next = page.next_link.as_deref().and_then(skip_token);
        match next {
            Some(token) if entries.len() < wanted => {
                query.retain(|(k, _)| *k != "skipToken");
                query.push(("skipToken", token));
            }
            _ => break,
        }
    }
    output::print(format(global), &entries, false)?;
    Ok(())
}

/// The `skipToken` of a `nextLink` (a path with its query, relative to the service).
fn skip_token(link: &str) -> Option<String> {
    let url = reqwest::Url::parse("http://service.invalid/")
        .ok()?
        .join(link)
        .ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "skipToken")
        .map(|(_, v)| v.into_owned())
}

async fn get_purchases(global: &GlobalArgs, args: GetPurchasesArgs) -> Outcome {
    let api = session(global).await?;
    let mut query: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("status", &args.status),
        ("productId", &args.product_id),
        ("purchaser", &args.purchaser),
    ] {
        if let Some(v) = v {
            query.push((k, v.clone()));
        }
    }
    let items: Items<proto::purchases::PurchaseRecord> = send::<(), _>(
        &api,
        Method::GET,
        &["v1.0", "selfServicePurchases"],
        &query,
        None,
        "Failed to retrieve self-service purchases",
    )
    .await?;
    let rows: Vec<output::PurchaseRow> = items.items.into_iter().map(Into::into).collect();
    output::print(format(global), &rows, false)?;
    Ok(())
}

async fn purchase_action(global: &GlobalArgs, id: &str, action: &str, words: &str) -> Outcome {
    let api = session(global).await?;
    let record: proto::purchases::PurchaseRecord = send::<(), _>(
        &api,
        Method::POST,
        &["v1.0", "selfServicePurchases", id, action],
        &[],
        None,
        &format!("Failed to {words} purchase '{id}'"),
    )
    .await?;
    output::print(format(global), &[output::PurchaseRow::from(record)], true)?;
    Ok(())
}

async fn get_notifications(global: &GlobalArgs) -> Outcome {
    let api = session(global).await?;
    let items: Items<proto::purchases::NotificationRecord> = send::<(), _>(
        &api,
        Method::GET,
        &["v1.0", "notifications"],
        &[],
        None,
        "Failed to retrieve notifications",
    )
    .await?;
    let rows: Vec<output::NotificationRow> = items
        .items
        .into_iter()
        .map(|n| output::NotificationRow {
            created_date_time: n.created_date_time,
            message: n.message,
            purchase_id: n.purchase_id,
        })
        .collect();
    output::print(format(global), &rows, false)?;
    Ok(())
}
