//! The category the citizen picked on the portal: a path from general to
//! specific ("Благоустройство" > "Мусор"; an Open311 `service_code` is a
//! one-level path). Optional on every appeal; routing reads it as evidence
//! ([`crate::routing::category`]).

use serde::{Deserialize, Deserializer};

/// Most levels a category path may have.
pub const MAX_LEVELS: usize = 4;
/// Longest level, in characters.
pub const MAX_LEVEL_CHARS: usize = 200;

/// Why a category path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryError {
    /// More than [`MAX_LEVELS`] levels.
    #[error("category: {0} levels; at most {MAX_LEVELS} are allowed")]
    TooManyLevels(usize),
    /// A level is empty or only whitespace.
    #[error("category[{0}] is empty")]
    EmptyLevel(usize),
    /// A level is longer than [`MAX_LEVEL_CHARS`].
    #[error("category[{level}] is {chars} characters; the limit is {MAX_LEVEL_CHARS}")]
    LevelTooLong {
        /// Index of the level.
        level: usize,
        /// Its length.
        chars: usize,
    },
}

/// Checks a path: at most [`MAX_LEVELS`] non-empty levels of at most
/// [`MAX_LEVEL_CHARS`] characters each (an empty path is no category).
pub fn validate(path: &[String]) -> Result<(), CategoryError> {
    if path.len() > MAX_LEVELS {
        return Err(CategoryError::TooManyLevels(path.len()));
    }
    for (level, l) in path.iter().enumerate() {
        if l.trim().is_empty() {
            return Err(CategoryError::EmptyLevel(level));
        }
        let chars = l.chars().count();
        if chars > MAX_LEVEL_CHARS {
            return Err(CategoryError::LevelTooLong { level, chars });
        }
    }
    Ok(())
}

/// A level of imported history as stored: control characters dropped
/// ([`crate::text::normalise`]), trimmed, and cut to [`MAX_LEVEL_CHARS`] characters
/// (real exports hold longer ones: St Petersburg has 254-character
/// sub-categories); the same cut on every row keeps levels apart unless they
/// share their first 200 characters. The API refuses such a level instead.
pub fn truncate_level(level: &str) -> String {
    crate::text::normalise(level)
        .text
        .trim()
        .chars()
        .take(MAX_LEVEL_CHARS)
        .collect()
}

/// Levels trimmed, as stored and compared.
pub fn tidy(path: Vec<String>) -> Vec<String> {
    path.into_iter().map(|l| l.trim().to_string()).collect()
}

/// Deserialises a category given as an array of strings, one string (a
/// one-level path) or null (none): `#[serde(deserialize_with = "...")]`.
pub fn deserialize_path<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a string or an array of strings")]
    enum Path {
        One(String),
        Levels(Vec<String>),
    }
    Ok(match Option::<Path>::deserialize(d)? {
        None => Vec::new(),
        Some(Path::One(s)) => vec![s],
        Some(Path::Levels(v)) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Holder {
        #[serde(default, deserialize_with = "deserialize_path")]
        category: Vec<String>,
    }

    fn parse(json: &str) -> Result<Vec<String>, String> {
        serde_json::from_str::<Holder>(json)
            .map(|h| h.category)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_string_an_array_null_or_nothing() {
        assert_eq!(parse(r#"{"category": "Roads"}"#).unwrap(), ["Roads"]);
        assert_eq!(
            parse(r#"{"category": ["Roads", "Potholes"]}"#).unwrap(),
            ["Roads", "Potholes"]
        );
        assert!(parse(r#"{"category": null}"#).unwrap().is_empty());
        assert!(parse("{}").unwrap().is_empty());
        let e = parse(r#"{"category": 5}"#).unwrap_err();
        assert!(e.contains("a string or an array of strings"), "{e}");
        assert!(parse(r#"{"category": [1]}"#).is_err());
    }

    #[test]
    fn bad_paths_name_the_level() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(validate(&p(&["a", "b", "c", "d"])), Ok(()));
        assert_eq!(
            validate(&p(&["a", "b", "c", "d", "e"])),
            Err(CategoryError::TooManyLevels(5))
        );
        assert_eq!(validate(&p(&["a", " "])), Err(CategoryError::EmptyLevel(1)));
        let long = "я".repeat(201);
        let e = validate(&p(&["a", &long])).unwrap_err();
        assert_eq!(
            e,
            CategoryError::LevelTooLong {
                level: 1,
                chars: 201
            }
        );
        assert!(e.to_string().starts_with("category[1]"));
    }
}
