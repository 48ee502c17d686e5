//! The PII masker and language detection on arbitrary UTF-8 (twice, as a
//! stored text is masked again on re-import): no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let masked = triage_domain::pii::redact(text);
    let _ = triage_domain::language::detect(&masked.text);
    let _ = triage_domain::text::has_letter_or_digit(&masked.text);
    let _ = triage_domain::pii::redact(&masked.text);
});
