//! Statutory deadlines: hand-computed dates across weekends, holidays,
//! transfers and month ends; rule-file errors that name line and field.

use triage_domain::deadlines::{compute, Calendar, Date, DeadlineContext, DeadlineError, RuleSet};
use triage_domain::Jurisdiction;

/// Unix ms of a local date-time at `offset_min`.
fn at(date: &str, hour: u32, offset_min: i32) -> i64 {
    let d: Date = date.parse().unwrap();
    i64::from(d.days_since_epoch()) * 86_400_000 + i64::from(hour) * 3_600_000
        - i64::from(offset_min) * 60_000
}

fn due(j: Jurisdiction, received: i64, offset: i32, ctx: DeadlineContext) -> Vec<(String, String)> {
    compute(
        &RuleSet::builtin(j),
        &Calendar::builtin(j),
        received,
        offset,
        &ctx,
    )
    .unwrap()
    .into_iter()
    .map(|d| {
        assert!(!d.citation.is_empty());
        (d.kind, d.due)
    })
    .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const KYIV: i32 = 120;
const MOSCOW: i32 = 180;
const ALMATY: i32 = 300;

#[test]
fn ua_terms_from_a_monday() {
    // Mon 3 Mar 2025: +5 = Sat 8 Mar -> Fri 7 Mar; +15 = Tue 18 Mar; +45 = Thu 17 Apr.
    let r = at("2025-03-03", 10, KYIV);
    assert_eq!(
        due(Jurisdiction::Ua, r, KYIV, DeadlineContext::default()),
        pairs(&[
            ("forward", "2025-03-07"),
            ("answer", "2025-03-18"),
            ("answer_max", "2025-04-17")
        ])
    );
    let ctx = DeadlineContext {
        needs_extra_study: Some(true),
        ..Default::default()
    };
    assert_eq!(
        due(Jurisdiction::Ua, r, KYIV, ctx),
        pairs(&[
            ("forward", "2025-03-07"),
            ("answer", "2025-04-03"),
            ("answer_max", "2025-04-17")
        ])
    );
}

#[test]
fn ua_local_date_follows_the_offset() {
    // 22:30 UTC on 3 Mar is 00:30 on 4 Mar in Kyiv: 15 days run from the 4th.
    let r = at("2025-03-03", 22, 0) + 30 * 60_000;
    let ua = |offset| {
        due(Jurisdiction::Ua, r, offset, DeadlineContext::default())[1]
            .1
            .clone()
    };
    assert_eq!(ua(KYIV), "2025-03-19");
    assert_eq!(ua(0), "2025-03-18");
}

#[test]
fn ua_month_end_and_martial_law_holidays() {
    // 31 Jan 2027 + 1 month = 28 Feb 2027, a Sunday -> Fri 26 Feb.
    let ctx = DeadlineContext {
        needs_extra_study: Some(true),
        ..Default::default()
    };
    let d = due(Jurisdiction::Ua, at("2027-01-31", 9, KYIV), KYIV, ctx);
    assert_eq!(d[1], ("answer".to_string(), "2027-02-26".to_string()));
    // 31 Jan 2025 + 1 month = Fri 28 Feb 2025.
    let d = due(Jurisdiction::Ua, at("2025-01-31", 9, KYIV), KYIV, ctx);
    assert_eq!(d[1].1, "2025-02-28");
    // Sat 20 Dec 2025 + 5 = Thu 25 Dec (Christmas): a working day under martial law.
    let d = due(
        Jurisdiction::Ua,
        at("2025-12-20", 9, KYIV),
        KYIV,
        DeadlineContext::default(),
    );
    assert_eq!(d[0].1, "2025-12-25");
}

#[test]
fn ru_terms_run_from_registration() {
    // Tue 1 Apr 2025: register Fri 4 Apr; forward Tue 8 Apr; answer 1 May (holiday)
    // -> Wed 30 Apr; extension +30 from 30 Apr = Fri 30 May.
    let r = at("2025-04-01", 12, MOSCOW);
    assert_eq!(
        due(Jurisdiction::Ru, r, MOSCOW, DeadlineContext::default()),
        pairs(&[
            ("register", "2025-04-04"),
            ("forward", "2025-04-08"),
            ("answer", "2025-04-30"),
            ("answer_max", "2025-05-30"),
        ])
    );
    // Registered Thu 3 Apr: forward Thu 10 Apr; answer Sat 3 May -> 2 May and
    // 1 May are days off too -> Wed 30 Apr.
    let ctx = DeadlineContext {
        registered_at_ms: Some(at("2025-04-03", 9, MOSCOW)),
        ..Default::default()
    };
    assert_eq!(
        due(Jurisdiction::Ru, r, MOSCOW, ctx),
        pairs(&[
            ("register", "2025-04-04"),
            ("forward", "2025-04-10"),
            ("answer", "2025-04-30"),
            ("answer_max", "2025-05-30"),
        ])
    );
}

#[test]
fn ru_new_year_holidays() {
    // Mon 29 Dec 2025: register 1 Jan (holiday), 31 Dec is a transferred day
    // off -> Tue 30 Dec; forward 5 Jan (holiday) -> back to Tue 30 Dec;
    // answer +30 = Wed 28 Jan 2026; extension Fri 27 Feb.
    let r = at("2025-12-29", 11, MOSCOW);
    assert_eq!(
        due(Jurisdiction::Ru, r, MOSCOW, DeadlineContext::default()),
        pairs(&[
            ("register", "2025-12-30"),
            ("forward", "2025-12-30"),
            ("answer", "2026-01-28"),
            ("answer_max", "2026-02-27"),
        ])
    );
}

#[test]
fn kz_friday_before_a_holiday_counts_working_days() {
    // Fri 7 Mar 2025; Mon 10 Mar is the day off for 8 March.
    // forward: 11, 12, 13 -> Thu 13 Mar.
    // answer: 11,12,13,14,17,18,19,20, (21 Наурыз, 24, 25 off), 26,27,28,31, 1,2,3 Apr -> Thu 3 Apr.
    // answer_max: 7 May (holiday) -> Tue 6 May.
    let r = at("2025-03-07", 16, ALMATY);
    assert_eq!(
        due(Jurisdiction::Kz, r, ALMATY, DeadlineContext::default()),
        pairs(&[
            ("forward", "2025-03-13"),
            ("answer", "2025-04-03"),
            ("answer_max", "2025-05-06")
        ])
    );
}

#[test]
fn kz_receipt_on_a_day_off_moves_to_the_next_working_day() {
    // Sat 22 Mar 2025: 24-25 Mar off -> received Wed 26 Mar; forward 27, 28, 31 -> Mon 31 Mar.
    let d = due(
        Jurisdiction::Kz,
        at("2025-03-22", 10, ALMATY),
        ALMATY,
        DeadlineContext::default(),
    );
    assert_eq!(d[0].1, "2025-03-31");
    // Fri 3 Jan 2025 is a day off, Sun 5 Jan a working day: received 5 Jan;
    // forward 6, (7 off), 8, 9 -> Thu 9 Jan.
    let d = due(
        Jurisdiction::Kz,
        at("2025-01-03", 10, ALMATY),
        ALMATY,
        DeadlineContext::default(),
    );
    assert_eq!(d[0].1, "2025-01-09");
}

#[test]
fn calendars_know_transfers() {
    let ru = Calendar::builtin(Jurisdiction::Ru);
    let kz = Calendar::builtin(Jurisdiction::Kz);
    let ua = Calendar::builtin(Jurisdiction::Ua);
    let day = |s: &str| s.parse::<Date>().unwrap();
    assert!(
        ru.is_working_day(day("2025-11-01")).unwrap(),
        "RU Saturday 1 Nov 2025 is worked"
    );
    assert!(!ru.is_working_day(day("2025-11-03")).unwrap());
    assert!(!ru.is_working_day(day("2026-01-09")).unwrap());
    assert!(
        kz.is_working_day(day("2025-01-05")).unwrap(),
        "KZ Sunday 5 Jan 2025 is worked"
    );
    assert!(
        !kz.is_working_day(day("2026-05-27")).unwrap(),
        "Курбан айт 2026"
    );
    assert!(
        ua.is_working_day(day("2026-08-24")).unwrap(),
        "UA holidays are worked under martial law"
    );
    assert!(!ua.is_working_day(day("2026-08-23")).unwrap());
}

#[test]
fn dates_outside_the_calendar_are_an_error() {
    let err = compute(
        &RuleSet::builtin(Jurisdiction::Kz),
        &Calendar::builtin(Jurisdiction::Kz),
        at("2027-12-28", 10, ALMATY),
        ALMATY,
        &DeadlineContext::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DeadlineError::NotCovered { .. }), "{err}");
    assert!(err.to_string().contains("extend the calendar"), "{err}");
}

#[test]
fn privileged_lists_are_data() {
    let ua = RuleSet::builtin(Jurisdiction::Ua);
    assert!(ua.is_privileged("war_veteran"));
    assert!(ua.is_privileged(" Disabled_Group_1 "));
    assert!(!ua.is_privileged("student"));
    assert!(RuleSet::builtin(Jurisdiction::Kz).is_privileged("veteran"));
}

const GOOD: &str = r#"
jurisdiction = "ua"
law = "test"
on_non_working_end = "keep"

[[rule]]
kind = "answer"
count = 10
unit = "calendar_days"
from = "received"
citation = "art. 1"
"#;

fn load_err(text: &str) -> String {
    RuleSet::from_toml_str("tenant.toml", text)
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_rule_files_name_line_and_field() {
    assert!(RuleSet::from_toml_str("tenant.toml", GOOD).is_ok());

    let e = load_err(&GOOD.replace("count = 10", "cuont = 10"));
    assert!(
        e.contains("tenant.toml") && e.contains("line 8") && e.contains("cuont"),
        "{e}"
    );

    let e = load_err(&GOOD.replace("calendar_days", "wokring_days"));
    assert!(e.contains("line 9") && e.contains("wokring_days"), "{e}");

    let e = load_err(&GOOD.replace("from = \"received\"", "from = \"anwser\""));
    assert!(
        e.contains("line 6") && e.contains("`from`") && e.contains("anwser"),
        "{e}"
    );

    let e = load_err(&GOOD.replace("count = 10", "count = 0"));
    assert!(e.contains("line 6") && e.contains("`count`"), "{e}");

    let e = load_err(&GOOD.replace("citation = \"art. 1\"", "citation = \"\""));
    assert!(e.contains("`citation`"), "{e}");

    let e = load_err(&GOOD.replace("\"ua\"", "\"de\""));
    assert!(e.contains("line 2") && e.contains("de"), "{e}");
}

#[test]
fn bad_calendar_files_name_line_and_field() {
    let text = "name = \"x\"\nweekend = [\"sat\", \"sun\"]\nfrom = \"2025-01-01\"\nto = \"2025-12-31\"\n\n[[day_off]]\ndate = \"2025-02-30\"\nname = \"bad\"\n";
    let e = Calendar::from_toml_str("cal.toml", text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cal.toml line 6") && e.contains("`date`") && e.contains("2025-02-30"),
        "{e}"
    );

    let e = Calendar::from_toml_str("cal.toml", &text.replace("\"sun\"", "\"sunday\""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2") && e.contains("`weekend`") && e.contains("sunday"),
        "{e}"
    );
}

#[test]
fn tenant_files_load_from_a_path() {
    let path =
        std::env::temp_dir().join(format!("triage-domain-rules-{}.toml", std::process::id()));
    std::fs::write(&path, GOOD.replace("count = 10", "count = 3")).unwrap();
    let rules = RuleSet::from_path(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let cal = Calendar::builtin(Jurisdiction::Ua);
    let d = compute(
        &rules,
        &cal,
        at("2025-03-03", 10, KYIV),
        KYIV,
        &DeadlineContext::default(),
    )
    .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].due, "2025-03-06");
    assert_eq!(d[0].citation, "art. 1");

    let e = RuleSet::from_path(&path).unwrap_err();
    assert!(matches!(e, DeadlineError::Io { .. }), "{e}");
}
