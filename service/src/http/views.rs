//! Wire shapes of the JSON API (requests and responses), kept apart from the
//! engine's types so the API stays stable when the engine changes. The routing
//! decision itself is the domain's [`RoutingDecision`], returned verbatim.

use serde::{Deserialize, Serialize};
use triage_domain::{Place, RoutingDecision};
use utoipa::ToSchema;

use crate::engine::{AppealView, NewAppeal, Submission};
use crate::record::{AppealStatus, AuditEntry, DecisionRow};

/// Where an appeal is about.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceDto {
    /// District.
    pub district: Option<String>,
    /// Municipality within the district.
    pub municipality: Option<String>,
    /// Latitude, degrees.
    pub lat: Option<f64>,
    /// Longitude, degrees.
    pub lon: Option<f64>,
    /// Free-form address.
    pub address: Option<String>,
}

impl From<PlaceDto> for Place {
    fn from(p: PlaceDto) -> Self {
        Place {
            district: p.district,
            municipality: p.municipality,
            lat: p.lat,
            lon: p.lon,
            address: p.address,
        }
    }
}

impl From<&Place> for PlaceDto {
    fn from(p: &Place) -> Self {
        PlaceDto {
            district: p.district.clone(),
            municipality: p.municipality.clone(),
            lat: p.lat,
            lon: p.lon,
            address: p.address.clone(),
        }
    }
}

/// A new appeal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The appeal text as the citizen wrote it.
    pub text: String,
    /// The portal's id: a repeat of the same id returns the stored appeal.
    pub external_id: Option<String>,
    /// Where it is about.
    #[serde(default)]
    pub place: Option<PlaceDto>,
    /// Channel it came through (`web`, `email`, `phone`, ...).
    pub channel: Option<String>,
    /// Applicant category (e.g. `veteran`): may make the appeal privileged.
    pub applicant_category: Option<String>,
    /// When the authority received it, unix ms; default now.
    pub received_at: Option<i64>,
    /// The category the citizen picked on the portal, general to specific:
    /// an array of at most 4 strings of at most 200 characters, or one string.
    #[serde(
        default,
        deserialize_with = "triage_domain::category::deserialize_path"
    )]
    #[schema(value_type = Option<Vec<String>>)]
    pub category: Vec<String>,
}

impl From<SubmitRequest> for NewAppeal {
    fn from(r: SubmitRequest) -> Self {
        NewAppeal {
            external_id: r.external_id,
            text: r.text,
            place: r.place.map(Place::from).unwrap_or_default(),
            channel: r.channel,
            applicant_category: r.applicant_category,
            received_at: r.received_at,
            category: r.category,
        }
    }
}

/// The answer to a submission.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubmitResponse {
    /// Appeal id.
    pub appeal_id: i64,
    /// False when the external id was already known (nothing changed).
    pub created: bool,
    /// Status after routing.
    #[schema(value_type = String, example = "needs_review")]
    pub status: AppealStatus,
    /// The routing decision (department, confidence, alternatives, evidence, deadlines...).
    #[schema(value_type = Object)]
    pub decision: RoutingDecision,
}

impl From<Submission> for SubmitResponse {
    fn from(s: Submission) -> Self {
        Self {
            appeal_id: s.appeal_id,
            created: s.created,
            status: s.status,
            decision: s.decision,
        }
    }
}

/// The answer to a preview: the decision a submission would get now; nothing stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewResponse {
    /// The routing decision (department, confidence, alternatives, evidence, deadlines...).
    #[schema(value_type = Object)]
    pub decision: RoutingDecision,
}

/// Up to the configured maximum (default 256) appeals at once.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The appeals: each is read on its own, so one malformed item gets its
    /// own error and the others are still stored and answered.
    #[schema(value_type = Vec<SubmitRequest>)]
    pub appeals: Vec<serde_json::Value>,
}

/// One item of a batch answer: the submission or why it failed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchItem {
    /// Position in the request.
    pub index: usize,
    /// The submission, when it succeeded.
    pub result: Option<SubmitResponse>,
    /// The error, when it failed.
    pub error: Option<super::error::ErrorDetail>,
}

/// The answer to a batch: one item per appeal, in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchResponse {
    /// Items.
    pub items: Vec<BatchItem>,
}

/// A decision or reroute on record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionDto {
    /// `accept`, `override` or `reroute`.
    pub kind: String,
    /// Department chosen, or the one that sent it back.
    pub department: Option<String>,
    /// Who (API key id).
    pub actor: String,
    /// Comment or reroute reason.
    pub reason: Option<String>,
    /// When, unix ms.
    pub at: i64,
}

impl From<DecisionRow> for DecisionDto {
    fn from(d: DecisionRow) -> Self {
        Self {
            kind: d.kind,
            department: d.department,
            actor: d.actor,
            reason: d.reason,
            at: d.at,
        }
    }
}

/// An appeal with its latest routing suggestion and the decisions on it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppealDto {
    /// Appeal id.
    pub id: i64,
    /// The portal's id.
    pub external_id: Option<String>,
    /// Status.
    #[schema(value_type = String, example = "needs_review")]
    pub status: AppealStatus,
    /// Assigned department (auto-routed or decided).
    pub department: Option<String>,
    /// The appeal text.
    pub text: String,
    /// Detected language.
    pub language: Option<String>,
    /// Place.
    pub place: PlaceDto,
    /// Channel.
    pub channel: Option<String>,
    /// Applicant category.
    pub applicant_category: Option<String>,
    /// The portal's category, general to specific (empty: none).
    pub category: Vec<String>,
    /// Received at, unix ms.
    pub received_at: i64,
    /// Earliest statutory deadline (ISO date), if any.
    pub deadline: Option<String>,
    /// Why the last department sent it back, when rerouted.
    pub reroute_reason: Option<String>,
    /// The latest routing decision.
    #[schema(value_type = Option<Object>)]
    pub suggestion: Option<RoutingDecision>,
    /// Decisions and reroutes, oldest first.
    pub decisions: Vec<DecisionDto>,
}

impl From<AppealView> for AppealDto {
    fn from(v: AppealView) -> Self {
        let a = v.appeal;
        let deadline = v
            .suggestion
            .as_ref()
            .and_then(|s| s.deadlines.iter().map(|d| d.due.clone()).min());
        let reroute_reason = if a.data.status == AppealStatus::Rerouted {
            v.decisions
                .iter()
                .rev()
                .find(|d| d.kind == "reroute")
                .and_then(|d| d.reason.clone())
        } else {
            None
        };
        Self {
            id: a.id,
            external_id: a.data.external_id,
            status: a.data.status,
            department: a.data.department,
            text: a.data.text,
            language: a.data.language,
            place: PlaceDto::from(&a.data.place),
            channel: a.data.channel,
            applicant_category: a.data.applicant_category,
            category: a.data.category,
            received_at: a.data.received_at,
            deadline,
            reroute_reason,
            suggestion: v.suggestion,
            decisions: v.decisions.into_iter().map(DecisionDto::from).collect(),
        }
    }
}

/// A page of appeals.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppealPage {
    /// Appeals, ascending by id.
    pub items: Vec<AppealDto>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// Accept or override the suggestion.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// The competent department; absent means accept the suggested one.
    pub department: Option<String>,
    /// Comment (why it was overridden).
    pub comment: Option<String>,
}

/// Send an appeal back as not competent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerouteRequest {
    /// Why the department is not competent.
    pub reason: String,
}

/// One line of the audit trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Position in the log.
    pub seq: i64,
    /// Who (`key:<id>`, `router`, `import`).
    pub actor: String,
    /// What (`appeal.created`, `appeal.suggested`, `appeal.accept`, `appeal.override`, `appeal.reroute`).
    pub action: String,
    /// When, unix ms.
    pub at: i64,
    /// Fingerprint of the model that made a suggestion.
    pub model_fingerprint: Option<String>,
    /// Case-memory version a suggestion was made with.
    pub case_memory_version: Option<u64>,
    /// Details (the decision for suggestions; department, reason... for decisions).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<AuditEntry> for HistoryEntry {
    fn from(e: AuditEntry) -> Self {
        let detail: serde_json::Value =
            serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::String(e.detail));
        let model = detail.get("model");
        Self {
            seq: e.seq,
            actor: e.actor,
            action: e.action,
            at: e.at,
            model_fingerprint: model
                .and_then(|m| m.get("fingerprint"))
                .and_then(|f| f.as_str())
                .map(str::to_string),
            case_memory_version: model
                .and_then(|m| m.get("case_memory_version"))
                .and_then(|v| v.as_u64()),
            detail,
        }
    }
}

/// The audit trail of an appeal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryResponse {
    /// Appeal id.
    pub appeal_id: i64,
    /// Entries, oldest first.
    pub entries: Vec<HistoryEntry>,
}
