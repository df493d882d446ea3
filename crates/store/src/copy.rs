//! Moving a whole installation between backends (`mscommerce server migrate-data --from … --to …`):
//! every table, in an order that satisfies the foreign keys, into an empty target, then the row
//! counts of both sides compared.

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::Row;

use crate::{Result, StoreError};

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Bytes,
}

use Kind::*;

/// The tables, parents before children, with their columns (the same on both backends).
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "tenants",
        &[
            ("id", Text),
            ("display_name", Text),
            ("tenant_type", Text),
            ("country", Text),
            ("created_at", Text),
        ],
    ),
    (
        "tenant_domains",
        &[("domain", Text), ("tenant_id", Text), ("position", Int)],
    ),
    (
        "users",
        &[
            ("tenant_id", Text),
            ("id", Text),
            ("upn", Text),
            ("display_name", Text),
            ("user_type", Text),
            ("roles", Text),
            ("password_hash", Text),
            ("created_at", Text),
            ("totp_secret", Text),
            ("totp_last_step", Int),
            ("tokens_valid_after", Int),
        ],
    ),
    (
        "tenant_policies",
        &[
            ("tenant_id", Text),
            ("policy_id", Text),
            ("default_value", Text),
            ("version", Int),
            ("modified_at", Text),
            ("modified_by", Text),
        ],
    ),
    (
        "policy_values",
        &[
            ("tenant_id", Text),
            ("policy_id", Text),
            ("scope", Text),
            ("target_id", Text),
            ("value", Text),
            ("version", Int),
            ("modified_at", Text),
            ("modified_by", Text),
        ],
    ),
    (
        "audit_log",
        &[
            ("seq", Int),
            ("tenant_id", Text),
            ("id", Text),
            ("at", Text),
            ("actor", Text),
            ("actor_type", Text),
            ("policy_id", Text),
            ("scope", Text),
            ("target_id", Text),
            ("target_name", Text),
            ("old_value", Text),
            ("new_value", Text),
            ("action", Text),
            ("correlation_id", Text),
        ],
    ),
    (
        "signing_keys",
        &[
            ("kid", Text),
            ("algorithm", Text),
            ("private_key", Bytes),
            ("public_key", Bytes),
            ("created_at", Text),
            ("retired_at", Int),
        ],
    ),
    (
        "service_credentials",
        &[
            ("kind", Text),
            ("id", Text),
            ("secret_hash", Text),
            ("created_at", Text),
        ],
    ),
    ("meta", &[("key", Text), ("value", Text)]),
    (
        "applications",
        &[
            ("tenant_id", Text),
            ("id", Text),
            ("display_name", Text),
            ("permissions", Text),
            ("tokens_valid_after", Int),
            ("created_at", Text),
        ],
    ),
    (
        "application_secrets",
        &[
            ("tenant_id", Text),
            ("application_id", Text),
            ("id", Text),
            ("secret_hash", Text),
            ("hint", Text),
            ("created_at", Text),
            ("expires_at", Int),
        ],
    ),
    (
        "refresh_tokens",
        &[
            ("tenant_id", Text),
            ("token_hash", Text),
            ("family_id", Text),
            ("user_id", Text),
            ("client_id", Text),
            ("scope", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("used_at", Int),
            ("revoked", Int),
        ],
    ),
    (
        "device_codes",
        &[
            ("tenant_id", Text),
            ("device_code_hash", Text),
            ("user_code", Text),
            ("client_id", Text),
            ("scope", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("interval_secs", Int),
            ("last_poll_at", Int),
            ("status", Text),
            ("user_id", Text),
        ],
    ),
    (
        "sign_in_failures",
        &[
            ("key", Text),
            ("failures", Int),
            ("window_start", Int),
            ("locked_until", Int),
        ],
    ),
    (
        "catalog_trial_lengths",
        &[("product_id", Text), ("seconds", Int)],
    ),
    (
        "purchases",
        &[
            ("tenant_id", Text),
            ("id", Text),
            ("purchaser_id", Text),
            ("purchaser_upn", Text),
            ("scope", Text),
            ("target_id", Text),
            ("target_name", Text),
            ("kind", Text),
            ("quantity", Int),
            ("assigned_users", Text),
            ("status", Text),
            ("payment_method", Int),
            ("policy_value", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("expires_at", Text),
        ],
    ),
    (
        "notifications",
        &[
            ("tenant_id", Text),
            ("id", Text),
            ("recipient_id", Text),
            ("purchase_id", Text),
            ("message", Text),
            ("created_at", Text),
        ],
    ),
    (
        "webhooks",
        &[
            ("tenant_id", Text),
            ("id", Text),
            ("url", Text),
            ("secret", Text),
            ("created_at", Text),
            ("created_by", Text),
        ],
    ),
    (
        "webhook_deliveries",
        &[
            ("tenant_id", Text),
            ("id", Text),
            ("webhook_id", Text),
            ("event", Text),
            ("status", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("last_status", Int),
            ("last_error", Text),
            ("created_at", Text),
            ("delivered_at", Text),
        ],
    ),
];

#[derive(Debug, Clone)]
enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Bytes(Option<Vec<u8>>),
}

/// One side of a copy: a migrated database of either backend.
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Database {
    /// Opens `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Database> {
        if url.starts_with("sqlite:") {
            let store = crate::sqlite::SqliteStore::open(url).await?;
            Ok(Database::Sqlite(store.pool().clone()))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let store =
                crate::postgres::PgStore::open(url, &crate::postgres::PgSettings::default())
                    .await?;
            Ok(Database::Postgres(store.pool().clone()))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    /// The tables and their columns as this database has them (not the bookkeeping ones).
    async fn schema(&self) -> Result<Vec<(String, String)>> {
        let mut cols: Vec<(String, String)> = match self {
            Database::Sqlite(p) => {
                sqlx::query_as(
                    "SELECT m.name, c.name FROM sqlite_master m JOIN pragma_table_info(m.name) c
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
                )
                .fetch_all(p)
                .await?
            }
            Database::Postgres(p) => {
                sqlx::query_as(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
                )
                .fetch_all(p)
                .await?
            }
        };
        cols.sort();
        Ok(cols)
    }

    async fn count(&self, table: &str) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        Ok(match self {
            Database::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await?,
            Database::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await?,
        })
    }

    async fn read(&self, table: &str, columns: &[(&str, Kind)]) -> Result<Vec<Vec<Value>>> {
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let sql = format!("SELECT {} FROM {table}", names.join(", "));
        macro_rules! rows {
            ($pool:expr) => {{
                let rows = sqlx::query(&sql).fetch_all($pool).await?;
                rows.iter()
                    .map(|r| {
                        columns
                            .iter()
                            .map(|(name, kind)| match kind {
                                Text => Value::Text(r.get(*name)),
                                Int => Value::Int(r.get(*name)),
                                Bytes => Value::Bytes(r.get(*name)),
                            })
                            .collect()
                    })
                    .collect()
            }};
        }
        Ok(match self {
            Database::Sqlite(p) => rows!(p),
            Database::Postgres(p) => rows!(p),
        })
    }

    async fn write(
        &self,
        table: &str,
        columns: &[(&str, Kind)],
        rows: &[Vec<Value>],
    ) -> Result<()> {
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        // The audit log's sequence is generated on PostgreSQL; the copy keeps the original numbers.
        let overriding = match self {
            Database::Postgres(_) if table == "audit_log" => " OVERRIDING SYSTEM VALUE",
            _ => "",
        };
        let sql = format!(
            "INSERT INTO {table} ({}){overriding} VALUES ({})",
            names.join(", "),
            marks.join(", ")
        );
        macro_rules! insert {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await?;
                for row in rows {
                    let mut q = sqlx::query(&sql);
                    for v in row {
                        q = match v {
                            Value::Text(t) => q.bind(t.clone()),
                            Value::Int(i) => q.bind(*i),
                            Value::Bytes(b) => q.bind(b.clone()),
                        };
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }};
        }
        match self {
            Database::Sqlite(p) => insert!(p),
            Database::Postgres(p) => {
                insert!(p);
                if table == "audit_log" {
                    sqlx::query("SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1, false)")
                        .execute(p)
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// What a copy moved: rows per table.
pub type CopyReport = Vec<(String, i64)>;

/// Copies every table of `from` into `to`, which must be empty, and checks the counts.
pub async fn copy_installation(from: &Database, to: &Database) -> Result<CopyReport> {
    // Every column of the schema must be in the list above, or the copy would drop data.
    let mut known: Vec<(String, String)> = TABLES
        .iter()
        .flat_map(|(t, cols)| {
            cols.iter()
                .map(move |(c, _)| (t.to_string(), c.to_string()))
        })
        .collect();
    known.sort();
    for side in [from, to] {
        let actual = side.schema().await?;
        if actual != known {
            let missing: Vec<String> = actual
                .iter()
                .filter(|c| !known.contains(c))
                .map(|(t, c)| format!("{t}.{c}"))
                .collect();
            return Err(StoreError::Corrupt(format!(
                "the copy does not know every column of the schema (unknown: {}); update store::copy",
                missing.join(", ")
            )));
        }
    }
    for (table, _) in TABLES {
        if to.count(table).await? > 0 {
            return Err(StoreError::Conflict(format!(
                "the target is not empty (its {table} table has rows): copy only into a new, empty database"
            )));
        }
    }
    let mut report = Vec::new();
    for (table, columns) in TABLES {
        let rows = from.read(table, columns).await?;
        to.write(table, columns, &rows).await?;
        let (source, target) = (from.count(table).await?, to.count(table).await?);
        if source != target {
            return Err(StoreError::Corrupt(format!(
                "{table}: {source} rows in the source but {target} in the target"
            )));
        }
        report.push((table.to_string(), target));
    }
    Ok(report)
}
