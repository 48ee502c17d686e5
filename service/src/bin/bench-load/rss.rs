//! The server's resident memory, sampled from `/proc/PID/status` once a
//! second during a phase, and reduced to post-warm-up / middle / end values:
//! "memory flat" means the end is within 10% of the post-warm-up value.

use std::time::Duration;

/// Resident set size of process `pid`, MiB (Linux); `None` when it cannot be read.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss_kib(&status).map(|kib| kib / 1024.0)
}

/// The `VmRSS:` value of a `/proc/PID/status` text, KiB.
fn parse_vm_rss_kib(status: &str) -> Option<f64> {
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
}

/// Growth over the post-warm-up value still called flat.
pub const FLAT_TOLERANCE: f64 = 0.10;

/// RSS over the measured part of a phase, MiB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RssReport {
    /// The first sample at or after the end of the warm-up.
    pub start: f64,
    /// The sample nearest the middle of the measurement.
    pub middle: f64,
    /// The last sample before the measurement ended.
    pub end: f64,
    /// The largest sample of the measurement.
    pub max: f64,
}

impl RssReport {
    /// Reduces `(time since phase start, MiB)` samples to the measurement
    /// `[from, to]`; `None` without samples there.
    pub fn of(samples: &[(Duration, f64)], from: Duration, to: Duration) -> Option<Self> {
        let inside: Vec<(Duration, f64)> = samples
            .iter()
            .copied()
            .filter(|(t, _)| *t >= from && *t <= to)
            .collect();
        let (first, last) = (inside.first()?, inside.last()?);
        let mid = from + (to - from) / 2;
        let middle = inside
            .iter()
            .min_by_key(|(t, _)| t.abs_diff(mid))
            .map_or(first.1, |s| s.1);
        let max = inside.iter().map(|s| s.1).fold(f64::MIN, f64::max);
        Some(Self {
            start: first.1,
            middle,
            end: last.1,
            max,
        })
    }

    /// End within [`FLAT_TOLERANCE`] of the post-warm-up value.
    pub fn is_flat(&self) -> bool {
        self.end <= self.start * (1.0 + FLAT_TOLERANCE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status_and_reads_this_process() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t  2048 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss_kib(status), Some(2048.0));
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
        let me = rss_mib(std::process::id()).expect("own /proc status");
        assert!(me > 0.5, "{me} MiB");
        assert_eq!(rss_mib(u32::MAX), None);
    }

    #[test]
    fn start_middle_end_of_the_measurement_and_flatness() {
        let s = |secs, mib| (Duration::from_secs(secs), mib);
        // Warm-up samples (0-4 s) grow; measurement 5-65 s.
        let mut v = vec![s(0, 300.0), s(2, 380.0), s(4, 400.0)];
        v.extend((5..=66).map(|t| s(t, 400.0 + (t - 5) as f64)));
        let r = RssReport::of(&v, Duration::from_secs(5), Duration::from_secs(65)).unwrap();
        assert_eq!(
            (r.start, r.middle, r.end, r.max),
            (400.0, 430.0, 460.0, 460.0)
        );
        assert!(!r.is_flat(), "15% growth");
        let flat = RssReport { end: 420.0, ..r };
        assert!(flat.is_flat());
        assert!(RssReport::of(&v, Duration::from_secs(100), Duration::from_secs(110)).is_none());
    }
}
