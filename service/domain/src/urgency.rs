//! Urgency of an appeal from keyword rules (data), the applicant's category
//! and the urgency of the most similar past cases.
//!
//! Rules live in `rules/urgency.toml`: each has an id, a level and phrases per
//! language (`uk`, `ru`, `kk`, `en`). A phrase is a list of stems; `газ*`
//! matches any word starting with `газ`, `газ` only the word itself, so stems
//! respect word boundaries (`газ*` does not fire inside `автогаз`). The
//! stems of a phrase must appear in order within one clause, at most
//! [`MAX_GAP`] words apart. A negator just before the phrase (`немає`, `no`)
//! or just after it (`жоқ`, `немає`, `нет`) in the same clause cancels it, so
//! "no danger to life" stays normal. A rule may be stronger in some months
//! (no heating in November-March is critical, otherwise high).
//!
//! Neighbours: the caller passes the urgency of the nearest similar cases,
//! nearest first. Only the first `consider` count; when at least `min_count`
//! are there and strictly more than half of them were high or critical, the
//! level is raised to `raise_to` (high in the shipped file). Neighbours never
//! make an appeal critical and never lower a level: critical needs words in
//! the appeal itself.

use std::path::Path;

use serde::Deserialize;

use crate::deadlines::{Date, DeadlineError, RuleSet};
use crate::{Jurisdiction, Urgency, UrgencyLevel};

/// Most words allowed between two stems of one phrase.
pub const MAX_GAP: usize = 2;

/// Reason recorded when the applicant's category is privileged.
pub const REASON_PRIVILEGED: &str = "privileged_applicant";
/// Reason recorded when most similar cases were urgent.
pub const REASON_NEIGHBOURS: &str = "similar_cases_urgent";

/// One keyword rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrgencyRule {
    /// Id reported in [`Urgency::reasons`].
    pub id: String,
    /// Level when the rule fires.
    pub level: UrgencyLevel,
    /// Level instead of `level` in `months`.
    pub seasonal_level: Option<UrgencyLevel>,
    /// Months (1-12, UTC) of `seasonal_level`.
    pub months: Vec<u32>,
    /// Phrases of all languages, each a list of stems.
    phrases: Vec<Vec<Stem>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stem {
    text: String,
    prefix: bool,
}

impl Stem {
    fn matches(&self, word: &str) -> bool {
        if self.prefix {
            word.starts_with(&self.text)
        } else {
            word == self.text
        }
    }
}

/// How neighbours' urgency is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighbourRule {
    /// How many of the nearest cases count.
    pub consider: usize,
    /// Fewer counted cases than this: neighbours are ignored.
    pub min_count: usize,
    /// Level given when strictly more than half of them were urgent.
    pub raise_to: UrgencyLevel,
}

/// The urgency rules in force for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrgencyRules {
    /// Keyword rules in file order.
    pub rules: Vec<UrgencyRule>,
    /// Words that cancel a phrase right before it.
    pub negators_before: Vec<String>,
    /// Words that cancel a phrase right after it (Kazakh `жоқ`, postposed `немає`/`нет`).
    pub negators_after: Vec<String>,
    /// Level of a privileged applicant.
    pub privileged_level: UrgencyLevel,
    /// Privileged applicant categories (from the jurisdiction's deadline rules).
    pub privileged_categories: Vec<String>,
    /// Neighbour rule.
    pub neighbours: NeighbourRule,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    negators_before: Vec<String>,
    negators_after: Vec<String>,
    privileged_level: UrgencyLevel,
    neighbours: NeighbourRule,
    rule: Vec<toml::Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    level: UrgencyLevel,
    seasonal_level: Option<UrgencyLevel>,
    #[serde(default)]
    months: Vec<u32>,
    #[serde(default)]
    uk: Vec<String>,
    #[serde(default)]
    ru: Vec<String>,
    #[serde(default)]
    kk: Vec<String>,
    #[serde(default)]
    en: Vec<String>,
}

const BUILTIN: &str = include_str!("../rules/urgency.toml");

impl UrgencyRules {
    /// The shipped rules, with the privileged categories of `jurisdiction`.
    pub fn builtin(jurisdiction: Jurisdiction) -> Self {
        let privileged = RuleSet::builtin(jurisdiction).privileged_categories;
        Self::from_toml_str("rules/urgency.toml", BUILTIN, privileged)
            .expect("built-in urgency rules are valid (tested)")
    }

    /// Reads a tenant's rules file.
    pub fn from_path(path: &Path, privileged: Vec<String>) -> Result<Self, DeadlineError> {
        let (name, text) = crate::deadlines::read_rules_file(path)?;
        Self::from_toml_str(&name, &text, privileged)
    }

    /// Parses rules; errors name the file, the line and the field.
    pub fn from_toml_str(
        source: &str,
        text: &str,
        privileged_categories: Vec<String>,
    ) -> Result<Self, DeadlineError> {
        let raw: RawRules = crate::deadlines::parse_toml(source, text)?;
        let mut rules = Vec::with_capacity(raw.rule.len());
        for spanned in &raw.rule {
            let line = text[..spanned.span().start].matches('\n').count() + 1;
            let r = spanned.get_ref();
            let invalid = |message: String| DeadlineError::Invalid {
                source_name: source.to_owned(),
                line,
                message: format!("[[rule]] {:?}: {message}", r.id),
            };
            if r.level == UrgencyLevel::Normal {
                return Err(invalid("field `level` must be high or critical".into()));
            }
            if let Some(m) = r.months.iter().find(|m| !(1..=12).contains(*m)) {
                return Err(invalid(format!("field `months`: {m} is not a month 1-12")));
            }
            if r.seasonal_level.is_some() == r.months.is_empty() {
                return Err(invalid(
                    "fields `seasonal_level` and `months` go together".into(),
                ));
            }
            let mut phrases = Vec::new();
            for (lang, list) in [("uk", &r.uk), ("ru", &r.ru), ("kk", &r.kk), ("en", &r.en)] {
                for p in list {
                    let stems: Vec<Stem> = p
                        .split_whitespace()
                        .map(|s| {
                            let s = s.to_lowercase();
                            match s.strip_suffix('*') {
                                Some(t) => Stem {
                                    text: t.to_owned(),
                                    prefix: true,
                                },
                                None => Stem {
                                    text: s,
                                    prefix: false,
                                },
                            }
                        })
                        .collect();
                    if stems.is_empty() || stems.iter().any(|s| s.text.is_empty()) {
                        return Err(invalid(format!(
                            "field `{lang}`: empty phrase or bare `*` in {p:?}"
                        )));
                    }
                    phrases.push(stems);
                }
            }
            if phrases.is_empty() {
                return Err(invalid("no phrases in uk, ru, kk or en".into()));
            }
            rules.push(UrgencyRule {
                id: r.id.clone(),
                level: r.level,
                seasonal_level: r.seasonal_level,
                months: r.months.clone(),
                phrases,
            });
        }
        Ok(Self {
            rules,
            negators_before: raw
                .negators_before
                .iter()
                .map(|s| s.to_lowercase())
                .collect(),
            negators_after: raw
                .negators_after
                .iter()
                .map(|s| s.to_lowercase())
                .collect(),
            privileged_level: raw.privileged_level,
            privileged_categories,
            neighbours: raw.neighbours,
        })
    }
}

/// A lowercased word and the clause it is in.
struct Word {
    text: String,
    clause: usize,
}

fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut clause = 0;
    let mut cur = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || matches!(c, '\'' | '’' | 'ʼ') {
            cur.push(c);
            continue;
        }
        if !cur.is_empty() {
            out.push(Word {
                text: std::mem::take(&mut cur),
                clause,
            });
        }
        if matches!(
            c,
            ',' | '.' | ';' | ':' | '!' | '?' | '(' | ')' | '\n' | '—' | '–'
        ) {
            clause += 1;
        }
    }
    if !cur.is_empty() {
        out.push(Word { text: cur, clause });
    }
    out
}

/// End index (exclusive) of `phrase` matched from word `i`, if it matches.
fn match_at(ws: &[Word], i: usize, phrase: &[Stem]) -> Option<usize> {
    if !phrase[0].matches(&ws[i].text) {
        return None;
    }
    let mut pos = i;
    for stem in &phrase[1..] {
        let next = (pos + 1..ws.len().min(pos + 2 + MAX_GAP))
            .find(|&k| ws[k].clause == ws[i].clause && stem.matches(&ws[k].text))?;
        pos = next;
    }
    Some(pos + 1)
}

fn negated(rules: &UrgencyRules, ws: &[Word], start: usize, end: usize) -> bool {
    let clause = ws[start].clause;
    let before = ws[start.saturating_sub(2)..start]
        .iter()
        .any(|w| w.clause == clause && rules.negators_before.contains(&w.text));
    let after = ws[end..ws.len().min(end + 2)]
        .iter()
        .any(|w| w.clause == clause && rules.negators_after.contains(&w.text));
    before || after
}

fn fires(rules: &UrgencyRules, rule: &UrgencyRule, ws: &[Word]) -> bool {
    (0..ws.len()).any(|i| {
        rule.phrases
            .iter()
            .any(|p| match_at(ws, i, p).is_some_and(|end| !negated(rules, ws, i, end)))
    })
}

/// Assesses the urgency of an appeal.
///
/// `text` is the (redacted) appeal, `received_at_ms` picks the season (UTC
/// month), `applicant_category` is checked against the privileged list, and
/// `neighbour_levels` are the urgency levels of the nearest similar cases,
/// nearest first. Reasons list the ids of the rules that fired, then
/// [`REASON_PRIVILEGED`] and [`REASON_NEIGHBOURS`] when they apply.
pub fn assess(
    rules: &UrgencyRules,
    text: &str,
    received_at_ms: i64,
    applicant_category: Option<&str>,
    neighbour_levels: &[UrgencyLevel],
) -> Urgency {
    let ws = words(text);
    let month = Date::from_unix_ms(received_at_ms, 0).map(|d| d.ymd().1);
    let mut level = UrgencyLevel::Normal;
    let mut reasons = Vec::new();
    for rule in &rules.rules {
        if fires(rules, rule, &ws) {
            let l = match (rule.seasonal_level, month) {
                (Some(s), Some(m)) if rule.months.contains(&m) => s,
                _ => rule.level,
            };
            level = level.max(l);
            reasons.push(rule.id.clone());
        }
    }
    if let Some(cat) = applicant_category {
        let cat = cat.trim();
        if rules
            .privileged_categories
            .iter()
            .any(|p| p.eq_ignore_ascii_case(cat))
        {
            level = level.max(rules.privileged_level);
            reasons.push(REASON_PRIVILEGED.to_owned());
        }
    }
    let n = &rules.neighbours;
    let counted = &neighbour_levels[..neighbour_levels.len().min(n.consider)];
    let urgent = counted.iter().filter(|l| **l >= UrgencyLevel::High).count();
    if counted.len() >= n.min_count && urgent * 2 > counted.len() {
        level = level.max(n.raise_to);
        reasons.push(REASON_NEIGHBOURS.to_owned());
    }
    Urgency { level, reasons }
}
