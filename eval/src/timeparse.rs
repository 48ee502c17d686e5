//! Timestamps in the formats exports actually contain, as unix milliseconds.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Parses a timestamp into unix milliseconds (UTC).
///
/// Accepted: RFC 3339 / ISO 8601 with offset (`2021-02-01T10:00:00+03:00`),
/// ISO 8601 without offset (`2021-02-01T10:00:00.123456`, `2021-02-01 10:00`),
/// a bare date (`2021-02-01`, midnight), or an integer of unix milliseconds.
/// Timestamps without an offset are taken as UTC: the dev data has none, and a
/// split only needs a consistent order.
pub fn parse_timestamp_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit())
        || (s.starts_with('-') && s.len() > 1 && s[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return s.parse::<i64>().ok();
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Formats unix milliseconds as an RFC 3339 UTC timestamp for reports.
pub fn format_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_formats_exports_contain() {
        // 2021-02-01T00:00:00Z = 1612137600 s (computed with `date -ud 2021-02-01 +%s`).
        let day = 1_612_137_600_000;
        assert_eq!(parse_timestamp_ms("2021-02-01"), Some(day));
        assert_eq!(parse_timestamp_ms("2021-02-01T00:00:00Z"), Some(day));
        assert_eq!(parse_timestamp_ms("2021-02-01T03:00:00+03:00"), Some(day));
        assert_eq!(
            parse_timestamp_ms("2021-02-01T00:00:01.5"),
            Some(day + 1500)
        );
        assert_eq!(parse_timestamp_ms("2021-02-01 00:01"), Some(day + 60_000));
        assert_eq!(
            parse_timestamp_ms("2021-02-01T00:00:00.817676"),
            Some(day + 817)
        );
        assert_eq!(parse_timestamp_ms("1612137600000"), Some(day));
        assert_eq!(parse_timestamp_ms("yesterday"), None);
        assert_eq!(parse_timestamp_ms("2021-02-30"), None);
        assert_eq!(parse_timestamp_ms(""), None);
        assert_eq!(format_ms(day), "2021-02-01T00:00:00Z");
    }
}
