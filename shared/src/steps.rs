//! The payloads of the state machine's steps: what each function takes and returns. The state
//! machine carries the [`RunPlan`] (`$.plan`, in `run_plan.rs`) from step to step; every
//! function derives names and policies from it, so no step depends on another's rendering.

use serde::{Deserialize, Serialize};

use crate::clock::Epoch;
use crate::job::{JobState, ManifestLocation};
use crate::names::Attempt;
use crate::report::ReportSummary;

pub use crate::run_plan::{
    CleanupInput, CleanupOf, InventoryManifestRef, PlanEvent, PlanInput, RunPlan, Versioning,
    CLOCK_SKEW_SECONDS,
};

/// What `source-inventory` is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InventoryAction {
    /// Create this copy's inventory configuration, or update it when its settings differ.
    Put,
    /// Remove it (when the request's `cleanup.removeInventory` says so).
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryInput {
    pub action: InventoryAction,
    pub plan: RunPlan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryOutput {
    pub config_id: String,
    /// Whether the source bucket's configuration changed.
    pub changed: bool,
}

/// `inventory-wait`'s input: with a task token (`.waitForTaskToken`) the waiter is recorded
/// first; without one (after a timeout) it only looks again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitInput {
    pub plan: RunPlan,
    #[serde(default)]
    pub task_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitOutput {
    /// The report, when one delivered after the execution started is there (always present,
    /// null when none, for the state machine's JSONPath).
    #[serde(default)]
    pub found: Option<InventoryManifestRef>,
}

/// What `destination-access` and `source-access` are asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AccessAction {
    /// Create or update (and renew): idempotent.
    Grant,
    /// Check the grants just before a job is submitted, and put back any that another writer
    /// dropped.
    Verify,
    /// Remove everything this copy added.
    Revoke,
    /// `source-access`, before anything is granted: the preflight's source half (the source
    /// buckets' policies, with ferry's statements merged in, put to IAM's policy simulator).
    /// Writes nothing.
    Check,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessInput {
    pub action: AccessAction,
    pub plan: RunPlan,
    /// For a renewal: the new expiry (`job-track`'s `renewUntil`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Epoch>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessOutput {
    /// Policies written (bucket names) or the role, for the execution history.
    pub changed: Vec<String>,
    /// The expiry the grants now carry.
    pub expires_at: Epoch,
    /// `destination-access revoke`: a job of this copy is still stopping; call again later.
    pub still_active: bool,
    /// `source-access`: the KMS keys on which the copy's Batch role holds a grant (granted or
    /// verified), or held one (revoked). Always present (empty when none), for the state
    /// machine's JSONPath (job-report reads the grant's).
    #[serde(default)]
    pub kms_grants: Vec<String>,
    /// `source-access` grant: objects of its sample that the job cannot copy as they are
    /// encrypted (SSE-C, the AWS managed key), said before the job. Always present (null when
    /// none), for the state machine's JSONPath.
    #[serde(default)]
    pub not_copyable: Option<crate::inventory::NotCopyable>,
    /// `source-access` revoke of a copy that keeps its grants (`cleanup.revokeGrants: false`):
    /// the buckets whose statements of this copy stay, and until when. Always present (empty
    /// when none), for the state machine's JSONPath and `ferry revoke`.
    #[serde(default)]
    pub kept: Vec<KeptStatements>,
    /// `source-access` check: the preflight's verdicts that are not plain allows (the
    /// undecided ones; a refusal fails the step). Always present, for the state machine.
    #[serde(default)]
    pub preflight: Vec<crate::preflight::Verdict>,
}

/// A bucket whose policy keeps a copy's statements after its cleanup, until they expire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptStatements {
    pub bucket: String,
    /// The statements' `aws:CurrentTime` bound (RFC 3339), the latest of them.
    pub until: String,
}

/// A retry manifest written by `job-report`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryManifestRef {
    pub key: String,
    pub rows: u64,
    pub with_versions: bool,
    /// What the next job runs: the copy worker (LambdaInvoke) when objects over 5 GB are among
    /// the rows or the job before was the worker's already; the verification (the copy worker
    /// in verify mode) of every object of the copy's own manifest, `key` then unused (empty).
    /// In the JSON, the flags `worker` and `verify`.
    #[serde(flatten)]
    pub kind: crate::job::JobKind,
    /// The next job is the copy worker's on the copy's own manifest (`key` unused): the job
    /// before was failed by Batch Operations' task-failure threshold, and what it never ran is
    /// in no report.
    #[serde(default)]
    pub rest: bool,
    /// Flow C: the next job is the copy worker's on the generated manifest's objects over
    /// 5 GiB (`key` unused), after the S3PutObjectCopy job of those up to 5 GiB copied them all.
    #[serde(default)]
    pub large: bool,
    /// Carried from the job before: the objects over 5 GiB still wait for their job.
    #[serde(default)]
    pub large_pending: bool,
    /// The job number its phase of the run began with: retries are counted from it, so the
    /// job of the objects over 5 GiB has as many as the first job.
    #[serde(default)]
    pub phase_start: u16,
    /// `source.archived: restore`: the run's restores. With `kind` Restore, the next job
    /// restores `restores.restoring`; with any other kind, the next job is the copy of the
    /// copy's own manifest once the restores are seen done (`key` unused either way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<crate::restore::Restores>,
    /// `source.archived: restore`, a copy job's retry: when the slowest restore should be done
    /// (archived objects that failed the job before are retried after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_by: Option<Epoch>,
}

impl RetryManifestRef {
    /// The next job copies, through the worker, whatever of the copy's own manifest is not
    /// already at the destination.
    pub fn rest_through_worker() -> RetryManifestRef {
        RetryManifestRef {
            kind: crate::job::JobKind::Worker,
            rest: true,
            ..Default::default()
        }
    }

    /// Whether the next job reads a retry manifest of ferry's (not the copy's own manifest).
    pub fn is_retry_manifest(&self) -> bool {
        !self.kind.verifies() && !self.rest && !self.large && self.restores.is_none()
    }

    /// The next job restores the class `restores.restoring`; its retries count from
    /// `phase_start`.
    pub fn restore_job(restores: crate::restore::Restores, phase_start: u16) -> RetryManifestRef {
        RetryManifestRef {
            kind: crate::job::JobKind::Restore,
            restores: Some(restores),
            phase_start,
            ..Default::default()
        }
    }

    /// The next job copies the copy's own manifest, once the restores are seen done; its
    /// retries count from `job`.
    pub fn after_restores(restores: crate::restore::Restores, job: u16) -> RetryManifestRef {
        RetryManifestRef {
            restores: Some(restores),
            phase_start: job,
            ..Default::default()
        }
    }

    /// The next job verifies every object of the copy's own manifest.
    pub fn verification() -> RetryManifestRef {
        RetryManifestRef {
            kind: crate::job::JobKind::Verify,
            ..Default::default()
        }
    }

    /// Flow C: the next job copies the generated manifest's objects over 5 GiB through the
    /// copy worker; its retries count from `job`, the job's own number.
    pub fn large_objects(job: u16) -> RetryManifestRef {
        RetryManifestRef {
            kind: crate::job::JobKind::Worker,
            large: true,
            phase_start: job,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitInput {
    pub plan: RunPlan,
    pub attempt: Attempt,
    /// A retry job reads this manifest instead of the copy's own (null for the first job).
    #[serde(default)]
    pub retry_manifest: Option<RetryManifestRef>,
}

/// Written under `control/<copyId>/run-<n>/job-<k>.json` as soon as CreateJob answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub job_id: String,
    pub attempt: Attempt,
    pub client_request_token: String,
    pub manifest: ManifestLocation,
    /// Flow A's first job: the inventory's objects the job cannot copy as they are (SSE-C,
    /// archived, over 5 GB, delete markers), counted before it was submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_copyable: Option<crate::inventory::NotCopyable>,
    /// What the job runs: S3PutObjectCopy, the copy worker (LambdaInvoke), or the copy
    /// worker verifying. In the JSON, the flags `worker` and `verify`.
    #[serde(flatten)]
    pub kind: crate::job::JobKind,
    /// When job-submit created it (epoch seconds): a job created while the run's grants may be
    /// settling has its access refusals retried ([`RunPlan::grants_may_be_settling`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Epoch>,
    /// Flow C: the objects over 5 GiB still wait for their job after this one's phase.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub large_pending: bool,
    /// The job number this job's phase of the run began with (retries count from it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub phase_start: u16,
    /// Flow C's first job: the census job of the run, which lists what the filter leaves out
    /// as archived (`CreateJobRequest::census_of`); cancelled once counted (job-report), else by
    /// the revoke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub census_job_id: Option<String>,
    /// `source.archived: restore`: on a restore job's record, the run's restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<crate::restore::Restores>,
    /// `source.archived: restore`, on a copy job's record: when the slowest restore should be
    /// done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_by: Option<Epoch>,
}

impl JobRecord {
    /// Whether a job may follow this one as a retry: counted from the job its phase began with
    /// (flow C's job of the objects over 5 GiB, a restore job, the copy after restores each
    /// have as many retries as the first job).
    pub fn retries_left(&self, max_attempts: u32) -> bool {
        u32::from(self.attempt.job.saturating_sub(self.phase_start)) < max_attempts
    }
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackInput {
    pub plan: RunPlan,
    pub job: JobRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_wait: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackOutput {
    pub state: JobState,
    /// Seconds to wait before the next DescribeJob.
    pub next_wait: u64,
    /// The job still runs and the grants expire within the renewal margin.
    pub renew_grants: bool,
    /// The expiry a renewal gives the grants.
    pub renew_until: Epoch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportInput {
    pub plan: RunPlan,
    pub job: JobRecord,
    /// What the earlier jobs of this run added up to (null for the first job).
    #[serde(default)]
    pub totals: Option<CopyTotals>,
    /// The KMS keys source-access granted the copy's Batch role this run: a refusal of one of
    /// them while grants settle is a grant not in effect yet; of another key, it is not.
    #[serde(default)]
    pub granted_keys: Vec<String>,
}

/// What happens after a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Next {
    /// Every object is copied.
    Copied,
    /// Submit a retry job on the retry manifest.
    Retry,
    /// The job failed before running any task (a new role is not usable yet, for example):
    /// submit it again with a new attempt token.
    Resubmit,
    /// Objects still failed and no retry is left (or none would help): `CopyIncomplete`.
    Incomplete,
    /// The job as a whole failed or was cancelled: `JobFailed`.
    JobFailed,
    /// The restore jobs are done: wait `wait_seconds`, then look at the restored objects and
    /// copy (the next job's `retry_manifest` carries the restores).
    AwaitRestores,
}

impl Next {
    /// Whether another job of the run comes next (`ReportOutput::next_attempt` is set).
    pub fn another_job(self) -> bool {
        matches!(self, Next::Retry | Next::Resubmit | Next::AwaitRestores)
    }
}

/// The copy so far, across the jobs of a run: the execution's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyTotals {
    pub job_ids: Vec<String>,
    /// Where the run's completion reports are: `s3://<report bucket>/<prefix>/`. Always
    /// present, for the state machine's JSONPath (the run's end message names it).
    #[serde(default)]
    pub reports: String,
    /// What the run's jobs did so far, counted for its cost.
    #[serde(default)]
    pub usage: crate::cost::Usage,
    /// The cost of what ran, at the Region's prices in `shared/prices.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::Bill>,
    /// Objects copied, by all jobs.
    pub copied: u64,
    /// Objects not copied because the destination already held them (`destination.existing`
    /// refuse or skip-identical), by all jobs.
    #[serde(default)]
    pub identical: u64,
    /// Objects that failed in the last job (after every retry so far).
    pub failed: u64,
    /// The last job's report, counted.
    pub last_report: ReportSummary,
    /// The verification after the last job, when the copy has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Flow C: the objects up to 5 GiB that still failed after their retries, when the job of
    /// the objects over 5 GiB ran after them: the run then ends `CopyIncomplete` with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier_incomplete: Option<EarlierIncomplete>,
    /// Flow C: the job of the objects over 5 GiB, when one ran (it is not a retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_objects_job: Option<String>,
    /// Flow C: the objects its filter left out as archived, counted from the census job's
    /// generated manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_out: Option<LeftOut>,
    /// `source.archived: restore`: what the restore jobs did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored: Option<RestoreTotals>,
}

/// The restore jobs of a run (`source.archived: restore`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreTotals {
    /// The restore jobs.
    pub job_ids: Vec<String>,
    /// Objects whose restore S3 accepted.
    pub requested: u64,
    /// Objects whose restore S3 refused, by error code (their copy then fails as archived).
    pub failed: u64,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub failed_by_code: std::collections::BTreeMap<String, u64>,
    /// Objects found already being restored (not asked again).
    #[serde(default)]
    pub already_restoring: u64,
    /// The retrieval tier.
    pub tier: String,
}

/// Flow C: how the phase of the objects up to 5 GiB ended when it did not copy them all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EarlierIncomplete {
    /// Objects that still failed.
    pub failed: u64,
    /// Whether every one of them is SSE-C (not copyable until it is written again).
    pub only_sse_c: bool,
    /// The sentence that phase's end would have given.
    pub cause: String,
}

/// What flow C's filter left out as archived (`GLACIER`, `DEEP_ARCHIVE`): not listed, so no task
/// failed on them; restored, they are copied by a later run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftOut {
    /// The census job whose generated manifest lists them.
    pub census_job_id: String,
    /// How many; absent while the census job has not listed them yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<u64>,
    /// The first keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_keys: Vec<String>,
}

impl LeftOut {
    /// One sentence for the run's output.
    pub fn sentence(&self) -> String {
        match self.archived {
            None => format!(
                "the objects left out as archived were not counted (census job {} had not listed them yet)",
                self.census_job_id
            ),
            Some(0) => "no object was left out as archived".to_string(),
            Some(n) => format!(
                "{n} objects in GLACIER or DEEP_ARCHIVE were left out, not copied (first: {}): a restored object keeps its storage class, so flow C leaves it out still; restore them and copy them with flow A or B",
                self.first_keys.join(", ")
            ),
        }
    }
}

/// What the verification job found: every object of the manifest at the destination, with the
/// first keys of each finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub verified: u64,
    pub missing: u64,
    pub different: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_missing: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_different: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportOutput {
    pub next: Next,
    pub state: JobState,
    pub totals: CopyTotals,
    /// For `Retry` and `Resubmit`: the next job's attempt. Always present (null when none), so
    /// the state machine's JSONPath can select it.
    #[serde(default)]
    pub next_attempt: Option<Attempt>,
    #[serde(default)]
    pub retry_manifest: Option<RetryManifestRef>,
    /// Seconds to wait before the next job: non-zero when access refusals are retried while the
    /// run's grants take effect.
    #[serde(default)]
    pub wait_seconds: u64,
    /// A sentence for the execution's failure cause.
    pub cause: String,
}
