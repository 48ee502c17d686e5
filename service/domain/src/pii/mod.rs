//! Masking of personal data before appeal text is embedded, logged or shown
//! as evidence.
//!
//! Appeals carry phone numbers, e-mails, tax numbers and passport data. The
//! text that leaves the system of record (vectors, logs, evidence snippets)
//! must not, so [`redact`] replaces each one with a typed token (`[PHONE]`,
//! `[IBAN]`, ...). Precision matters as much as recall: house numbers, dates,
//! amounts, postal codes and cadastral numbers stay, because routing needs
//! them. Every number with a check digit (cards, IBANs, RNOKPP, IIN, Russian
//! INN) is masked only when the check passes; numbers without one (phones,
//! passports) only in their national shapes or next to a label.
//!
//! Passes run in a fixed order on the text left by the previous pass: e-mails,
//! IBANs, passports, then one scan over runs of digits that classifies each
//! run (card, IIN, tax number, phone; `digits.rs`), then person names (`names.rs`). Tokens contain no digits, so redacting
//! twice gives the same text as redacting once.

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

mod digits;
mod names;
use digits::digit_runs;
use names::{initials_first, names};

/// Number of [`PiiKind`]s.
const KINDS: usize = 8;

/// Kind of personal data found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// E-mail address.
    Email,
    /// Telephone number (UA, RU/KZ, international).
    Phone,
    /// Payment card number (Luhn-valid).
    Card,
    /// IBAN (mod-97 valid, known country length).
    Iban,
    /// Personal tax number: Ukrainian RNOKPP, Russian individual INN.
    TaxId,
    /// Kazakh individual identification number (IIN).
    Iin,
    /// Passport or identity card number.
    Passport,
    /// A person's name: with a patronymic, or a surname with initials.
    Name,
}

impl PiiKind {
    /// All kinds, in the order they are reported in [`Redacted::found`].
    pub const ALL: [PiiKind; KINDS] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Card,
        PiiKind::Iban,
        PiiKind::TaxId,
        PiiKind::Iin,
        PiiKind::Passport,
        PiiKind::Name,
    ];

    /// The token that replaces a value of this kind, so readers still see
    /// that a phone (say) was there.
    pub fn token(self) -> &'static str {
        match self {
            Self::Email => "[EMAIL]",
            Self::Phone => "[PHONE]",
            Self::Card => "[CARD]",
            Self::Iban => "[IBAN]",
            Self::TaxId => "[TAX_ID]",
            Self::Iin => "[IIN]",
            Self::Passport => "[PASSPORT]",
            Self::Name => "[NAME]",
        }
    }

    /// Stored form (`email`, `phone`, `card`, `iban`, `tax_id`, `iin`, `passport`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Card => "card",
            Self::Iban => "iban",
            Self::TaxId => "tax_id",
            Self::Iin => "iin",
            Self::Passport => "passport",
            Self::Name => "name",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A text with personal data replaced by tokens, and what was replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redacted {
    /// The masked text.
    pub text: String,
    /// How many values of each kind were masked, in [`PiiKind::ALL`] order;
    /// kinds not found are left out (audit logs record this, not the values).
    pub found: Vec<(PiiKind, usize)>,
}

impl Redacted {
    /// How many values of `kind` were masked.
    pub fn count(&self, kind: PiiKind) -> usize {
        self.found
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }

    /// Whether nothing had to be masked.
    pub fn is_clean(&self) -> bool {
        self.found.is_empty()
    }
}

/// Whether a masked text has anything to route on: at least three letters
/// outside the `[TOKEN]`s that replaced personal data.
pub fn has_content(text: &str) -> bool {
    let mut depth = 0;
    let mut letters = 0;
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = (depth - 1).max(0),
            c if depth == 0 && c.is_alphabetic() => letters += 1,
            _ => {}
        }
    }
    letters >= 3
}

/// Masks e-mails, phones, card numbers, IBANs, tax numbers, IINs, passport
/// numbers and person names in `text`.
///
/// Pure and linear in the text length (the `regex` crate never backtracks).
/// Not always idempotent: a label such as "паспорт" left before a masked
/// value can make a second pass mask a number after it that the first pass
/// took for something else (found by the property test in `tests/pii.rs`).
pub fn redact(text: &str) -> Redacted {
    let mut counts = [0usize; KINDS];
    let mut current = text.to_owned();
    let passes = [
        emails as fn(&str) -> Vec<Hit>,
        ibans,
        passports,
        digit_runs,
        initials_first,
        names,
    ];
    for pass in passes {
        let hits = pass(&current);
        if !hits.is_empty() {
            current = apply(&current, hits, &mut counts);
        }
    }
    let found = PiiKind::ALL
        .iter()
        .filter(|k| counts[k.index()] > 0)
        .map(|k| (*k, counts[k.index()]))
        .collect();
    Redacted {
        text: current,
        found,
    }
}

/// One value to mask: byte range in the pass's input and its kind.
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    kind: PiiKind,
}

/// Replaces non-overlapping hits (any order) with tokens.
fn apply(text: &str, mut hits: Vec<Hit>, counts: &mut [usize; KINDS]) -> String {
    hits.sort_by_key(|h| h.start);
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for h in hits {
        if h.start < pos {
            continue; // overlaps an earlier hit
        }
        out.push_str(&text[pos..h.start]);
        out.push_str(h.kind.token());
        counts[h.kind.index()] += 1;
        pos = h.end;
    }
    out.push_str(&text[pos..]);
    out
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("built-in PII pattern compiles"))
}

// ---------------------------------------------------------------- e-mail ---

fn emails(text: &str) -> Vec<Hit> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(
        &RE,
        r"[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?)*\.\p{L}{2,}",
    );
    re.find_iter(text)
        .map(|m| Hit {
            start: m.start(),
            end: m.end(),
            kind: PiiKind::Email,
        })
        .collect()
}

// ------------------------------------------------------------------ IBAN ---

/// IBAN lengths of the countries appeals mention; an unknown country code is
/// never masked, which keeps mod-97's 1-in-97 false positives away.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("UA", 29),
    ("KZ", 20),
    ("AZ", 28),
    ("BY", 28),
    ("GE", 22),
    ("MD", 24),
    ("PL", 28),
    ("LT", 20),
    ("LV", 21),
    ("EE", 20),
    ("DE", 22),
    ("AT", 20),
    ("CH", 21),
    ("GB", 22),
    ("FR", 27),
    ("IT", 27),
    ("ES", 24),
    ("NL", 18),
    ("BE", 16),
    ("CZ", 24),
    ("SK", 24),
    ("RO", 24),
    ("BG", 22),
    ("HU", 28),
    ("TR", 26),
    ("AE", 23),
    ("IL", 23),
    ("CY", 28),
    ("FI", 18),
    ("SE", 24),
    ("NO", 15),
    ("DK", 18),
    ("IE", 22),
    ("PT", 25),
    ("GR", 27),
];

fn ibans(text: &str) -> Vec<Hit> {
    static RE: OnceLock<Regex> = OnceLock::new();
    // ASCII classes, not `(?i)`: case-insensitive `[a-z]` also matches the
    // Kelvin sign and the long s, multi-byte characters that the byte
    // offsets below would cut in half (a panic on such input, found by the
    // hostile-input review); `\d` would likewise take non-ASCII digits.
    let re = re(
        &RE,
        r"\b[a-zA-Z]{2}[0-9]{2}(?:[ \x{a0}]?[a-zA-Z0-9]){10,32}",
    );
    let mut hits = Vec::new();
    for m in re.find_iter(text) {
        let s = m.as_str();
        let country = s[..2].to_ascii_uppercase();
        let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| *c == country) else {
            continue;
        };
        // Byte offsets (within the match) of the alphanumerics, in order.
        let alnum: Vec<usize> = s
            .char_indices()
            .filter(|(_, c)| c.is_ascii_alphanumeric())
            .map(|(i, _)| i)
            .collect();
        if alnum.len() < len {
            continue;
        }
        let end = alnum[len - 1] + 1;
        // The IBAN must end at a word boundary: the greedy match may have
        // taken a following word, but not half of one.
        let next = s[end..]
            .chars()
            .next()
            .or_else(|| text[m.end()..].chars().next());
        if next.is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        let compact: String = s[..end]
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if iban_valid(&compact) {
            hits.push(Hit {
                start: m.start(),
                end: m.start() + end,
                kind: PiiKind::Iban,
            });
        }
    }
    hits
}

/// ISO 13616 check: move the first four characters to the end, read letters
/// as 10..35, the number mod 97 must be 1.
fn iban_valid(compact: &str) -> bool {
    if compact.len() < 15 || !compact[2..4].bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let rotated = compact[4..].bytes().chain(compact[..4].bytes());
    let mut rem: u32 = 0;
    for b in rotated {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

// -------------------------------------------------------------- passports ---

/// Words that make a following `N12345678` a document number rather than a
/// Kazakh passport (`договор N12345678`).
const DOC_NUMBER_WORDS: &[&str] = &[
    "договор",
    "договір",
    "счет",
    "счёт",
    "рахун",
    "заказ",
    "замовлен",
    "акт",
    "приказ",
    "наказ",
    "решени",
    "рішенн",
    "дело",
    "справ",
    "invoice",
    "order",
    "contract",
    "шарт",
];

fn passports(text: &str) -> Vec<Hit> {
    static RU: OnceLock<Regex> = OnceLock::new();
    static ID9: OnceLock<Regex> = OnceLock::new();
    static LATIN: OnceLock<Regex> = OnceLock::new();
    static UA_OLD: OnceLock<Regex> = OnceLock::new();
    static KZ: OnceLock<Regex> = OnceLock::new();
    // Russian passport: series (4 digits, often "45 08") and number (6 digits)
    // after "паспорт"/"серия"; the label stays, the digits go.
    let ru = re(
        &RU,
        r"(?i)(?:паспорт|сери[яиюії])[^\d\n]{0,30}?\b(\d{2}[ \x{a0}]?\d{2}[ \x{a0}]*(?:(?:№|N|No\.?|номер\w*)[ \x{a0}]*)?\d{6})\b",
    );
    // Ukrainian ID card / Kazakh identity card: 9 digits, only when labelled.
    let id9 = re(
        &ID9,
        r"(?i)(?:паспорт|id[- ]?карт|id[- ]?card|passport|посвідк|посвідчен|удостоверени|куәлі|төлқұжат)[^\d\n]{0,30}?\b(\d{9})\b",
    );
    // Foreign-travel passports (UA "FA123456", others): 2 Latin letters +
    // 6-7 digits, only when labelled.
    let latin = re(
        &LATIN,
        r"(?i)(?:паспорт|passport|төлқұжат)[^\n]{0,30}?\b([A-Z]{2}[ \x{a0}]?\d{6,7})\b",
    );
    // Old Ukrainian booklet passport: 2 capital Cyrillic letters + 6 digits.
    let ua_old = re(&UA_OLD, r"\b[А-ЯІЇЄҐ]{2}[ \x{a0}]?(?:№[ \x{a0}]?)?\d{6}\b");
    // Kazakh passport: Latin (or look-alike Cyrillic) N + 8 digits.
    let kz = re(&KZ, r"\b[NН]\d{8}\b");

    let mut hits = Vec::new();
    for r in [ru, id9, latin] {
        for c in r.captures_iter(text) {
            let g = c.get(1).expect("group 1 always participates");
            hits.push(Hit {
                start: g.start(),
                end: g.end(),
                kind: PiiKind::Passport,
            });
        }
    }
    for m in ua_old.find_iter(text) {
        hits.push(Hit {
            start: m.start(),
            end: m.end(),
            kind: PiiKind::Passport,
        });
    }
    for m in kz.find_iter(text) {
        let before = tail(text, m.start(), 24).to_lowercase();
        if DOC_NUMBER_WORDS.iter().any(|w| before.contains(w)) {
            continue;
        }
        hits.push(Hit {
            start: m.start(),
            end: m.end(),
            kind: PiiKind::Passport,
        });
    }
    dedup_overlaps(hits)
}

/// Keeps the earliest-starting (then longest) of overlapping hits.
fn dedup_overlaps(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Hit> = Vec::with_capacity(hits.len());
    for h in hits {
        if out.last().is_some_and(|l| h.start < l.end) {
            continue;
        }
        out.push(h);
    }
    out
}

/// Up to `chars` characters of `text` ending at byte `end`.
fn tail(text: &str, end: usize, chars: usize) -> &str {
    let start = text[..end]
        .char_indices()
        .rev()
        .nth(chars.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::digits::luhn;
    use super::*;

    #[test]
    fn luhn_accepts_known_test_cards() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"5500000000000004"));
        assert!(!luhn(b"4111111111111112"));
    }

    #[test]
    fn iban_check_matches_registry_examples() {
        assert!(iban_valid("GB82WEST12345698765432"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("GB82WEST12345698765433"));
    }

    #[test]
    fn tail_counts_characters_not_bytes() {
        let t = "тел. 123";
        assert_eq!(tail(t, "тел. ".len(), 3), "л. ");
        assert_eq!(tail(t, 2, 10), "т");
    }
}
