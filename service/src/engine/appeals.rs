//! The appeal workflow on the engine: submit (one or a batch), preview, read,
//! list, decide, reroute and history. Each routes or records through the
//! parent module's lookups and the case memory; HTTP and the CLI call these.

use std::sync::Arc;

use triage_domain::RoutingDecision;
use triage_models::Role;

use crate::metrics::{timed, Stage};
use crate::record::{
    now_ms, Appeal, AppealData, AppealQuery, AppealStatus, AuditEntry, SuggestionBody, Tenant,
};

use super::{parse_suggestion, AppealView, Engine, EngineError, NewAppeal, Result, Submission};

/// The comment on an auto-routed appeal confirmed because no department sent
/// it back in time.
pub const SILENCE: &str = "confirmed: no department sent it back in time";

impl Engine {
    /// Records an appeal, routes it and stores the suggestion. Idempotent on the
    /// external id: a repeat returns the stored appeal and its suggestion.
    pub async fn submit(
        self: &Arc<Self>,
        tenant: &str,
        a: NewAppeal,
        actor: &str,
    ) -> Result<Submission> {
        let mut out = self.submit_batch(tenant, vec![a], actor).await?;
        out.pop()
            .unwrap_or_else(|| Err(EngineError::Internal("empty batch result".into())))
    }

    /// Submits many appeals, embedding them together. Each gets its own result.
    pub async fn submit_batch(
        self: &Arc<Self>,
        tenant: &str,
        appeals: Vec<NewAppeal>,
        actor: &str,
    ) -> Result<Vec<Result<Submission>>> {
        let t = self.tenant(tenant).await?;
        let mut results: Vec<Option<Result<Submission>>> = Vec::with_capacity(appeals.len());
        let mut todo: Vec<(usize, NewAppeal, String)> = Vec::new();
        for (i, a) in appeals.into_iter().enumerate() {
            let a = match self.admit(a) {
                Ok(a) => a,
                Err(e) => {
                    results.push(Some(Err(e)));
                    continue;
                }
            };
            if let Some(ext) = &a.external_id {
                if let Some(existing) = self.memory.record().appeal_by_external(tenant, ext).await?
                {
                    results.push(Some(
                        self.existing_submission(tenant, existing, actor).await,
                    ));
                    continue;
                }
            }
            results.push(None);
            let redacted = triage_domain::pii::redact(&a.text).text;
            todo.push((i, a, redacted));
        }
        if todo.is_empty() {
            return Ok(results.into_iter().map(|r| r.expect("filled")).collect());
        }
        let vectors = self
            .memory
            .embed(
                todo.iter().map(|(_, _, r)| r.clone()).collect(),
                Role::Query,
            )
            .await?;
        for ((i, a, redacted), vector) in todo.into_iter().zip(vectors) {
            let r = self.submit_one(&t, a, redacted, &vector, actor).await;
            if let Ok(s) = &r {
                if s.created {
                    self.memory.remember_vector(s.appeal_id, vector);
                }
            }
            results[i] = Some(r);
        }
        // Applies this batch's index writes and any other request's pending
        // ones together (group commit), so the next appeal already sees them.
        timed(Stage::IndexWrite, self.memory.drain_outbox()).await?;
        Ok(results.into_iter().map(|r| r.expect("filled")).collect())
    }

    async fn submit_one(
        &self,
        t: &Tenant,
        a: NewAppeal,
        redacted: String,
        vector: &[f32],
        actor: &str,
    ) -> Result<Submission> {
        let received_at = a.received_at.unwrap_or_else(now_ms);
        let input = a.route_input(&t.id, redacted.clone(), received_at);
        // Route first, then write the appeal and its suggestion in one commit:
        // the appeal is acknowledged only once both are stored.
        let decision = self.route_vector(t, &input, vector, None).await?;
        let (status, department) = match decision.decision {
            triage_domain::Outcome::AutoRouted => {
                (AppealStatus::AutoRouted, decision.department.clone())
            }
            triage_domain::Outcome::NeedsReview => (AppealStatus::NeedsReview, None),
            triage_domain::Outcome::NotARequest => (AppealStatus::NotARequest, None),
        };
        let json =
            serde_json::to_string(&decision).map_err(|e| EngineError::Internal(e.to_string()))?;
        let data = AppealData {
            tenant_id: t.id.clone(),
            external_id: a.external_id,
            text: a.text,
            redacted_text: redacted,
            language: Some(decision.language.clone()),
            place: a.place,
            channel: a.channel,
            applicant_category: a.applicant_category,
            category: a.category,
            received_at,
            status,
            department,
            submitted_by: Some(actor.to_string()),
        };
        let suggestion = SuggestionBody {
            decision_json: &json,
            model: self.memory.fingerprint(),
            index_version: decision.model.case_memory_version,
        };
        let inserted = timed(
            Stage::Commit,
            self.memory
                .record()
                .insert_appeal_with(&data, actor, Some(&suggestion)),
        )
        .await?;
        if !inserted.created {
            // A concurrent submission with the same external id won.
            let existing = self
                .memory
                .record()
                .appeal(&t.id, inserted.id)
                .await?
                .ok_or(EngineError::UnknownAppeal(inserted.id))?;
            return self.existing_submission(&t.id, existing, actor).await;
        }
        Ok(Submission {
            appeal_id: inserted.id,
            created: true,
            status,
            decision,
        })
    }

    /// The answer to a repeated submission: the stored appeal, when the same
    /// submitter sent it. Another portal's (or imported history's) external
    /// id is a conflict, not a way to read someone else's appeal.
    async fn existing_submission(
        &self,
        tenant: &str,
        existing: Appeal,
        actor: &str,
    ) -> Result<Submission> {
        if existing.data.submitted_by.as_deref() != Some(actor) {
            return Err(EngineError::Conflict(
                "external_id is already used by another submitter of this tenant".into(),
            ));
        }
        let suggestion = self.suggestion(tenant, existing.id).await?;
        let decision = suggestion.ok_or_else(|| {
            EngineError::Conflict(format!(
                "appeal {} is recorded but not routed yet; retry shortly",
                existing.id
            ))
        })?;
        Ok(Submission {
            appeal_id: existing.id,
            created: false,
            status: existing.data.status,
            decision,
        })
    }

    async fn suggestion(&self, tenant: &str, id: i64) -> Result<Option<RoutingDecision>> {
        self.memory
            .record()
            .latest_suggestion(tenant, id)
            .await?
            .map(|json| parse_suggestion(&json))
            .transpose()
    }

    /// Routes an appeal without storing anything (shadow mode, previews).
    pub async fn preview(&self, tenant: &str, a: &NewAppeal) -> Result<RoutingDecision> {
        let a = &self.admit(a.clone())?;
        let t = self.tenant(tenant).await?;
        let redacted = triage_domain::pii::redact(&a.text).text;
        let vector = self
            .memory
            .embed(vec![redacted.clone()], Role::Query)
            .await?
            .pop()
            .ok_or_else(|| EngineError::Internal("no vector".into()))?;
        let input = a.route_input(&t.id, redacted, a.received_at.unwrap_or_else(now_ms));
        self.route_vector(&t, &input, &vector, None).await
    }

    /// The appeal with its suggestion and decisions.
    pub async fn appeal(&self, tenant: &str, id: i64) -> Result<Option<AppealView>> {
        let Some(appeal) = self.memory.record().appeal(tenant, id).await? else {
            return Ok(None);
        };
        Ok(Some(self.view(tenant, appeal).await?))
    }

    async fn view(&self, tenant: &str, appeal: Appeal) -> Result<AppealView> {
        let suggestion = self.suggestion(tenant, appeal.id).await?;
        let decisions = self.memory.record().decisions(tenant, appeal.id).await?;
        Ok(AppealView {
            appeal,
            suggestion,
            decisions,
        })
    }

    /// Appeals matching the query (paged by id).
    pub async fn list(&self, tenant: &str, q: AppealQuery) -> Result<Vec<AppealView>> {
        self.tenant(tenant).await?;
        let record = self.memory.record();
        let appeals = record.list_appeals(tenant, &q).await?;
        let ids: Vec<i64> = appeals.iter().map(|a| a.id).collect();
        let (mut suggestions, mut decisions) = record.trails(tenant, &ids).await?;
        appeals
            .into_iter()
            .map(|appeal| {
                let suggestion = suggestions
                    .remove(&appeal.id)
                    .map(|json| parse_suggestion(&json))
                    .transpose()?;
                Ok(AppealView {
                    suggestion,
                    decisions: decisions.remove(&appeal.id).unwrap_or_default(),
                    appeal,
                })
            })
            .collect()
    }

    /// Whether routing knows `department` for the tenant (catalogue or history).
    async fn known_department(&self, tenant: &str, department: &str) -> Result<bool> {
        let catalogue = self.memory.record().departments(tenant).await?;
        if let Some(d) = catalogue.iter().find(|d| d.code == department) {
            return Ok(d.active);
        }
        let state = self.state(tenant).await?;
        let in_history = state
            .areas
            .read()
            .map(|a| a.department_total(department) > 0)
            .unwrap_or(false);
        let in_head = state
            .model()
            .head
            .as_ref()
            .is_some_and(|h| h.classes.iter().any(|c| c == department));
        Ok(in_history || in_head)
    }

    /// A supervisor accepts or overrides the suggestion. The decision is in the
    /// case memory (record and index) before this returns, so the very next
    /// similar appeal is routed with it.
    pub async fn decide(
        self: &Arc<Self>,
        tenant: &str,
        id: i64,
        department: &str,
        comment: Option<&str>,
        actor: &str,
    ) -> Result<AppealView> {
        self.settle(tenant, id, department, comment, actor, false)
            .await
    }

    /// [`Engine::decide`]; `by_silence` for an auto-routed appeal confirmed
    /// because no department sent it back.
    ///
    /// The adaptive conformal level learns only from appeals whose outcome
    /// was not chosen by how they were routed: a supervisor's decision on an
    /// appeal routed or waiting for review. Confirmations by silence and
    /// decisions on sent-back appeals exist only for auto-routed appeals
    /// (one-department sets, right or wrong by selection); fed to the level,
    /// they read as a flood of misses and widened every set to hundreds of
    /// departments (Kyiv replay without supervisors, docs/routing.md). The
    /// recent-outcomes window takes them all: it learns how often a given
    /// confidence is right, which selection by confidence does not bias.
    async fn settle(
        self: &Arc<Self>,
        tenant: &str,
        id: i64,
        department: &str,
        comment: Option<&str>,
        actor: &str,
        by_silence: bool,
    ) -> Result<AppealView> {
        if department.trim().is_empty() {
            return Err(EngineError::InvalidInput("department is empty".into()));
        }
        let before = self
            .memory
            .record()
            .appeal(tenant, id)
            .await?
            .ok_or(EngineError::UnknownAppeal(id))?;
        let unselected = !by_silence && before.data.status != AppealStatus::Rerouted;
        if !self.known_department(tenant, department).await? {
            return Err(EngineError::UnknownDepartment(department.to_string()));
        }
        let suggestion = self.suggestion(tenant, id).await?;
        let suggested = suggestion.as_ref().and_then(|s| s.department.clone());
        let kind = if suggested.as_deref() == Some(department) {
            "accept"
        } else {
            "override"
        };
        let after = self
            .memory
            .record()
            .record_decision(tenant, id, kind, department, comment, actor)
            .await?;
        self.memory.drain_outbox().await?;
        let state = self.state(tenant).await?;
        // The record refuses a decision on a settled (decided or imported)
        // appeal, so this one confirms a case that was not counted before.
        let key = super::state::CaseKey {
            district: after.data.place.district.as_deref(),
            category: &after.data.category,
            received_at: after.data.received_at,
        };
        state.confirm(department, key, None);
        if let Some(s) = &suggestion {
            if unselected {
                let covered = s.prediction_set.iter().any(|d| d == department);
                let alpha = state.model().calibration.alpha;
                state.observe_coverage(covered, alpha, self.routing.conformal_gamma);
            }
            if s.department.is_some() {
                let fitted = s.model.fitted_confidence.unwrap_or(s.confidence);
                match state.observe_outcome(fitted, suggested.as_deref() == Some(department)) {
                    Some(true) => tracing::info!(
                        tenant,
                        target = self.routing.target_precision,
                        "auto-routing paused: recent outcomes put the target precision out of reach"
                    ),
                    Some(false) => tracing::info!(
                        tenant,
                        "auto-routing resumed: recent outcomes reach the target precision again"
                    ),
                    None => {}
                }
            }
        }
        self.maybe_refit(tenant, &state);
        self.view(tenant, after).await
    }

    /// Confirms the auto-routed appeals of `tenant` received before `before`
    /// (unix ms) that no department sent back: silence is consent. Each
    /// becomes a confirmed case (accepted by `system`), counts for the next
    /// appeal and is a right outcome for the recent-outcomes window (not for
    /// the adaptive conformal level: see `settle`); a department can still
    /// send it back later. Returns how many were
    /// confirmed. An appeal whose department has left the catalogue is left
    /// for a supervisor.
    pub async fn confirm_unreturned(self: &Arc<Self>, tenant: &str, before: i64) -> Result<usize> {
        let mut confirmed = 0;
        let mut skipped = 0i64;
        loop {
            let page = self
                .memory
                .record()
                .auto_routed_before(tenant, before, 200 + skipped)
                .await?;
            let fresh = page.len() as i64 - skipped;
            if fresh <= 0 {
                break;
            }
            for (id, department) in page.into_iter().skip(skipped as usize) {
                match self
                    .settle(tenant, id, &department, Some(SILENCE), "system", true)
                    .await
                {
                    Ok(_) => confirmed += 1,
                    // Still auto-routed: it heads the next page, skipped there.
                    Err(EngineError::UnknownDepartment(_)) => skipped += 1,
                    // Decided or sent back meanwhile: no longer in the set.
                    Err(EngineError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if fresh < 200 {
                break;
            }
        }
        Ok(confirmed)
    }

    /// A department sends the appeal back as not competent; it returns to review.
    pub async fn reroute(
        self: &Arc<Self>,
        tenant: &str,
        id: i64,
        reason: &str,
        actor: &str,
    ) -> Result<AppealView> {
        if reason.trim().is_empty() {
            return Err(EngineError::InvalidInput("a reroute needs a reason".into()));
        }
        let before = self
            .memory
            .record()
            .appeal(tenant, id)
            .await?
            .ok_or(EngineError::UnknownAppeal(id))?;
        if matches!(before.data.status, AppealStatus::Received) {
            return Err(EngineError::Conflict(format!(
                "appeal {id} is not routed yet"
            )));
        }
        let after = self
            .memory
            .record()
            .record_reroute(tenant, id, reason, actor)
            .await?;
        self.memory.drain_outbox().await?;
        if matches!(
            before.data.status,
            AppealStatus::Decided | AppealStatus::Imported
        ) {
            if let Some(d) = &before.data.department {
                let state = self.state(tenant).await?;
                let key = super::state::CaseKey {
                    district: before.data.place.district.as_deref(),
                    category: &before.data.category,
                    received_at: before.data.received_at,
                };
                state.unconfirm(d, key);
            }
        }
        self.view(tenant, after).await
    }

    /// The audit trail of an appeal.
    pub async fn history(&self, tenant: &str, id: i64) -> Result<Vec<AuditEntry>> {
        if self.memory.record().appeal(tenant, id).await?.is_none() {
            return Err(EngineError::UnknownAppeal(id));
        }
        Ok(self.memory.record().audit_trail(tenant, id).await?)
    }
}
