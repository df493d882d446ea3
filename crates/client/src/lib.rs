//! The `mscommerce` command line: what the six cmdlets of the MSCommerce module do, and more,
//! against any server that speaks the wire API. It never decides a rule itself: it sends, and shows
//! what the server says.

pub mod admin;
pub mod argv;
pub mod cache;
mod commands;
pub mod http;
pub mod output;

use proto::DEFAULT_POLICY_ID;

pub use commands::run;
use output::OutputFormat;

/// The address of `mscommerce server --dev`, used when nothing else names a server.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Options every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Output format [default: table].
    #[arg(
        long,
        short = 'o',
        global = true,
        env = "MSCOMMERCE_OUTPUT",
        value_enum
    )]
    pub output: Option<OutputFormat>,

    /// Use this access token instead of the cached sign-in (as the module's -Token does).
    #[arg(
        long,
        global = true,
        env = "MSCOMMERCE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// The service's address [default: the one `connect` used, else http://127.0.0.1:8080].
    #[arg(long, global = true, env = "MSCOMMERCE_URL", value_name = "URL")]
    pub url: Option<String>,

    /// Which saved connection to use: several tenants or identities side by side.
    #[arg(
        long,
        global = true,
        env = "MSCOMMERCE_PROFILE",
        default_value = "default",
        value_name = "NAME"
    )]
    pub profile: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArg {
    /// The policy; only AllowSelfServicePurchase exists today.
    #[arg(long, default_value = DEFAULT_POLICY_ID, value_name = "ID")]
    pub policy_id: String,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Sign in to a tenant and cache the token (Connect-MSCommerce).
    #[command(alias = "Connect-MSCommerce")]
    Connect(ConnectArgs),

    /// Sign out: revoke the refresh token and forget the cached sign-in.
    #[command(alias = "Disconnect-MSCommerce")]
    Disconnect,

    /// List the policies with their tenant default (Get-MSCommercePolicies).
    #[command(alias = "Get-MSCommercePolicies")]
    GetPolicies,

    /// Show one policy with its tenant default (Get-MSCommercePolicy).
    #[command(alias = "Get-MSCommercePolicy")]
    GetPolicy(PolicyArg),

    /// List the products, or offer types, and their values (Get-MSCommerceProductPolicies).
    #[command(alias = "Get-MSCommerceProductPolicies")]
    GetProductPolicies(GetProductPoliciesArgs),

    /// Show one product's or offer type's value (Get-MSCommerceProductPolicy).
    #[command(alias = "Get-MSCommerceProductPolicy")]
    GetProductPolicy(GetProductPolicyArgs),

    /// Change the value of one or many products, or of an offer type (Update-MSCommerceProductPolicy).
    #[command(alias = "Update-MSCommerceProductPolicy")]
    UpdateProductPolicy(UpdateArgs),

    /// Set the tenant default that every product you have not set follows (Global Administrator).
    #[command(alias = "Set-MSCommerceDefaultPolicy")]
    SetDefaultPolicy(SetDefaultArgs),

    /// Make products or an offer type follow the tenant default again.
    #[command(alias = "Reset-MSCommerceProductPolicy")]
    ResetProductPolicy(ResetArgs),

    /// Who changed what, when, from which value to which.
    #[command(alias = "Get-MSCommerceAuditLog")]
    GetAuditLog(AuditArgs),

    /// The tenant's self-service purchases and trials (administrators), or your own.
    #[command(alias = "Get-MSCommerceSelfServicePurchases")]
    GetPurchases(GetPurchasesArgs),

    /// Cancel a self-service purchase or trial.
    CancelPurchase(PurchaseIdArg),

    /// Take over a self-service purchase: the organisation manages it from now on.
    TakeOverPurchase(PurchaseIdArg),

    /// Your notifications of new purchases and trials (Global and Billing Administrators).
    GetNotifications,

    /// Operator administration: tenants, users, applications, signing keys.
    #[command(subcommand)]
    Admin(admin::AdminCommand),

    /// Nothing to install: mscommerce is one binary (accepted so seed scripts run as they stand).
    #[command(name = "install-module", alias = "Install-Module", hide = true)]
    InstallModule(ModuleArgs),

    /// Nothing to import: mscommerce is one binary (accepted so seed scripts run as they stand).
    #[command(name = "import-module", alias = "Import-Module", hide = true)]
    ImportModule(ModuleArgs),
}

#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("method").args(["device_code", "client_id", "password_stdin"])))]
pub struct ConnectArgs {
    /// Tenant id or domain [default: the domain of the user name].
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// User principal name, e.g. admin@contoso.example [default: asked for].
    #[arg(long, value_name = "UPN", alias = "user")]
    pub username: Option<String>,
    /// Read the password from standard input (for scripts) instead of asking for it; a second line,
    /// if the account asks for one, is the TOTP verification code.
    #[arg(long)]
    pub password_stdin: bool,
    /// The TOTP verification code, for accounts that use an authenticator app.
    #[arg(long, value_name = "CODE")]
    pub mfa_code: Option<String>,
    /// Sign in in a browser, on any device, with a code (works where no password may be typed).
    #[arg(long)]
    pub device_code: bool,
    /// Sign in as an application (client credentials), with --client-secret-stdin and --tenant.
    #[arg(long, value_name = "ID", requires = "client_secret_stdin")]
    pub client_id: Option<String>,
    /// Read the application's client secret from standard input.
    #[arg(long, requires = "client_id")]
    pub client_secret_stdin: bool,
    /// The authorization server [default: the service's address].
    #[arg(long, value_name = "URL")]
    pub authority: Option<String>,
    /// The resource to ask a token for.
    #[arg(long, value_name = "ID", default_value = proto::DEFAULT_RESOURCE_ID)]
    pub resource: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GetProductPoliciesArgs {
    #[command(flatten)]
    pub policy: PolicyArg,
    /// `product` or `OfferType`.
    #[arg(long, default_value = "product", value_name = "SCOPE")]
    pub scope: String,
    /// Only rows whose name matches this regular expression (case-insensitive, as PowerShell's -match).
    #[arg(long = "match", value_name = "REGEX")]
    pub matching: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
#[group(id = "target", required = true, multiple = false, args = ["product_id", "offer_type"])]
pub struct GetProductPolicyArgs {
    #[command(flatten)]
    pub policy: PolicyArg,
    /// The product (its current or a legacy id).
    #[arg(long, value_name = "ID")]
    pub product_id: Option<String>,
    /// The third-party offer type, e.g. SaaS.
    #[arg(long, value_name = "ID")]
    pub offer_type: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("targets").required(true).args(["product_id", "offer_type", "matching", "all"])))]
#[command(group(clap::ArgGroup::new("new_value").required(true).args(["value", "enabled"])))]
pub struct UpdateArgs {
    #[command(flatten)]
    pub policy: PolicyArg,
    /// One or more products (space or comma separated; legacy ids work).
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    pub product_id: Vec<String>,
    /// A third-party offer type, e.g. SaaS.
    #[arg(long, value_name = "ID")]
    pub offer_type: Option<String>,
    /// Every product (or with --scope OfferType, offer type) whose name matches this regular expression.
    #[arg(long = "match", value_name = "REGEX")]
    pub matching: Option<String>,
    /// Every product (or with --scope OfferType, every offer type).
    #[arg(long)]
    pub all: bool,
    /// What --match and --all select from: `product` or `OfferType`.
    #[arg(long, default_value = "product", value_name = "SCOPE")]
    pub scope: String,
    /// Enabled, OnlyTrialsWithoutPaymentMethod or Disabled.
    #[arg(long, value_name = "VALUE")]
    pub value: Option<String>,
    /// The module's older form: true is Enabled, false is Disabled.
    #[arg(long, value_name = "BOOL", value_parser = parse_bool)]
    pub enabled: Option<bool>,
    /// Show what would change, and change nothing.
    #[arg(long)]
    pub what_if: bool,
    /// Do not ask before changing many products (--match, --all).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SetDefaultArgs {
    #[command(flatten)]
    pub policy: PolicyArg,
    /// Enabled, OnlyTrialsWithoutPaymentMethod or Disabled.
    #[arg(long, value_name = "VALUE")]
    pub value: String,
}

#[derive(Debug, Clone, clap::Args)]
#[group(id = "target", required = true, multiple = false, args = ["product_id", "offer_type"])]
pub struct ResetArgs {
    #[command(flatten)]
    pub policy: PolicyArg,
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    pub product_id: Vec<String>,
    #[arg(long, value_name = "ID")]
    pub offer_type: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub policy: PolicyArg,
    /// Entries at or after this time (RFC 3339 or a date).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Entries at or before this time (RFC 3339 or a date).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only changes by this user (UPN) or application (id).
    #[arg(long, value_name = "WHO")]
    pub actor: Option<String>,
    /// Only changes of this product or offer type.
    #[arg(long, value_name = "ID")]
    pub product_id: Option<String>,
    /// At most this many entries, newest first [default: all].
    #[arg(long, value_name = "N")]
    pub top: Option<u32>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GetPurchasesArgs {
    /// Active, Trial, Expired, Canceled or TakenOver.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only this product (legacy ids work) or offer type.
    #[arg(long, value_name = "ID")]
    pub product_id: Option<String>,
    /// Only this purchaser (UPN or object id).
    #[arg(long, value_name = "USER")]
    pub purchaser: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PurchaseIdArg {
    /// The purchase's id.
    #[arg(long = "id", value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ModuleArgs {
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Other PowerShell parameters (-Scope, -Force, …) are accepted and ignored.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

/// `true`/`false` as PowerShell writes them too (`$true`, `$False`), and 1/0, yes/no.
fn parse_bool(s: &str) -> Result<bool, String> {
    match s
        .trim()
        .trim_start_matches('$')
        .to_ascii_lowercase()
        .as_str()
    {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("'{s}' is not true or false")),
    }
}
