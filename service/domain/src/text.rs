//! What an appeal text must be before anything reads it.
//!
//! Real exports carry garbage: 1.8% of Kyiv's texts hold control characters
//! (NUL and others) where the source system cut a long text. They are
//! dropped, never a reason to refuse an appeal; a text with nothing left to
//! read (no letter or digit: only control characters, zero-width spaces or
//! punctuation) cannot be routed and is refused at the door, so it can never
//! reach the embedder and wedge what comes after it.

/// A text with its control characters dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised {
    /// The text: control characters other than newline and tab dropped, a
    /// carriage return (alone or before a newline) read as a newline.
    pub text: String,
    /// How many characters were dropped.
    pub dropped: usize,
}

/// Drops control characters other than `\n` and `\t` (`\r\n` and a lone `\r`
/// become `\n`). Returns the text unchanged (no copy of its content kept
/// twice) when there is nothing to drop.
pub fn normalise(text: &str) -> Normalised {
    let dirty = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(dirty) {
        return Normalised {
            text: text.to_string(),
            dropped: 0,
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut dropped = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c if dirty(c) => dropped += 1,
            c => out.push(c),
        }
    }
    Normalised { text: out, dropped }
}

/// Whether a text has anything to read: at least one letter or digit.
pub fn has_letter_or_digit(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_go_and_are_counted() {
        let n = normalise("застройк\u{0}\u{12}(# дальше\r\nи\tещё\rконец");
        assert_eq!(n.text, "застройк(# дальше\nи\tещё\nконец");
        assert_eq!(n.dropped, 2);
        let clean = normalise("Мусор во дворе\n");
        assert_eq!(clean.text, "Мусор во дворе\n");
        assert_eq!(clean.dropped, 0);
    }

    #[test]
    fn nothing_to_read_is_told_apart() {
        assert!(!has_letter_or_digit(&normalise("\u{1}\u{2}").text));
        assert!(!has_letter_or_digit("\u{200b}\u{200b}"));
        assert!(!has_letter_or_digit("?! ..."));
        assert!(has_letter_or_digit("5"));
        assert!(has_letter_or_digit("Яма"));
    }
}
