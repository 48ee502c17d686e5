//! Statutory deadlines of an appeal, computed from rules and calendars that
//! are data.
//!
//! Each jurisdiction has a rules file (`rules/deadlines/<j>.toml`: terms,
//! units, anchors, citations, privileged categories) and a working-day
//! calendar (`rules/calendars/<j>.toml`). Both are compiled in with
//! `include_str!` and can be replaced per tenant from a path. Counting
//! conventions (documented at the top of each rules file):
//!
//! * the day of receipt (or of the anchoring event) is not counted;
//! * calendar-day and month terms that end on a non-working day follow the
//!   set's `on_non_working_end` (`keep`, `next_working_day` or
//!   `previous_working_day`);
//! * working-day terms end on the n-th working day after the start;
//! * the local date is taken at the tenant's UTC offset.

mod calendar;
mod date;
mod rules;

pub use calendar::Calendar;
pub use date::{days_in_month, Date, Weekday};
pub use rules::{Anchor, NonWorkingEnd, Rule, RuleSet, Unit};

use std::collections::HashMap;

use crate::Deadline;

/// Why deadlines could not be computed or rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DeadlineError {
    /// The file is not valid TOML or has a wrong/unknown field (the message
    /// gives line and column).
    #[error("{source_name}: {message}")]
    Parse {
        /// File name.
        source_name: String,
        /// Parser message with line and column.
        message: String,
    },
    /// The file parses but a value is wrong.
    #[error("{source_name} line {line}: {message}")]
    Invalid {
        /// File name.
        source_name: String,
        /// 1-based line of the offending table or key (0 when not one line).
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A tenant file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A date needed falls outside the calendar's data.
    #[error(
        "calendar {calendar} covers {from}..={to}, but {date} is needed: extend the calendar file"
    )]
    NotCovered {
        /// Calendar name.
        calendar: String,
        /// The date asked about.
        date: String,
        /// First covered date.
        from: String,
        /// Last covered date.
        to: String,
    },
    /// The received-at or registered-at time is not a representable date.
    #[error("timestamp {0} ms is out of range")]
    Timestamp(i64),
}

/// Facts about one appeal that select and anchor the rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeadlineContext {
    /// The applicant belongs to a privileged category.
    pub privileged: bool,
    /// Whether the appeal needs extra study (UA: 15 days vs one month);
    /// `None` = not known yet, see [`RuleSet::assume_extra_study_when_unknown`].
    pub needs_extra_study: Option<bool>,
    /// When the appeal was registered, unix ms; `None` = on the day of
    /// receipt (our intake registers at once), which never yields a later
    /// deadline than the law allows.
    pub registered_at_ms: Option<i64>,
}

/// Reads a rule or calendar file; returns its display name (used by error
/// messages) and its text.
pub(crate) fn read_rules_file(path: &std::path::Path) -> Result<(String, String), DeadlineError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| DeadlineError::Io {
        path: name.clone(),
        source,
    })?;
    Ok((name, text))
}

/// Parses a rule or calendar file's TOML; `source` names it in the error.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    source: &str,
    text: &str,
) -> Result<T, DeadlineError> {
    toml::from_str(text).map_err(|e| DeadlineError::Parse {
        source_name: source.to_owned(),
        message: e.to_string(),
    })
}

/// 1-based line where `key = ...` first appears at the start of a line.
pub(crate) fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(0, |i| i + 1)
}

/// Computes the deadlines that apply to an appeal received at
/// `received_at_ms` (unix ms) by a body at `utc_offset_minutes`.
///
/// Returns one [`Deadline`] per applicable rule, in file order, with due
/// dates inclusive (`YYYY-MM-DD`, local).
pub fn compute(
    rules: &RuleSet,
    calendar: &Calendar,
    received_at_ms: i64,
    utc_offset_minutes: i32,
    ctx: &DeadlineContext,
) -> Result<Vec<Deadline>, DeadlineError> {
    let mut received = Date::from_unix_ms(received_at_ms, utc_offset_minutes)
        .ok_or(DeadlineError::Timestamp(received_at_ms))?;
    if rules.receipt_on_non_working_moves {
        received = calendar.next_working_day(received)?;
    }
    let registered = match ctx.registered_at_ms {
        Some(ms) => {
            Date::from_unix_ms(ms, utc_offset_minutes).ok_or(DeadlineError::Timestamp(ms))?
        }
        None => received,
    };
    let extra_study = ctx
        .needs_extra_study
        .unwrap_or(rules.assume_extra_study_when_unknown);
    let mut due: HashMap<&str, Date> = HashMap::new();
    let mut out = Vec::new();
    for rule in &rules.rules {
        if rule.when_extra_study.is_some_and(|w| w != extra_study)
            || rule.when_privileged.is_some_and(|w| w != ctx.privileged)
        {
            continue;
        }
        let start = match &rule.from {
            Anchor::Received => received,
            Anchor::Registered => registered,
            // An earlier rule that did not apply: nothing to extend.
            Anchor::Rule(kind) => match due.get(kind.as_str()) {
                Some(d) => *d,
                None => continue,
            },
        };
        let end = match rule.unit {
            Unit::WorkingDays => calendar.add_working_days(start, rule.count)?,
            unit => {
                let raw = if unit == Unit::Months {
                    start.add_months(rule.count)
                } else {
                    start.add_days(rule.count as i32)
                };
                match rule.on_non_working_end.unwrap_or(rules.on_non_working_end) {
                    NonWorkingEnd::Keep => raw,
                    NonWorkingEnd::NextWorkingDay => calendar.next_working_day(raw)?,
                    // Never back onto or before the start day: then the
                    // next working day is the only sensible end.
                    NonWorkingEnd::PreviousWorkingDay => {
                        let prev = calendar.previous_working_day(raw)?;
                        if prev > start {
                            prev
                        } else {
                            calendar.next_working_day(raw)?
                        }
                    }
                }
            }
        };
        due.insert(rule.kind.as_str(), end);
        out.push(Deadline {
            kind: rule.kind.clone(),
            due: end.to_string(),
            citation: rule.citation.clone(),
        });
    }
    Ok(out)
}
