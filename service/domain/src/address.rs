//! The address an appeal names, as a key two spellings of one building share.
//!
//! Most of Kyiv's appeals name the street and house ("по вул. Заболотного,
//! 82", "ул.Бальзака 6", "проспект Відрадний, 12- а", "пр-т Правди 66"), in
//! Ukrainian or Russian. Where an appeal has no coordinates (a portal
//! without a map, a phone call typed in, Open311's `address_string`), the
//! address is how its building's history is found. The key is deliberately
//! coarse: the first five letters of the street's longest name word, folded
//! so that Ukrainian and Russian spellings of one name meet ("Заболотного",
//! "Майорова"/"Маиорова", "Святошинська"/"Святошинская"), and the house
//! number with its letter or fraction (`82`, `12а`, `24/9`). Translations
//! ("Перемоги"/"Победы") do not meet; such a street is two keys.
//!
//! Precision before recall: only a street word (`вул.`, `вулиця`, `ул.`,
//! `просп.`, `пр-т`, `бульв.`, `пров.`, `пер.`, `пл.`, `шосе`, `наб.`, ... in
//! any case) followed by a capitalised name and a house number of at most
//! three digits is read, so "школа №189", dates and years are not addresses.
//! On the Kyiv dev file 13% of texts yield a key; in a hand check of 30
//! (`cargo run --release -p triage-eval --example address_audit`) every one
//! had the street and house right, one without its letter ("23 А").

use std::sync::OnceLock;

use regex::Regex;

/// Street words: full forms (any inflection we see) need a word boundary;
/// abbreviations need their dot (`пр.`, `пер.`) or their hyphen (`пр-т`, `б-р`).
const STREET_WORD: &str = r"(?:(?:вулиц[яіюе]|вулицею|улиц[аеуы]|улицей|проспект[уіаеы]?|бульвар[уіае]?|провул(?:ок|ку)|переул(?:ок|ке|ка)|площ[аіе]|площад[ьи]|шосе|шоссе|набережн(?:а|ій|ая|ой))\b|(?:вул|ул|просп|пр|бульв|бул|пров|пер|пл|наб)\.|пр-т[уі]?\b|б-р\b)";

/// One to three name words, each capitalised (or an initial with its dot).
const NAME: &str = r"((?:(?:[А-ЯЄІЇҐ][а-яєіїґ'’`-]+|[А-ЯЄІЇҐ]\.)\s*){1,3}?)";

/// Optional "house" word between the name and the number.
const HOUSE_WORD: &str = r"[,\s]*(?:(?:буд(?:инок|инку)?|д(?:ом|оме)?)\.?\s*|№\s*)?";

/// A house number: up to three digits, an optional fraction, an optional
/// letter glued on or after a hyphen (`12а`, `12-а`, `12- а`).
const NUMBER: &str = r"(\d{1,3}(?:\s*/\s*\d{1,3})?(?:(?:-\s*)?[а-яєіїґ])?)\b";

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // Street words in any case; the name keeps its capital letters (it
        // is how a name is told from an ordinary word).
        let street = format!("(?i:{STREET_WORD})");
        Regex::new(&format!(r"\b{street}\s*{NAME}(?i:{HOUSE_WORD}){NUMBER}"))
            .expect("address pattern")
    })
}

/// Words of a name that are not the street's own.
const NOT_A_NAME: &[&str] = &["київ", "києва", "киев", "киева", "район"];

/// Folds Ukrainian and Russian spellings together: и/і/ї/й/ы as one
/// letter, е/є/э as one, ё as о; apostrophes, hard and soft signs and
/// hyphens dropped.
fn fold(word: &str) -> String {
    word.chars()
        .filter_map(|c| match c {
            'ы' | 'і' | 'ї' | 'й' => Some('и'),
            'є' | 'э' => Some('е'),
            'ё' => Some('о'),
            '\'' | '’' | '`' | 'ъ' | 'ь' | '-' => None,
            c => Some(c),
        })
        .collect()
}

/// The street part of a key: the first five folded letters of the name's
/// longest word (three letters at least, not a city or district word).
fn street_key(name: &str) -> Option<String> {
    let lower = name.to_lowercase();
    let word = lower
        .split(|c: char| !(c.is_alphabetic() || "'’`-".contains(c)))
        .filter(|w| w.chars().count() >= 3 && !NOT_A_NAME.contains(w))
        .max_by_key(|w| w.chars().count())?;
    let folded: String = fold(word).chars().take(5).collect();
    (folded.chars().count() >= 3).then_some(folded)
}

/// The addresses a text names, as keys (`street|house`), in the order they
/// appear, without repeats. A text in capitals is read as if in title case.
pub fn keys(text: &str) -> Vec<String> {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let capitals = text.chars().filter(|c| c.is_uppercase()).count();
    let titled;
    let text = if letters > 0 && capitals * 2 > letters {
        titled = title_case(text);
        titled.as_str()
    } else {
        text
    };
    let mut out: Vec<String> = Vec::new();
    for m in pattern().captures_iter(text) {
        let (Some(name), Some(number)) = (m.get(1), m.get(2)) else {
            continue;
        };
        let Some(street) = street_key(name.as_str()) else {
            continue;
        };
        let house: String = number
            .as_str()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_lowercase();
        let key = format!("{street}|{house}");
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// The first address a text names, as a key.
pub fn key(text: &str) -> Option<String> {
    keys(text).into_iter().next()
}

/// The key of a portal's address field (Open311's `address_string`): read
/// like a text, and where it names no street word ("Хорива 23, Київ"), as
/// the street name and number it is known to be.
pub fn key_of_address(address: &str) -> Option<String> {
    key(address).or_else(|| key(&format!("вул. {}", address.trim())))
}

/// Every word with its first letter upper case and the rest lower case.
fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if c.is_alphabetic() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = !matches!(c, '\'' | '’' | '`' | '-');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ukrainian_and_russian_street_and_house_shapes() {
        for (text, want) in [
            ("яма по вулиці Заболотного, 82 перед під’їздом", "забол|82"),
            ("м. Київ, вул. К.Данкевича, буд. 17 відсутнє", "данке|17"),
            ("В доме по ул.Бальзака 6 регулярно", "балза|6"),
            (
                "Провести обрізку омели за адресою проспект Відрадний, 12- а.",
                "видра|12а",
            ),
            ("пр-т Правди 66. Нема де", "правд|66"),
            ("по улице Вадима Гетьмана 24/9. (номер", "гетма|24/9"),
            ("по адресу ул. Петра Вершигоры 9г. Строители", "верши|9г"),
            ("ПОДОЛ, УЛ.ВОЛОШСКАЯ, ДОМ 23, 2-ОЙ ПОДЪЕЗД", "волош|23"),
            ("Харьковское шоссе,170а. Возле", ""),
        ] {
            assert_eq!(key(text).unwrap_or_default(), want, "{text}");
        }
    }

    #[test]
    fn a_portals_address_field_needs_no_street_word() {
        assert_eq!(key_of_address("Хорива 23, Київ"), Some("хорив|23".into()));
        assert_eq!(key_of_address("ул. Хорива, д. 23"), Some("хорив|23".into()));
        assert_eq!(key_of_address("Київ"), None);
        assert_eq!(key("Хорива 23"), None, "in a text, a street word is needed");
    }

    #[test]
    fn ukrainian_and_russian_spellings_of_one_address_meet() {
        assert_eq!(
            key("по вул. Святошинська 5"),
            key("по адресу ул. Святошинская 5")
        );
        assert_eq!(key("вул. Майорова, 5"), Some("маиор|5".into()));
        assert_eq!(key("ул. Майорова, 5"), Some("маиор|5".into()));
        assert_eq!(key("вул. Малишка, 27-в"), key("ул. Малышка д.27в"));
    }

    #[test]
    fn schools_dates_years_and_ordinary_words_are_not_addresses() {
        for text in [
            "возле школы №189 нет освещения",
            "Припис від 15.12.2014 р. повністю дублює",
            "температура не перевищує 30 градусів",
            "по вул. Бонч-Бруєвича здійснювались заходи з 2008 року",
            "по ул. Фрунзе в 2009 году",
            "ул. малая 5",
        ] {
            assert_eq!(keys(text), Vec::<String>::new(), "{text}");
        }
        // A letter after a space is a word, not part of the number.
        assert_eq!(
            key("По ул. Малышка д27 в парадном"),
            Some("малиш|27".into())
        );
    }
}
