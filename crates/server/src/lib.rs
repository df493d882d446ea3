//! `mscommerce server`: the multi-tenant self-service purchase policy service.

pub mod admin;
pub mod api;
pub mod auth;
pub mod cache;
pub mod config;
pub mod dev;
pub mod error;
pub mod state;
pub mod webhooks;

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use domain::Catalog;
use store::sqlite::SqliteStore;
use store::Store;

pub use config::{Config, ServerArgs, ServerCommand};

use crate::auth::keys::KeySet;
use crate::state::{ApiContext, Settings};

/// Logs go to standard error through a background writer, so a request never waits on the
/// terminal or pipe; the guard flushes them when the server stops.
fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MSCOMMERCE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    guard
}

async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database.as_str();
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url)
            .await
            .with_context(|| format!("cannot open the database {url}"))?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let settings = store::postgres::PgSettings {
            max_connections: config.db_max_connections,
            statement_timeout_ms: config.db_statement_timeout_ms,
        };
        let store = store::postgres::PgStore::open(url, &settings)
            .await
            .with_context(|| format!("cannot open the database {}", redact(url)))?;
        Ok(Arc::new(store))
    } else {
        anyhow::bail!(
            "--database must be sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE (got '{}')",
            redact(url)
        )
    }
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let _logs = init_logging();
    let config = Config::resolve(&args)?;
    match &args.command {
        Some(ServerCommand::Migrate) => {
            if config.database.starts_with("sqlite:") {
                create_private_dir(&config.data_dir)?;
            }
            open_store(&config).await?;
            println!("{} is up to date.", redact(&config.database));
            return Ok(());
        }
        Some(ServerCommand::MigrateData { from, to }) => return migrate_data(from, to).await,
        None => {}
    }
    if !config.listen.ip().is_loopback() && !config.allow_plain_http {
        anyhow::bail!(
            "refusing to serve plain HTTP on {}, which is not a loopback address: \
             put a TLS-terminating proxy in front and pass --allow-plain-http, or listen on 127.0.0.1",
            config.listen
        );
    }
    create_private_dir(&config.data_dir)?;
    let store = open_store(&config).await?;
    let keys = KeySet::load_or_create(store.as_ref()).await?;
    let dummy_password_hash = auth::password::hash_password_async(auth::random_secret(16)).await?;

    let mut external = Vec::new();
    for issuer in &config.external_issuers {
        external.push(
            auth::external::ExternalIssuer::load(issuer.clone())
                .await
                .with_context(|| format!("cannot trust the external issuer {}", issuer.issuer))?,
        );
    }
    // The configured operator token is the only one besides --dev's: one taken out of the
    // configuration stops working.
    match &config.operator_token {
        Some(token) => {
            store
                .put_service_credential("operator", "config", &auth::secret_hash(token))
                .await?
        }
        None => {
            store
                .delete_service_credential("operator", "config")
                .await?
        }
    }

    let dev_credentials = if config.dev {
        dev::ensure_demo_data(store.as_ref(), &config.data_dir).await?
    } else {
        None
    };

    // The operator's trial lengths, over the shipped catalog.
    let mut catalog = Catalog::embedded();
    for (product, seconds) in store.trial_lengths().await? {
        match catalog.with_trial_length(&product, seconds.max(1) as u64) {
            Ok(c) => catalog = c,
            Err(e) => {
                tracing::warn!(%product, error = %e, "a stored trial length names no product")
            }
        }
    }
    let checkout = store
        .service_credentials("checkout")
        .await?
        .into_iter()
        .collect();

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr()?;
    let issuer_base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let ctx = ApiContext {
        store,
        catalog: Arc::new(arc_swap::ArcSwap::from_pointee(catalog)),
        keys: Arc::new(keys),
        settings: Arc::new(Settings {
            issuer_base: issuer_base.clone(),
            resource_id: config.resource_id.clone(),
            token_lifetime_secs: config.token_lifetime_secs,
            default_value: config.default_value,
            refresh_lifetime_secs: config.refresh_lifetime_secs,
            device_code_lifetime_secs: config.device_code_lifetime_secs,
            device_code_interval_secs: config.device_code_interval_secs,
            lockout: config.lockout,
            webhook_retry_base_ms: config.webhook_retry_base_ms,
        }),
        dummy_password_hash: dummy_password_hash.into(),
        external: Arc::new(external),
        tenants: Arc::new(cache::TenantCache::default()),
        checkout: Arc::new(checkout),
        deliveries: Arc::new(tokio::sync::Notify::new()),
        node: uuid::Uuid::new_v4().simple().to_string().into(),
    };
    tokio::spawn(webhooks::run(ctx.clone()));
    tokio::spawn(follow_changes(ctx.clone()));

    let mut out = std::io::stdout().lock();
    if let Some(json) = dev_credentials {
        writeln!(
            out,
            "Demo tenants created. Their credentials (shown once, kept in {}):",
            dev::credentials_path(&config.data_dir).display()
        )?;
        writeln!(out, "{json}")?;
    } else if config.dev {
        writeln!(
            out,
            "Demo tenants: credentials in {}",
            dev::credentials_path(&config.data_dir).display()
        )?;
    }
    writeln!(out, "mscommerce listening on http://{local}")?;
    if config.public_url.is_some() {
        writeln!(out, "clients reach it at {issuer_base}")?;
    }
    out.flush()?;
    drop(out);
    tracing::info!(address = %local, database = %redact(&config.database), "serving");

    let app = api::router(ctx).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// `server migrate-data`: the whole installation from one database into a new, empty one.
async fn migrate_data(from: &str, to: &str) -> anyhow::Result<()> {
    let source = store::copy::Database::open(from)
        .await
        .with_context(|| format!("cannot open the source {}", redact(from)))?;
    let target = store::copy::Database::open(to)
        .await
        .with_context(|| format!("cannot open the target {}", redact(to)))?;
    let report = store::copy::copy_installation(&source, &target).await?;
    let total: i64 = report.iter().map(|(_, n)| n).sum();
    for (table, rows) in &report {
        println!("{table:<22} {rows:>8} rows");
    }
    println!(
        "Copied {total} rows from {} to {}; every table's count matches.",
        redact(from),
        redact(to)
    );
    Ok(())
}

/// The shipped catalog with the operator's changes (trial lengths) over it.
async fn load_catalog(store: &dyn Store) -> anyhow::Result<Catalog> {
    let mut catalog = Catalog::embedded();
    for (product, seconds) in store.trial_lengths().await? {
        match catalog.with_trial_length(&product, seconds.max(1) as u64) {
            Ok(c) => catalog = c,
            Err(e) => {
                tracing::warn!(%product, error = %e, "a stored trial length names no product")
            }
        }
    }
    Ok(catalog)
}

/// Keeps this server's views current with the changes other servers on the same database
/// publish (PostgreSQL's LISTEN/NOTIFY); after a lost connection, everything is read again.
async fn follow_changes(ctx: ApiContext) {
    loop {
        let mut feed = match ctx.store.subscribe_changes().await {
            Ok(Some(feed)) => feed,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for changes; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            match feed.next().await {
                Ok(Some(change)) => apply_change(&ctx, &change).await,
                Ok(None) => {
                    tracing::warn!("lost the change feed: reading every tenant again");
                    ctx.tenants.forget_all();
                    apply_change(&ctx, state::CATALOG_CHANGED).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the change feed failed: reading every tenant again");
                    ctx.tenants.forget_all();
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

/// Applies a change another node published (`what@node`); this node's own notices are skipped,
/// as it brought itself up to date before acknowledging the change.
async fn apply_change(ctx: &ApiContext, notice: &str) {
    let change = match notice.rsplit_once('@') {
        Some((_, node)) if node == &*ctx.node => return,
        Some((change, _)) => change,
        None => notice,
    };
    if change == state::CATALOG_CHANGED {
        match load_catalog(ctx.store.as_ref()).await {
            Ok(catalog) => ctx.catalog.store(Arc::new(catalog)),
            Err(e) => tracing::warn!(error = %e, "reloading the catalog failed"),
        }
    } else if let Some(id) = change
        .strip_prefix("tenant:")
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
    {
        // Read it again now (the change has committed): a load that was under way when the
        // notice came cannot leave an older view behind, as loads run one at a time.
        if let Err(e) = ctx.tenants.reload(ctx, id).await {
            tracing::warn!(tenant = %id, error = %e, "reloading a changed tenant failed");
            ctx.tenants.forget(id);
        }
    }
}

/// The data folder holds password hashes and signing keys: only its owner may enter it.
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data folder {}", dir.display()))
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// SIGTERM or Ctrl-C: stop accepting, let requests in flight finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
