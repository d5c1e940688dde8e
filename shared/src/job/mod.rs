//! S3 Batch Operations jobs: the CreateJob request of a copy ([`create`]: both manifest kinds,
//! and the retry jobs' CSV manifests), the normalized state of a job from DescribeJob (here), and
//! the tracking rhythm ([`schedule`]: how long to wait before the next DescribeJob, and when
//! grants must be renewed).

use serde::{Deserialize, Serialize};

use aws_sdk_s3control::types as s3c;

pub mod create;
pub mod generated;
pub mod kind;
pub mod restore;
pub mod schedule;

/// DescribeJob of `job_id` in `account`: the job as S3 Batch Operations describes it. An answer
/// without a job is `Retryable`; the call's own errors are named as every call's are.
pub async fn describe_job(
    s3control: &aws_sdk_s3control::Client,
    account: &str,
    job_id: &str,
) -> Result<s3c::JobDescriptor, crate::StepError> {
    let out = s3control
        .describe_job()
        .account_id(account)
        .job_id(job_id)
        .send()
        .await
        .map_err(|e| crate::error::from_sdk(e, &format!("DescribeJob {job_id}")))?;
    out.job.ok_or_else(|| {
        crate::StepError::new(
            crate::ErrorName::Retryable,
            format!("DescribeJob {job_id} answered without a job"),
        )
    })
}

pub use create::*;
pub use generated::{first_route, GeneratorFilter, SizeRoute};
pub use kind::JobKind;
pub use schedule::*;

/// How a finished job ended, for the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobOutcome {
    /// Complete, and no task failed.
    Succeeded,
    /// Complete with failed tasks: NOT a success (the report says which, and why).
    Partial,
    /// The job as a whole failed (for example more than half of at least 1,000 tasks failed, or
    /// the manifest could not be read).
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobFailure {
    pub code: String,
    pub reason: String,
}

/// A job's state from DescribeJob, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    pub job_id: String,
    pub status: String,
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub elapsed_active_seconds: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure_reasons: Vec<JobFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_update_reason: Option<String>,
    pub terminal: bool,
    /// Set once the job is terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<JobOutcome>,
}

/// How many tasks a job must have run before Batch Operations judges its failure rate.
pub const FAILURE_THRESHOLD_TASKS: u64 = 1000;

/// Batch Operations' task-failure threshold: `failed` of `ran` tasks fail a job once at least
/// 1,000 ran and over half of them failed (S3 User Guide, batch-ops-job-status).
pub fn over_failure_threshold(ran: u64, failed: u64) -> bool {
    ran >= FAILURE_THRESHOLD_TASKS && failed * 2 > ran
}

/// Statuses after which a job never changes again.
pub const TERMINAL_STATUSES: [&str; 3] = ["Complete", "Failed", "Cancelled"];
/// Statuses in which a job may still run tasks, so grants and role must stay.
pub const ACTIVE_STATUSES: [&str; 10] = [
    "New",
    "Preparing",
    "Suspended",
    "Ready",
    "Active",
    "Pausing",
    "Paused",
    "Completing",
    "Cancelling",
    "Failing",
];

impl JobState {
    /// Normalizes counts and status; `outcome` follows from them.
    pub fn new(
        job_id: impl Into<String>,
        status: impl Into<String>,
        total: u64,
        succeeded: u64,
        failed: u64,
    ) -> JobState {
        let status = status.into();
        let terminal = TERMINAL_STATUSES.contains(&status.as_str());
        let outcome = match status.as_str() {
            "Complete" if failed == 0 => Some(JobOutcome::Succeeded),
            "Complete" => Some(JobOutcome::Partial),
            "Failed" => Some(JobOutcome::Failed),
            "Cancelled" => Some(JobOutcome::Cancelled),
            _ => None,
        };
        JobState {
            job_id: job_id.into(),
            status,
            total,
            succeeded,
            failed,
            elapsed_active_seconds: 0,
            failure_reasons: Vec::new(),
            status_update_reason: None,
            terminal,
            outcome,
        }
    }

    /// From DescribeJob's `Job`.
    pub fn from_descriptor(job: &s3c::JobDescriptor) -> JobState {
        let progress = job.progress_summary();
        let count = |v: Option<i64>| v.map_or(0, |n| u64::try_from(n).unwrap_or(0));
        let mut state = JobState::new(
            job.job_id().unwrap_or_default(),
            job.status().map_or("New", |s| s.as_str()),
            count(progress.and_then(|p| p.total_number_of_tasks())),
            count(progress.and_then(|p| p.number_of_tasks_succeeded())),
            count(progress.and_then(|p| p.number_of_tasks_failed())),
        );
        state.elapsed_active_seconds = count(
            progress
                .and_then(|p| p.timers())
                .and_then(|t| t.elapsed_time_in_active_seconds()),
        );
        state.failure_reasons = job
            .failure_reasons()
            .iter()
            .map(|f| JobFailure {
                code: f.failure_code().unwrap_or_default().to_string(),
                reason: f.failure_reason().unwrap_or_default().to_string(),
            })
            .collect();
        state.status_update_reason = job.status_update_reason().map(str::to_string);
        state
    }

    /// Whether the job may still run tasks, so its role and grants must stay.
    pub fn is_active(&self) -> bool {
        !self.terminal
    }

    /// Whether Batch Operations failed the job by its task-failure threshold: "When a job has run
    /// at least 1,000 tasks, Amazon S3 monitors the task failure rate. At any point, if the
    /// failure rate ... exceeds 50 percent, the job fails" (S3 User Guide,
    /// batch-ops-job-status). AWS documents no failure code for it, so ferry reads the counts.
    pub fn failed_by_threshold(&self) -> bool {
        self.outcome == Some(JobOutcome::Failed)
            && over_failure_threshold(self.succeeded + self.failed, self.failed)
    }

    /// Tasks neither succeeded nor failed yet.
    pub fn remaining(&self) -> u64 {
        self.total.saturating_sub(self.succeeded + self.failed)
    }
}

#[cfg(test)]
mod tests;
