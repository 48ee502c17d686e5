//! Annotations of a decision that do not depend on routing: urgency and deadlines.

use triage_domain::{Deadline, RouteInput, Urgency};

use crate::record::Tenant;

use super::Engine;

impl Engine {
    /// Urgency of the appeal from the rule list.
    pub(crate) fn urgency(&self, _input: &RouteInput) -> Urgency {
        Urgency::default()
    }

    /// Statutory deadlines of the tenant's jurisdiction from the received-at time.
    pub(crate) fn deadlines(&self, _tenant: &Tenant, _input: &RouteInput) -> Vec<Deadline> {
        Vec::new()
    }
}
