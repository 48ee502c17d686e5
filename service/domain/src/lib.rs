//! The routing domain of appeal-triage.
//!
//! Everything here is plain data and pure functions: deciding where an appeal
//! goes, how sure we are, which deadlines run, what must be masked before text
//! leaves the system of record. It knows nothing of HTTP, SQL or Qdrant; the
//! service crate feeds it neighbours and history and stores what it returns.

pub mod aliases;
pub mod category;
pub mod deadlines;
pub mod language;
pub mod pii;
pub mod place;
pub mod routing;
pub mod text;
pub mod urgency;

pub use place::{known_coordinates, Jurisdiction, Place};
pub mod address;
pub mod decision;

pub use decision::{
    Alternative, Deadline, Evidence, EvidenceCase, ModelStamp, NotRequest, NotRequestReason,
    Outcome, RouteInput, RoutingDecision, Signal, Urgency, UrgencyLevel,
};
