//! Language of an appeal: Ukrainian, Russian, Kazakh, English, mixed or other.
//!
//! Routing, urgency keywords and answer templates depend on the language, and
//! appeals in our regions are often written in two at once. Detection is by
//! script letters first (Ukrainian-only `ї є ґ`, Kazakh-only `ә ғ қ ң ө ұ ү
//! һ`, `ы э ё ъ` that Ukrainian lacks, `і` that Russian lacks, Latin for
//! English), then small stop-word lists for Cyrillic words without such
//! letters. Each word votes with its letter count; words that carry no
//! evidence are shared among the Cyrillic languages in proportion to the
//! evidence. Two languages with at least [`MIXED_SHARE`] of the letters each
//! make the text [`Language::Mixed`].

use serde::{Deserialize, Serialize};

/// Detected language of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Ukrainian.
    Uk,
    /// Russian.
    Ru,
    /// Kazakh (Cyrillic script).
    Kk,
    /// English (any Latin-script text).
    En,
    /// Two languages, each with a substantial share of the text.
    Mixed,
    /// No letters, or a script we do not route (Arabic, CJK, ...).
    Other,
}

impl Language {
    /// Stored form: `uk`, `ru`, `kk`, `en`, `mixed`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uk => "uk",
            Self::Ru => "ru",
            Self::Kk => "kk",
            Self::En => "en",
            Self::Mixed => "mixed",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Share of the letters each of two languages must carry for
/// [`Language::Mixed`].
pub const MIXED_SHARE: f64 = 0.25;

/// Ukrainian words without tell-tale letters (and not Russian words).
const UK_WORDS: &[&str] = &[
    "та",
    "що",
    "як",
    "це",
    "цей",
    "ця",
    "ці",
    "цю",
    "чи",
    "й",
    "ще",
    "вже",
    "тому",
    "коли",
    "дуже",
    "або",
    "але",
    "було",
    "буде",
    "був",
    "була",
    "його",
    "мені",
    "мене",
    "нам",
    "вона",
    "вони",
    "він",
    "ласка",
    "дякую",
    "допомога",
    "допомогти",
    "допоможіть",
    "треба",
    "зараз",
    "тиждень",
    "тижня",
    "будинок",
    "будинку",
    "немає",
    "нема",
    "вода",
    "води",
    "опалення",
    "прохання",
    "просимо",
    "скарга",
    "заява",
    "року",
    "день",
    "добрий",
    "вулиця",
    "місто",
    "просто",
    "також",
    "тут",
    "там",
    "де",
    "бо",
    "навіть",
    "доки",
    "поки",
    "наша",
    "наше",
    "наші",
    "нашого",
    "нашому",
    "жодної",
    "жодного",
    "сміття",
    "двору",
    "дорогу",
];

/// Russian words without tell-tale letters (and not Ukrainian words).
const RU_WORDS: &[&str] = &[
    "и",
    "что",
    "как",
    "это",
    "этот",
    "эта",
    "или",
    "нет",
    "уже",
    "еще",
    "когда",
    "очень",
    "который",
    "которая",
    "которые",
    "где",
    "чтобы",
    "если",
    "его",
    "ее",
    "она",
    "они",
    "он",
    "мне",
    "меня",
    "пожалуйста",
    "спасибо",
    "помогите",
    "помощь",
    "сейчас",
    "неделю",
    "неделя",
    "дом",
    "доме",
    "дома",
    "улица",
    "улице",
    "света",
    "отопления",
    "просим",
    "был",
    "была",
    "будет",
    "года",
    "год",
    "нашем",
    "наш",
    "наша",
    "наши",
    "нашего",
    "во",
    "со",
    "из",
    "к",
    "у",
    "о",
    "об",
    "при",
    "без",
    "после",
    "горячей",
    "холодной",
    "воды",
    "просьба",
    "жалоба",
    "заявление",
    "город",
    "двор",
    "дороге",
    "мусор",
    "также",
    "тоже",
    "даже",
    "только",
];

/// Kazakh words without Kazakh-only letters.
const KK_WORDS: &[&str] = &[
    "мен",
    "бен",
    "пен",
    "осы",
    "бар",
    "деп",
    "ол",
    "олар",
    "су",
    "жылы",
    "керек",
    "емес",
    "туралы",
    "бойынша",
    "арқылы",
    "және",
    "үшін",
    "жоқ",
    "біз",
    "сіз",
    "рахмет",
    "кеше",
    "бері",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vote {
    Uk,
    Ru,
    Kk,
    En,
    Other,
    /// Has `і` (Ukrainian or Kazakh).
    UkOrKk,
    /// Has `ы э ё ъ` (Russian or Kazakh).
    RuOrKk,
    /// Cyrillic without evidence.
    Cyrillic,
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}' | '\u{0500}'..='\u{052F}')
}

fn vote(word: &str) -> Vote {
    let mut latin = 0;
    let mut cyr = 0;
    let mut other = 0;
    for c in word.chars() {
        if c.is_ascii_alphabetic() || matches!(c, '\u{00C0}'..='\u{024F}') {
            latin += 1;
        } else if is_cyrillic(c) {
            cyr += 1;
        } else if c.is_alphabetic() {
            other += 1;
        }
    }
    if other > latin.max(cyr) {
        return Vote::Other;
    }
    if latin > cyr {
        return Vote::En;
    }
    if word.chars().any(|c| "әғқңөұүһ".contains(c)) {
        return Vote::Kk;
    }
    if word.chars().any(|c| "їєґ'’ʼ".contains(c)) {
        return Vote::Uk;
    }
    if KK_WORDS.contains(&word) {
        return Vote::Kk;
    }
    let ru_letters = word.chars().any(|c| "ыэёъ".contains(c));
    if word.contains('і') {
        return Vote::UkOrKk;
    }
    if ru_letters {
        return Vote::RuOrKk;
    }
    if UK_WORDS.contains(&word) {
        return Vote::Uk;
    }
    if RU_WORDS.contains(&word) {
        return Vote::Ru;
    }
    // Spellings Ukrainian never has: -ие/-ия/-ии/-ию (uk: -ія, -ії, -ію).
    if ["ие", "ия", "ии", "ию", "ией", "иям", "иях"]
        .iter()
        .any(|s| word.ends_with(s))
    {
        return Vote::RuOrKk;
    }
    // ...and Russian never has: -ння (ru: -ние).
    if word.contains("ння") {
        return Vote::Uk;
    }
    Vote::Cyrillic
}

/// Detects the language of `text`.
///
/// `Other` when the text has no letters or is mostly in another script;
/// Cyrillic text with no evidence at all (a single word like «Спасибо») is
/// taken as Russian, because a Ukrainian or Kazakh text of more than a word
/// or two almost always has a letter Russian lacks.
pub fn detect(text: &str) -> Language {
    // Redaction tokens ([PHONE], ...) are ours, not the applicant's words.
    let mut lower = text.to_lowercase();
    for kind in crate::pii::PiiKind::ALL {
        let token = kind.token().to_lowercase();
        if lower.contains(&token) {
            lower = lower.replace(&token, " ");
        }
    }
    // weights: uk, ru, kk, en, other, uk|kk, ru|kk, cyrillic
    let mut w = [0f64; 8];
    for word in lower
        .split(|c: char| !(c.is_alphabetic() || matches!(c, '\'' | '’' | 'ʼ')))
        .map(|w| w.trim_matches(|c| matches!(c, '\'' | '’' | 'ʼ')))
        .filter(|w| !w.is_empty())
    {
        let letters = word.chars().filter(|c| c.is_alphabetic()).count() as f64;
        let slot = match vote(word) {
            Vote::Uk => 0,
            Vote::Ru => 1,
            Vote::Kk => 2,
            Vote::En => 3,
            Vote::Other => 4,
            Vote::UkOrKk => 5,
            Vote::RuOrKk => 6,
            Vote::Cyrillic => 7,
        };
        w[slot] += letters;
    }
    let total: f64 = w.iter().sum();
    if total == 0.0 {
        return Language::Other;
    }
    let [mut uk, mut ru, mut kk, en, other, uk_or_kk, ru_or_kk, cyrillic] = w;
    // `і` words are Kazakh only when Kazakh evidence outweighs Ukrainian;
    // `ы` words are Kazakh only when Kazakh evidence outweighs Russian.
    if kk > uk {
        kk += uk_or_kk;
    } else {
        uk += uk_or_kk;
    }
    if kk > ru {
        kk += ru_or_kk;
    } else {
        ru += ru_or_kk;
    }
    let evidence = uk + ru + kk;
    if evidence > 0.0 {
        let (fu, fr, fk) = (uk / evidence, ru / evidence, kk / evidence);
        uk += cyrillic * fu;
        ru += cyrillic * fr;
        kk += cyrillic * fk;
    } else {
        ru += cyrillic;
    }
    let shares = [
        (Language::Uk, uk),
        (Language::Ru, ru),
        (Language::Kk, kk),
        (Language::En, en),
        (Language::Other, other),
    ];
    let substantial = shares
        .iter()
        .filter(|(_, v)| *v / total >= MIXED_SHARE)
        .count();
    if substantial >= 2 {
        return Language::Mixed;
    }
    shares
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(Language::Other, |(l, _)| *l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_votes_follow_letters() {
        assert_eq!(vote("їжак"), Vote::Uk);
        assert_eq!(vote("қала"), Vote::Kk);
        assert_eq!(vote("вызов"), Vote::RuOrKk);
        assert_eq!(vote("місто"), Vote::UkOrKk);
        assert_eq!(vote("hello"), Vote::En);
        assert_eq!(vote("заявление"), Vote::Ru);
        assert_eq!(vote("отопление"), Vote::RuOrKk);
        assert_eq!(vote("прошу"), Vote::Cyrillic);
    }
}
