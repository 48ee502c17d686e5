//! Urgency: keyword rules in four languages, negation, season, privileged
//! applicants and the neighbour majority rule.

use triage_domain::urgency::{assess, UrgencyRules, REASON_NEIGHBOURS, REASON_PRIVILEGED};
use triage_domain::{Jurisdiction, UrgencyLevel};

/// 15 Jan 2025 12:00 UTC and 15 Jul 2025 12:00 UTC.
const JANUARY: i64 = 1_736_942_400_000;
const JULY: i64 = 1_752_580_800_000;

fn rules() -> UrgencyRules {
    UrgencyRules::builtin(Jurisdiction::Ua)
}

fn level(text: &str, at: i64) -> (UrgencyLevel, Vec<String>) {
    let u = assess(&rules(), text, at, None, &[]);
    (u.level, u.reasons)
}

fn expect(text: &str, at: i64, lvl: UrgencyLevel, reason: &str) {
    let (l, r) = level(text, at);
    assert_eq!(l, lvl, "text: {text}, reasons {r:?}");
    assert!(
        r.iter().any(|x| x == reason),
        "text: {text}: reasons {r:?} lack {reason}"
    );
}

fn normal(text: &str) {
    let (l, r) = level(text, JANUARY);
    assert_eq!(l, UrgencyLevel::Normal, "text: {text}, reasons {r:?}");
    assert!(r.is_empty());
}

#[test]
fn gas_fire_wires_flooding_in_four_languages() {
    use UrgencyLevel::Critical;
    expect(
        "У під'їзді сильно пахне газом, допоможіть!",
        JULY,
        Critical,
        "gas_leak",
    );
    expect(
        "В квартире запах газа уже второй день",
        JULY,
        Critical,
        "gas_leak",
    );
    expect("Подъездте газ иісі шығып тұр", JULY, Critical, "gas_leak");
    expect(
        "There is a strong smell of gas in the stairwell",
        JULY,
        Critical,
        "gas_leak",
    );
    expect(
        "На вулиці обірвані дроти лежать на тротуарі",
        JULY,
        Critical,
        "live_wires",
    );
    expect(
        "Во дворе оборванный провод под напряжением",
        JULY,
        Critical,
        "live_wires",
    );
    expect(
        "Сусіди зверху затопили квартиру, прорвало трубу",
        JULY,
        Critical,
        "flooding",
    );
    expect("Үйдің жертөлесін су басты", JULY, Critical, "flooding");
    expect(
        "A burst pipe is flooding the basement",
        JULY,
        Critical,
        "flooding",
    );
    expect(
        "В подвале пожар, задымление подъезда",
        JULY,
        Critical,
        "fire",
    );
    expect(
        "Аварійне дерево може впасти на дитячий майданчик",
        JULY,
        Critical,
        "collapse",
    );
    expect("Балконнан кірпіш құлап жатыр", JULY, Critical, "collapse");
    expect(
        "The old tree may fall onto the road",
        JULY,
        Critical,
        "collapse",
    );
    expect(
        "Відкритий люк — загроза життю дітей",
        JULY,
        Critical,
        "danger_to_life",
    );
    expect(
        "Открытый люк создаёт угрозу жизни прохожих",
        JULY,
        Critical,
        "danger_to_life",
    );
    expect(
        "Ашық люк адамдардың өміріне қауіп төндіреді",
        JULY,
        Critical,
        "danger_to_life",
    );
    expect(
        "Children left alone, a child in danger at the playground",
        JULY,
        Critical,
        "children_at_risk",
    );
}

#[test]
fn outages_are_critical_in_winter_and_high_in_summer() {
    use UrgencyLevel::{Critical, High};
    expect(
        "Третій день немає опалення в будинку",
        JANUARY,
        Critical,
        "no_heating",
    );
    expect(
        "Третій день немає опалення в будинку",
        JULY,
        High,
        "no_heating",
    );
    expect(
        "Уже неделю нет горячей воды",
        JANUARY,
        Critical,
        "no_utilities",
    );
    expect("Уже неделю нет горячей воды", JULY, High, "no_utilities");
    expect("Біздің үйде жарық жоқ", JANUARY, Critical, "no_utilities");
    expect(
        "No electricity in our building since Monday",
        JULY,
        High,
        "no_utilities",
    );
}

#[test]
fn ordinary_and_negated_appeals_stay_normal() {
    normal("Прошу відремонтувати яму на дорозі біля будинку 12");
    normal("Просим отремонтировать яму во дворе, угрозы жизни нет");
    normal("Яма небольшая, никакой угрозы жизни нет, но неудобно");
    normal("Загрози життю немає, але прошу прибрати сміття");
    normal("Немає жодної загрози життю, просто скарга на шум");
    normal("Өмірге қауіп жоқ, бірақ жол нашар");
    normal("There is no danger to life, just a pothole on Main Street");
    normal("У під'їзді цілодобово горить світло, прошу встановити датчик руху");
    normal("Газета не приходит, автогаз на углу шумит");
    normal("The fire hydrant needs painting");
}

#[test]
fn stems_respect_word_boundaries_and_clauses() {
    // "газ*" must not fire inside "автогаз", and stems of one phrase may not
    // cross a sentence.
    normal("Пахне фарбою. Газ у нас в порядку.");
    normal("Запах из мусоропровода. Газа в доме нет вообще");
}

#[test]
fn privileged_applicant_is_high() {
    let u = assess(
        &rules(),
        "Прошу відремонтувати лавку",
        JULY,
        Some("war_veteran"),
        &[],
    );
    assert_eq!(u.level, UrgencyLevel::High);
    assert_eq!(u.reasons, vec![REASON_PRIVILEGED.to_string()]);
    let u = assess(
        &rules(),
        "Прошу відремонтувати лавку",
        JULY,
        Some("student"),
        &[],
    );
    assert_eq!(u.level, UrgencyLevel::Normal);
    // Privilege never lowers a critical appeal.
    let u = assess(&rules(), "пахне газом", JULY, Some("veteran"), &[]);
    assert_eq!(u.level, UrgencyLevel::Critical);
    assert_eq!(
        u.reasons,
        vec!["gas_leak".to_string(), REASON_PRIVILEGED.to_string()]
    );
}

#[test]
fn neighbours_raise_only_on_a_strict_majority() {
    use UrgencyLevel::{Critical, High, Normal};
    let text = "Прошу перевірити стан дороги";
    let with = |n: &[UrgencyLevel]| assess(&rules(), text, JULY, None, n);
    // 3 of 5 urgent: raised to high (not critical).
    let u = with(&[Critical, Critical, Critical, Normal, Normal]);
    assert_eq!(u.level, High);
    assert_eq!(u.reasons, vec![REASON_NEIGHBOURS.to_string()]);
    // 2 of 4: no majority.
    assert_eq!(with(&[High, Normal, High, Normal]).level, Normal);
    // Only the 5 nearest count: the urgent 6th and 7th do not.
    assert_eq!(
        with(&[Normal, Normal, High, High, Normal, High, High]).level,
        Normal
    );
    // Fewer than 3 neighbours: ignored.
    assert_eq!(with(&[High, High]).level, Normal);
}

#[test]
fn bad_rule_files_name_line_and_field() {
    let good = "negators_before = []\nnegators_after = []\nprivileged_level = \"high\"\n\n[neighbours]\nconsider = 5\nmin_count = 3\nraise_to = \"high\"\n\n[[rule]]\nid = \"x\"\nlevel = \"critical\"\nen = [\"boom*\"]\n";
    let r = UrgencyRules::from_toml_str("u.toml", good, vec![]).unwrap();
    assert_eq!(
        assess(&r, "Boom! Booming noise", JULY, None, &[]).level,
        UrgencyLevel::Critical
    );

    let e = UrgencyRules::from_toml_str(
        "u.toml",
        &good.replace("\"critical\"", "\"urgent\""),
        vec![],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("u.toml") && e.contains("line 12") && e.contains("urgent"),
        "{e}"
    );

    let e = UrgencyRules::from_toml_str(
        "u.toml",
        &good.replace("\"critical\"", "\"normal\""),
        vec![],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("line 10") && e.contains("`level`"), "{e}");

    let e = UrgencyRules::from_toml_str("u.toml", &good.replace("[\"boom*\"]", "[\"*\"]"), vec![])
        .unwrap_err()
        .to_string();
    assert!(e.contains("`en`"), "{e}");
}
