//! Rows of the system of record, as plain data.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use triage_domain::{Jurisdiction, Place};

/// An authority using the service; every other row belongs to one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// Stable identifier (URL-safe).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Deadline rules in force.
    pub jurisdiction: Jurisdiction,
    /// Conformal miscoverage level (default 0.1: sets contain the right department 90% of the time).
    pub alpha: f64,
    /// Confidence at or above which a suggestion is routed without review.
    pub auto_threshold: f64,
}

/// Why a tenant's settings are refused: the field and what it must be.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidTenant {
    /// The field at fault (`id`, `name`, `alpha`, `auto_threshold`).
    pub field: &'static str,
    /// What it must be.
    pub message: String,
}

impl Tenant {
    /// Checks every field of a tenant being created, the one rule for every
    /// edge (JSON API, operator API, command line): an id of 1 to 64 of
    /// `a-z 0-9 - _` starting with a letter or digit, then
    /// [`Tenant::check_settings`]: a name of 1 to 200 characters, `alpha`
    /// strictly between 0 and 1, `auto_threshold` between 0 and 1.
    pub fn check(&self) -> Result<(), InvalidTenant> {
        let id = &self.id;
        let id_ok = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && id.as_bytes()[0].is_ascii_alphanumeric();
        if !id_ok {
            return Err(InvalidTenant {
                field: "id",
                message: format!(
                    "{id:?}: 1 to 64 of a-z, 0-9, '-', '_', starting with a letter or digit"
                ),
            });
        }
        self.check_settings()
    }

    /// [`Tenant::check`] without the id: for a change to a tenant that already
    /// exists, whose id was judged when it was created.
    pub fn check_settings(&self) -> Result<(), InvalidTenant> {
        let bad = |field, message: String| Err(InvalidTenant { field, message });
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return bad("name", "1 to 200 characters".into());
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad(
                "alpha",
                format!("must be strictly between 0 and 1; got {}", self.alpha),
            );
        }
        if !(0.0..=1.0).contains(&self.auto_threshold) {
            return bad(
                "auto_threshold",
                format!("must be between 0 and 1; got {}", self.auto_threshold),
            );
        }
        Ok(())
    }
}

/// A department (organisation, agency) appeals can be routed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Department {
    /// Owning tenant.
    pub tenant_id: String,
    /// Code, unique within the tenant.
    pub code: String,
    /// Names by language code (`uk`, `ru`, `kk`, `en`).
    pub names: BTreeMap<String, String>,
    /// What the department handles: used to route before any history exists.
    pub description: String,
    /// Areas (districts, municipalities) it serves; empty means everywhere.
    pub areas: Vec<String>,
    /// Department-specific auto-routing threshold, overriding the tenant's.
    pub auto_threshold: Option<f64>,
    /// Inactive departments receive no new appeals.
    pub active: bool,
}

/// Life cycle of an appeal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealStatus {
    /// Stored, not yet routed.
    Received,
    /// Routed automatically with high confidence.
    AutoRouted,
    /// Waiting for a supervisor.
    NeedsReview,
    /// A supervisor confirmed or chose the department.
    Decided,
    /// Sent back by a department as not competent; back in review.
    Rerouted,
    /// Historical case imported with its known department.
    Imported,
    /// Not a request (thanks, a campaign's repeated text): stored, sent to
    /// no department; a supervisor may still route it.
    NotARequest,
}

impl AppealStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::AutoRouted => "auto_routed",
            Self::NeedsReview => "needs_review",
            Self::Decided => "decided",
            Self::Rerouted => "rerouted",
            Self::Imported => "imported",
            Self::NotARequest => "not_a_request",
        }
    }
}

impl FromStr for AppealStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "received" => Self::Received,
            "auto_routed" => Self::AutoRouted,
            "needs_review" => Self::NeedsReview,
            "decided" => Self::Decided,
            "rerouted" => Self::Rerouted,
            "imported" => Self::Imported,
            "not_a_request" => Self::NotARequest,
            other => return Err(format!("unknown appeal status {other:?}")),
        })
    }
}

/// What an appeal says: everything but its record id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppealData {
    /// Owning tenant.
    pub tenant_id: String,
    /// The portal's id; repeats are idempotent.
    pub external_id: Option<String>,
    /// Original text (kept only here).
    pub text: String,
    /// Text with personal data masked (what is embedded, logged and shown).
    pub redacted_text: String,
    /// Detected language.
    pub language: Option<String>,
    /// Place.
    pub place: Place,
    /// Channel it came through (web, phone, mail, open311, …).
    pub channel: Option<String>,
    /// Applicant category (e.g. privileged by law).
    pub applicant_category: Option<String>,
    /// The portal's category, general to specific (empty: none).
    #[serde(default)]
    pub category: Vec<String>,
    /// When the authority received it, unix ms.
    pub received_at: i64,
    /// Status.
    pub status: AppealStatus,
    /// Known, suggested or confirmed department.
    pub department: Option<String>,
    /// Who submitted it through the API (the key's audit actor, `key:<id>`);
    /// `None` for imported history. Decides whether a portal key may read
    /// its text.
    #[serde(default)]
    pub submitted_by: Option<String>,
}

impl AppealData {
    /// The address it names, as a key (`triage_domain::address`): the
    /// portal's address first, else the first one its redacted text names.
    pub fn address_key(&self) -> Option<String> {
        address_key(&self.place, &self.redacted_text)
    }
}

/// The address key of a place and a (redacted) text: the place's address
/// string first, else the first address the text names.
pub fn address_key(place: &Place, text: &str) -> Option<String> {
    place
        .address
        .as_deref()
        .and_then(triage_domain::address::key_of_address)
        .or_else(|| triage_domain::address::key(text))
}

/// A stored appeal: its record id and what it says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appeal {
    /// Record id (also the vector-index point id).
    pub id: i64,
    /// The appeal as submitted (and updated by routing and decisions).
    pub data: AppealData,
}

/// Result of an idempotent insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// The appeal's id.
    pub id: i64,
    /// False when the (tenant, external id) was already stored.
    pub created: bool,
}

/// A pending write to the vector index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Position in the outbox.
    pub seq: i64,
    /// The appeal to (re)index.
    pub appeal_id: i64,
    /// `upsert` or `delete`.
    pub op: String,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Position in the log.
    pub seq: i64,
    /// Who (API key id, supervisor, `import`, `system`).
    pub actor: String,
    /// What (`appeal.created`, `decision.override`, …).
    pub action: String,
    /// JSON details.
    pub detail: String,
    /// When, unix ms.
    pub at: i64,
}

/// Confirmed cases of a tenant with one (department, district, category).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseCount {
    /// Department.
    pub department: String,
    /// District, when given.
    pub district: Option<String>,
    /// The portal's category (empty: none).
    pub category: Vec<String>,
    /// Cases.
    pub n: i64,
}

/// A confirmed case near a point (see `Record::nearby_confirmed`).
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyCase {
    /// Appeal id.
    pub id: i64,
    /// Its department.
    pub department: String,
    /// Received at, unix ms.
    pub received_at: i64,
    /// The portal's category (empty: none).
    pub category: Vec<String>,
    /// Distance from the spot asked about, metres (0 for a case found by
    /// its address).
    pub distance_m: f64,
}
