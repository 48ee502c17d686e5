//! Person names: the one pass of the masker that reads words, not digits.

use std::sync::OnceLock;

use regex::Regex;

use super::{re, Hit, PiiKind};

/// Words that name a street, square or other place: a person's name right
/// after one is the place's name ("вул. Миколи Бажана", "ул. Ивана
/// Франко", "імені Т.Г. Шевченка"), which routing needs, not personal data.
#[rustfmt::skip]
const PLACE_MARKERS: &[&str] = &[
    "вул", "вулиця", "вулиці", "вулицю", "вулицею", "ул", "улица", "улице", "улицу", "улицы",
    "просп", "проспект", "проспекту", "проспекті", "пр", "пр-т", "пр-кт", "бульв", "бульвар",
    "бульвару", "бульварі", "б-р", "пров", "провулок", "провулку", "пер", "переулок",
    "переулке", "пл", "площа", "площі", "площадь", "площади", "наб", "набережна",
    "набережная", "шосе", "шоссе", "узвіз", "спуск", "тупик", "ім", "им", "імені", "имени",
    "станція", "станции", "метро", "школа", "школи", "парк", "парку", "сквер", "скверу",
    "міст", "мосту", "мост", "лікарня", "лікарні", "больница", "больницы",
];

/// Person names in the two shapes Ukrainian and Russian texts write them:
/// a name with a patronymic ("Іванов Іван Іванович", "Петру Сергійовичу",
/// "Ольга Миколаївна"), or a surname with initials ("Іванов І.І.", "І. І.
/// Іванов"). A lone capitalised word is never taken for a name: surnames
/// are ordinary words and street names too often, and what matters for an
/// appeal's routing (the street) must stay.
pub(super) fn names(text: &str) -> Vec<Hit> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(
        &RE,
        r"(?x)
        # [Surname] Name Patronymic (any case ending); the surname only with a
        # surname's ending, so a sentence's first word (Прошу) stays
        (?:\p{Lu}\p{Ll}*(?:ов|ев|єв|ін|їн|ин|ськ|цьк|ск|цк|енк|ук|юк|чук|ич|як)\p{Ll}{0,3}\s+)?
        \p{Lu}\p{Ll}+\s+
        \p{Lu}\p{Ll}+(?:ович|евич|йович|івн|ївн|овн|евн)\p{Ll}{0,3}\b
        (?:\s+\p{Lu}\p{Ll}+(?:ов|ев|ін|ин|ський|цький|енко|ук|юк|чук)\p{Ll}{0,3}\b)?
        # Surname I. I. / Surname I.
        |\p{Lu}\p{Ll}{2,}(?:-\p{Lu}\p{Ll}+)?\s+[А-ЯЁІЇЄҐ]\.\s?(?:[А-ЯЁІЇЄҐ]\.)?
        ",
    );
    name_hits(re, text)
}

/// "I. I. Surname", masked before [`names`] reads "Surname I. I.", which
/// would otherwise take the word before the initials ("Мастер И. И.
/// Сидоров") for the surname.
pub(super) fn initials_first(text: &str) -> Vec<Hit> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(
        &RE,
        r"\b[А-ЯЁІЇЄҐ]\.\s?[А-ЯЁІЇЄҐ]\.\s?\p{Lu}\p{Ll}{2,}(?:-\p{Lu}\p{Ll}+)?",
    );
    name_hits(re, text)
}

/// Words that follow initials or precede them without being a surname: a
/// title after "в.о." (acting), or a word after "P.S.".
#[rustfmt::skip]
const NOT_SURNAMES: &[&str] = &[
    "голова", "голови", "голові", "головою", "глава", "главы", "директор", "директора",
    "директору", "начальник", "начальника", "начальнику", "заступник", "заступника",
    "керівник", "керівника", "мер", "мэр", "міського", "городского",
];

/// Adjectives that end like a patronymic ("Верховної Ради": "-овн-").
const NOT_PATRONYMICS: &[&str] = &["верховн", "головн", "основн", "дословн"];

fn name_hits(re: &Regex, text: &str) -> Vec<Hit> {
    re.find_iter(text)
        .filter(|m| {
            let before = text[..m.start()].rsplit(not_word).find(|w| !w.is_empty());
            let after = text[m.end()..].split(not_word).find(|w| !w.is_empty());
            !before.is_some_and(is_place_marker) && !after.is_some_and(is_place_marker)
        })
        .filter(|m| plausible_name(m.as_str()))
        .map(|m| Hit {
            start: m.start(),
            end: m.end(),
            kind: PiiKind::Name,
        })
        .collect()
}

/// Whether a match is a name and not a title next to initials ("В.О.
/// Голови") or an adjective that ends like a patronymic.
fn plausible_name(m: &str) -> bool {
    let words: Vec<String> = m
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let title = [words.first(), words.last()]
        .into_iter()
        .flatten()
        .any(|w| NOT_SURNAMES.contains(&w.as_str()));
    let adjective = words
        .iter()
        .any(|w| NOT_PATRONYMICS.iter().any(|p| w.starts_with(p)));
    !title && !adjective
}

/// Separates the words the place check reads ("пр-т" is one word).
fn not_word(c: char) -> bool {
    !(c.is_alphanumeric() || c == '-')
}

/// A [`PLACE_MARKERS`] word right before a name ("вул. ім. Шевченка": "ім"
/// is one too) or right after it (an address written name first,
/// "Ахматовой А. вул., 11"): the name is the place's.
fn is_place_marker(word: &str) -> bool {
    PLACE_MARKERS.contains(&word.to_lowercase().as_str())
}
