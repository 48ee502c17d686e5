//! The one table of routing signals: their names, what they mean, and one
//! weight per signal.
//!
//! Every signal used to exist in five parallel forms (an enum, a weights
//! struct, eight `w_*` parameters, a struct of per-signal probabilities and
//! the engine's list of evidence notes); adding one meant touching all five.
//! Now a signal is one [`SignalKind`] row here, and everything else is an
//! array indexed by it.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of weighted signals.
pub const SIGNALS: usize = 13;

/// The weighted signals, in feature-column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalKind {
    /// Votes of the text neighbours (translated to the appeal's district).
    Knn = 0,
    /// Votes of the text neighbours from the appeal's own district.
    Local = 1,
    /// Votes of near-duplicate confirmed cases.
    Near = 2,
    /// Votes of confirmed cases from the same spot.
    Geo = 3,
    /// The softmax head over the embedding and district.
    Head = 4,
    /// The lexical model.
    Lexical = 5,
    /// The place factor (relative likelihood of the district).
    Place = 6,
    /// Supervisors' decisions on near-duplicates.
    Decisions = 7,
    /// The portal's category: `P(department | category path, district)`.
    Category = 8,
    /// Votes of confirmed cases from the same spot with the same category.
    GeoCategory = 9,
    /// The department's recent share of confirmed cases over its all-time
    /// share (see [`super::activity`]).
    Activity = 10,
    /// Votes of the nearest confirmed cases around a building with (almost)
    /// no history of its own: the surrounding streets' department.
    Area = 11,
    /// The same, among cases with the appeal's category.
    AreaCategory = 12,
}

impl SignalKind {
    /// Every signal, in column order.
    pub const ALL: [SignalKind; SIGNALS] = [
        SignalKind::Knn,
        SignalKind::Local,
        SignalKind::Near,
        SignalKind::Geo,
        SignalKind::Head,
        SignalKind::Lexical,
        SignalKind::Place,
        SignalKind::Decisions,
        SignalKind::Category,
        SignalKind::GeoCategory,
        SignalKind::Activity,
        SignalKind::Area,
        SignalKind::AreaCategory,
    ];

    /// Key of the signal's weight in stored and configured weights.
    pub fn key(self) -> &'static str {
        match self {
            SignalKind::Knn => "knn",
            SignalKind::Local => "local",
            SignalKind::Near => "near",
            SignalKind::Geo => "geo",
            SignalKind::Head => "head",
            SignalKind::Lexical => "lexical",
            SignalKind::Place => "place",
            SignalKind::Decisions => "decisions",
            SignalKind::Category => "category",
            SignalKind::GeoCategory => "geo_category",
            SignalKind::Activity => "activity",
            SignalKind::Area => "area",
            SignalKind::AreaCategory => "area_category",
        }
    }

    /// Name of the signal in a decision's evidence.
    pub fn evidence_name(self) -> &'static str {
        match self {
            SignalKind::Knn => "text_neighbours",
            SignalKind::Local => "local_neighbours",
            SignalKind::Near => "near_duplicates",
            SignalKind::Geo => "same_spot",
            SignalKind::Head => "text_model",
            SignalKind::Lexical => "lexical_model",
            SignalKind::Place => "place",
            SignalKind::Decisions => "supervisor_decisions",
            SignalKind::Category => "category",
            SignalKind::GeoCategory => "same_spot_category",
            SignalKind::Activity => "recent_activity",
            SignalKind::Area => "nearby_cases",
            SignalKind::AreaCategory => "nearby_cases_category",
        }
    }

    /// What the signal is, for a person reading the evidence.
    pub fn note(self) -> &'static str {
        match self {
            SignalKind::Knn => "similarity-weighted votes of the nearest confirmed cases",
            SignalKind::Local => "votes of the nearest confirmed cases from the same district",
            SignalKind::Near => "votes of imported cases nearly identical to this appeal",
            SignalKind::Geo => {
                "votes of confirmed cases from the same building or yard (near its coordinates, \
                 or naming the same street and house when it has none)"
            }
            SignalKind::Head => {
                "softmax model over the text embedding and district, fitted on confirmed history"
            }
            SignalKind::Lexical => {
                "model over words and character n-grams (names, abbreviations), the place \
                 (district, municipality) and the portal's category, fitted on confirmed history"
            }
            SignalKind::Place => {
                "how much more often the department serves this district than the average one \
                 (probability of the department given the district alone)"
            }
            SignalKind::Decisions => {
                "supervisors' decisions on nearly identical appeals from the same place"
            }
            SignalKind::Category => {
                "share of confirmed cases with the portal's category (and district) that went \
                 to the department, backed off to broader levels of the category"
            }
            SignalKind::GeoCategory => {
                "votes of confirmed cases from the same building or yard with the same category"
            }
            SignalKind::Activity => {
                "the department's share of recently confirmed cases against its share of all \
                 of them (a renamed or replaced department falls, its successor rises)"
            }
            SignalKind::Area => {
                "votes of the nearest confirmed cases around a building with little history of \
                 its own (within the area radius): who serves the surrounding streets"
            }
            SignalKind::AreaCategory => {
                "votes of the nearest confirmed cases around the building with the same category"
            }
        }
    }

    /// Configured default weight (St Petersburg's tuning, docs/routing.md);
    /// a tenant's refit learns its own.
    pub fn default_weight(self) -> f64 {
        match self {
            SignalKind::Knn => 1.5,
            SignalKind::Local => 0.5,
            SignalKind::Near => 2.0,
            SignalKind::Geo => 1.5,
            SignalKind::Head => 1.0,
            SignalKind::Lexical => 3.0,
            SignalKind::Place => 1.0,
            SignalKind::Decisions => 4.0,
            SignalKind::Category => 1.0,
            SignalKind::GeoCategory => 1.0,
            SignalKind::Activity => 0.5,
            SignalKind::Area => 0.5,
            SignalKind::AreaCategory => 0.5,
        }
    }
}

/// One weight per signal, indexed by [`SignalKind`]. Stored as a map from
/// [`SignalKind::key`] to weight, so models stored before a signal existed
/// still load (the new signal's weight is 0 there: it said nothing when they
/// were fitted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalWeights(pub [f64; SIGNALS]);

impl Default for SignalWeights {
    fn default() -> Self {
        Self(SignalKind::ALL.map(SignalKind::default_weight))
    }
}

impl SignalWeights {
    /// The weight of one signal.
    pub fn get(&self, kind: SignalKind) -> f64 {
        self.0[kind as usize]
    }

    /// Sets the weight of one signal.
    pub fn set(&mut self, kind: SignalKind, w: f64) {
        self.0[kind as usize] = w;
    }

    /// The same weights with one changed.
    pub fn with(mut self, kind: SignalKind, w: f64) -> Self {
        self.set(kind, w);
        self
    }

    /// The weights in [`SignalKind`] order.
    pub fn to_array(&self) -> [f64; SIGNALS] {
        self.0
    }

    /// Weights from an array in [`SignalKind`] order.
    pub fn from_array(w: [f64; SIGNALS]) -> Self {
        Self(w)
    }

    /// `weights . features`.
    pub fn dot(&self, features: &[f64; SIGNALS]) -> f64 {
        self.0.iter().zip(features).map(|(w, f)| w * f).sum()
    }
}

impl Serialize for SignalWeights {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<&str, f64> = SignalKind::ALL
            .iter()
            .map(|k| (k.key(), self.get(*k)))
            .collect();
        map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SignalWeights {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map: BTreeMap<String, f64> = BTreeMap::deserialize(d)?;
        let mut w = [0.0; SIGNALS];
        for k in SignalKind::ALL {
            w[k as usize] = map.get(k.key()).copied().unwrap_or(0.0);
        }
        Ok(Self(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_round_trip_by_name_and_old_models_lack_new_signals() {
        let w = SignalWeights::default().with(SignalKind::Category, 2.5);
        let json = serde_json::to_string(&w).unwrap();
        assert!(json.contains("\"category\":2.5"), "{json}");
        assert_eq!(serde_json::from_str::<SignalWeights>(&json).unwrap(), w);
        // A model stored with eight signals.
        let old = r#"{"knn":1.0,"local":2.0,"near":3.0,"geo":4.0,"head":5.0,"lexical":6.0,"place":7.0,"decisions":8.0}"#;
        let w: SignalWeights = serde_json::from_str(old).unwrap();
        assert_eq!(w.get(SignalKind::Decisions), 8.0);
        assert_eq!(w.get(SignalKind::Category), 0.0);
        assert_eq!(w.get(SignalKind::GeoCategory), 0.0);
        assert_eq!(w.get(SignalKind::Activity), 0.0);
        assert_eq!(w.get(SignalKind::Area), 0.0);
    }

    #[test]
    fn every_signal_has_its_own_column_and_names() {
        for (i, k) in SignalKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
        let mut keys: Vec<&str> = SignalKind::ALL.iter().map(|k| k.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SIGNALS);
        let mut names: Vec<&str> = SignalKind::ALL.iter().map(|k| k.evidence_name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SIGNALS);
    }
}
