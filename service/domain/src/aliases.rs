//! Several spellings of one department in a real export (`КП "ШЕУ"` and
//! `Комунальне підприємство "ШЕУ"`): an alias table maps each spelling to one
//! department, and [`suggest`] proposes merges for an admin to confirm (names
//! that differ only in legal-form words, quotes, case and punctuation).

use std::collections::{BTreeMap, HashMap};

/// Why an alias table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    /// Following the aliases from this name comes back to it.
    #[error("department aliases form a cycle through {0:?}")]
    Cycle(String),
    /// An alias or target is empty.
    #[error("line {0}: an alias and its department must both be non-empty")]
    Empty(usize),
    /// The same alias maps to two departments.
    #[error("{alias:?} is an alias of both {first:?} and {second:?}")]
    Conflict {
        /// The alias.
        alias: String,
        /// Its first target.
        first: String,
        /// Its second target.
        second: String,
    },
}

/// Alias -> department, chains resolved (an alias of an alias maps to the end).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    to: HashMap<String, String>,
}

impl Aliases {
    /// Builds the table from `(alias, department)` pairs (1-based line numbers
    /// in errors): refuses empty names, an alias with two targets, and cycles.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, AliasError> {
        let mut direct: HashMap<String, String> = HashMap::new();
        for (i, (alias, target)) in pairs.iter().enumerate() {
            let (alias, target) = (alias.trim(), target.trim());
            if alias.is_empty() || target.is_empty() {
                return Err(AliasError::Empty(i + 1));
            }
            if alias == target {
                continue;
            }
            if let Some(first) = direct.get(alias) {
                if first != target {
                    return Err(AliasError::Conflict {
                        alias: alias.to_string(),
                        first: first.clone(),
                        second: target.to_string(),
                    });
                }
            }
            direct.insert(alias.to_string(), target.to_string());
        }
        let mut to = HashMap::with_capacity(direct.len());
        for start in direct.keys() {
            let mut at = start;
            let mut steps = 0;
            while let Some(next) = direct.get(at) {
                at = next;
                steps += 1;
                if at == start || steps > direct.len() {
                    return Err(AliasError::Cycle(start.clone()));
                }
            }
            to.insert(start.clone(), at.clone());
        }
        Ok(Self { to })
    }

    /// Reads a two-column CSV-like text (`alias,department` per line; a
    /// header line `alias,department` and blank lines are skipped; a field
    /// may be double-quoted, with `""` for a quote inside).
    pub fn parse(text: &str) -> Result<Self, AliasError> {
        let mut pairs = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || (i == 0 && line.eq_ignore_ascii_case("alias,department")) {
                continue;
            }
            let fields = split_csv_line(line);
            let [a, b] = <[String; 2]>::try_from(fields).map_err(|_| AliasError::Empty(i + 1))?;
            pairs.push((a, b));
        }
        // Line numbers of `from_pairs` count pairs; good enough with no blanks.
        Self::from_pairs(&pairs)
    }

    /// The department a name stands for (itself when it is no alias).
    pub fn resolve<'a>(&'a self, name: &'a str) -> &'a str {
        self.to.get(name.trim()).map_or(name, String::as_str)
    }

    /// Number of aliases.
    pub fn len(&self) -> usize {
        self.to.len()
    }

    /// No aliases.
    pub fn is_empty(&self) -> bool {
        self.to.is_empty()
    }
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

/// Legal-form phrases and their short forms (uk and ru), longest first so a
/// phrase is replaced before a word inside it.
const LEGAL_FORMS: &[(&str, &str)] = &[
    ("комунальне підприємство", "кп"),
    ("коммунальное предприятие", "кп"),
    ("державне підприємство", "дп"),
    ("государственное предприятие", "гп"),
    ("товариство з обмеженою відповідальністю", "тов"),
    ("общество с ограниченной ответственностью", "ооо"),
    ("приватне акціонерне товариство", "прат"),
    ("публічне акціонерне товариство", "пат"),
    ("публичное акционерное общество", "пао"),
    ("акціонерне товариство", "ат"),
    ("акционерное общество", "ао"),
    ("государственное казенное учреждение", "гку"),
    ("государственное бюджетное учреждение", "гбу"),
    ("житлово-експлуатаційна дільниця", "жед"),
    ("комунальна установа", "ку"),
];

/// The key two spellings of one organisation share: lower case, legal forms
/// shortened, quotes, `№` and punctuation dropped, spaces collapsed.
pub fn org_key(name: &str) -> String {
    let mut s = name.to_lowercase().replace('ё', "е");
    for (long, short) in LEGAL_FORMS {
        s = s.replace(long, short);
    }
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Groups of names that share an [`org_key`] (two or more each), for an
/// admin to confirm as aliases; each group lists the most frequent name first
/// (`counts`: how often each name occurs, to pick the canonical spelling).
pub fn suggest(counts: &BTreeMap<String, u64>) -> Vec<Vec<String>> {
    let mut groups: BTreeMap<String, Vec<(&String, u64)>> = BTreeMap::new();
    for (name, n) in counts {
        groups.entry(org_key(name)).or_default().push((name, *n));
    }
    groups
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            g.into_iter().map(|(n, _)| n.clone()).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn chains_resolve_and_cycles_conflicts_and_blanks_are_refused() {
        let a = Aliases::from_pairs(&pairs(&[("a", "b"), ("b", "c")])).unwrap();
        assert_eq!(a.resolve("a"), "c");
        assert_eq!(a.resolve("b"), "c");
        assert_eq!(a.resolve("c"), "c");
        assert_eq!(a.resolve("other"), "other");
        assert!(matches!(
            Aliases::from_pairs(&pairs(&[("a", "b"), ("b", "a")])),
            Err(AliasError::Cycle(_))
        ));
        assert!(matches!(
            Aliases::from_pairs(&pairs(&[("a", "b"), ("a", "c")])),
            Err(AliasError::Conflict { .. })
        ));
        assert_eq!(
            Aliases::from_pairs(&pairs(&[("a", " ")])),
            Err(AliasError::Empty(1))
        );
        let parsed = Aliases::parse(
            "alias,department\n\"КП \"\"ШЕУ\"\"\",\"Комунальне підприємство \"\"ШЕУ\"\"\"\n",
        )
        .unwrap();
        assert_eq!(
            parsed.resolve("КП \"ШЕУ\""),
            "Комунальне підприємство \"ШЕУ\""
        );
    }

    #[test]
    fn spellings_of_one_organisation_are_suggested_together() {
        let counts: BTreeMap<String, u64> = [
            ("КП \"ШЕУ\"", 10),
            ("Комунальне підприємство \"ШЕУ\"", 40),
            ("КП «Шеу»", 2),
            ("ЖЕД № 202", 5),
            ("ЖЕД № 203", 5),
        ]
        .iter()
        .map(|(n, c)| (n.to_string(), *c))
        .collect();
        let groups = suggest(&counts);
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0][0], "Комунальне підприємство \"ШЕУ\"");
        assert_eq!(groups[0].len(), 3);
    }
}
