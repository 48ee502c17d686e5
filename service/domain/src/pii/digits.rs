//! The digit-run pass of the masker: one scan over maximal runs of digit
//! groups, each classified as a payment card, an IIN, a tax number or a phone
//! (by shape, label and check digit), or left alone (house numbers, dates,
//! amounts, postal codes).

use std::sync::OnceLock;

use regex::Regex;

use super::{re, tail, Hit, PiiKind};

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

pub(super) fn digit_runs(text: &str) -> Vec<Hit> {
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
pub(super) fn luhn(d: &[u8]) -> bool {
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
