//! Server configuration with one source of truth: a TOML file (`--config`), then `MSCOMMERCE_*`
//! environment variables, then flags, each overriding the one before.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use domain::{LockoutPolicy, PolicyValue};
use serde::Deserialize;

use crate::auth::external::ExternalIssuerConfig;

#[derive(Debug, Clone, clap::Args)]
#[command(about = "Run the multi-tenant self-service purchase policy service")]
#[command(args_conflicts_with_subcommands = false)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub command: Option<ServerCommand>,

    /// Embedded default: SQLite in the data folder, demo tenants and users created on first start,
    /// their passwords written to <data-dir>/dev-credentials.json.
    #[arg(long)]
    pub dev: bool,

    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "MSCOMMERCE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Folder for the SQLite database and dev credentials [default: ./mscommerce-data].
    #[arg(long, global = true, env = "MSCOMMERCE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE
    /// [default: sqlite://<data-dir>/mscommerce.db].
    #[arg(
        long,
        global = true,
        env = "MSCOMMERCE_DATABASE_URL",
        value_name = "URL"
    )]
    pub database: Option<String>,

    /// TOML configuration file; flags and MSCOMMERCE_* variables override it.
    #[arg(long, global = true, env = "MSCOMMERCE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The address clients reach this server at; token issuers are <public-url>/<tenant>/v2.0
    /// [default: http://<listen address>].
    #[arg(long, env = "MSCOMMERCE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// The service's resource id: the audience of its access tokens.
    #[arg(long, env = "MSCOMMERCE_RESOURCE_ID", value_name = "ID")]
    pub resource_id: Option<String>,

    /// Lifetime of access tokens, in seconds [default: 3600].
    #[arg(long, env = "MSCOMMERCE_TOKEN_LIFETIME", value_name = "SECONDS")]
    pub token_lifetime: Option<u64>,

    /// The tenant default of a tenant that never set one
    /// (Enabled, OnlyTrialsWithoutPaymentMethod or Disabled) [default: the catalog's, Enabled].
    #[arg(long, env = "MSCOMMERCE_DEFAULT_VALUE", value_name = "VALUE")]
    pub default_value: Option<String>,

    /// Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    #[arg(long, env = "MSCOMMERCE_ALLOW_PLAIN_HTTP")]
    pub allow_plain_http: bool,

    /// The operator's token for /admin/v1 and `mscommerce admin` (with --dev, one is also made and
    /// written to dev-credentials.json).
    #[arg(
        long,
        env = "MSCOMMERCE_OPERATOR_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub operator_token: Option<String>,

    /// Lifetime of refresh tokens, in seconds [default: 1209600, 14 days].
    #[arg(
        long,
        env = "MSCOMMERCE_REFRESH_TOKEN_LIFETIME",
        value_name = "SECONDS"
    )]
    pub refresh_token_lifetime: Option<u64>,

    /// How long a device code may wait for its user, in seconds [default: 900].
    #[arg(long, env = "MSCOMMERCE_DEVICE_CODE_LIFETIME", value_name = "SECONDS")]
    pub device_code_lifetime: Option<u64>,

    /// The least time between two polls of a device code, in seconds [default: 5].
    #[arg(long, env = "MSCOMMERCE_DEVICE_CODE_INTERVAL", value_name = "SECONDS")]
    pub device_code_interval: Option<u64>,

    /// Failed sign-ins of one account before it is locked [default: 5].
    #[arg(long, env = "MSCOMMERCE_LOCKOUT_THRESHOLD", value_name = "N")]
    pub lockout_threshold: Option<i64>,

    /// How long a lockout lasts, in seconds [default: 300].
    #[arg(long, env = "MSCOMMERCE_LOCKOUT_SECONDS", value_name = "SECONDS")]
    pub lockout_seconds: Option<i64>,

    /// PostgreSQL: the most connections this server opens [default: 16].
    #[arg(long, env = "MSCOMMERCE_DB_MAX_CONNECTIONS", value_name = "N")]
    pub db_max_connections: Option<u32>,

    /// PostgreSQL: cancel any statement running longer than this, in milliseconds [default: 30000].
    #[arg(long, env = "MSCOMMERCE_DB_STATEMENT_TIMEOUT_MS", value_name = "MS")]
    pub db_statement_timeout_ms: Option<u64>,

    /// The first wait before a failed webhook delivery is retried, in milliseconds; it doubles
    /// each time [default: 1000].
    #[arg(long, env = "MSCOMMERCE_WEBHOOK_RETRY_BASE_MS", value_name = "MS")]
    pub webhook_retry_base_ms: Option<u64>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServerCommand {
    /// Bring the database's schema up to date and exit (the server also does it at start).
    Migrate,
    /// Copy a whole installation into a new, empty database, and check the row counts;
    /// e.g. --from sqlite://mscommerce-data/mscommerce.db --to postgres://mscommerce@db/mscommerce.
    MigrateData {
        #[arg(long, value_name = "URL")]
        from: String,
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// The same settings, as a configuration file holds them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database: Option<String>,
    public_url: Option<String>,
    resource_id: Option<String>,
    token_lifetime: Option<u64>,
    default_value: Option<String>,
    allow_plain_http: Option<bool>,
    operator_token: Option<String>,
    refresh_token_lifetime: Option<u64>,
    device_code_lifetime: Option<u64>,
    device_code_interval: Option<u64>,
    lockout_threshold: Option<i64>,
    lockout_seconds: Option<i64>,
    webhook_retry_base_ms: Option<u64>,
    db_max_connections: Option<u32>,
    db_statement_timeout_ms: Option<u64>,
    #[serde(default)]
    external_issuers: Vec<ExternalIssuerConfig>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub dev: bool,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: String,
    pub public_url: Option<String>,
    pub resource_id: String,
    pub token_lifetime_secs: u64,
    pub default_value: Option<PolicyValue>,
    pub allow_plain_http: bool,
    pub operator_token: Option<String>,
    pub refresh_lifetime_secs: u64,
    pub device_code_lifetime_secs: u64,
    pub device_code_interval_secs: u64,
    pub lockout: LockoutPolicy,
    pub external_issuers: Vec<ExternalIssuerConfig>,
    pub webhook_retry_base_ms: u64,
    pub db_max_connections: u32,
    pub db_statement_timeout_ms: u64,
}

impl Config {
    pub fn resolve(args: &ServerArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the configuration file {}", path.display())
                })?;
                toml::from_str::<FileConfig>(&text).with_context(|| {
                    format!("the configuration file {} is not valid", path.display())
                })?
            }
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("mscommerce-data"));
        let database =
            args.database.clone().or(file.database).unwrap_or_else(|| {
                format!("sqlite://{}", data_dir.join("mscommerce.db").display())
            });
        let default_value = args
            .default_value
            .clone()
            .or(file.default_value)
            .map(|v| v.parse::<PolicyValue>())
            .transpose()
            .map_err(|e| anyhow::anyhow!("--default-value: {e}"))?;
        let token_lifetime_secs = args.token_lifetime.or(file.token_lifetime).unwrap_or(3600);
        anyhow::ensure!(
            (60..=86_400).contains(&token_lifetime_secs),
            "--token-lifetime must be between 60 and 86400 seconds"
        );
        let refresh_lifetime_secs = args
            .refresh_token_lifetime
            .or(file.refresh_token_lifetime)
            .unwrap_or(14 * 86_400);
        let device_code_lifetime_secs = args
            .device_code_lifetime
            .or(file.device_code_lifetime)
            .unwrap_or(900);
        let device_code_interval_secs = args
            .device_code_interval
            .or(file.device_code_interval)
            .unwrap_or(5);
        anyhow::ensure!(
            refresh_lifetime_secs >= 60,
            "--refresh-token-lifetime must be at least 60 seconds"
        );
        anyhow::ensure!(
            (1..=3600).contains(&device_code_lifetime_secs),
            "--device-code-lifetime must be between 1 and 3600 seconds"
        );
        anyhow::ensure!(
            (1..=60).contains(&device_code_interval_secs),
            "--device-code-interval must be between 1 and 60 seconds"
        );
        let mut lockout = LockoutPolicy::default();
        if let Some(n) = args.lockout_threshold.or(file.lockout_threshold) {
            anyhow::ensure!(n >= 1, "--lockout-threshold must be at least 1");
            lockout.lock_after = n;
            lockout.slow_after = lockout.slow_after.min(n);
        }
        if let Some(secs) = args.lockout_seconds.or(file.lockout_seconds) {
            anyhow::ensure!(secs >= 1, "--lockout-seconds must be at least 1");
            lockout.lock_secs = secs;
        }
        let operator_token = args.operator_token.clone().or(file.operator_token);
        if let Some(t) = &operator_token {
            anyhow::ensure!(
                t.len() >= 24,
                "the operator token must be at least 24 characters long"
            );
        }
        let webhook_retry_base_ms = args
            .webhook_retry_base_ms
            .or(file.webhook_retry_base_ms)
            .unwrap_or(1000);
        anyhow::ensure!(
            webhook_retry_base_ms >= 10,
            "--webhook-retry-base-ms must be at least 10"
        );
        let db_max_connections = args
            .db_max_connections
            .or(file.db_max_connections)
            .unwrap_or(16);
        anyhow::ensure!(
            (1..=1000).contains(&db_max_connections),
            "--db-max-connections must be between 1 and 1000"
        );
        let db_statement_timeout_ms = args
            .db_statement_timeout_ms
            .or(file.db_statement_timeout_ms)
            .unwrap_or(30_000);
        anyhow::ensure!(
            db_statement_timeout_ms >= 100,
            "--db-statement-timeout-ms must be at least 100"
        );
        Ok(Config {
            db_max_connections,
            db_statement_timeout_ms,
            webhook_retry_base_ms,
            operator_token,
            refresh_lifetime_secs,
            device_code_lifetime_secs,
            device_code_interval_secs,
            lockout,
            external_issuers: file.external_issuers,
            dev: args.dev,
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir,
            database,
            public_url: args
                .public_url
                .clone()
                .or(file.public_url)
                .map(|u| u.trim_end_matches('/').to_string()),
            resource_id: args
                .resource_id
                .clone()
                .or(file.resource_id)
                .unwrap_or_else(|| proto::DEFAULT_RESOURCE_ID.to_string()),
            token_lifetime_secs,
            default_value,
            allow_plain_http: args.allow_plain_http || file.allow_plain_http.unwrap_or(false),
        })
    }
}
