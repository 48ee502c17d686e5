//! Progress bars on stderr (rate and ETA), hidden automatically when stderr is
//! not a terminal so logs and tests stay clean.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` items, e.g. predictions; shows rate and ETA.
pub fn items(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>28} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} ({elapsed})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A bar over `len` bytes of a file being read.
pub fn bytes(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A spinner for work of unknown length (model fitting); the caller updates
/// the message with e.g. the iteration and the loss.
pub fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("static template"),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
