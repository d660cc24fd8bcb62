//! How many Lighthouse runs this machine can take at once.
//!
//! Each run is one Chromium plus one Node process: about 700 MiB and most of
//! a core while it loads and traces the page. The default audit concurrency
//! is one run per available core, bounded by the memory available to this
//! process (cgroup limit or `MemAvailable`) after a reserve for the rest of
//! the worker. `stages.audit.concurrency` overrides it per worker process.

/// Memory one Lighthouse run needs.
pub const MEMORY_PER_AUDIT: u64 = 700 * 1024 * 1024;

/// Memory kept for the worker itself and the database pool.
pub const MEMORY_RESERVE: u64 = 512 * 1024 * 1024;

/// The default concurrency on this machine.
pub fn default_concurrency() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    slots(cores, available_memory())
}

/// Runs that fit: one per core, bounded by memory, at least one.
pub fn slots(cores: usize, available_memory: Option<u64>) -> usize {
    let by_memory = available_memory.map_or(usize::MAX, |bytes| {
        usize::try_from(bytes.saturating_sub(MEMORY_RESERVE) / MEMORY_PER_AUDIT).unwrap_or(usize::MAX)
    });
    cores.min(by_memory).max(1)
}

/// The smaller of `MemAvailable` and what the cgroup (v2 or v1) still allows.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let available = meminfo.as_deref().and_then(mem_available);
    let cgroup = cgroup_headroom();
    match (available, cgroup) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

/// `MemAvailable` in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn cgroup_headroom() -> Option<u64> {
    let read = |path: &str| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    // cgroup v2: "max" means no limit (and fails to parse).
    if let Some(limit) = read("/sys/fs/cgroup/memory.max") {
        let used = read("/sys/fs/cgroup/memory.current").unwrap_or(0);
        return Some(limit.saturating_sub(used));
    }
    // cgroup v1: an unlimited group reports a huge number.
    let limit = read("/sys/fs/cgroup/memory/memory.limit_in_bytes")?;
    if limit >= 1 << 60 {
        return None;
    }
    let used = read("/sys/fs/cgroup/memory/memory.usage_in_bytes").unwrap_or(0);
    Some(limit.saturating_sub(used))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * 1024 * 1024;

    #[test]
    fn one_run_per_core_bounded_by_memory() {
        let cases = [
            ("plenty of memory", 2, Some(24 * GIB), 2),
            ("many cores, little memory", 16, Some(2 * GIB), 2),
            ("memory unknown", 4, None, 4),
            ("not even one fits", 8, Some(GIB / 2), 1),
        ];
        for (name, cores, memory, expected) in cases {
            assert_eq!(slots(cores, memory), expected, "{name}");
        }
    }

    #[test]
    fn meminfo_is_read_in_kib() {
        let text = "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(mem_available(text), Some(2048 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
    }

    #[test]
    fn this_machine_gets_at_least_one_slot() {
        assert!(default_concurrency() >= 1);
    }
}
