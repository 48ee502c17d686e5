//! What routing reads about past cases for one appeal: their texts and places
//! from the record, their nearest neighbours from the index, and the cases
//! from the same spot.

use std::collections::HashMap;

use triage_domain::routing::{LexicalPlace, Neighbour};

use crate::index::{CaseFilter, CasePoint};
use crate::memory::{confirmed_statuses, CaseMemory};
use crate::record::{address_key, AppealStatus, NearbyCase, Place};

use super::{EngineError, RoutingConfig};

/// What the record adds to a case's vector and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseDetail {
    /// Redacted text (the lexical model's input).
    pub text: String,
    /// Where its building is: coordinates when given and valid, else the
    /// address it names.
    pub spot: Option<Spot>,
    /// Municipality, when given.
    pub municipality: Option<String>,
    /// The portal's category (empty: none).
    pub category: Vec<String>,
}

impl CaseDetail {
    /// The case's place as the lexical model sees it.
    pub fn lexical_place<'a>(&'a self, district: Option<&'a str>) -> LexicalPlace<'a> {
        LexicalPlace {
            district,
            municipality: self.municipality.as_deref(),
            category: &self.category,
        }
    }
}

/// Record details of cases, by appeal id.
pub type CaseTexts = HashMap<u64, CaseDetail>;

/// Reads the redacted texts and spots of cases from the record (an address
/// stands in for missing coordinates when `from_address`).
pub async fn case_texts(
    memory: &CaseMemory,
    cases: &[CasePoint],
    from_address: bool,
) -> Result<CaseTexts, EngineError> {
    let mut out = HashMap::with_capacity(cases.len());
    for chunk in cases.chunks(2000) {
        let ids: Vec<i64> = chunk.iter().map(|c| c.id as i64).collect();
        for a in memory.record().appeals_by_ids(&ids).await? {
            let spot = spot_of(&a.data.place, &a.data.redacted_text, from_address);
            out.insert(
                a.id as u64,
                CaseDetail {
                    text: a.data.redacted_text,
                    spot,
                    municipality: a.data.place.municipality,
                    category: a.data.category,
                },
            );
        }
    }
    Ok(out)
}

/// Where an appeal's building is, for the same-spot signals.
#[derive(Debug, Clone, PartialEq)]
pub enum Spot {
    /// Valid coordinates (latitude, longitude).
    Coordinates(f64, f64),
    /// No coordinates: the address it names, as a key
    /// (`triage_domain::address`).
    Address(String),
}

/// The spot of a place and a (redacted) text: its coordinates when valid,
/// else, when `from_address`, the address the place or the text names.
pub fn spot_of(place: &Place, text: &str, from_address: bool) -> Option<Spot> {
    match valid_spot(place.lat, place.lon) {
        Some((lat, lon)) => Some(Spot::Coordinates(lat, lon)),
        None if from_address => address_key(place, text).map(Spot::Address),
        None => None,
    }
}

/// Coordinates usable for a same-spot search (both given, finite, in range,
/// and not 0/0: the placeholder exports write for "no coordinates", which
/// would make every such appeal "the same building" as every other).
pub fn valid_spot(lat: Option<f64>, lon: Option<f64>) -> Option<(f64, f64)> {
    let (lat, lon) = triage_domain::known_coordinates(lat, lon);
    let (lat, lon) = (lat?, lon?);
    (lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0)
        .then_some((lat, lon))
}

#[cfg(test)]
mod tests {
    use super::valid_spot;

    #[test]
    fn only_real_coordinates_are_a_spot() {
        assert_eq!(valid_spot(Some(50.45), Some(30.52)), Some((50.45, 30.52)));
        assert_eq!(valid_spot(Some(0.0), Some(30.52)), Some((0.0, 30.52)));
        for (lat, lon) in [
            (Some(0.0), Some(0.0)),
            (Some(-0.0), Some(0.0)),
            (Some(91.0), Some(30.0)),
            (Some(50.0), Some(200.0)),
            (Some(f64::NAN), Some(30.0)),
            (None, Some(30.0)),
        ] {
            assert_eq!(valid_spot(lat, lon), None, "{lat:?} {lon:?}");
        }
    }
}

/// Confirmed cases from the same spot as an appeal: all of them, and those
/// with the appeal's own category; and, around a spot with little history of
/// its own, the nearest cases of the surrounding streets.
#[derive(Debug, Clone, Default)]
pub struct SpotCases {
    /// Every confirmed case within the radius.
    pub all: Vec<Neighbour>,
    /// Those with the same category path (empty without a category).
    pub same_category: Vec<Neighbour>,
    /// The nearest confirmed cases around the spot (when it has fewer than
    /// [`AREA_BELOW`] of its own), nearest first.
    pub around: Vec<Neighbour>,
    /// The nearest of them with the same category path.
    pub around_category: Vec<Neighbour>,
}

/// A spot with fewer confirmed cases than this asks its surroundings.
pub const AREA_BELOW: usize = 3;

/// Most cases read around a spot before the nearest are chosen (the most
/// recent first): bounds the work of a spot in a dense district.
const AREA_READ: usize = 400;

/// Where and what to look for at a spot.
#[derive(Debug, Clone, Copy)]
pub struct SpotQuery<'a> {
    /// The spot.
    pub spot: &'a Spot,
    /// Radius around coordinates, metres.
    pub radius_m: f64,
    /// Most cases read.
    pub limit: usize,
    /// Only cases received before this (unix ms).
    pub before: Option<i64>,
    /// The appeal itself, when stored.
    pub exclude: Option<i64>,
    /// The appeal's category (empty: none).
    pub category: &'a [String],
    /// Radius (metres) and number of the nearest cases around a spot with
    /// little history of its own; radius 0: not asked.
    pub area: (f64, usize),
}

impl<'a> SpotQuery<'a> {
    /// A query at `spot` for an appeal of `category` with the routing
    /// configuration's radius, count and area; no time bound, nothing
    /// excluded.
    pub fn new(routing: &RoutingConfig, spot: &'a Spot, category: &'a [String]) -> Self {
        Self {
            spot,
            radius_m: routing.spot_radius_m,
            limit: routing.spot_max_cases,
            before: None,
            exclude: None,
            category,
            area: (routing.area_radius_m, routing.area_max_cases),
        }
    }
}

/// Two category paths name the same category (levels compared trimmed and
/// case-insensitively).
fn same_category(a: &[String], b: &[String]) -> bool {
    use triage_domain::routing::category::normalise;
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| normalise(x) == normalise(y))
}

/// Confirmed cases near a spot (within `radius_m` of its coordinates, or
/// naming its address; received before `before`, without `exclude`), with
/// their similarity to `vector`: the same building's or yard's history.
/// Reads the record for the spot, the index for vectors.
pub async fn place_neighbours(
    memory: &CaseMemory,
    tenant: &str,
    vector: &[f32],
    q: SpotQuery<'_>,
) -> Result<SpotCases, EngineError> {
    if q.radius_m <= 0.0 || q.limit == 0 {
        return Ok(SpotCases::default());
    }
    let record = memory.record();
    let near = match q.spot {
        Spot::Coordinates(lat, lon) => {
            record
                .nearby_confirmed(tenant, *lat, *lon, q.radius_m, q.before, q.limit + 1)
                .await?
        }
        Spot::Address(key) => {
            record
                .confirmed_at_address(tenant, key, q.before, q.limit + 1)
                .await?
        }
    };
    let near: Vec<NearbyCase> = near
        .into_iter()
        .filter(|c| Some(c.id) != q.exclude)
        .take(q.limit)
        .collect();
    let (around, around_same) = match q.spot {
        Spot::Coordinates(lat, lon) if near.len() < AREA_BELOW => {
            around_spot(memory, tenant, (*lat, *lon), &q, &near).await?
        }
        _ => (Vec::new(), Vec::new()),
    };
    if near.is_empty() && around.is_empty() {
        return Ok(SpotCases::default());
    }
    let mut ids: Vec<u64> = near
        .iter()
        .chain(&around)
        .chain(&around_same)
        .map(|c| c.id as u64)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let points = memory.index().retrieve(ids).await?;
    let points: HashMap<u64, CasePoint> = points.into_iter().map(|p| (p.id, p)).collect();
    let neighbour = |c: &NearbyCase| {
        let p = points.get(&(c.id as u64))?;
        Some(Neighbour {
            id: c.id,
            department: c.department.clone(),
            district: None,
            similarity: p.vector.iter().zip(vector).map(|(a, b)| a * b).sum(),
            received_at: c.received_at,
            decided: p.payload.status == AppealStatus::Decided.as_str(),
        })
    };
    let mut out = SpotCases::default();
    for c in &near {
        let Some(n) = neighbour(c) else {
            continue;
        };
        if !q.category.is_empty() && same_category(&c.category, q.category) {
            out.same_category.push(n.clone());
        }
        out.all.push(n);
    }
    out.around = around.iter().filter_map(neighbour).collect();
    out.around_category = around_same.iter().filter_map(neighbour).collect();
    Ok(out)
}

/// The nearest confirmed cases around a spot (within `q.area`'s radius, not
/// already among the spot's own `near` cases), and the nearest of them with
/// the appeal's category: the surrounding streets' history, where the
/// building has little of its own. Empty when `q.area` is off.
async fn around_spot(
    memory: &CaseMemory,
    tenant: &str,
    (lat, lon): (f64, f64),
    q: &SpotQuery<'_>,
    near: &[NearbyCase],
) -> Result<(Vec<NearbyCase>, Vec<NearbyCase>), EngineError> {
    let (radius, k) = q.area;
    if radius <= 0.0 || k == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut wide: Vec<NearbyCase> = memory
        .record()
        .nearby_confirmed(tenant, lat, lon, radius, q.before, AREA_READ)
        .await?
        .into_iter()
        .filter(|c| Some(c.id) != q.exclude && !near.iter().any(|n| n.id == c.id))
        .collect();
    wide.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    let same: Vec<NearbyCase> = if q.category.is_empty() {
        Vec::new()
    } else {
        wide.iter()
            .filter(|c| same_category(&c.category, q.category))
            .take(k)
            .cloned()
            .collect()
    };
    wide.truncate(k);
    Ok((wide, same))
}

/// The `k` nearest confirmed cases of a tenant, optionally only from one
/// district and only received before a time, without the appeal itself.
pub async fn neighbours(
    memory: &CaseMemory,
    tenant: &str,
    vector: &[f32],
    district: Option<&str>,
    before: Option<i64>,
    exclude: Option<i64>,
    k: usize,
) -> Result<Vec<Neighbour>, EngineError> {
    let filter = CaseFilter {
        statuses: confirmed_statuses(),
        district: district.map(str::to_string),
        received_before: before,
        ..CaseFilter::tenant(tenant)
    };
    let hits = memory.search(vector, filter, k + 1).await?;
    Ok(hits
        .into_iter()
        .filter(|h| Some(h.id as i64) != exclude)
        .filter_map(|h| {
            Some(Neighbour {
                id: h.id as i64,
                department: h.payload.department?,
                district: h.payload.district,
                similarity: h.score,
                received_at: h.payload.received_at,
                decided: h.payload.status == AppealStatus::Decided.as_str(),
            })
        })
        .take(k)
        .collect())
}
