//! The SQLite store: WAL with `synchronous=FULL`, so that a write acknowledged to a client has
//! reached the disk and survives `kill -9`; writes take the lock up front (`BEGIN IMMEDIATE`) so a
//! read-then-write transaction never fails on a stale snapshot.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use domain::{effective_value, row_etag, PolicyValue, Role, Scope, TenantType, Upn, UserType};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use crate::{
    timestamp, AuditQuery, AuditRecord, ChangeContext, NewTenant, NewUser, PolicySnapshot, Result,
    SigningKey, Store, StoreError, StoredValue, Tenant, TenantDefault, User, ValueWrite,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`) and migrates it.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} '{value}'"))
}

fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| corrupt("uuid", s))
}

fn parse_value(s: &str) -> Result<PolicyValue> {
    s.parse().map_err(|_| corrupt("policy value", s))
}

fn parse_scope(s: &str) -> Result<Scope> {
    s.parse().map_err(|_| corrupt("scope", s))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

async fn load_domains(pool: &SqlitePool, tenant_id: &str) -> Result<Vec<String>> {
    let rows =
        sqlx::query("SELECT domain FROM tenant_domains WHERE tenant_id = $1 ORDER BY position")
            .bind(tenant_id)
            .fetch_all(pool)
            .await?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

async fn tenant_from_row(pool: &SqlitePool, row: &SqliteRow) -> Result<Tenant> {
    let id: String = row.get("id");
    let tenant_type: String = row.get("tenant_type");
    Ok(Tenant {
        id: parse_uuid(&id)?,
        display_name: row.get("display_name"),
        domains: load_domains(pool, &id).await?,
        tenant_type: TenantType::from_str(&tenant_type)
            .map_err(|_| corrupt("tenant type", &tenant_type))?,
        country: row.get("country"),
    })
}

fn user_from_row(row: &SqliteRow) -> Result<User> {
    let upn: String = row.get("upn");
    let user_type: String = row.get("user_type");
    let roles: String = row.get("roles");
    Ok(User {
        tenant_id: parse_uuid(row.get("tenant_id"))?,
        id: parse_uuid(row.get("id"))?,
        upn: Upn::parse(&upn).map_err(|_| corrupt("upn", &upn))?,
        display_name: row.get("display_name"),
        user_type: UserType::from_str(&user_type).map_err(|_| corrupt("user type", &user_type))?,
        roles: roles
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| Role::from_template_id(s).ok_or_else(|| corrupt("role", s)))
            .collect::<Result<_>>()?,
        password_hash: row.get("password_hash"),
    })
}

/// The tenant default inside a transaction (or the fallback with version 0).
async fn read_default(
    tx: &mut Transaction<'static, Sqlite>,
    tenant_id: &str,
    policy_id: &str,
    fallback: PolicyValue,
) -> Result<TenantDefault> {
    let row = sqlx::query(
        "SELECT default_value, version, modified_at, modified_by FROM tenant_policies
         WHERE tenant_id = $1 AND policy_id = $2",
    )
    .bind(tenant_id)
    .bind(policy_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match row {
        Some(r) => TenantDefault {
            value: parse_value(r.get("default_value"))?,
            version: r.get("version"),
            modified_at: Some(r.get("modified_at")),
            modified_by: Some(r.get("modified_by")),
        },
        None => TenantDefault {
            value: fallback,
            version: 0,
            modified_at: None,
            modified_by: None,
        },
    })
}

async fn insert_audit(
    tx: &mut Transaction<'static, Sqlite>,
    change: &ChangeContext,
    scope: &str,
    target: Option<(&str, &str)>,
    old_value: PolicyValue,
    new_value: PolicyValue,
    action: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, id, at, actor, actor_type, policy_id, scope, target_id,
             target_name, old_value, new_value, action, correlation_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(change.tenant_id.to_string())
    .bind(Uuid::new_v4().to_string())
    .bind(timestamp(change.at))
    .bind(&change.actor)
    .bind(change.actor_kind.as_str())
    .bind(&change.policy_id)
    .bind(scope)
    .bind(target.map(|t| t.0))
    .bind(target.map(|t| t.1))
    .bind(old_value.as_str())
    .bind(new_value.as_str())
    .bind(action)
    .bind(&change.correlation_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_tenant(&self, t: NewTenant) -> Result<Tenant> {
        let mut tx = self.write_tx().await?;
        let id = t.id.to_string();
        sqlx::query(
            "INSERT INTO tenants (id, display_name, tenant_type, country, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&t.display_name)
        .bind(t.tenant_type.as_str())
        .bind(&t.country)
        .bind(timestamp(chrono::Utc::now()))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("a tenant with id {id} already exists"))
            } else {
                e.into()
            }
        })?;
        for (position, domain) in t.domains.iter().enumerate() {
            sqlx::query(
                "INSERT INTO tenant_domains (domain, tenant_id, position) VALUES ($1, $2, $3)",
            )
            .bind(domain)
            .bind(&id)
            .bind(position as i64)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("the domain {domain} belongs to another tenant"))
                } else {
                    e.into()
                }
            })?;
        }
        tx.commit().await?;
        Ok(t)
    }

    async fn find_tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>> {
        let key = id_or_domain.trim().to_ascii_lowercase();
        let row = sqlx::query(
            "SELECT id, display_name, tenant_type, country FROM tenants WHERE id = $1
             UNION ALL
             SELECT t.id, t.display_name, t.tenant_type, t.country
               FROM tenants t JOIN tenant_domains d ON d.tenant_id = t.id WHERE d.domain = $1
             LIMIT 1",
        )
        .bind(&key)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(tenant_from_row(&self.pool, &r).await?)),
            None => Ok(None),
        }
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows = sqlx::query(
            "SELECT id, display_name, tenant_type, country FROM tenants ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(tenant_from_row(&self.pool, r).await?);
        }
        Ok(out)
    }

    async fn create_user(&self, u: NewUser) -> Result<User> {
        let roles = u
            .roles
            .iter()
            .map(|r| r.template_id())
            .collect::<Vec<_>>()
            .join(",");
        sqlx::query(
            "INSERT INTO users (tenant_id, id, upn, display_name, user_type, roles, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(u.tenant_id.to_string())
        .bind(u.id.to_string())
        .bind(u.upn.as_str())
        .bind(&u.display_name)
        .bind(u.user_type.as_str())
        .bind(roles)
        .bind(&u.password_hash)
        .bind(timestamp(chrono::Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("a user {} already exists in this tenant", u.upn))
            } else {
                e.into()
            }
        })?;
        Ok(u)
    }

    async fn find_user_by_upn(&self, tenant_id: Uuid, upn: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 AND upn = $2")
            .bind(tenant_id.to_string())
            .bind(upn.trim().to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn policy_snapshot(
        &self,
        tenant_id: Uuid,
        policy_id: &str,
        fallback_default: PolicyValue,
    ) -> Result<PolicySnapshot> {
        // One read transaction, so the default and the values are of the same moment.
        let mut tx = self.pool.begin().await?;
        let tid = tenant_id.to_string();
        let default = read_default(&mut tx, &tid, policy_id, fallback_default).await?;
        let rows = sqlx::query(
            "SELECT scope, target_id, value, version, modified_at, modified_by FROM policy_values
             WHERE tenant_id = $1 AND policy_id = $2",
        )
        .bind(&tid)
        .bind(policy_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let values = rows
            .iter()
            .map(|r| {
                Ok(StoredValue {
                    scope: parse_scope(r.get("scope"))?,
                    target_id: r.get("target_id"),
                    value: r
                        .get::<Option<String>, _>("value")
                        .as_deref()
                        .map(parse_value)
                        .transpose()?,
                    version: r.get("version"),
                    modified_at: r.get("modified_at"),
                    modified_by: r.get("modified_by"),
                })
            })
            .collect::<Result<_>>()?;
        Ok(PolicySnapshot { default, values })
    }

    async fn set_value(
        &self,
        change: &ChangeContext,
        write: &ValueWrite,
        fallback_default: PolicyValue,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let tid = change.tenant_id.to_string();
        let default = read_default(&mut tx, &tid, &change.policy_id, fallback_default).await?;
        let current = sqlx::query(
            "SELECT value, version FROM policy_values
             WHERE tenant_id = $1 AND policy_id = $2 AND scope = $3 AND target_id = $4",
        )
        .bind(&tid)
        .bind(&change.policy_id)
        .bind(write.scope.as_str())
        .bind(&write.target_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (old_explicit, version) = match &current {
            Some(r) => (
                r.get::<Option<String>, _>("value")
                    .as_deref()
                    .map(parse_value)
                    .transpose()?,
                r.get::<i64, _>("version"),
            ),
            None => (None, 0),
        };
        if let Some(expected) = &write.if_match {
            let etag = row_etag(default.version, version);
            if expected.trim() != etag && expected.trim() != "*" {
                return Err(StoreError::PreconditionFailed { current: etag });
            }
        }
        if old_explicit == write.value {
            return Ok(false);
        }
        let has_trial = write.has_trial_without_payment_method;
        let (old_value, _) = effective_value(old_explicit, default.value, has_trial);
        let (new_value, _) = effective_value(write.value, default.value, has_trial);
        sqlx::query(
            "INSERT INTO policy_values (tenant_id, policy_id, scope, target_id, value, version, modified_at, modified_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (tenant_id, policy_id, scope, target_id) DO UPDATE SET
                value = excluded.value, version = excluded.version,
                modified_at = excluded.modified_at, modified_by = excluded.modified_by",
        )
        .bind(&tid)
        .bind(&change.policy_id)
        .bind(write.scope.as_str())
        .bind(&write.target_id)
        .bind(write.value.map(|v| v.as_str()))
        .bind(version + 1)
        .bind(timestamp(change.at))
        .bind(&change.actor)
        .execute(&mut *tx)
        .await?;
        let action = if write.value.is_some() {
            "set"
        } else {
            "reset"
        };
        insert_audit(
            &mut tx,
            change,
            write.scope.as_str(),
            Some((&write.target_id, &write.target_name)),
            old_value,
            new_value,
            action,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_default(
        &self,
        change: &ChangeContext,
        value: PolicyValue,
        if_match: Option<&str>,
        fallback_default: PolicyValue,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let tid = change.tenant_id.to_string();
        let default = read_default(&mut tx, &tid, &change.policy_id, fallback_default).await?;
        if let Some(expected) = if_match {
            let etag = row_etag(default.version, 0);
            if expected.trim() != etag && expected.trim() != "*" {
                return Err(StoreError::PreconditionFailed { current: etag });
            }
        }
        if default.value == value && default.version > 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO tenant_policies (tenant_id, policy_id, default_value, version, modified_at, modified_by)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, policy_id) DO UPDATE SET
                default_value = excluded.default_value, version = excluded.version,
                modified_at = excluded.modified_at, modified_by = excluded.modified_by",
        )
        .bind(&tid)
        .bind(&change.policy_id)
        .bind(value.as_str())
        .bind(default.version + 1)
        .bind(timestamp(change.at))
        .bind(&change.actor)
        .execute(&mut *tx)
        .await?;
        if default.value != value {
            insert_audit(
                &mut tx,
                change,
                "tenantDefault",
                None,
                default.value,
                value,
                "setDefault",
            )
            .await?;
        }
        tx.commit().await?;
        Ok(default.value != value)
    }

    async fn audit_log(
        &self,
        tenant_id: Uuid,
        policy_id: &str,
        q: &AuditQuery,
    ) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM audit_log
             WHERE tenant_id = $1 AND policy_id = $2
               AND ($3 IS NULL OR at >= $3)
               AND ($4 IS NULL OR at <= $4)
               AND ($5 IS NULL OR actor = $5 COLLATE NOCASE)
               AND ($6 IS NULL OR target_id = $6)
               AND ($7 IS NULL OR seq < $7)
             ORDER BY seq DESC LIMIT $8",
        )
        .bind(tenant_id.to_string())
        .bind(policy_id)
        .bind(&q.since)
        .bind(&q.until)
        .bind(&q.actor)
        .bind(&q.target_id)
        .bind(q.before_seq)
        .bind(i64::from(q.limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                seq: r.get("seq"),
                id: r.get("id"),
                at: r.get("at"),
                actor: r.get("actor"),
                actor_type: r.get("actor_type"),
                policy_id: r.get("policy_id"),
                scope: r.get("scope"),
                target_id: r.get("target_id"),
                target_name: r.get("target_name"),
                old_value: r.get("old_value"),
                new_value: r.get("new_value"),
                action: r.get("action"),
                correlation_id: r.get("correlation_id"),
            })
            .collect())
    }

    async fn ensure_signing_key(&self, candidate: SigningKey) -> Result<Vec<SigningKey>> {
        let mut tx = self.write_tx().await?;
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM signing_keys")
            .fetch_one(&mut *tx)
            .await?;
        if count == 0 {
            sqlx::query(
                "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&candidate.kid)
            .bind(&candidate.algorithm)
            .bind(&candidate.private_key)
            .bind(&candidate.public_key)
            .bind(&candidate.created_at)
            .execute(&mut *tx)
            .await?;
        }
        let rows = sqlx::query("SELECT * FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| SigningKey {
                kid: r.get("kid"),
                algorithm: r.get("algorithm"),
                private_key: r.get("private_key"),
                public_key: r.get("public_key"),
                created_at: r.get("created_at"),
            })
            .collect())
    }

    async fn put_service_credential(&self, kind: &str, id: &str, secret_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO service_credentials (kind, id, secret_hash, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kind, id) DO UPDATE SET secret_hash = excluded.secret_hash",
        )
        .bind(kind)
        .bind(id)
        .bind(secret_hash)
        .bind(timestamp(chrono::Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn service_credential(&self, kind: &str, id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT secret_hash FROM service_credentials WHERE kind = $1 AND id = $2",
        )
        .bind(kind)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
