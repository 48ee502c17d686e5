//! Where an appeal is about, and which rules govern the authority.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which statutory-deadline rules apply to a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jurisdiction {
    /// Ukraine: Law "On citizens' appeals".
    Ua,
    /// Russia: Federal Law 59-FZ.
    Ru,
    /// Kazakhstan: Administrative Procedural Code.
    Kz,
}

impl Jurisdiction {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ua => "ua",
            Self::Ru => "ru",
            Self::Kz => "kz",
        }
    }
}

impl FromStr for Jurisdiction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ua" => Ok(Self::Ua),
            "ru" => Ok(Self::Ru),
            "kz" => Ok(Self::Kz),
            other => Err(format!("unknown jurisdiction {other:?} (ua, ru or kz)")),
        }
    }
}

/// Where an appeal is about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// District (e.g. a city district).
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

/// Coordinates as given, except 0/0: what exports write for "no
/// coordinates", read as none (taken literally, every such appeal would be
/// "the same building" as every other).
pub fn known_coordinates(lat: Option<f64>, lon: Option<f64>) -> (Option<f64>, Option<f64>) {
    match (lat, lon) {
        (Some(a), Some(b)) if a == 0.0 && b == 0.0 => (None, None),
        other => other,
    }
}
