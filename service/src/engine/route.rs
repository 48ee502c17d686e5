//! Routing one appeal: neighbours from the case memory, the tenant's learned
//! state, the domain scorer, calibration, and the decision with its evidence.

use std::collections::HashMap;
use std::sync::Arc;

use triage_domain::routing::{
    decide, not_request, AreaStats, CategoryStats, Decided, DepartmentInfo, LexicalPlace,
    Neighbour, Policy, ScoreInput, Scored,
};
use triage_domain::{
    Evidence, EvidenceCase, ModelStamp, NotRequest, Outcome, RouteInput, RoutingDecision,
};
use triage_models::Role;

use crate::index::{CaseFilter, Hit};
use crate::metrics::{timed, Stage};
use crate::record::{Department, Tenant};

use super::lookup;
use super::state::{TenantModel, TenantState};
use super::{Engine, EngineError};

/// Characters of a past case shown as evidence.
const SNIPPET_CHARS: usize = 240;

impl Engine {
    /// Routes an appeal whose embedding is `vector`. Reads only; `exclude` is
    /// the appeal's own id when it is already stored.
    pub async fn route_vector(
        &self,
        tenant: &Tenant,
        input: &RouteInput,
        vector: &[f32],
        exclude: Option<i64>,
    ) -> Result<RoutingDecision, EngineError> {
        let state = self.state(&tenant.id).await?;
        let model = state.model();
        let k = self.routing.knn_k;
        let memory = &self.memory;
        let district = input.place.district.as_deref().filter(|d| !d.is_empty());
        // The lookups are independent: run them together, so a decision waits
        // for the slowest one rather than for their sum.
        let catalogue = timed(Stage::Catalogue, async {
            Ok::<_, EngineError>(memory.record().departments(&tenant.id).await?)
        });
        let global = timed(
            Stage::SearchGlobal,
            lookup::neighbours(memory, &tenant.id, vector, None, None, exclude, k),
        );
        let local = timed(Stage::SearchDistrict, async {
            match district {
                Some(d) => {
                    lookup::neighbours(memory, &tenant.id, vector, Some(d), None, exclude, k).await
                }
                None => Ok(Vec::new()),
            }
        });
        let spot = lookup::spot_of(&input.place, &input.text, self.routing.spot_from_address);
        let place = timed(Stage::SearchPlace, async {
            match &spot {
                Some(spot) => {
                    let q = lookup::SpotQuery {
                        exclude,
                        ..lookup::SpotQuery::new(&self.routing, spot, &input.category)
                    };
                    lookup::place_neighbours(memory, &tenant.id, vector, q).await
                }
                None => Ok(lookup::SpotCases::default()),
            }
        });
        let duplicates = timed(
            Stage::SearchDuplicates,
            self.duplicates(&tenant.id, input, vector, exclude),
        );
        let (departments, neighbours, local, place, (duplicate_of, campaign)) =
            tokio::try_join!(catalogue, global, local, place, duplicates)?;
        let scoring = std::time::Instant::now();
        let infos = self.department_infos(&state, &departments, vector).await?;
        let language = triage_domain::language::detect(&input.text);
        let contentless = !triage_domain::pii::has_content(&input.text);
        let head_input = model
            .head
            .as_deref()
            .map(|h| (h, h.input(vector, input.place.district.as_deref())));
        let lexical_input = model.lexical.as_deref().map(|l| {
            let place = LexicalPlace {
                district,
                municipality: input.place.municipality.as_deref(),
                category: &input.category,
            };
            (l, l.features(&input.text, place))
        });
        // The tenant's learned signal weights, if it has enough history.
        let learned = (model.calibration.weights.as_ref())
            .map(|w| self.scorer.with_weights(w.for_text(&input.text)));
        let scorer = learned.as_ref().unwrap_or(&self.scorer);
        let weights = scorer.params.weights;
        let scored = if contentless {
            Scored::default()
        } else {
            // Read under the locks (no await inside): the statistics are not copied per appeal.
            let empty = AreaStats::default();
            let no_categories = CategoryStats::default();
            let guard = state.areas.read();
            let categories = state.categories.read();
            let activity = state.activity.read();
            scorer.score(&ScoreInput {
                neighbours: &neighbours,
                local_neighbours: &local,
                place_neighbours: &place.all,
                place_category_neighbours: &place.same_category,
                area_neighbours: &place.around,
                area_category_neighbours: &place.around_category,
                head: head_input.as_ref().map(|(h, x)| (*h, x.as_slice())),
                lexical: lexical_input.as_ref().map(|(l, x)| (*l, x)),
                district: input.place.district.as_deref(),
                category: Some((
                    categories.as_deref().unwrap_or(&no_categories),
                    input.category.as_slice(),
                )),
                departments: &infos,
                areas: guard.as_deref().unwrap_or(&empty),
                confirmed_total: state.confirmed.load(std::sync::atomic::Ordering::Relaxed),
                activity: activity.as_deref().ok(),
                roles: &model.roles,
            })
        };
        let own_threshold = |code: &str| {
            departments
                .iter()
                .find(|x| x.code == code)
                .and_then(|d| d.auto_threshold)
        };
        let Decided {
            department,
            confidence,
            fitted_confidence,
            alternatives,
            prediction_set,
            outcome: decision,
            signals,
        } = {
            // Read under the lock (no await inside).
            let recent = state.recent.read();
            let policy = Policy {
                recent: recent.as_deref().ok(),
                calibration: &model.calibration,
                conformal_level: state.conformal_level(&model.calibration),
                weights: &weights,
                tenant_threshold: tenant.auto_threshold,
                language,
                contentless,
                category: &input.category,
            };
            decide(&scored, &policy, own_threshold)
        };
        let not_a_request = if contentless {
            None
        } else {
            self.not_request(&state, &model, input, vector, campaign.as_deref())
        };
        let decision = if not_a_request.is_some() {
            Outcome::NotARequest
        } else {
            decision
        };
        crate::metrics::observe_stage(Stage::Score, scoring.elapsed());
        let cases = timed(Stage::Evidence, self.evidence(&neighbours)).await?;
        let neighbour_texts: Vec<String> = cases.iter().map(|c| c.snippet.clone()).collect();
        let urgency = self.urgency(tenant, input, &neighbour_texts);
        let evidence = Evidence { cases, signals };
        let language = language.as_str().to_string();
        Ok(RoutingDecision {
            department,
            confidence,
            alternatives,
            prediction_set,
            decision,
            not_a_request,
            evidence,
            language,
            urgency,
            duplicate_of,
            campaign,
            deadlines: self.deadlines(tenant, input),
            model: ModelStamp {
                fingerprint: self.memory.fingerprint().to_string(),
                case_memory_version: self.memory.index().version(),
                head_version: model.version,
                fitted_confidence: (fitted_confidence != confidence).then_some(fitted_confidence),
            },
        })
    }

    /// Whether the appeal is not a request, by the tenant's rules (see
    /// [`triage_domain::routing::not_request`]).
    fn not_request(
        &self,
        state: &TenantState,
        model: &TenantModel,
        input: &RouteInput,
        vector: &[f32],
        campaign: Option<&str>,
    ) -> Option<NotRequest> {
        let marked = state.not_request_paths.read().ok()?;
        let rules = not_request::Rules {
            detector: model.not_request.as_deref(),
            marked: &marked,
            campaign_min_chars: self
                .routing
                .campaign_not_request
                .then_some(self.routing.campaign_min_chars),
        };
        let evidence = not_request::Evidence {
            embedding: vector,
            text: &input.text,
            category: &input.category,
            campaign,
        };
        not_request::find(&evidence, &rules)
    }

    /// Catalogue entries with the appeal's similarity to each description.
    async fn department_infos(
        &self,
        state: &Arc<TenantState>,
        departments: &[Department],
        vector: &[f32],
    ) -> Result<Vec<DepartmentInfo>, EngineError> {
        let empty = HashMap::new();
        let stale: Vec<(String, String)> = {
            let guard = state.descriptions.read();
            let cached = guard.as_deref().unwrap_or(&empty);
            departments
                .iter()
                .filter(|d| !d.description.trim().is_empty())
                .filter(|d| cached.get(&d.code).map(|(t, _)| t) != Some(&d.description))
                .map(|d| (d.code.clone(), d.description.clone()))
                .collect()
        };
        if !stale.is_empty() {
            let texts = stale.iter().map(|(_, t)| t.clone()).collect();
            let vectors = self.memory.embed(texts, Role::Passage).await?;
            if let Ok(mut c) = state.descriptions.write() {
                for ((code, text), v) in stale.into_iter().zip(vectors) {
                    c.insert(code, (text, v));
                }
            }
        }
        let guard = state.descriptions.read();
        let cached = guard.as_deref().unwrap_or(&empty);
        Ok(departments
            .iter()
            .map(|d| DepartmentInfo {
                code: d.code.clone(),
                active: d.active,
                areas: d.areas.clone(),
                description_similarity: cached
                    .get(&d.code)
                    .filter(|(t, _)| *t == d.description)
                    .map(|(_, v)| triage_models::cosine(v, vector)),
            })
            .collect())
    }

    /// The best neighbours with redacted snippets from the record.
    async fn evidence(&self, neighbours: &[Neighbour]) -> Result<Vec<EvidenceCase>, EngineError> {
        let top: Vec<&Neighbour> = neighbours
            .iter()
            .take(self.routing.evidence_cases)
            .collect();
        let mut ids: Vec<i64> = top.iter().map(|n| n.id).collect();
        ids.sort_unstable();
        let texts: HashMap<i64, String> = self
            .memory
            .record()
            .appeals_by_ids(&ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a.data.redacted_text))
            .collect();
        Ok(top
            .into_iter()
            .map(|n| EvidenceCase {
                id: n.id,
                snippet: texts.get(&n.id).map(|t| snippet(t)).unwrap_or_default(),
                department: Some(n.department.clone()),
                similarity: n.similarity,
                received_at: n.received_at,
                district: n.district.clone(),
            })
            .collect())
    }

    /// A near-identical appeal from the same place within the window, and the
    /// campaign (group of many near-identical appeals) this one belongs to.
    async fn duplicates(
        &self,
        tenant: &str,
        input: &RouteInput,
        vector: &[f32],
        exclude: Option<i64>,
    ) -> Result<(Option<i64>, Option<String>), EngineError> {
        let window = self.routing.duplicate_days.max(0) * 86_400_000;
        let filter = CaseFilter {
            received_from: Some(input.received_at - window),
            received_before: Some(input.received_at + 1),
            ..CaseFilter::tenant(tenant)
        };
        let hits: Vec<Hit> = self
            .memory
            .search(vector, filter, 32)
            .await?
            .into_iter()
            .filter(|h| Some(h.id as i64) != exclude)
            .collect();
        let same_place = |h: &Hit| match (&input.place.district, &h.payload.district) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let duplicate_of = hits
            .iter()
            .filter(|h| h.score >= self.routing.duplicate_similarity && same_place(h))
            .map(|h| h.id as i64)
            .min();
        let campaign_members: Vec<i64> = hits
            .iter()
            .filter(|h| h.score >= self.routing.campaign_similarity)
            .map(|h| h.id as i64)
            .collect();
        let campaign = (campaign_members.len() + 1 >= self.routing.campaign_min.max(2))
            .then(|| campaign_members.iter().min().map(|id| format!("c{id}")))
            .flatten();
        Ok((duplicate_of, campaign))
    }
}

fn snippet(text: &str) -> String {
    let mut s: String = text.chars().take(SNIPPET_CHARS).collect();
    if text.chars().count() > SNIPPET_CHARS {
        s.push('…');
    }
    s
}
