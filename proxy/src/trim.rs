//! Giving memory back to the system after a burst.
//!
//! glibc's allocator keeps what a burst freed in its per-thread arenas:
//! measured with `benches/abuse.rs`, the process stayed at 450 MiB after
//! 1,000 concurrent streams ended, and `malloc_trim(0)` brought it to
//! 158 MiB (below where it started). So a watcher looks, every
//! [`CHECK_EVERY`], at how many connections are open and how much
//! inspection memory is reserved; when either has fallen far from its peak
//! since the last trim (a burst ended), it trims once, off the serving
//! threads.
//!
//! Invariant: the only `unsafe` code of the workspace is the one call in
//! [`release_free_memory`]; elsewhere `unsafe_code` is denied.

use std::sync::Weak;
use std::time::Duration;

use crate::listener::Shared;

/// How often the watcher looks.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// A burst ended when this many connections closed since the peak…
const CONNECTIONS_FREED: usize = 64;
/// …or this much inspection memory (KiB) was released since the peak.
const INSPECTION_KIB_FREED: usize = 64 * 1024;

/// Runs until the gateway's shared state is dropped.
pub async fn watch(shared: Weak<Shared>) {
    let mut peak = (0usize, 0usize);
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = shared.in_use();
        drop(shared);
        peak = (peak.0.max(now.0), peak.1.max(now.1));
        if peak.0 - now.0 >= CONNECTIONS_FREED || peak.1 - now.1 >= INSPECTION_KIB_FREED {
            peak = now;
            // Walks every arena: a few milliseconds, kept off the serving
            // threads.
            let _ = tokio::task::spawn_blocking(release_free_memory).await;
        }
    }
}

/// Returns the allocator's free memory to the system, where the allocator
/// can (glibc); elsewhere nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` has no preconditions: it takes each arena's
    // lock itself (safe to call from any thread, while others allocate),
    // only releases pages that hold no live allocation, and returns an
    // int we ignore. Benchmark: `benches/abuse.rs` (450 → 158 MiB RSS
    // after 1,000 streams).
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_while_others_allocate_is_harmless() {
        let workers: Vec<_> = (0..4)
            .map(|i| {
                std::thread::spawn(move || {
                    let mut kept = Vec::new();
                    for n in 0..2000 {
                        kept.push(vec![i as u8; 1 + (n * 37) % 5000]);
                        if n % 3 == 0 {
                            kept.swap_remove(0);
                        }
                    }
                    kept.iter().map(Vec::len).sum::<usize>()
                })
            })
            .collect();
        for _ in 0..50 {
            release_free_memory();
        }
        for worker in workers {
            assert!(worker.join().unwrap() > 0);
        }
    }
}
