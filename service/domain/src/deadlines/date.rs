//! Civil dates without a time zone: the unit statutory terms are counted in.

use std::fmt;
use std::str::FromStr;

/// A proleptic Gregorian date, stored as days since 1970-01-01.
///
/// Our own small type instead of a date crate: terms need only day and
/// month arithmetic, and the domain crate stays free of clock access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

/// Day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// Parses `mon`..`sun` (the calendar files' spelling).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "mon" => Self::Mon,
            "tue" => Self::Tue,
            "wed" => Self::Wed,
            "thu" => Self::Thu,
            "fri" => Self::Fri,
            "sat" => Self::Sat,
            "sun" => Self::Sun,
            _ => return None,
        })
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in month `m` (1-12) of year `y`.
pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

impl Date {
    /// The date `y-m-d`, or `None` when it does not exist.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Option<Self> {
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || !(1..=9999).contains(&y) {
            return None;
        }
        // Howard Hinnant's days_from_civil.
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m as i32 + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Self(era * 146_097 + doe - 719_468))
    }

    /// Year, month (1-12), day (1-31).
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i32::from(m <= 2);
        (y, m, d)
    }

    /// The local date of a unix-millisecond instant at a fixed UTC offset.
    pub fn from_unix_ms(ms: i64, utc_offset_minutes: i32) -> Option<Self> {
        let local = ms.checked_add(i64::from(utc_offset_minutes) * 60_000)?;
        let days = local.div_euclid(86_400_000);
        let d = Self(i32::try_from(days).ok()?);
        let (y, _, _) = d.ymd();
        (1..=9999).contains(&y).then_some(d)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// `n` days later (earlier when negative).
    pub fn add_days(self, n: i32) -> Self {
        Self(self.0 + n)
    }

    /// `n` months later, on the same day number, or on the last day of the
    /// target month when it is shorter (31 Jan + 1 month = 28/29 Feb).
    pub fn add_months(self, n: u32) -> Self {
        let (y, m, d) = self.ymd();
        let total = y * 12 + (m as i32 - 1) + n as i32;
        let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
        Self::from_ymd(ny, nm, d.min(days_in_month(ny, nm))).expect("clamped day exists")
    }

    /// Day of the week.
    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        match (self.0 + 3).rem_euclid(7) {
            0 => Weekday::Mon,
            1 => Weekday::Tue,
            2 => Weekday::Wed,
            3 => Weekday::Thu,
            4 => Weekday::Fri,
            5 => Weekday::Sat,
            _ => Weekday::Sun,
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = String;

    /// Parses `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a date (YYYY-MM-DD)");
        let mut it = s.split('-');
        let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let (y, m, d) = (
            y.parse().map_err(|_| bad())?,
            m.parse().map_err(|_| bad())?,
            d.parse().map_err(|_| bad())?,
        );
        Self::from_ymd(y, m, d).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_weekdays() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "2025-12-31",
            "2027-03-01",
            "1969-12-31",
        ] {
            let d: Date = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
        let d: Date = "2025-01-01".parse().unwrap();
        assert_eq!(d.weekday(), Weekday::Wed);
        assert_eq!(d.add_days(365).to_string(), "2026-01-01");
        assert!("2025-02-29".parse::<Date>().is_err());
        assert!("2025-1-01".parse::<Date>().is_err());
    }

    #[test]
    fn month_arithmetic_clamps_to_month_end() {
        let d: Date = "2025-01-31".parse().unwrap();
        assert_eq!(d.add_months(1).to_string(), "2025-02-28");
        let d: Date = "2028-01-31".parse().unwrap();
        assert_eq!(d.add_months(1).to_string(), "2028-02-29");
        let d: Date = "2025-12-15".parse().unwrap();
        assert_eq!(d.add_months(2).to_string(), "2026-02-15");
    }

    #[test]
    fn local_date_uses_the_offset() {
        // 2025-03-03T22:30:00Z is already 2025-03-04 in Kyiv (+02:00).
        let ms = 1_741_041_000_000;
        assert_eq!(Date::from_unix_ms(ms, 0).unwrap().to_string(), "2025-03-03");
        assert_eq!(
            Date::from_unix_ms(ms, 120).unwrap().to_string(),
            "2025-03-04"
        );
    }
}
