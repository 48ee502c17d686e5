//! What routing answers for every appeal: the wire-stable shape shared by the
//! HTTP API, the audit log and the eval tools.

use serde::{Deserialize, Serialize};

use crate::Place;

/// Everything routing looks at for one appeal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteInput {
    /// Tenant the appeal belongs to.
    pub tenant: String,
    /// Text with personal data already masked (see [`crate::pii`]).
    pub text: String,
    /// Where the appeal is about.
    pub place: Place,
    /// Received at, unix milliseconds.
    pub received_at: i64,
    /// Channel it arrived by (portal, email, open311, ...).
    pub channel: Option<String>,
    /// Applicant category (e.g. `veteran`, `disabled`): may make the appeal privileged.
    pub applicant_category: Option<String>,
    /// The category the citizen picked on the portal, general to specific
    /// (empty: none; see [`crate::category`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category: Vec<String>,
}

/// Whether the suggestion can go straight to the department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Confidence reached the threshold: routed without review.
    AutoRouted,
    /// A supervisor has to look at it.
    NeedsReview,
    /// Not a request for a department to act on (thanks, a campaign's
    /// repeated text): stored, not sent anywhere; see
    /// [`RoutingDecision::not_a_request`].
    NotARequest,
}

/// What found an appeal not to be a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotRequestReason {
    /// The citizen picked a category the tenant marks as not a request
    /// (e.g. "Подяки двірникам ЖЕКу").
    Category,
    /// The text reads like the tenant's past appeals of such categories
    /// (a detector learned from its history, with a precision target).
    Text,
    /// It repeats the text of a campaign (many near-identical appeals); only
    /// where the tenant's configuration asks for it.
    Campaign,
}

impl NotRequestReason {
    /// Wire form (`category`, `text`, `campaign`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Category => "category",
            Self::Text => "text",
            Self::Campaign => "campaign",
        }
    }
}

/// Why an appeal is not a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotRequest {
    /// What found it.
    pub reason: NotRequestReason,
    /// The detector's probability that the text is not a request (reason `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// For a person: what was found (the category, the probability and the
    /// detector's threshold, the campaign).
    pub note: String,
}

/// One candidate department with its calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    /// Department code.
    pub department: String,
    /// Calibrated probability that this is the competent department.
    pub probability: f64,
}

/// A past case that supports the suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceCase {
    /// Appeal id in the system of record.
    pub id: i64,
    /// Redacted snippet of its text.
    pub snippet: String,
    /// Its confirmed department.
    pub department: Option<String>,
    /// Cosine similarity to the new appeal.
    pub similarity: f32,
    /// When it was received, unix ms.
    pub received_at: i64,
    /// Its district, if known.
    pub district: Option<String>,
}

/// How much one signal contributed to the top suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// `text_neighbours`, `text_model`, `place`, `descriptions`, ...
    pub name: String,
    /// Probability this signal alone gives the suggested department.
    pub probability: f64,
    /// Human-readable note (e.g. "department serves district X").
    pub note: String,
    /// Weight of this signal in the combination behind the suggestion: the
    /// tenant's learned weight for appeals of this length, or the configured
    /// one. Absent for signals outside the weighted sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

/// Why the suggestion is what it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Most similar past cases, best first.
    pub cases: Vec<EvidenceCase>,
    /// Signals behind the top suggestion.
    pub signals: Vec<Signal>,
}

/// How urgent an appeal is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrgencyLevel {
    /// Ordinary.
    #[default]
    Normal,
    /// Privileged applicant or a hint of harm: before ordinary appeals.
    High,
    /// Danger to life or health, outage in winter: at once.
    Critical,
}

/// Urgency with the rules that fired.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Urgency {
    /// Level.
    pub level: UrgencyLevel,
    /// Ids of the rules that fired, and neighbour evidence.
    pub reasons: Vec<String>,
}

/// One statutory deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deadline {
    /// What must happen (`forward`, `register`, `answer`, `answer_max`, `notify_not_competent`).
    pub kind: String,
    /// Due date, ISO 8601 (`YYYY-MM-DD`), inclusive.
    pub due: String,
    /// Legal citation of the rule.
    pub citation: String,
}

/// Which model and which case memory made the decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelStamp {
    /// Embedding model fingerprint (sha256 of weights and tokenizer).
    pub fingerprint: String,
    /// Case-memory (vector index) version at decision time.
    pub case_memory_version: u64,
    /// Version of the fitted routing head and calibration.
    pub head_version: u64,
    /// The confidence the fitted calibration gave, before the latest
    /// confirmed outcomes reshaped it into `confidence` (absent when they
    /// did not apply); what the tenant's recent outcomes learn from when
    /// this appeal is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted_confidence: Option<f64>,
}

/// The routing decision returned for every appeal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingDecision {
    /// Suggested department, or `None` when abstaining (no department known).
    pub department: Option<String>,
    /// Calibrated probability that `department` is right.
    pub confidence: f64,
    /// Top departments with probabilities, best first (includes `department`).
    pub alternatives: Vec<Alternative>,
    /// Smallest set containing the right department with probability >= 1 - alpha.
    pub prediction_set: Vec<String>,
    /// Auto-routed, needs review, or not a request.
    pub decision: Outcome,
    /// Why the appeal is not a request (`decision` = `not_a_request`); the
    /// department fields still say who it concerns (whom the thanks are for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_a_request: Option<NotRequest>,
    /// Similar past cases and signals.
    pub evidence: Evidence,
    /// Detected language: `uk`, `ru`, `kk`, `en`, `mixed` or `other`.
    pub language: String,
    /// Urgency.
    pub urgency: Urgency,
    /// A near-identical appeal from the same place within the duplicate window.
    pub duplicate_of: Option<i64>,
    /// Group id of a campaign of many near-identical appeals.
    pub campaign: Option<String>,
    /// Statutory deadlines from the received-at time.
    pub deadlines: Vec<Deadline>,
    /// Model and case-memory versions.
    pub model: ModelStamp,
}
