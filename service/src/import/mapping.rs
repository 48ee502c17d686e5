//! From raw source values to an [`AppealData`]: validation, dates, places and
//! the one text-preparation step (PII masking) everything stored goes through.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

use super::reader::{Field, RawRow};
use super::report::RejectReason;
use crate::record::{AppealData, AppealStatus, Place};

/// Longest accepted external id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// What the mapping needs besides the row.
#[derive(Debug, Clone)]
pub struct MappingOptions {
    /// Tenant the appeals belong to.
    pub tenant: String,
    /// Longest accepted text in bytes (the embedder's limit).
    pub max_text_bytes: usize,
    /// Offset of dates written without one (the portal exports local time).
    pub naive_offset: FixedOffset,
    /// Spellings of departments mapped to one department (`--department-aliases`).
    pub aliases: triage_domain::aliases::Aliases,
}

impl MappingOptions {
    /// Options for `tenant` with dates without an offset read as UTC.
    pub fn utc(tenant: impl Into<String>, max_text_bytes: usize) -> Self {
        Self {
            tenant: tenant.into(),
            max_text_bytes,
            naive_offset: FixedOffset::east_opt(0).expect("zero offset is valid"),
            aliases: Default::default(),
        }
    }
}

/// Prepares an appeal text for everything outside the record (index, logs, UI):
/// personal data masked by the domain's masker. The one place import calls it,
/// so a change of policy is a change here.
pub fn prepare_text(text: &str) -> String {
    triage_domain::pii::redact(text).text
}

/// Parses a received-at date into unix milliseconds.
pub fn parse_date(v: &str, naive_offset: FixedOffset) -> Option<i64> {
    let v = v.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(v) {
        return Some(dt.timestamp_millis());
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    naive_offset
        .from_local_datetime(&naive)
        .single()
        .map(|dt| dt.timestamp_millis())
}

fn non_empty(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn coordinate(row: &RawRow, field: Field, max: f64) -> Result<Option<f64>, RejectReason> {
    let Some(v) = non_empty(row.get(field)) else {
        return Ok(None);
    };
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x.abs() <= max => Ok(Some(x)),
        _ => Err(RejectReason::BadCoordinate {
            field: if field == Field::Lat { "lat" } else { "lon" },
            value: v,
        }),
    }
}

/// The category path of a row: its category columns' values, general to
/// specific, up to the first empty one.
fn category(row: &RawRow) -> Result<Vec<String>, RejectReason> {
    let path: Vec<String> = Field::CATEGORY
        .iter()
        .map_while(|f| non_empty(row.get(*f)))
        .map(|l| triage_domain::category::truncate_level(&l))
        .collect();
    triage_domain::category::validate(&path)
        .map_err(|e| RejectReason::BadCategory(e.to_string()))?;
    Ok(path)
}

/// The appeal a row describes, or why it cannot be one. Status is `imported`
/// unless a status column says otherwise.
pub fn to_appeal(row: &RawRow, o: &MappingOptions) -> Result<AppealData, RejectReason> {
    let id = non_empty(row.get(Field::Id)).ok_or(RejectReason::MissingId)?;
    if id.len() > MAX_ID_BYTES {
        return Err(RejectReason::IdTooLong {
            bytes: id.len(),
            limit: MAX_ID_BYTES,
        });
    }
    let text = triage_domain::text::normalise(row.get(Field::Text).unwrap_or("")).text;
    if text.trim().is_empty() {
        return Err(RejectReason::MissingText);
    }
    if !triage_domain::text::has_letter_or_digit(&text) {
        return Err(RejectReason::NoContent);
    }
    let redacted = prepare_text(&text);
    let longest = text.len().max(redacted.len());
    if longest > o.max_text_bytes {
        return Err(RejectReason::TextTooLarge {
            bytes: longest,
            limit: o.max_text_bytes,
        });
    }
    let date = non_empty(row.get(Field::Date)).ok_or(RejectReason::MissingDate)?;
    let received_at =
        parse_date(&date, o.naive_offset).ok_or_else(|| RejectReason::BadDate(date.clone()))?;
    let status = match non_empty(row.get(Field::Status)) {
        None => AppealStatus::Imported,
        Some(s) => AppealStatus::from_str(&s).map_err(|_| RejectReason::BadStatus(s))?,
    };
    let category = category(row)?;
    // 0/0 is what exports write for "no coordinates": kept as none, not refused.
    let (lat, lon) = triage_domain::known_coordinates(
        coordinate(row, Field::Lat, 90.0)?,
        coordinate(row, Field::Lon, 180.0)?,
    );
    Ok(AppealData {
        tenant_id: o.tenant.clone(),
        external_id: Some(id),
        text,
        redacted_text: redacted,
        language: None,
        place: Place {
            district: non_empty(row.get(Field::District)),
            municipality: non_empty(row.get(Field::Municipality)),
            lat,
            lon,
            address: None,
        },
        channel: None,
        applicant_category: None,
        category,
        received_at,
        status,
        department: non_empty(row.get(Field::Department))
            .map(|d| o.aliases.resolve(&d).to_string()),
        submitted_by: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> MappingOptions {
        MappingOptions {
            tenant: "spb".into(),
            max_text_bytes: 100,
            naive_offset: FixedOffset::east_opt(3 * 3600).unwrap(),
            aliases: Default::default(),
        }
    }

    fn row(pairs: &[(Field, &str)]) -> RawRow {
        let mut values: [Option<String>; crate::import::reader::FIELDS] = Default::default();
        for (f, v) in pairs {
            values[f.index()] = Some(v.to_string());
        }
        RawRow {
            row: 1,
            line: 2,
            values,
        }
    }

    #[test]
    fn dates_in_every_accepted_form() {
        let msk = FixedOffset::east_opt(3 * 3600).unwrap();
        let utc_ms = 1_603_032_640_817; // 2020-10-18T14:50:40.817Z
        assert_eq!(parse_date("2020-10-18T14:50:40.817Z", msk), Some(utc_ms));
        assert_eq!(
            parse_date("2020-10-18T17:50:40.817676", msk),
            Some(utc_ms),
            "naive = local +03:00"
        );
        assert_eq!(parse_date("2020-10-18 17:50:40.817", msk), Some(utc_ms));
        assert_eq!(
            parse_date("2020-10-18", msk),
            Some(1_602_968_400_000),
            "midnight local"
        );
        assert_eq!(parse_date("18.10.2020", msk), None);
        assert_eq!(parse_date("2020-13-01", msk), None);
    }

    #[test]
    fn aliases_categories_and_control_characters_are_read_at_the_door() {
        let mut o = opts();
        o.aliases =
            triage_domain::aliases::Aliases::parse("КП ШЕУ,Комунальне підприємство ШЕУ").unwrap();
        let a = to_appeal(
            &row(&[
                (Field::Id, "Ш-1"),
                (Field::Text, "Яма\u{0}\u{12} біля дому"),
                (Field::Date, "2015-03-01"),
                (Field::Department, "КП ШЕУ"),
                (Field::Category1, "Дороги"),
                (Field::Category2, "Ями"),
            ]),
            &o,
        )
        .unwrap();
        assert_eq!(a.department.as_deref(), Some("Комунальне підприємство ШЕУ"));
        assert_eq!(a.category, ["Дороги", "Ями"]);
        assert_eq!(
            a.text, "Яма біля дому",
            "control characters dropped, not refused"
        );
        // Nothing to read once they are gone: refused with its own code.
        let e = to_appeal(
            &row(&[
                (Field::Id, "2"),
                (Field::Text, "\u{1}\u{2}"),
                (Field::Date, "2015-03-01"),
            ]),
            &o,
        )
        .unwrap_err();
        assert_eq!(e.code(), "missing_text");
        let e = to_appeal(
            &row(&[
                (Field::Id, "3"),
                (Field::Text, "\u{200b}\u{200b}"),
                (Field::Date, "2015-03-01"),
            ]),
            &o,
        )
        .unwrap_err();
        assert_eq!(e.code(), "no_content");
    }

    #[test]
    fn a_full_row_becomes_an_imported_appeal() {
        let a = to_appeal(
            &row(&[
                (Field::Id, " 42 "),
                (Field::Text, "Мусор во дворе"),
                (Field::Date, "2020-10-18"),
                (Field::District, "Приморский"),
                (Field::Lat, "59.99"),
                (Field::Lon, ""),
                (Field::Department, "Администрация"),
            ]),
            &opts(),
        )
        .unwrap();
        assert_eq!(a.external_id.as_deref(), Some("42"));
        assert_eq!(a.status, AppealStatus::Imported);
        assert_eq!(a.place.district.as_deref(), Some("Приморский"));
        assert_eq!((a.place.lat, a.place.lon), (Some(59.99), None));
        assert_eq!(a.redacted_text, a.text, "nothing personal to mask");
        assert_eq!(a.department.as_deref(), Some("Администрация"));
    }

    #[test]
    fn zero_zero_coordinates_are_no_coordinates() {
        let at = |lat: &str, lon: &str| {
            let a = to_appeal(
                &row(&[
                    (Field::Id, "1"),
                    (Field::Text, "Мусор во дворе"),
                    (Field::Date, "2020-10-18"),
                    (Field::Lat, lat),
                    (Field::Lon, lon),
                ]),
                &opts(),
            )
            .unwrap();
            (a.place.lat, a.place.lon)
        };
        assert_eq!(at("0", "0"), (None, None));
        assert_eq!(at("0.0", "-0"), (None, None));
        assert_eq!(at("0", "30.5"), (Some(0.0), Some(30.5)));
    }

    #[test]
    fn personal_data_is_masked_in_the_redacted_text_only() {
        let text = "Звонила с номера +7 921 555-12-34, ответа нет";
        let a = to_appeal(
            &row(&[
                (Field::Id, "1"),
                (Field::Text, text),
                (Field::Date, "2020-10-18"),
            ]),
            &opts(),
        )
        .unwrap();
        assert_eq!(a.text, text);
        assert!(!a.redacted_text.contains("555"), "{}", a.redacted_text);
        assert!(a.redacted_text.contains("ответа нет"));
    }

    #[test]
    fn each_defect_has_its_reason() {
        let base = [
            (Field::Id, "1"),
            (Field::Text, "t"),
            (Field::Date, "2020-10-18"),
        ];
        let with = |f: Field, v: &str| {
            let mut p = base.to_vec();
            p.retain(|(g, _)| *g != f);
            p.push((f, v));
            to_appeal(&row(&p), &opts()).unwrap_err()
        };
        assert_eq!(with(Field::Id, " "), RejectReason::MissingId);
        assert_eq!(with(Field::Text, "  \n"), RejectReason::MissingText);
        assert!(matches!(
            with(Field::Text, &"я".repeat(51)),
            RejectReason::TextTooLarge {
                bytes: 102,
                limit: 100
            }
        ));
        assert_eq!(with(Field::Date, ""), RejectReason::MissingDate);
        assert!(matches!(
            with(Field::Date, "yesterday"),
            RejectReason::BadDate(_)
        ));
        assert!(matches!(
            with(Field::Lat, "91"),
            RejectReason::BadCoordinate { field: "lat", .. }
        ));
        assert!(matches!(
            with(Field::Lon, "200"),
            RejectReason::BadCoordinate { field: "lon", .. }
        ));
        assert!(matches!(
            with(Field::Status, "done"),
            RejectReason::BadStatus(_)
        ));
        assert!(matches!(
            with(Field::Id, &"9".repeat(300)),
            RejectReason::IdTooLong { .. }
        ));
    }
}
