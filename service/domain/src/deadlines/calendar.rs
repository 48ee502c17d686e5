//! Working-day calendars: weekends, public holidays and transferred days, as
//! data per jurisdiction.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use super::date::{Date, Weekday};
use super::{line_of, DeadlineError};
use crate::Jurisdiction;

/// Which days are working days in one jurisdiction over a covered range.
///
/// Built from a TOML file (see `rules/calendars/*.toml`): a weekend, days off
/// (holidays and days off moved by decree) and working days that fall on a
/// weekend (the other half of a transfer). Dates outside `from..=to` are an
/// error, never a guess: a stale calendar must be noticed and extended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    name: String,
    weekend: Vec<Weekday>,
    from: Date,
    to: Date,
    days_off: HashSet<Date>,
    working_days: HashSet<Date>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    name: String,
    weekend: Vec<String>,
    from: String,
    to: String,
    #[serde(default)]
    day_off: Vec<toml::Spanned<RawDay>>,
    #[serde(default)]
    working_day: Vec<toml::Spanned<RawDay>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDay {
    date: String,
    name: String,
    /// `false` keeps a holiday on record without making it a day off (e.g.
    /// Ukrainian holidays are working days under martial law).
    #[serde(default = "yes")]
    observed: bool,
}

fn yes() -> bool {
    true
}

const UA: &str = include_str!("../../rules/calendars/ua.toml");
const RU: &str = include_str!("../../rules/calendars/ru.toml");
const KZ: &str = include_str!("../../rules/calendars/kz.toml");

impl Calendar {
    /// The calendar shipped for `jurisdiction` (2025-2027).
    pub fn builtin(jurisdiction: Jurisdiction) -> Self {
        let (src, text) = match jurisdiction {
            Jurisdiction::Ua => ("rules/calendars/ua.toml", UA),
            Jurisdiction::Ru => ("rules/calendars/ru.toml", RU),
            Jurisdiction::Kz => ("rules/calendars/kz.toml", KZ),
        };
        Self::from_toml_str(src, text).expect("built-in calendar is valid (tested)")
    }

    /// Reads a tenant's calendar file (same format as the built-in ones).
    pub fn from_path(path: &Path) -> Result<Self, DeadlineError> {
        let (name, text) = super::read_rules_file(path)?;
        Self::from_toml_str(&name, &text)
    }

    /// Parses a calendar; `source` names the file in error messages.
    pub fn from_toml_str(source: &str, text: &str) -> Result<Self, DeadlineError> {
        let raw: RawCalendar = super::parse_toml(source, text)?;
        let invalid = |line: usize, message: String| DeadlineError::Invalid {
            source_name: source.to_owned(),
            line,
            message,
        };
        let weekend = raw
            .weekend
            .iter()
            .map(|w| {
                Weekday::parse(w).ok_or_else(|| {
                    invalid(
                        line_of(text, "weekend"),
                        format!("field `weekend`: {w:?} is not one of mon, tue, wed, thu, fri, sat, sun"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let from: Date = raw
            .from
            .parse()
            .map_err(|e| invalid(line_of(text, "from"), format!("field `from`: {e}")))?;
        let to: Date = raw
            .to
            .parse()
            .map_err(|e| invalid(line_of(text, "to"), format!("field `to`: {e}")))?;
        if to < from {
            return Err(invalid(
                line_of(text, "to"),
                format!("field `to` ({to}) is before `from` ({from})"),
            ));
        }
        let mut days_off = HashSet::new();
        let mut working_days = HashSet::new();
        for (table, list, set) in [
            ("day_off", &raw.day_off, &mut days_off),
            ("working_day", &raw.working_day, &mut working_days),
        ] {
            for (i, day) in list.iter().enumerate() {
                let line = text[..day.span().start].matches('\n').count() + 1;
                let d = day.get_ref();
                let date: Date = d.date.parse().map_err(|e| {
                    invalid(
                        line,
                        format!("[[{table}]] #{} ({}): field `date`: {e}", i + 1, d.name),
                    )
                })?;
                if date < from || date > to {
                    return Err(invalid(
                        line,
                        format!(
                            "[[{table}]] #{} ({}): field `date` {date} is outside {from}..={to}",
                            i + 1,
                            d.name
                        ),
                    ));
                }
                if d.observed {
                    set.insert(date);
                }
            }
        }
        if let Some(both) = days_off.intersection(&working_days).next() {
            return Err(invalid(
                0,
                format!("{both} is both a day off and a working day"),
            ));
        }
        Ok(Self {
            name: raw.name,
            weekend,
            from,
            to,
            days_off,
            working_days,
        })
    }

    /// Name from the file (e.g. `ua`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// First and last covered dates.
    pub fn covers(&self) -> (Date, Date) {
        (self.from, self.to)
    }

    /// Whether `date` is a working day; an error outside the covered range.
    pub fn is_working_day(&self, date: Date) -> Result<bool, DeadlineError> {
        if date < self.from || date > self.to {
            return Err(DeadlineError::NotCovered {
                calendar: self.name.clone(),
                date: date.to_string(),
                from: self.from.to_string(),
                to: self.to.to_string(),
            });
        }
        if self.working_days.contains(&date) {
            return Ok(true);
        }
        Ok(!self.days_off.contains(&date) && !self.weekend.contains(&date.weekday()))
    }

    /// The `n`-th working day after `date` (`date` itself not counted).
    pub fn add_working_days(&self, date: Date, n: u32) -> Result<Date, DeadlineError> {
        let mut d = date;
        let mut left = n;
        while left > 0 {
            d = d.add_days(1);
            if self.is_working_day(d)? {
                left -= 1;
            }
        }
        Ok(d)
    }

    /// `date` if it is a working day, else the next working day.
    pub fn next_working_day(&self, date: Date) -> Result<Date, DeadlineError> {
        let mut d = date;
        while !self.is_working_day(d)? {
            d = d.add_days(1);
        }
        Ok(d)
    }

    /// `date` if it is a working day, else the previous working day.
    pub fn previous_working_day(&self, date: Date) -> Result<Date, DeadlineError> {
        let mut d = date;
        while !self.is_working_day(d)? {
            d = d.add_days(-1);
        }
        Ok(d)
    }
}
