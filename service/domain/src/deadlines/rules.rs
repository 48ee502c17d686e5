//! Statutory deadline rules as data: one TOML file per jurisdiction, each
//! rule with its legal citation (see `rules/deadlines/*.toml`).

use std::path::Path;

use serde::Deserialize;

use super::{line_of, DeadlineError};
use crate::Jurisdiction;

/// How a term is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Calendar days; the start day is not counted.
    CalendarDays,
    /// Working days of the jurisdiction's calendar; the start day is not counted.
    WorkingDays,
    /// Calendar months: the same day number of the later month, or its last
    /// day when that month is shorter.
    Months,
}

/// What happens when a calendar-day or month term ends on a non-working day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonWorkingEnd {
    /// The term ends on that day anyway.
    Keep,
    /// The term ends on the next working day.
    NextWorkingDay,
    /// The term ends on the previous working day (conservative practice).
    PreviousWorkingDay,
}

/// Where a term starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// The local date the appeal was received.
    Received,
    /// The local date it was registered (the receipt date when unknown).
    Registered,
    /// The due date of an earlier rule of the same set (e.g. an extension).
    Rule(String),
}

/// One statutory term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// What must happen: `forward`, `register`, `answer`, `answer_max`, ...
    pub kind: String,
    /// Length of the term.
    pub count: u32,
    /// Unit of `count`.
    pub unit: Unit,
    /// Start of the term.
    pub from: Anchor,
    /// Legal citation, shown with the deadline.
    pub citation: String,
    /// Only when the appeal's need for extra study is known to equal this.
    pub when_extra_study: Option<bool>,
    /// Only for privileged (`Some(true)`) or other (`Some(false)`) applicants.
    pub when_privileged: Option<bool>,
    /// Overrides the set's [`RuleSet::on_non_working_end`].
    pub on_non_working_end: Option<NonWorkingEnd>,
}

/// The statutory deadline rules of one jurisdiction (or a tenant's override).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    /// Jurisdiction the rules are for.
    pub jurisdiction: Jurisdiction,
    /// Full name of the law.
    pub law: String,
    /// Default handling of terms ending on non-working days.
    pub on_non_working_end: NonWorkingEnd,
    /// An appeal received on a non-working day counts as received on the next
    /// working day (KZ practice: it is registered then).
    pub receipt_on_non_working_moves: bool,
    /// What to assume when nobody knows yet whether the appeal needs extra
    /// study (`false` gives the shorter, safer term).
    pub assume_extra_study_when_unknown: bool,
    /// Applicant categories whose appeals go first.
    pub privileged_categories: Vec<String>,
    /// Citation for the privileged categories.
    pub privileged_citation: String,
    /// Rules in file order (a rule may refer only to an earlier one).
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSet {
    jurisdiction: Jurisdiction,
    law: String,
    on_non_working_end: NonWorkingEnd,
    #[serde(default)]
    receipt_on_non_working_moves: bool,
    #[serde(default)]
    assume_extra_study_when_unknown: bool,
    #[serde(default)]
    privileged_categories: Vec<String>,
    #[serde(default)]
    privileged_citation: String,
    #[serde(default)]
    rule: Vec<toml::Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    kind: String,
    count: u32,
    unit: Unit,
    from: String,
    citation: String,
    when_extra_study: Option<bool>,
    when_privileged: Option<bool>,
    on_non_working_end: Option<NonWorkingEnd>,
}

const UA: &str = include_str!("../../rules/deadlines/ua.toml");
const RU: &str = include_str!("../../rules/deadlines/ru.toml");
const KZ: &str = include_str!("../../rules/deadlines/kz.toml");

impl RuleSet {
    /// The rules shipped for `jurisdiction`.
    pub fn builtin(jurisdiction: Jurisdiction) -> Self {
        let (src, text) = match jurisdiction {
            Jurisdiction::Ua => ("rules/deadlines/ua.toml", UA),
            Jurisdiction::Ru => ("rules/deadlines/ru.toml", RU),
            Jurisdiction::Kz => ("rules/deadlines/kz.toml", KZ),
        };
        Self::from_toml_str(src, text).expect("built-in deadline rules are valid (tested)")
    }

    /// Reads a tenant's rules file (same format as the built-in ones).
    pub fn from_path(path: &Path) -> Result<Self, DeadlineError> {
        let (name, text) = super::read_rules_file(path)?;
        Self::from_toml_str(&name, &text)
    }

    /// Parses and checks a rules file; `source` names it in error messages,
    /// which give the line and the field at fault.
    pub fn from_toml_str(source: &str, text: &str) -> Result<Self, DeadlineError> {
        let raw: RawSet = super::parse_toml(source, text)?;
        let invalid = |line: usize, message: String| DeadlineError::Invalid {
            source_name: source.to_owned(),
            line,
            message,
        };
        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rule.len());
        for (i, spanned) in raw.rule.iter().enumerate() {
            let line = text[..spanned.span().start].matches('\n').count() + 1;
            let r = spanned.get_ref();
            let at = |field: &str, msg: String| {
                invalid(
                    line,
                    format!(
                        "[[rule]] #{} (kind {:?}): field `{field}`: {msg}",
                        i + 1,
                        r.kind
                    ),
                )
            };
            if r.kind.trim().is_empty() {
                return Err(at("kind", "must not be empty".into()));
            }
            if r.count == 0 {
                return Err(at("count", "must be at least 1".into()));
            }
            if r.citation.trim().is_empty() {
                return Err(at("citation", "every rule needs its legal citation".into()));
            }
            let from = match r.from.as_str() {
                "received" => Anchor::Received,
                "registered" => Anchor::Registered,
                other if rules.iter().any(|e| e.kind == other) => Anchor::Rule(other.to_owned()),
                other => {
                    return Err(at(
                        "from",
                        format!(
                        "{other:?} is not `received`, `registered` or the kind of an earlier rule"
                    ),
                    ))
                }
            };
            rules.push(Rule {
                kind: r.kind.clone(),
                count: r.count,
                unit: r.unit,
                from,
                citation: r.citation.clone(),
                when_extra_study: r.when_extra_study,
                when_privileged: r.when_privileged,
                on_non_working_end: r.on_non_working_end,
            });
        }
        if rules.is_empty() {
            return Err(invalid(
                line_of(text, "jurisdiction"),
                "no [[rule]] tables".into(),
            ));
        }
        Ok(Self {
            jurisdiction: raw.jurisdiction,
            law: raw.law,
            on_non_working_end: raw.on_non_working_end,
            receipt_on_non_working_moves: raw.receipt_on_non_working_moves,
            assume_extra_study_when_unknown: raw.assume_extra_study_when_unknown,
            privileged_categories: raw.privileged_categories,
            privileged_citation: raw.privileged_citation,
            rules,
        })
    }

    /// Whether an applicant category (case-insensitive) is privileged here.
    pub fn is_privileged(&self, category: &str) -> bool {
        let c = category.trim();
        self.privileged_categories
            .iter()
            .any(|p| p.eq_ignore_ascii_case(c))
    }
}
