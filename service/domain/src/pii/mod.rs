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
//! run (card, IIN, tax number, phone), then person names (`names.rs`). Tokens contain no digits, so redacting
//! twice gives the same text as redacting once.

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

mod names;
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

// ----------------------------------------------------------- digit runs ---

/// A maximal run of digit groups joined by phone-style separators (spaces,
/// dashes, brackets). Dots, commas, colons and slashes end a run, so dates
/// (12.03.2021), times, decimals and cadastral numbers never form one.
struct Run<'a> {
    /// Byte ranges of the digit groups in the text.
    groups: Vec<(usize, usize)>,
    /// Separator text before each group (empty for the first).
    seps: Vec<&'a str>,
    /// Whether a `+` precedes the first group.
    plus: bool,
    /// The run touches a letter, or a `.`/`,`/`:`/`/` followed by a digit,
    /// on the left or on the right: it is part of a bigger token.
    glued_left: bool,
    glued_right: bool,
}

const GLUE: &[char] = &['.', ',', ':', '/', '\\', '_'];

fn digit_runs(text: &str) -> Vec<Hit> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(&RE, r"\+?\(?\d+(?:[ \x{a0}\-–()]{1,4}\d+)*\)?");
    let mut hits = Vec::new();
    for m in re.find_iter(text) {
        let run = parse_run(text, m.start(), m.end());
        classify_run(text, &run, &mut hits);
    }
    hits
}

fn parse_run(text: &str, start: usize, end: usize) -> Run<'_> {
    let s = &text[start..end];
    let mut groups = Vec::new();
    let mut seps = Vec::new();
    let mut sep_start = start;
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let g0 = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            seps.push(if groups.is_empty() {
                ""
            } else {
                &text[sep_start..start + g0]
            });
            groups.push((start + g0, start + i));
            sep_start = start + i;
        } else {
            i += 1;
        }
    }
    let before = text[..start].chars().next_back();
    let before2 = before.and_then(|c| text[..start - c.len_utf8()].chars().next_back());
    let after = text[end..].chars().next();
    let after2 = after.and_then(|c| text[end + c.len_utf8()..].chars().next());
    let glued = |near: Option<char>, far: Option<char>| match near {
        Some(c) if c.is_alphanumeric() => true,
        Some(c) if GLUE.contains(&c) => far.is_some_and(|f| f.is_ascii_digit()),
        _ => false,
    };
    Run {
        groups,
        seps,
        plus: s.starts_with('+'),
        glued_left: glued(before, before2),
        glued_right: glued(after, after2),
    }
}

/// Longest window of groups first, scanning left to right.
const MAX_WINDOW: usize = 8;

fn classify_run(text: &str, run: &Run<'_>, hits: &mut Vec<Hit>) {
    let n = run.groups.len();
    let mut i = 0;
    while i < n {
        let mut matched = None;
        for j in (i + 1..=(i + MAX_WINDOW).min(n)).rev() {
            if (i == 0 && run.glued_left) || (j == n && run.glued_right) {
                continue;
            }
            if let Some(kind) = classify_window(text, run, i, j) {
                matched = Some((j, kind));
                break;
            }
        }
        match matched {
            Some((j, kind)) => {
                let (start, end) = widen(text, run.groups[i].0, run.groups[j - 1].1);
                hits.push(Hit { start, end, kind });
                i = j;
            }
            None => i += 1,
        }
    }
}

/// Takes in a `+` and brackets that belong to the number.
fn widen(text: &str, mut start: usize, mut end: usize) -> (usize, usize) {
    while let Some(c) = text[..start].chars().next_back() {
        if c == '(' || c == '+' {
            start -= 1;
        } else {
            break;
        }
    }
    while text[end..].starts_with(')') {
        end += 1;
    }
    (start, end)
}

fn classify_window(text: &str, run: &Run<'_>, i: usize, j: usize) -> Option<PiiKind> {
    let groups = &run.groups[i..j];
    let seps = &run.seps[i + 1..j];
    let digits: String = groups.iter().map(|&(a, b)| &text[a..b]).collect();
    let d = digits.as_bytes();
    let n = d.len();
    let lens: Vec<usize> = groups.iter().map(|(a, b)| b - a).collect();
    let single = lens.len() == 1;

    if run.plus && i == 0 {
        return intl_phone(d).then_some(PiiKind::Phone);
    }
    if (13..=19).contains(&n) && d[0] != b'0' && card_shape(&lens, seps) && luhn(d) {
        return Some(PiiKind::Card);
    }
    if single {
        match n {
            12 if d.starts_with(b"380") => return Some(PiiKind::Phone),
            12 if iin_valid(d) => return Some(PiiKind::Iin),
            12 if ru_inn12_valid(d) => return Some(PiiKind::TaxId),
            10 if d[0] == b'0' => return ua_local_phone(d).then_some(PiiKind::Phone),
            10 if (b'1'..=b'4').contains(&d[0]) && rnokpp_valid(d) => return Some(PiiKind::TaxId),
            10 if d[0] == b'9' => return Some(PiiKind::Phone),
            11 => return trunk_phone(d).then_some(PiiKind::Phone),
            _ => {}
        }
    } else if phone_shape(&lens) {
        let phone = match n {
            12 => d.starts_with(b"380"),
            10 => ua_local_phone(d) || d[0] == b'9',
            11 => trunk_phone(d),
            _ => false,
        };
        if phone {
            return Some(PiiKind::Phone);
        }
    }
    // Short city numbers (234-56-78) only right after a phone label, and only
    // as a whole run.
    let whole = i == 0 && j == run.groups.len();
    if whole
        && matches!(lens.as_slice(), [3, 2, 2] | [2, 2, 2])
        && phone_label_before(text, groups[0].0)
    {
        return Some(PiiKind::Phone);
    }
    None
}

fn phone_label_before(text: &str, start: usize) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(
        &RE,
        r"(?i)(?:^|[^\p{L}])(?:тел|моб|phone|tel|факс|fax|ұялы)\p{L}*\.?[^\p{L}\d]{0,6}$",
    );
    re.is_match(tail(text, start, 24))
}

/// `+` numbers: Ukraine +380 (12 digits), Russia/Kazakhstan +7 (11 digits),
/// elsewhere any E.164 length.
fn intl_phone(d: &[u8]) -> bool {
    if d.starts_with(b"380") {
        d.len() == 12
    } else if d[0] == b'7' {
        d.len() == 11
    } else {
        (8..=15).contains(&d.len()) && d[0] != b'0'
    }
}

/// Ukrainian national form: 0 + operator/area code, 10 digits.
fn ua_local_phone(d: &[u8]) -> bool {
    d.len() == 10 && d[0] == b'0' && (b'3'..=b'9').contains(&d[1])
}

/// Russian/Kazakh trunk forms 8 XXX ... and 7 XXX ... (11 digits) with a
/// real area/operator code start (3, 4, 7, 8, 9), and Ukraine's 8 0XX ....
fn trunk_phone(d: &[u8]) -> bool {
    let ru_kz = matches!(d[0], b'7' | b'8') && matches!(d[1], b'3' | b'4' | b'7' | b'8' | b'9');
    // Ukraine's old trunk prefix 8 before the national number: 8 044 ..., 8 067 ...
    let ua = d[0] == b'8' && ua_local_phone(&d[1..]);
    d.len() == 11 && (ru_kz || ua)
}

/// Phone numbers are written in groups of 1-5 digits, or with the whole
/// subscriber number in one group after the code (`067 1234567`,
/// `(044) 1234567`, `8 044 1234567`: 299 such numbers were left unmasked in
/// Kyiv's 1551 texts); amounts in groups of three never start with
/// 0/380/8-7 and the right length, see callers.
fn phone_shape(lens: &[usize]) -> bool {
    // The first group may hold the code and the subscriber's first digits
    // (`067123-45-67`).
    let grouped = lens.split_first().is_some_and(|(first, rest)| {
        (1..=6).contains(first) && rest.iter().all(|&l| (1..=5).contains(&l))
    }) && lens.len() <= 6;
    let subscriber_whole = lens.len() <= 3
        && lens
            .split_last()
            .is_some_and(|(last, code)| *last == 7 && code.iter().all(|&l| (1..=4).contains(&l)));
    grouped || subscriber_whole
}

/// Card numbers: contiguous, 4-4-4-4(-1..3), or 4-6-5 / 4-6-4, with one kind
/// of separator.
fn card_shape(lens: &[usize], seps: &[&str]) -> bool {
    if lens.len() == 1 {
        return true;
    }
    let one_sep = seps
        .iter()
        .all(|s| *s == " " || *s == "-" || *s == "\u{a0}")
        && seps.windows(2).all(|w| w[0] == w[1]);
    if !one_sep {
        return false;
    }
    let (last, body) = lens.split_last().expect("non-empty");
    body.iter().all(|&l| l == 4) && (1..=4).contains(last) || matches!(lens, [4, 6, 5] | [4, 6, 4])
}

/// Luhn (mod 10) check of payment card numbers.
fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let v = u32::from(b - b'0');
            if i % 2 == 1 {
                let v2 = v * 2;
                if v2 > 9 {
                    v2 - 9
                } else {
                    v2
                }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn digit(d: &[u8], i: usize) -> i32 {
    i32::from(d[i] - b'0')
}

/// Ukrainian RNOKPP (ex-IPN): weights -1,5,7,9,4,6,10,5,7 over the first nine
/// digits, (sum mod 11) mod 10 is the tenth digit.
fn rnokpp_valid(d: &[u8]) -> bool {
    const W: [i32; 9] = [-1, 5, 7, 9, 4, 6, 10, 5, 7];
    let sum: i32 = W.iter().enumerate().map(|(i, w)| w * digit(d, i)).sum();
    sum.rem_euclid(11) % 10 == digit(d, 9)
}

/// Kazakh IIN: YYMMDD birth date, century/sex digit, and a check digit with
/// weights 1..11, or 3..11,1,2 when the first sum gives 10 (10 again: invalid).
fn iin_valid(d: &[u8]) -> bool {
    let month = digit(d, 2) * 10 + digit(d, 3);
    let day = digit(d, 4) * 10 + digit(d, 5);
    let century = digit(d, 6);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || !matches!(century, 0 | 3..=6) {
        return false;
    }
    const W1: [i32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const W2: [i32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
    let check = |w: &[i32; 11]| -> i32 {
        w.iter()
            .enumerate()
            .map(|(i, w)| w * digit(d, i))
            .sum::<i32>()
            % 11
    };
    let mut c = check(&W1);
    if c == 10 {
        c = check(&W2);
        if c == 10 {
            return false;
        }
    }
    c == digit(d, 11)
}

/// Russian individual INN (12 digits, two check digits).
fn ru_inn12_valid(d: &[u8]) -> bool {
    const W11: [i32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    const W12: [i32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    let c11 = W11
        .iter()
        .enumerate()
        .map(|(i, w)| w * digit(d, i))
        .sum::<i32>()
        % 11
        % 10;
    let c12 = W12
        .iter()
        .enumerate()
        .map(|(i, w)| w * digit(d, i))
        .sum::<i32>()
        % 11
        % 10;
    c11 == digit(d, 10) && c12 == digit(d, 11)
}

#[cfg(test)]
mod tests {
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
