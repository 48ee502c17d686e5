//! Annotations of a decision that do not depend on routing: urgency and
//! statutory deadlines, from the rule files of the tenant's jurisdiction.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use triage_domain::deadlines::{self, Calendar, DeadlineContext, RuleSet};
use triage_domain::urgency::{self, UrgencyRules};
use triage_domain::{Deadline, Jurisdiction, RouteInput, Urgency, UrgencyLevel};

use crate::record::Tenant;

use super::Engine;

/// Rules of one jurisdiction, parsed once.
pub(crate) struct JurisdictionRules {
    deadlines: RuleSet,
    calendar: Calendar,
    urgency: UrgencyRules,
}

/// Offset of the authority's local time from UTC, for due dates. The tenant
/// record has no time zone yet; these are the official zones of the capitals
/// (Kyiv EET, Moscow MSK, Kazakhstan UTC+5 since 2024), without summer time:
/// an appeal received within an hour of midnight may get a due date a day off.
fn utc_offset_minutes(j: Jurisdiction) -> i32 {
    match j {
        Jurisdiction::Ua => 120,
        Jurisdiction::Ru => 180,
        Jurisdiction::Kz => 300,
    }
}

pub(crate) fn rules(j: Jurisdiction) -> Arc<JurisdictionRules> {
    static CACHE: OnceLock<std::sync::Mutex<HashMap<&'static str, Arc<JurisdictionRules>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(j.as_str())
        .or_insert_with(|| {
            Arc::new(JurisdictionRules {
                deadlines: RuleSet::builtin(j),
                calendar: Calendar::builtin(j),
                urgency: UrgencyRules::builtin(j),
            })
        })
        .clone()
}

impl Engine {
    /// Urgency from the rule list, raised when most of the nearest similar
    /// cases (`neighbour_texts`, assessed by the same rules) were urgent.
    pub(crate) fn urgency(
        &self,
        tenant: &Tenant,
        input: &RouteInput,
        neighbour_texts: &[String],
    ) -> Urgency {
        let r = rules(tenant.jurisdiction);
        let levels: Vec<UrgencyLevel> = neighbour_texts
            .iter()
            .map(|t| urgency::assess(&r.urgency, t, input.received_at, None, &[]).level)
            .collect();
        urgency::assess(
            &r.urgency,
            &input.text,
            input.received_at,
            input.applicant_category.as_deref(),
            &levels,
        )
    }

    /// Statutory deadlines of the tenant's jurisdiction from the received-at time.
    pub(crate) fn deadlines(&self, tenant: &Tenant, input: &RouteInput) -> Vec<Deadline> {
        let r = rules(tenant.jurisdiction);
        let ctx = DeadlineContext {
            privileged: input
                .applicant_category
                .as_deref()
                .is_some_and(|c| r.deadlines.is_privileged(c)),
            needs_extra_study: None,
            registered_at_ms: None,
        };
        match deadlines::compute(
            &r.deadlines,
            &r.calendar,
            input.received_at,
            utc_offset_minutes(tenant.jurisdiction),
            &ctx,
        ) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(tenant = %tenant.id, error = %e, "deadlines not computed");
                Vec::new()
            }
        }
    }
}
