//! What the bench binaries measure about their own process, from /proc: CPU time, resident
//! memory and its peak (which a bench can reset to measure one phase alone).

// Each bench binary includes this module and uses what it measures.
#![allow(dead_code)]

use std::time::Duration;

/// Resets VmHWM to the current RSS (Linux 4.0 and later); false where that is refused.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `/proc/self/status` memory field (e.g. `VmRSS:`) in MiB.
pub fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// CPU time this process has used (user + system), from /proc.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 (1-based), 11 and 12 here; 100 ticks per second.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The peak resident memory (VmHWM) in MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}
