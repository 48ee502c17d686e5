//! The review workflow in the record: suggestions, supervisor decisions,
//! reroutes, the review queue and model events. Each change of an appeal's
//! routing commits with its audit entry and an outbox entry, so the index (which
//! filters on status and department) follows in the same way as for new appeals.

use std::collections::HashMap;

use sqlx::Row;

use super::{
    appeal_from_row, append_audit, now_ms, Appeal, AppealStatus, CaseCount, Record, RecordError,
    Result, APPEAL_SELECT,
};

/// Stored routing model versions kept per tenant.
const KEPT_MODEL_VERSIONS: i64 = 3;

/// Statuses a supervisor's decision applies to: an appeal waiting for review,
/// routed automatically (a supervisor may correct it), sent back by a
/// department, taken for not a request (a supervisor may route it after
/// all), or never routed. A decided or imported appeal is settled: a
/// second decision is a conflict, so two supervisors cannot silently overwrite
/// each other.
const DECIDABLE: &[AppealStatus] = &[
    AppealStatus::Received,
    AppealStatus::AutoRouted,
    AppealStatus::NeedsReview,
    AppealStatus::Rerouted,
    AppealStatus::NotARequest,
];

/// Statuses a department can send back: the appeal must be with a department
/// or waiting for review; a never-routed, already sent back or imported
/// historical appeal cannot be.
const REROUTABLE: &[AppealStatus] = &[
    AppealStatus::AutoRouted,
    AppealStatus::NeedsReview,
    AppealStatus::Decided,
];

/// A supervisor's or a department's action on an appeal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecisionRow {
    /// Row id.
    pub id: i64,
    /// `accept`, `override` or `reroute`.
    pub kind: String,
    /// Department chosen (accept/override) or the one that sent it back (reroute).
    pub department: Option<String>,
    /// Who.
    pub actor: String,
    /// Why (comment or reroute reason).
    pub reason: Option<String>,
    /// When, unix ms.
    pub at: i64,
}

/// What a stored suggestion holds besides its appeal (see
/// [`Record::insert_appeal_with`]).
#[derive(Debug, Clone, Copy)]
pub struct SuggestionBody<'a> {
    /// The full routing decision, JSON.
    pub decision_json: &'a str,
    /// Model fingerprint.
    pub model: &'a str,
    /// Case-memory version at decision time.
    pub index_version: u64,
}

/// Inserts a suggestion row and its audit entry inside `tx`.
pub(super) async fn insert_suggestion(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: &str,
    appeal_id: i64,
    s: &SuggestionBody<'_>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO suggestions (appeal_id, decision, model, index_version, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(appeal_id)
    .bind(s.decision_json)
    .bind(s.model)
    .bind(s.index_version as i64)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    append_audit(
        tx,
        tenant,
        Some(appeal_id),
        "router",
        "appeal.suggested",
        s.decision_json,
    )
    .await
}

/// Filter of the review queue and appeal listings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppealQuery {
    /// Only these statuses (empty: any).
    pub statuses: Vec<AppealStatus>,
    /// Only appeals currently assigned or suggested to this department.
    pub department: Option<String>,
    /// Received at or after (unix ms).
    pub since: Option<i64>,
    /// Received at or before (unix ms).
    pub until: Option<i64>,
    /// Page after this appeal id (ascending ids).
    pub after_id: Option<i64>,
    /// Page size.
    pub limit: i64,
    /// Only appeals whose category path starts with these levels (empty: any).
    pub category: Vec<String>,
}

impl Record {
    /// The appeal a portal submitted under `external_id`, if any.
    pub async fn appeal_by_external(
        &self,
        tenant: &str,
        external_id: &str,
    ) -> Result<Option<Appeal>> {
        let row = sqlx::query(&format!(
            "{APPEAL_SELECT} WHERE tenant_id = $1 AND external_id = $2"
        ))
        .bind(tenant)
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| appeal_from_row(&r)).transpose()
    }

    /// The latest suggestion (decision JSON) for an appeal.
    pub async fn latest_suggestion(&self, tenant: &str, appeal_id: i64) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT s.decision FROM suggestions s JOIN appeals a ON a.id = s.appeal_id \
             WHERE a.tenant_id = $1 AND s.appeal_id = $2 ORDER BY s.id DESC LIMIT 1",
        )
        .bind(tenant)
        .bind(appeal_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("decision")).transpose()?)
    }

    /// A supervisor accepts (`department` = the suggestion) or overrides: the
    /// appeal becomes `decided` with that department. Returns the updated appeal.
    pub async fn record_decision(
        &self,
        tenant: &str,
        appeal_id: i64,
        kind: &str,
        department: &str,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<Appeal> {
        self.change_routing(
            tenant,
            appeal_id,
            kind,
            Some(department),
            reason,
            actor,
            AppealStatus::Decided,
            DECIDABLE,
        )
        .await
    }

    /// Auto-routed appeals of `tenant` received before `before` (unix ms)
    /// that no department has sent back, oldest first, at most `limit`:
    /// (id, department).
    pub async fn auto_routed_before(
        &self,
        tenant: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT id, department FROM appeals WHERE tenant_id = $1 AND status = $2 \
             AND received_at < $3 AND department IS NOT NULL ORDER BY received_at, id LIMIT $4",
        )
        .bind(tenant)
        .bind(AppealStatus::AutoRouted.as_str())
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("department")?)))
            .collect()
    }

    /// A department sends an appeal back as not competent: it returns to review
    /// (`rerouted`) with the reason on record; its department is cleared.
    pub async fn record_reroute(
        &self,
        tenant: &str,
        appeal_id: i64,
        reason: &str,
        actor: &str,
    ) -> Result<Appeal> {
        self.change_routing(
            tenant,
            appeal_id,
            "reroute",
            None,
            Some(reason),
            actor,
            AppealStatus::Rerouted,
            REROUTABLE,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_routing(
        &self,
        tenant: &str,
        appeal_id: i64,
        kind: &str,
        department: Option<&str>,
        reason: Option<&str>,
        actor: &str,
        status: AppealStatus,
        allowed: &[AppealStatus],
    ) -> Result<Appeal> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!("{APPEAL_SELECT} WHERE tenant_id = $1 AND id = $2"))
            .bind(tenant)
            .bind(appeal_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(RecordError::UnknownAppeal(appeal_id))?;
        let before = appeal_from_row(&row)?;
        if !allowed.contains(&before.data.status) {
            return Err(RecordError::Conflict(format!(
                "appeal {appeal_id} is {} and cannot take a {kind}",
                before.data.status.as_str()
            )));
        }
        let recorded_department = department.or(before.data.department.as_deref());
        sqlx::query(
            "INSERT INTO decisions (appeal_id, kind, department, actor, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(appeal_id)
        .bind(kind)
        .bind(recorded_department)
        .bind(actor)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // Conditional on the status read above: of two concurrent decisions on
        // one appeal, the second finds the status changed and gets a conflict.
        let updated = sqlx::query(
            "UPDATE appeals SET status = $1, department = $2, updated_at = $3 \
             WHERE tenant_id = $4 AND id = $5 AND status = $6",
        )
        .bind(status.as_str())
        .bind(department)
        .bind(now)
        .bind(tenant)
        .bind(appeal_id)
        .bind(before.data.status.as_str())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(RecordError::Conflict(format!(
                "appeal {appeal_id} changed while the {kind} was being recorded"
            )));
        }
        let detail = serde_json::json!({
            "kind": kind,
            "department": recorded_department,
            "previous_department": before.data.department,
            "previous_status": before.data.status.as_str(),
            "reason": reason,
        })
        .to_string();
        append_audit(
            &mut tx,
            tenant,
            Some(appeal_id),
            actor,
            &format!("appeal.{kind}"),
            &detail,
        )
        .await?;
        super::outbox::enqueue(&mut tx, appeal_id, now).await?;
        tx.commit().await?;
        let mut after = before;
        after.data.status = status;
        after.data.department = department.map(str::to_string);
        Ok(after)
    }

    /// Decisions and reroutes of an appeal, oldest first.
    pub async fn decisions(&self, tenant: &str, appeal_id: i64) -> Result<Vec<DecisionRow>> {
        let rows = sqlx::query(
            "SELECT d.id, d.kind, d.department, d.actor, d.reason, d.created_at FROM decisions d \
             JOIN appeals a ON a.id = d.appeal_id WHERE a.tenant_id = $1 AND d.appeal_id = $2 \
             ORDER BY d.id",
        )
        .bind(tenant)
        .bind(appeal_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DecisionRow {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    department: r.try_get("department")?,
                    actor: r.try_get("actor")?,
                    reason: r.try_get("reason")?,
                    at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// The latest suggestion (decision JSON) and the decisions of each of
    /// `ids` (appeals of `tenant`), in two queries whatever the number of
    /// appeals: a list page costs three queries, not 1 + 2N.
    pub async fn trails(
        &self,
        tenant: &str,
        ids: &[i64],
    ) -> Result<(HashMap<i64, String>, HashMap<i64, Vec<DecisionRow>>)> {
        let mut suggestions = HashMap::new();
        let mut decisions: HashMap<i64, Vec<DecisionRow>> = HashMap::new();
        for list in super::id_lists(ids) {
            let rows = sqlx::query(&format!(
                "SELECT s.appeal_id, s.decision FROM suggestions s WHERE s.id IN \
                 (SELECT MAX(s2.id) FROM suggestions s2 JOIN appeals a ON a.id = s2.appeal_id \
                  WHERE a.tenant_id = $1 AND s2.appeal_id IN ({list}) GROUP BY s2.appeal_id)"
            ))
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                suggestions.insert(r.try_get("appeal_id")?, r.try_get("decision")?);
            }
            let rows = sqlx::query(&format!(
                "SELECT d.id, d.appeal_id, d.kind, d.department, d.actor, d.reason, d.created_at \
                 FROM decisions d JOIN appeals a ON a.id = d.appeal_id \
                 WHERE a.tenant_id = $1 AND d.appeal_id IN ({list}) ORDER BY d.id"
            ))
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                decisions
                    .entry(r.try_get("appeal_id")?)
                    .or_default()
                    .push(DecisionRow {
                        id: r.try_get("id")?,
                        kind: r.try_get("kind")?,
                        department: r.try_get("department")?,
                        actor: r.try_get("actor")?,
                        reason: r.try_get("reason")?,
                        at: r.try_get("created_at")?,
                    });
            }
        }
        Ok((suggestions, decisions))
    }

    /// Appeals of a tenant matching `q`, ascending by id (keyset paging).
    pub async fn list_appeals(&self, tenant: &str, q: &AppealQuery) -> Result<Vec<Appeal>> {
        let mut sql = format!("{APPEAL_SELECT} WHERE tenant_id = $1");
        let mut n = 1;
        let mut next = |sql: &mut String, clause: &str| {
            n += 1;
            sql.push_str(&clause.replace('?', &format!("${n}")));
        };
        if !q.statuses.is_empty() {
            next(&mut sql, " AND status IN (?");
            for _ in 1..q.statuses.len() {
                next(&mut sql, ", ?");
            }
            sql.push(')');
        }
        if q.department.is_some() {
            next(&mut sql, " AND department = ?");
        }
        if q.since.is_some() {
            next(&mut sql, " AND received_at >= ?");
        }
        if q.until.is_some() {
            next(&mut sql, " AND received_at <= ?");
        }
        if q.after_id.is_some() {
            next(&mut sql, " AND id > ?");
        }
        // The path is stored as a JSON array: a prefix of levels matches the
        // array itself or the array continued by a comma.
        let category = (!q.category.is_empty()).then(|| {
            let exact = super::category_to_sql(&q.category).unwrap_or_default();
            let open = &exact[..exact.len() - 1];
            let escaped: String = open
                .chars()
                .flat_map(|c| match c {
                    '\\' | '%' | '_' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            (exact.clone(), format!("{escaped},%"))
        });
        if category.is_some() {
            next(&mut sql, " AND (category = ?");
            next(&mut sql, " OR category LIKE ? ESCAPE '\\')");
        }
        next(&mut sql, " ORDER BY id LIMIT ?");
        let mut query = sqlx::query(&sql).bind(tenant);
        for s in &q.statuses {
            query = query.bind(s.as_str());
        }
        if let Some(d) = &q.department {
            query = query.bind(d.as_str());
        }
        if let Some(s) = q.since {
            query = query.bind(s);
        }
        if let Some(u) = q.until {
            query = query.bind(u);
        }
        if let Some(a) = q.after_id {
            query = query.bind(a);
        }
        if let Some((exact, prefix)) = category {
            query = query.bind(exact).bind(prefix);
        }
        let rows = query
            .bind(q.limit.clamp(1, 1000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(appeal_from_row).collect()
    }

    /// Appends an event that concerns no single appeal (e.g. a model refit) to
    /// the audit log.
    pub async fn record_event(
        &self,
        tenant: &str,
        actor: &str,
        action: &str,
        detail: &str,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        append_audit(&mut conn, tenant, None, actor, action, detail).await
    }
}

impl Record {
    /// Confirmed cases per (department, district, category) of a tenant: what
    /// routing learns the departments' areas and categories from, without
    /// reading any vector.
    pub async fn area_counts(&self, tenant: &str) -> Result<Vec<CaseCount>> {
        let rows = sqlx::query(
            "SELECT department, district, category, COUNT(*) AS n FROM appeals \
             WHERE tenant_id = $1 AND status IN ('imported', 'decided') \
             AND department IS NOT NULL GROUP BY department, district, category",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseCount {
                    department: r.try_get("department")?,
                    district: r.try_get("district")?,
                    category: super::category_from_sql(r.try_get("category")?)?,
                    n: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// Stores a fitted routing model (opaque JSON) under its version; older
    /// bodies beyond the last few are dropped.
    pub async fn save_routing_model(&self, tenant: &str, version: u64, body: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO routing_models (tenant_id, version, created_at, body) VALUES ($1, $2, $3, $4)",
        )
        .bind(tenant)
        .bind(version as i64)
        .bind(now_ms())
        .bind(body)
        .execute(&self.writer)
        .await?;
        // Bodies hold the lexical weights (megabytes): keep the last few for
        // inspection; every refit stays in the audit log with its numbers.
        sqlx::query("DELETE FROM routing_models WHERE tenant_id = $1 AND version <= $2")
            .bind(tenant)
            .bind(version as i64 - KEPT_MODEL_VERSIONS)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The latest stored routing model of a tenant: (version, JSON).
    pub async fn latest_routing_model(&self, tenant: &str) -> Result<Option<(u64, String)>> {
        let row = sqlx::query(
            "SELECT version, body FROM routing_models WHERE tenant_id = $1 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get::<i64, _>("version")? as u64, r.try_get("body")?)))
            .transpose()
    }
}
