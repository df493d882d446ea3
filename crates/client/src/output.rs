//! Output as the module shows it: PowerShell-style tables, or JSON and CSV with the module's
//! property names (`PolicyId`, `PolicyValue`, `ProductName`, `ProductId`, …) for scripts.

use std::io::Write;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

/// A row the client prints; `COLUMNS` are the property names, in table order.
pub trait Record: Serialize {
    const COLUMNS: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyRecord {
    pub policy_id: String,
    pub description: String,
    pub default_value: String,
}

impl From<proto::Policy> for PolicyRecord {
    fn from(p: proto::Policy) -> Self {
        PolicyRecord {
            policy_id: p.id,
            description: p.description,
            default_value: p.default_value,
        }
    }
}

impl Record for PolicyRecord {
    const COLUMNS: &'static [&'static str] = &["PolicyId", "Description", "DefaultValue"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.policy_id.clone(),
            self.description.clone(),
            self.default_value.clone(),
        ]
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProductRecord {
    pub product_name: String,
    pub product_id: String,
    pub policy_value: String,
    pub policy_id: String,
}

impl From<proto::ProductPolicy> for ProductRecord {
    fn from(p: proto::ProductPolicy) -> Self {
        ProductRecord {
            product_name: p.product_name,
            product_id: p.product_id,
            policy_value: p.policy_value,
            policy_id: p.policy_id,
        }
    }
}

impl Record for ProductRecord {
    const COLUMNS: &'static [&'static str] =
        &["ProductName", "ProductId", "PolicyValue", "PolicyId"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.product_name.clone(),
            self.product_id.clone(),
            self.policy_value.clone(),
            self.policy_id.clone(),
        ]
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OfferTypeRecord {
    pub scope_value: String,
    pub scope_id: String,
    pub policy_value: String,
    pub policy_id: String,
    pub scope: String,
}

impl From<proto::OfferTypePolicy> for OfferTypeRecord {
    fn from(p: proto::OfferTypePolicy) -> Self {
        OfferTypeRecord {
            scope_value: p.scope_value,
            scope_id: p.scope_id,
            policy_value: p.policy_value,
            policy_id: p.policy_id,
            scope: p.scope,
        }
    }
}

impl Record for OfferTypeRecord {
    const COLUMNS: &'static [&'static str] =
        &["ScopeValue", "ScopeId", "PolicyValue", "PolicyId", "Scope"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.scope_value.clone(),
            self.scope_id.clone(),
            self.policy_value.clone(),
            self.policy_id.clone(),
            self.scope.clone(),
        ]
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditRecord {
    pub activity_date_time: String,
    pub actor: String,
    pub scope: String,
    pub target_id: String,
    pub target_name: String,
    pub old_value: String,
    pub new_value: String,
    pub action: String,
    pub correlation_id: String,
}

impl From<proto::AuditEntry> for AuditRecord {
    fn from(e: proto::AuditEntry) -> Self {
        AuditRecord {
            activity_date_time: e.activity_date_time,
            actor: e.actor,
            scope: e.scope,
            target_id: e.target_id.unwrap_or_default(),
            target_name: e.target_name.unwrap_or_default(),
            old_value: e.old_value,
            new_value: e.new_value,
            action: e.action,
            correlation_id: e.correlation_id,
        }
    }
}

impl Record for AuditRecord {
    const COLUMNS: &'static [&'static str] = &[
        "ActivityDateTime",
        "Actor",
        "Scope",
        "TargetId",
        "TargetName",
        "OldValue",
        "NewValue",
        "Action",
        "CorrelationId",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.activity_date_time.clone(),
            self.actor.clone(),
            self.scope.clone(),
            self.target_id.clone(),
            self.target_name.clone(),
            self.old_value.clone(),
            self.new_value.clone(),
            self.action.clone(),
            self.correlation_id.clone(),
        ]
    }
}

/// Prints records; `single` prints one JSON object rather than an array, as `ConvertTo-Json` does.
pub fn print<R: Record>(format: OutputFormat, records: &[R], single: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        OutputFormat::Json => {
            let text = match (single, records) {
                (true, [one]) => serde_json::to_string_pretty(one)?,
                _ => serde_json::to_string_pretty(records)?,
            };
            writeln!(out, "{text}")?;
        }
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(R::COLUMNS)?;
            for r in records {
                w.write_record(r.cells())?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            if records.is_empty() {
                return Ok(());
            }
            write!(
                out,
                "{}",
                table(R::COLUMNS, records.iter().map(Record::cells).collect())
            )?;
        }
    }
    Ok(())
}

/// A table as PowerShell's `Format-Table` draws it: header, dashes, columns padded to fit.
fn table(columns: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join(" ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut text = String::from("\n");
    text += &line(columns.iter().map(|c| c.to_string()).collect());
    text += &line(
        columns
            .iter()
            .map(|c| "-".repeat(c.chars().count()))
            .collect(),
    );
    for row in rows {
        text += &line(row);
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_columns_like_format_table() {
        let t = table(
            &["A", "Long"],
            vec![
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(t, "\nA   Long\n-   ----\nxyz 1\nq   22\n\n");
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PurchaseRow {
    pub id: String,
    pub name: String,
    pub product_id: String,
    pub kind: String,
    pub quantity: i64,
    pub status: String,
    pub purchaser: String,
    pub policy_value: String,
    pub assigned_users: String,
    pub created_date_time: String,
    pub expiry_date_time: String,
}

impl From<proto::purchases::PurchaseRecord> for PurchaseRow {
    fn from(p: proto::purchases::PurchaseRecord) -> Self {
        PurchaseRow {
            id: p.id,
            name: p.name,
            product_id: p.product_id.or(p.offer_type).unwrap_or_default(),
            kind: p.kind,
            quantity: p.quantity,
            status: p.status,
            purchaser: p.purchaser,
            policy_value: p.policy_value,
            assigned_users: p.assigned_users.join(";"),
            created_date_time: p.created_date_time,
            expiry_date_time: p.expiry_date_time.unwrap_or_default(),
        }
    }
}

impl Record for PurchaseRow {
    const COLUMNS: &'static [&'static str] = &[
        "Id",
        "Name",
        "ProductId",
        "Kind",
        "Quantity",
        "Status",
        "Purchaser",
        "PolicyValue",
        "AssignedUsers",
        "CreatedDateTime",
        "ExpiryDateTime",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.product_id.clone(),
            self.kind.clone(),
            self.quantity.to_string(),
            self.status.clone(),
            self.purchaser.clone(),
            self.policy_value.clone(),
            self.assigned_users.clone(),
            self.created_date_time.clone(),
            self.expiry_date_time.clone(),
        ]
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationRow {
    pub created_date_time: String,
    pub message: String,
    pub purchase_id: String,
}

impl Record for NotificationRow {
    const COLUMNS: &'static [&'static str] = &["CreatedDateTime", "Message", "PurchaseId"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.created_date_time.clone(),
            self.message.clone(),
            self.purchase_id.clone(),
        ]
    }
}
