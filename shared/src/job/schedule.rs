//! The tracking rhythm of a job: how long to wait before the next DescribeJob, and when the
//! grants a running job uses must be renewed.

use super::JobState;
use crate::clock::Epoch;

/// Longest wait between two DescribeJob calls.
pub const MAX_WAIT_SECONDS: u64 = 900;

/// The next wait before DescribeJob: `poll_seconds` first, then half as long again each round,
/// up to 15 minutes. Short jobs are seen finishing quickly; long ones cost few history events.
pub fn next_wait(poll_seconds: u64, previous: Option<u64>) -> u64 {
    let poll = poll_seconds.clamp(1, MAX_WAIT_SECONDS);
    match previous {
        None => poll,
        Some(p) => (p + p.div_ceil(2)).clamp(poll, MAX_WAIT_SECONDS),
    }
}

/// The number of tracking rounds (Wait + DescribeJob) that cover `seconds` of a job's life.
pub fn rounds_to_cover(poll_seconds: u64, seconds: u64) -> u64 {
    let (mut waited, mut rounds, mut wait) = (0u64, 0u64, None);
    while waited < seconds {
        let w = next_wait(poll_seconds, wait);
        waited += w;
        rounds += 1;
        wait = Some(w);
    }
    rounds
}

/// When grants made at `started` with `lifetime_seconds` expire.
pub fn grant_expiry(started: Epoch, lifetime_seconds: u64) -> Epoch {
    started.saturating_add(i64::try_from(lifetime_seconds).unwrap_or(i64::MAX))
}

/// Whether the grants must be renewed now: the job still runs and less than a day is left
/// (or less than half the lifetime, for the sandbox's lifetimes of seconds). The margin is far
/// longer than the longest wait, so no tracking round can sleep past an expiry.
pub fn grant_renewal_due(
    job: &JobState,
    now: Epoch,
    expires_at: Epoch,
    lifetime_seconds: u64,
) -> bool {
    let margin = i64::try_from((lifetime_seconds / 2).min(86_400)).unwrap_or(86_400);
    job.is_active() && now.saturating_add(margin) >= expires_at
}
