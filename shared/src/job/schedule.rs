//! The tracking rhythm of a job: how long to wait before the next DescribeJob, and when the
//! grants a running job uses must be renewed.

use super::JobState;
use crate::clock::Epoch;

/// Longest wait between two DescribeJob calls.
pub const MAX_WAIT_SECONDS: u64 = 900;

/// How many looks keep to `timing.maxPollSeconds`: the job's first `max_poll x CAPPED_LOOKS`
/// seconds. After that the wait grows again to 15 minutes, so that one execution still tracks a
/// job of 14 days within Step Functions' 25,000 history events whatever the cap (the template
/// test counts them with the smallest cap, one second).
pub const CAPPED_LOOKS: u64 = 600;

/// The next wait before DescribeJob: `poll_seconds` first, then half as long again each round,
/// up to `max_poll_seconds` during the job's first `max_poll_seconds x` [`CAPPED_LOOKS`]
/// seconds (`elapsed`: since the job was created) and up to 15 minutes after. Short jobs are
/// seen finishing quickly; long ones cost few history events.
pub fn next_wait(
    poll_seconds: u64,
    max_poll_seconds: u64,
    previous: Option<u64>,
    elapsed: u64,
) -> u64 {
    let poll = poll_seconds.clamp(1, MAX_WAIT_SECONDS);
    let cap = max_poll_seconds.clamp(poll, MAX_WAIT_SECONDS);
    let grown = match previous {
        None => poll,
        Some(p) => (p + p.div_ceil(2)).clamp(poll, MAX_WAIT_SECONDS),
    };
    if elapsed < cap.saturating_mul(CAPPED_LOOKS) {
        grown.min(cap)
    } else {
        grown
    }
}

/// The number of tracking rounds (Wait + DescribeJob) that cover `seconds` of a job's life.
pub fn rounds_to_cover(poll_seconds: u64, max_poll_seconds: u64, seconds: u64) -> u64 {
    let (mut waited, mut rounds, mut wait) = (0u64, 0u64, None);
    while waited < seconds {
        let w = next_wait(poll_seconds, max_poll_seconds, wait, waited);
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
