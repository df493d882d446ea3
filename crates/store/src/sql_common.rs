//! The SQL that SQLite and PostgreSQL share, written once: `sql_store!` expands it into each
//! backend's module, where `dialect` holds the few statements that differ, `lock_tenant` and
//! `lock_global` say how a read-then-write transaction excludes others, and the module's own
//! imports name the types.

macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty, $pool:ty, { $($extra:item)* }) => {
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

async fn load_domains(pool: &$pool, tenant_id: &str) -> Result<Vec<String>> {
    let rows =
        sqlx::query("SELECT domain FROM tenant_domains WHERE tenant_id = $1 ORDER BY position")
            .bind(tenant_id)
            .fetch_all(pool)
            .await?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

async fn tenant_from_row(pool: &$pool, row: &$row) -> Result<Tenant> {
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

fn user_from_row(row: &$row) -> Result<User> {
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
        totp_secret: row.get("totp_secret"),
        tokens_valid_after: row.get("tokens_valid_after"),
    })
}

fn application_from_row(row: &$row) -> Result<Application> {
    let permissions: String = row.get("permissions");
    Ok(Application {
        tenant_id: parse_uuid(row.get("tenant_id"))?,
        id: parse_uuid(row.get("id"))?,
        display_name: row.get("display_name"),
        permissions: permissions
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| AppPermission::parse(s).ok_or_else(|| corrupt("permission", s)))
            .collect::<Result<_>>()?,
        tokens_valid_after: row.get("tokens_valid_after"),
    })
}

fn device_code_from_row(row: &$row) -> Result<DeviceCode> {
    let status: String = row.get("status");
    Ok(DeviceCode {
        tenant_id: parse_uuid(row.get("tenant_id"))?,
        device_code_hash: row.get("device_code_hash"),
        user_code: row.get("user_code"),
        client_id: row.get("client_id"),
        scope: row.get("scope"),
        created_at: row.get("created_at"),
        expires_at: row.get("expires_at"),
        interval_secs: row.get("interval_secs"),
        last_poll_at: row.get("last_poll_at"),
        status: DeviceStatus::parse(&status)
            .ok_or_else(|| corrupt("device code status", &status))?,
        user_id: row
            .get::<Option<String>, _>("user_id")
            .as_deref()
            .map(parse_uuid)
            .transpose()?,
    })
}

fn signing_key_from_row(r: &$row) -> SigningKey {
    SigningKey {
        kid: r.get("kid"),
        algorithm: r.get("algorithm"),
        private_key: r.get("private_key"),
        public_key: r.get("public_key"),
        created_at: r.get("created_at"),
    }
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.template_id())
        .collect::<Vec<_>>()
        .join(",")
}

fn permissions_text(perms: &[AppPermission]) -> String {
    perms
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The tenant default inside a transaction (or the fallback with version 0).
async fn read_default(
    tx: &mut Transaction<'static, $db>,
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

fn purchase_from_row(r: &$row) -> Result<Purchase> {
    let kind: String = r.get("kind");
    let status: String = r.get("status");
    let value: String = r.get("policy_value");
    let users: String = r.get("assigned_users");
    Ok(Purchase {
        tenant_id: parse_uuid(r.get("tenant_id"))?,
        id: parse_uuid(r.get("id"))?,
        purchaser_id: parse_uuid(r.get("purchaser_id"))?,
        purchaser_upn: r.get("purchaser_upn"),
        scope: parse_scope(r.get("scope"))?,
        target_id: r.get("target_id"),
        target_name: r.get("target_name"),
        kind: domain::decision::Kind::parse(&kind)
            .ok_or_else(|| corrupt("purchase kind", &kind))?,
        quantity: r.get("quantity"),
        assigned_users: serde_json::from_str(&users)
            .map_err(|_| corrupt("assigned users", &users))?,
        status: PurchaseStatus::parse(&status)
            .ok_or_else(|| corrupt("purchase status", &status))?,
        payment_method: r.get::<i64, _>("payment_method") != 0,
        policy_value: parse_value(&value)?,
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        expires_at: r.get("expires_at"),
    })
}

/// The target's own value (if set) and the tenant default, inside a write transaction.
async fn read_target_value(
    tx: &mut Transaction<'static, $db>,
    tenant_id: &str,
    policy_id: &str,
    scope: Scope,
    target_id: &str,
    fallback: PolicyValue,
) -> Result<(Option<PolicyValue>, PolicyValue)> {
    let default = read_default(tx, tenant_id, policy_id, fallback).await?;
    let explicit: Option<Option<String>> = sqlx::query_scalar(
        "SELECT value FROM policy_values WHERE tenant_id = $1 AND policy_id = $2 AND scope = $3 AND target_id = $4",
    )
    .bind(tenant_id)
    .bind(policy_id)
    .bind(scope.as_str())
    .bind(target_id)
    .fetch_optional(&mut **tx)
    .await?;
    let explicit = explicit.flatten().as_deref().map(parse_value).transpose()?;
    Ok((explicit, default.value))
}

/// The decision on a target, read and taken inside the write transaction.
async fn judge_target(
    tx: &mut Transaction<'static, $db>,
    tenant_id: &str,
    judge: &Judge<'_>,
    scope: Scope,
    target_id: &str,
) -> Result<domain::decision::Decision> {
    let (explicit, default) = read_target_value(
        tx,
        tenant_id,
        judge.policy_id,
        scope,
        target_id,
        judge.fallback_default,
    )
    .await?;
    Ok((judge.decide)(explicit, default))
}

/// Notifies the tenant's Global and Billing Administrators and queues the webhook deliveries of a
/// new purchase, in the transaction that records it.
async fn insert_notice(
    tx: &mut Transaction<'static, $db>,
    tenant_id: &str,
    purchase_id: Uuid,
    notice: &PurchaseNotice,
    now: &str,
) -> Result<()> {
    let recipients: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM users WHERE tenant_id = $1 AND (roles LIKE $2 OR roles LIKE $3)",
    )
    .bind(tenant_id)
    .bind(format!("%{}%", Role::GlobalAdministrator.template_id()))
    .bind(format!("%{}%", Role::BillingAdministrator.template_id()))
    .fetch_all(&mut **tx)
    .await?;
    for recipient in recipients {
        sqlx::query(
            "INSERT INTO notifications (tenant_id, id, recipient_id, purchase_id, message, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant_id)
        .bind(Uuid::new_v4().to_string())
        .bind(recipient)
        .bind(purchase_id.to_string())
        .bind(&notice.message)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    let hooks: Vec<String> = sqlx::query_scalar("SELECT id FROM webhooks WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_all(&mut **tx)
        .await?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    for hook in hooks {
        sqlx::query(
            "INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event, status, attempts, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6)",
        )
        .bind(tenant_id)
        .bind(Uuid::new_v4().to_string())
        .bind(hook)
        .bind(&notice.event)
        .bind(now_ms)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn load_purchase(
    tx: &mut Transaction<'static, $db>,
    tenant_id: &str,
    id: Uuid,
) -> Result<Option<Purchase>> {
    let row = sqlx::query("SELECT * FROM purchases WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(purchase_from_row).transpose()
}

fn delivery_from_row(r: &$row) -> Result<Delivery> {
    Ok(Delivery {
        tenant_id: parse_uuid(r.get("tenant_id"))?,
        id: parse_uuid(r.get("id"))?,
        webhook_id: parse_uuid(r.get("webhook_id"))?,
        event: r.get("event"),
        status: r.get("status"),
        attempts: r.get("attempts"),
        next_attempt_at: r.get("next_attempt_at"),
        last_status: r.get("last_status"),
        last_error: r.get("last_error"),
        created_at: r.get("created_at"),
        delivered_at: r.get("delivered_at"),
    })
}

fn webhook_from_row(r: &$row, prefix: &str) -> Result<Webhook> {
    let col = |c: &str| format!("{prefix}{c}");
    Ok(Webhook {
        tenant_id: parse_uuid(r.get(col("tenant_id").as_str()))?,
        id: parse_uuid(r.get(col("id").as_str()))?,
        url: r.get(col("url").as_str()),
        secret: r.get(col("secret").as_str()),
        created_at: r.get(col("created_at").as_str()),
        created_by: r.get(col("created_by").as_str()),
    })
}

/// A uniqueness violation as a `Conflict` that says which rule, anything else as it is.
fn conflict_if_unique(e: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(message())
    } else {
        e.into()
    }
}

async fn insert_domains(
    tx: &mut Transaction<'static, $db>,
    tenant_id: &str,
    domains: &[String],
) -> Result<()> {
    for (position, domain) in domains.iter().enumerate() {
        sqlx::query("INSERT INTO tenant_domains (domain, tenant_id, position) VALUES ($1, $2, $3)")
            .bind(domain)
            .bind(tenant_id)
            .bind(position as i64)
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                conflict_if_unique(e, || {
                    format!("the domain {domain} belongs to another tenant")
                })
            })?;
    }
    Ok(())
}

async fn insert_audit(
    tx: &mut Transaction<'static, $db>,
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
impl Store for $store {
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
        .map_err(|e| conflict_if_unique(e, || format!("a tenant with id {id} already exists")))?;
        insert_domains(&mut tx, &id, &t.domains).await?;
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
        .bind(&u.totp_secret)
        .bind(u.tokens_valid_after)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_if_unique(e, || format!("a user {} already exists in this tenant", u.upn)))?;
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
        lock_tenant(&mut tx, &tid).await?;
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
        lock_tenant(&mut tx, &tid).await?;
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
            dialect::AUDIT_LOG,
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
        lock_global(&mut tx).await?;
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
        Ok(rows.iter().map(signing_key_from_row).collect())
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

    async fn delete_service_credential(&self, kind: &str, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM service_credentials WHERE kind = $1 AND id = $2")
            .bind(kind)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn service_credentials(&self, kind: &str) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, secret_hash FROM service_credentials WHERE kind = $1 ORDER BY id",
        )
        .bind(kind)
        .fetch_all(&self.pool)
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

    async fn find_user(&self, tenant_id: Uuid, user_id: Uuid) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id.to_string())
            .bind(user_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self, tenant_id: Uuid) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 ORDER BY upn")
            .bind(tenant_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn update_user(&self, u: &User) -> Result<()> {
        sqlx::query(
            dialect::UPDATE_USER,
        )
        .bind(u.tenant_id.to_string())
        .bind(u.id.to_string())
        .bind(&u.display_name)
        .bind(u.user_type.as_str())
        .bind(roles_text(&u.roles))
        .bind(&u.password_hash)
        .bind(&u.totp_secret)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_user(&self, tenant_id: Uuid, user_id: Uuid) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let (t, u) = (tenant_id.to_string(), user_id.to_string());
        sqlx::query("DELETE FROM refresh_tokens WHERE tenant_id = $1 AND user_id = $2")
            .bind(&t)
            .bind(&u)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(&t)
            .bind(&u)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn consume_totp_step(&self, tenant_id: Uuid, user_id: Uuid, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $3
             WHERE tenant_id = $1 AND id = $2 AND (totp_last_step IS NULL OR totp_last_step < $3)",
        )
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_user_sessions(&self, tenant_id: Uuid, user_id: Uuid, at: i64) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let (t, u) = (tenant_id.to_string(), user_id.to_string());
        sqlx::query(dialect::REVOKE_USER_TOKENS)
            .bind(&t)
            .bind(&u)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE tenant_id = $1 AND user_id = $2")
            .bind(&t)
            .bind(&u)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_tenant(&self, t: &Tenant) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let id = t.id.to_string();
        sqlx::query(
            "UPDATE tenants SET display_name = $2, tenant_type = $3, country = $4 WHERE id = $1",
        )
        .bind(&id)
        .bind(&t.display_name)
        .bind(t.tenant_type.as_str())
        .bind(&t.country)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM tenant_domains WHERE tenant_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        insert_domains(&mut tx, &id, &t.domains).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_tenant(&self, tenant_id: Uuid) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let id = tenant_id.to_string();
        // Every table of tenant data cascades from tenants; failure counters are keyed by text.
        sqlx::query("DELETE FROM sign_in_failures WHERE key LIKE $1")
            .bind(format!("account:{id}:%"))
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_application(&self, app: Application) -> Result<Application> {
        sqlx::query(
            "INSERT INTO applications (tenant_id, id, display_name, permissions, tokens_valid_after, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(app.tenant_id.to_string())
        .bind(app.id.to_string())
        .bind(&app.display_name)
        .bind(permissions_text(&app.permissions))
        .bind(app.tokens_valid_after)
        .bind(timestamp(chrono::Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(app)
    }

    async fn find_application(&self, client_id: Uuid) -> Result<Option<Application>> {
        let row = sqlx::query("SELECT * FROM applications WHERE id = $1")
            .bind(client_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(application_from_row).transpose()
    }

    async fn list_applications(&self, tenant_id: Uuid) -> Result<Vec<Application>> {
        let rows = sqlx::query(
            "SELECT * FROM applications WHERE tenant_id = $1 ORDER BY display_name, id",
        )
        .bind(tenant_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(application_from_row).collect()
    }

    async fn update_application(&self, app: &Application) -> Result<()> {
        sqlx::query(
            "UPDATE applications SET display_name = $3, permissions = $4, tokens_valid_after = $5
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(app.tenant_id.to_string())
        .bind(app.id.to_string())
        .bind(&app.display_name)
        .bind(permissions_text(&app.permissions))
        .bind(app.tokens_valid_after)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_application(&self, tenant_id: Uuid, app_id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM applications WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id.to_string())
            .bind(app_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_app_secret(&self, tenant_id: Uuid, app_id: Uuid, secret: AppSecret) -> Result<()> {
        sqlx::query(
            "INSERT INTO application_secrets (tenant_id, application_id, id, secret_hash, hint, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant_id.to_string())
        .bind(app_id.to_string())
        .bind(secret.id.to_string())
        .bind(&secret.secret_hash)
        .bind(&secret.hint)
        .bind(&secret.created_at)
        .bind(secret.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remove_app_secret(
        &self,
        tenant_id: Uuid,
        app_id: Uuid,
        secret_id: Uuid,
    ) -> Result<bool> {
        let done = sqlx::query("DELETE FROM application_secrets WHERE tenant_id = $1 AND application_id = $2 AND id = $3")
            .bind(tenant_id.to_string())
            .bind(app_id.to_string())
            .bind(secret_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn app_secrets(&self, tenant_id: Uuid, app_id: Uuid) -> Result<Vec<AppSecret>> {
        let rows = sqlx::query("SELECT * FROM application_secrets WHERE tenant_id = $1 AND application_id = $2 ORDER BY created_at")
            .bind(tenant_id.to_string())
            .bind(app_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AppSecret {
                    id: parse_uuid(r.get("id"))?,
                    secret_hash: r.get("secret_hash"),
                    hint: r.get("hint"),
                    created_at: r.get("created_at"),
                    expires_at: r.get("expires_at"),
                })
            })
            .collect()
    }

    async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, user_id, client_id, scope, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(t.tenant_id.to_string())
        .bind(&t.token_hash)
        .bind(t.family_id.to_string())
        .bind(t.user_id.to_string())
        .bind(&t.client_id)
        .bind(&t.scope)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn use_refresh_token(
        &self,
        tenant_id: Uuid,
        token_hash: &str,
        now: i64,
    ) -> Result<RefreshUse> {
        let mut tx = self.write_tx().await?;
        let tid = tenant_id.to_string();
        let row = sqlx::query(
            dialect::SELECT_REFRESH_TOKEN,
        )
        .bind(&tid)
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(RefreshUse::Invalid);
        };
        let family_id = parse_uuid(row.get("family_id"))?;
        let used: Option<i64> = row.get("used_at");
        let revoked: i64 = row.get("revoked");
        if used.is_some() || revoked != 0 {
            // A used token presented again: someone holds a copy. End the whole sign-in.
            sqlx::query(
                "UPDATE refresh_tokens SET revoked = 1 WHERE tenant_id = $1 AND family_id = $2",
            )
            .bind(&tid)
            .bind(family_id.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(RefreshUse::Reused { family_id });
        }
        let expires_at: i64 = row.get("expires_at");
        if expires_at <= now {
            return Ok(RefreshUse::Invalid);
        }
        sqlx::query(
            "UPDATE refresh_tokens SET used_at = $3 WHERE tenant_id = $1 AND token_hash = $2",
        )
        .bind(&tid)
        .bind(token_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RefreshUse::Valid(RefreshToken {
            tenant_id,
            token_hash: token_hash.to_string(),
            family_id,
            user_id: parse_uuid(row.get("user_id"))?,
            client_id: row.get("client_id"),
            scope: row.get("scope"),
            created_at: row.get("created_at"),
            expires_at,
        }))
    }

    async fn revoke_refresh_token(&self, tenant_id: Uuid, token_hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked = 1 WHERE tenant_id = $1 AND family_id =
                (SELECT family_id FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2)",
        )
        .bind(tenant_id.to_string())
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_device_code(&self, c: &DeviceCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO device_codes (tenant_id, device_code_hash, user_code, client_id, scope, created_at, expires_at,
                interval_secs, last_poll_at, status, user_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(c.tenant_id.to_string())
        .bind(&c.device_code_hash)
        .bind(&c.user_code)
        .bind(&c.client_id)
        .bind(&c.scope)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(c.interval_secs)
        .bind(c.last_poll_at)
        .bind(c.status.as_str())
        .bind(c.user_id.map(|u| u.to_string()))
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_if_unique(e, || "that user code is taken".to_string()))?;
        Ok(())
    }

    async fn find_device_code_by_user_code(&self, user_code: &str) -> Result<Option<DeviceCode>> {
        let row = sqlx::query("SELECT * FROM device_codes WHERE user_code = $1")
            .bind(user_code)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device_code_from_row).transpose()
    }

    async fn poll_device_code(
        &self,
        tenant_id: Uuid,
        hash: &str,
        now: i64,
    ) -> Result<Option<DeviceCode>> {
        let mut tx = self.write_tx().await?;
        let tid = tenant_id.to_string();
        let row = sqlx::query(
            dialect::SELECT_DEVICE_CODE,
        )
        .bind(&tid)
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let code = row.as_ref().map(device_code_from_row).transpose()?;
        if code.is_some() {
            sqlx::query("UPDATE device_codes SET last_poll_at = $3 WHERE tenant_id = $1 AND device_code_hash = $2")
                .bind(&tid)
                .bind(hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(code)
    }

    async fn decide_device_code(
        &self,
        user_code: &str,
        status: DeviceStatus,
        user_id: Option<Uuid>,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE device_codes SET status = $2, user_id = $3
             WHERE user_code = $1 AND status = 'pending' AND expires_at > $4",
        )
        .bind(user_code)
        .bind(status.as_str())
        .bind(user_id.map(|u| u.to_string()))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn consume_device_code(&self, tenant_id: Uuid, hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE device_codes SET status = 'consumed'
             WHERE tenant_id = $1 AND device_code_hash = $2 AND status = 'approved'",
        )
        .bind(tenant_id.to_string())
        .bind(hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sign_in_failures(
        &self,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<FailureCount> {
        let row = sqlx::query(
            "SELECT failures, window_start, locked_until FROM sign_in_failures WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => {
                let window_start: i64 = r.get("window_start");
                let failures = if now - window_start > window_secs {
                    0
                } else {
                    r.get("failures")
                };
                FailureCount {
                    failures,
                    locked_until: r.get("locked_until"),
                }
            }
            None => FailureCount::default(),
        })
    }

    async fn record_sign_in_failure(
        &self,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<FailureCount> {
        let row = sqlx::query(
            dialect::RECORD_FAILURE,
        )
        .bind(key)
        .bind(now)
        .bind(window_secs)
        .fetch_one(&self.pool)
        .await?;
        Ok(FailureCount {
            failures: row.get("failures"),
            locked_until: row.get("locked_until"),
        })
    }

    async fn lock_sign_in(&self, key: &str, until: i64) -> Result<()> {
        sqlx::query(
            dialect::LOCK_SIGN_IN,
        )
        .bind(key)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn clear_sign_in_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM sign_in_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn rotate_signing_key(&self, key: SigningKey, now: i64, prune_before: i64) -> Result<()> {
        let mut tx = self.write_tx().await?;
        lock_global(&mut tx).await?;
        sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1")
            .bind(prune_before)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.private_key)
        .bind(&key.public_key)
        .bind(&key.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        let rows = sqlx::query("SELECT * FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(signing_key_from_row).collect())
    }

    async fn set_trial_length(&self, product_id: &str, seconds: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO catalog_trial_lengths (product_id, seconds) VALUES ($1, $2)
             ON CONFLICT (product_id) DO UPDATE SET seconds = excluded.seconds",
        )
        .bind(product_id)
        .bind(seconds)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn trial_lengths(&self) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT product_id, seconds FROM catalog_trial_lengths")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn start_purchase(
        &self,
        p: &Purchase,
        judge: &Judge<'_>,
        notice: &PurchaseNotice,
    ) -> Result<PurchaseOutcome> {
        let mut tx = self.write_tx().await?;
        let tid = p.tenant_id.to_string();
        lock_tenant(&mut tx, &tid).await?;
        let decision = judge_target(&mut tx, &tid, judge, p.scope, &p.target_id).await?;
        if !decision.allowed {
            return Ok(PurchaseOutcome::Denied(decision));
        }
        let mut record = p.clone();
        record.policy_value = decision.value;
        sqlx::query(
            "INSERT INTO purchases (tenant_id, id, purchaser_id, purchaser_upn, scope, target_id, target_name, kind, quantity,
                assigned_users, status, payment_method, policy_value, created_at, updated_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&tid)
        .bind(record.id.to_string())
        .bind(record.purchaser_id.to_string())
        .bind(&record.purchaser_upn)
        .bind(record.scope.as_str())
        .bind(&record.target_id)
        .bind(&record.target_name)
        .bind(record.kind.as_str())
        .bind(record.quantity)
        .bind(serde_json::to_string(&record.assigned_users).expect("strings serialize"))
        .bind(record.status.as_str())
        .bind(i64::from(record.payment_method))
        .bind(record.policy_value.as_str())
        .bind(&record.created_at)
        .bind(&record.updated_at)
        .bind(&record.expires_at)
        .execute(&mut *tx)
        .await?;
        insert_notice(&mut tx, &tid, record.id, notice, &record.created_at).await?;
        tx.commit().await?;
        Ok(PurchaseOutcome::Done(Box::new(record)))
    }

    async fn convert_trial(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        judge: &Judge<'_>,
        notice: &PurchaseNotice,
        now: &str,
    ) -> Result<PurchaseOutcome> {
        let mut tx = self.write_tx().await?;
        let tid = tenant_id.to_string();
        lock_tenant(&mut tx, &tid).await?;
        let Some(mut record) = load_purchase(&mut tx, &tid, id).await? else {
            return Err(StoreError::Conflict(format!(
                "purchase {id} does not exist"
            )));
        };
        if record.status != PurchaseStatus::Trial {
            return Err(StoreError::Conflict(format!(
                "only a trial can be converted; this one is {}",
                record.status_at(now).as_str()
            )));
        }
        let decision = judge_target(&mut tx, &tid, judge, record.scope, &record.target_id).await?;
        if !decision.allowed {
            return Ok(PurchaseOutcome::Denied(decision));
        }
        sqlx::query(
            "UPDATE purchases SET kind = 'purchase', status = 'Active', payment_method = 1, policy_value = $3,
                expires_at = NULL, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&tid)
        .bind(id.to_string())
        .bind(decision.value.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_notice(&mut tx, &tid, id, notice, now).await?;
        record = load_purchase(&mut tx, &tid, id)
            .await?
            .expect("just updated");
        tx.commit().await?;
        Ok(PurchaseOutcome::Done(Box::new(record)))
    }

    async fn change_quantity(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        quantity: i64,
        judge: &Judge<'_>,
        now: &str,
    ) -> Result<PurchaseOutcome> {
        let mut tx = self.write_tx().await?;
        let tid = tenant_id.to_string();
        lock_tenant(&mut tx, &tid).await?;
        let Some(record) = load_purchase(&mut tx, &tid, id).await? else {
            return Err(StoreError::Conflict(format!(
                "purchase {id} does not exist"
            )));
        };
        if !matches!(
            record.status_at(now),
            PurchaseStatus::Active | PurchaseStatus::Trial
        ) {
            return Err(StoreError::Conflict(format!(
                "the quantity of a {} subscription cannot change",
                record.status_at(now).as_str()
            )));
        }
        if (record.assigned_users.len() as i64) > quantity {
            return Err(StoreError::Conflict(format!(
                "{} licenses are assigned; unassign users before going down to {quantity}",
                record.assigned_users.len()
            )));
        }
        if quantity > record.quantity {
            let decision =
                judge_target(&mut tx, &tid, judge, record.scope, &record.target_id).await?;
            if !decision.allowed {
                return Ok(PurchaseOutcome::Denied(decision));
            }
        }
        sqlx::query(
            "UPDATE purchases SET quantity = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&tid)
        .bind(id.to_string())
        .bind(quantity)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let record = load_purchase(&mut tx, &tid, id)
            .await?
            .expect("just updated");
        tx.commit().await?;
        Ok(PurchaseOutcome::Done(Box::new(record)))
    }

    async fn set_assigned_users(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        users: &[String],
        now: &str,
    ) -> Result<Purchase> {
        let mut tx = self.write_tx().await?;
        let tid = tenant_id.to_string();
        lock_tenant(&mut tx, &tid).await?;
        let Some(record) = load_purchase(&mut tx, &tid, id).await? else {
            return Err(StoreError::Conflict(format!(
                "purchase {id} does not exist"
            )));
        };
        if users.len() as i64 > record.quantity {
            return Err(StoreError::Conflict(format!(
                "{} users cannot share {} licenses",
                users.len(),
                record.quantity
            )));
        }
        sqlx::query("UPDATE purchases SET assigned_users = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
            .bind(&tid)
            .bind(id.to_string())
            .bind(serde_json::to_string(users).expect("strings serialize"))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let record = load_purchase(&mut tx, &tid, id)
            .await?
            .expect("just updated");
        tx.commit().await?;
        Ok(record)
    }

    async fn set_purchase_status(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        from: &[PurchaseStatus],
        to: PurchaseStatus,
        now: &str,
    ) -> Result<Option<Purchase>> {
        let mut tx = self.write_tx().await?;
        let tid = tenant_id.to_string();
        lock_tenant(&mut tx, &tid).await?;
        let Some(record) = load_purchase(&mut tx, &tid, id).await? else {
            return Ok(None);
        };
        if !from.contains(&record.status_at(now)) {
            return Err(StoreError::Conflict(format!(
                "this subscription is {}, and cannot become {}",
                record.status_at(now).as_str(),
                to.as_str()
            )));
        }
        sqlx::query(
            "UPDATE purchases SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&tid)
        .bind(id.to_string())
        .bind(to.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let record = load_purchase(&mut tx, &tid, id).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn purchase(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<Purchase>> {
        let row = sqlx::query("SELECT * FROM purchases WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(purchase_from_row).transpose()
    }

    async fn list_purchases(&self, tenant_id: Uuid, f: &PurchaseFilter) -> Result<Vec<Purchase>> {
        let rows = sqlx::query(
            dialect::LIST_PURCHASES,
        )
        .bind(tenant_id.to_string())
        .bind(&f.target_id)
        .bind(&f.purchaser)
        .fetch_all(&self.pool)
        .await?;
        let all = rows
            .iter()
            .map(purchase_from_row)
            .collect::<Result<Vec<_>>>()?;
        // Expired is a Trial past its end, so the status filter runs on the status as seen now.
        Ok(all
            .into_iter()
            .filter(|p| f.status.is_none_or(|s| p.status_at(&f.now) == s))
            .collect())
    }

    async fn notifications(
        &self,
        tenant_id: Uuid,
        recipient_id: Uuid,
    ) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT id, purchase_id, message, created_at FROM notifications
             WHERE tenant_id = $1 AND recipient_id = $2 ORDER BY created_at DESC, id",
        )
        .bind(tenant_id.to_string())
        .bind(recipient_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Notification {
                    id: parse_uuid(r.get("id"))?,
                    purchase_id: parse_uuid(r.get("purchase_id"))?,
                    message: r.get("message"),
                    created_at: r.get("created_at"),
                })
            })
            .collect()
    }

    async fn create_webhook(&self, h: &Webhook) -> Result<()> {
        sqlx::query("INSERT INTO webhooks (tenant_id, id, url, secret, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(h.tenant_id.to_string())
            .bind(h.id.to_string())
            .bind(&h.url)
            .bind(&h.secret)
            .bind(&h.created_at)
            .bind(&h.created_by)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn webhooks(&self, tenant_id: Uuid) -> Result<Vec<Webhook>> {
        let rows =
            sqlx::query("SELECT * FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id")
                .bind(tenant_id.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| webhook_from_row(r, "")).collect()
    }

    async fn delete_webhook(&self, tenant_id: Uuid, id: Uuid) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 AND status = 'pending'")
            .bind(tenant_id.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn deliveries(&self, tenant_id: Uuid, webhook_id: Uuid) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "SELECT * FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 ORDER BY created_at DESC, id",
        )
        .bind(tenant_id.to_string())
        .bind(webhook_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn due_deliveries(&self, now_ms: i64, limit: i64) -> Result<Vec<(Delivery, Webhook)>> {
        let rows = sqlx::query(
            "SELECT d.*, w.tenant_id AS w_tenant_id, w.id AS w_id, w.url AS w_url, w.secret AS w_secret,
                    w.created_at AS w_created_at, w.created_by AS w_created_by
             FROM webhook_deliveries d JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1
             ORDER BY d.next_attempt_at LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((delivery_from_row(r)?, webhook_from_row(r, "w_")?)))
            .collect()
    }

    async fn record_delivery_attempt(&self, d: &Delivery) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $3, attempts = $4, next_attempt_at = $5, last_status = $6,
                last_error = $7, delivered_at = $8 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(d.tenant_id.to_string())
        .bind(d.id.to_string())
        .bind(&d.status)
        .bind(d.attempts)
        .bind(d.next_attempt_at)
        .bind(d.last_status)
        .bind(&d.last_error)
        .bind(&d.delivered_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
    $($extra)*
}

    };
}

pub(crate) use sql_store;
