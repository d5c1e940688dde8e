//! The sentence a run's end gives: what was copied, or why not, with the first keys and what to
//! do.

use ferry_core::job::JobState;
use ferry_core::steps::{CopyTotals, Next};

/// How many failed keys a failure cause names (the execution output's report lists more).
pub(crate) const CAUSE_KEYS: usize = 5;

/// A sentence a person can act on, for the execution's output or failure cause.
pub(crate) fn cause(
    next: Next,
    state: &JobState,
    totals: &CopyTotals,
    verify_only: bool,
) -> String {
    let codes = || {
        totals
            .last_report
            .by_error_code
            .iter()
            .map(|(code, c)| format!("{code} x{}", c.count))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(v) = &totals.verification {
        let keys = |k: &[String]| {
            if k.is_empty() {
                String::new()
            } else {
                format!(" ({})", k.join(", "))
            }
        };
        match next {
            Next::Copied if verify_only => {
                return format!(
                    "verified {} objects at the destination: every object of the copy's manifest is there, as at the source",
                    v.verified
                )
            }
            Next::Copied => {
                return format!(
                    "copied {} objects in {} job(s) ({} already there, identical); verified {} at the destination",
                    totals.copied,
                    totals.job_ids.len() - 1,
                    totals.identical,
                    v.verified
                )
            }
            Next::Incomplete => {
                // Tasks the worker could not check at all (its role refused, an error of S3's)
                // are neither missing nor different: said with their codes and first message.
                let unchecked: Vec<(&String, &ferry_core::report::ErrorCount)> = totals
                    .last_report
                    .by_error_code
                    .iter()
                    .filter(|(_, c)| c.class != ferry_core::report::FailureClass::Unverified)
                    .collect();
                let unchecked = if unchecked.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} could not be checked: {}",
                        unchecked.iter().map(|(_, c)| c.count).sum::<u64>(),
                        unchecked
                            .iter()
                            .map(|(code, c)| format!("{code} x{} ({})", c.count, c.example))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                };
                return format!(
                    "the verification{} found {} missing{} and {} different{} at the destination ({} verified){unchecked}",
                    if verify_only { "" } else { " after the copy" },
                    v.missing,
                    keys(&v.first_missing),
                    v.different,
                    keys(&v.first_different),
                    v.verified
                );
            }
            _ => {}
        }
    }
    match next {
        Next::Retry if totals.last_report.too_large == 0 && totals.last_report.retryable == 0 => {
            format!(
                "copied {} objects in {} job(s); verifying every one at the destination",
                totals.copied,
                totals.job_ids.len()
            )
        }
        Next::Copied if totals.identical > 0 => format!(
            "copied {} objects in {} job(s); {} already at the destination, identical: not copied",
            totals.copied,
            totals.job_ids.len(),
            totals.identical
        ),
        Next::Copied => format!(
            "copied {} objects in {} job(s)",
            totals.copied,
            totals.job_ids.len()
        ),
        Next::Retry if totals.last_report.too_large > 0 => format!(
            "{} objects over 5 GB go to the copy worker's job ({} objects failed for transient reasons and go with them)",
            totals.last_report.too_large, totals.last_report.retryable
        ),
        Next::Retry => format!(
            "{} objects failed for transient reasons; retrying them",
            totals.last_report.retryable
        ),
        Next::Resubmit => format!(
            "job {} failed before running any task ({}); submitting it again",
            state.job_id,
            reasons(state)
        ),
        Next::Incomplete => {
            let sample = &totals.last_report.failed_sample;
            let keys: Vec<String> = sample
                .iter()
                .take(CAUSE_KEYS)
                .map(|t| format!("{} ({})", t.key, t.error_code))
                .collect();
            let more = totals.failed.saturating_sub(keys.len() as u64);
            let remedies: String = totals
                .last_report
                .encryption_obstacles()
                .into_iter()
                .map(|o| format!("; not copyable ({}): {}", o.label(), o.remedy()))
                .chain((totals.last_report.refused > 0).then(|| format!(
                    "; {} left alone as existing: another object is at their destination keys and destination.existing is refuse (skip-identical or overwrite replaces them)",
                    totals.last_report.refused
                )))
                .collect();
            format!(
                "{} objects were not copied after {} job(s) ({} copied); errors: {}; failed: {}{}{remedies}",
                totals.failed,
                totals.job_ids.len(),
                totals.copied,
                codes(),
                keys.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        }
        Next::AwaitRestores => "waiting for the archived objects' restores".into(),
        Next::JobFailed => format!(
            "job {} ended {}: {}",
            state.job_id,
            state.status,
            reasons(state)
        ),
    }
}

pub(crate) fn reasons(state: &JobState) -> String {
    if state.failure_reasons.is_empty() {
        return state
            .status_update_reason
            .clone()
            .unwrap_or_else(|| "no reason given".into());
    }
    state
        .failure_reasons
        .iter()
        .map(|f| format!("{}: {}", f.code, f.reason))
        .collect::<Vec<_>>()
        .join("; ")
}
