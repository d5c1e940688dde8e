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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl RetryManifestRef {
    /// The next job copies, through the worker, whatever of the copy's own manifest is not
    /// already at the destination.
    pub fn rest_through_worker() -> RetryManifestRef {
        RetryManifestRef {
            key: String::new(),
            rows: 0,
            with_versions: false,
            kind: crate::job::JobKind::Worker,
            rest: true,
        }
    }

    /// Whether the next job reads a retry manifest of ferry's (not the copy's own manifest).
    pub fn is_retry_manifest(&self) -> bool {
        !self.kind.verifies() && !self.rest
    }

    /// The next job verifies every object of the copy's own manifest.
    pub fn verification() -> RetryManifestRef {
        RetryManifestRef {
            key: String::new(),
            rows: 0,
            with_versions: false,
            kind: crate::job::JobKind::Verify,
            rest: false,
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
}

/// The copy so far, across the jobs of a run: the execution's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyTotals {
    pub job_ids: Vec<String>,
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

#[cfg(test)]
mod tests {

    #[test]
    fn versioning_reads_as_s3_says_it_and_passes_as_the_same_string() {
        use super::Versioning;
        for (status, v) in [
            (Some("Enabled"), Versioning::Enabled),
            (Some("Suspended"), Versioning::Suspended),
            (None, Versioning::Disabled),
            (Some("SomethingNew"), Versioning::Disabled),
        ] {
            assert_eq!(Versioning::from_status(status), v);
        }
        assert_eq!(
            serde_json::to_value(Versioning::Suspended).unwrap(),
            "Suspended"
        );
        assert!(
            Versioning::Enabled.keeps_overwritten() && !Versioning::Suspended.keeps_overwritten()
        );
    }

    use super::*;
    use crate::stack::{StackConfig, StackContext};
    use crate::ErrorName;

    fn ctx() -> StackContext {
        crate::testing::destination_stack().context()
    }

    fn input(execution: &str) -> PlanInput {
        PlanInput {
            request: serde_json::from_str(include_str!("../fixtures/request-csv.json")).unwrap(),
            execution: execution.into(),
            start_time: "2026-11-28T13:45:50.123Z".into(),
        }
    }

    fn stack(source_side: bool) -> StackConfig {
        if !source_side {
            return crate::testing::destination_stack();
        }
        StackConfig {
            // The template names a source stack's ferry bucket after its own account: never
            // the one a plan must name.
            ferry_bucket: "ferry-111111111111-eu-west-1".into(),
            ..crate::testing::source_stack()
        }
    }

    #[test]
    fn a_plan_of_this_stack_holds_on_both_sides() {
        let p = RunPlan::from_input(&input("photos-2026-1"), &ctx()).unwrap();
        let now = p.started_at + 60;
        for source_side in [false, true] {
            p.check_against(&stack(source_side), now, p.expires_at)
                .unwrap();
        }
    }

    #[test]
    fn the_source_side_refuses_a_plan_it_did_not_agree_to() {
        let good = RunPlan::from_input(&input("photos-2026-1"), &ctx()).unwrap();
        let now = good.started_at + 60;
        let source = stack(true);
        let refused = |p: &RunPlan, expires_at: Epoch| {
            let err = p.check_against(&source, now, expires_at).unwrap_err();
            assert_eq!(err.name, ErrorName::AccessDenied);
            err.cause
        };
        // A third account as the destination: the grant would name its root.
        let mut p = good.clone();
        p.request.destination.account_id = "333333333333".into();
        p.ferry_bucket = "ferry-333333333333-eu-west-1".into();
        assert!(refused(&p, p.expires_at).contains("serves the destination accounts of its DestinationAccountIds parameter (222222222222); the plan's destination.accountId is 333333333333: refused"));
        // Listed, the same plan holds: a source stack serves each of its destinations, each
        // with that destination's own ferry bucket.
        let two = StackConfig {
            destination_account_ids: vec!["222222222222".into(), "333333333333".into()],
            ..source.clone()
        };
        p.check_against(&two, now, p.expires_at).unwrap();
        let mut wrong = p.clone();
        wrong.ferry_bucket = crate::testing::FERRY_BUCKET.into();
        let err = wrong
            .check_against(&two, now, wrong.expires_at)
            .unwrap_err();
        assert!(
            err.cause
                .contains("not the destination stack's ferry-333333333333-eu-west-1"),
            "{}",
            err.cause
        );
        // The right account, another ferry bucket: inventory would be delivered there.
        let mut p = good.clone();
        p.ferry_bucket = "attacker-bucket".into();
        assert!(refused(&p, p.expires_at).contains("ferry bucket is attacker-bucket, not the destination stack's ferry-222222222222-eu-west-1"));
        // A grant until 9999.
        assert!(refused(&good, 253_402_300_799)
            .contains("lies beyond now + timing.grantLifetimeSeconds"));
        // A bucket the source stack does not list.
        let mut p = good.clone();
        p.request.source.bucket = "payroll".into();
        assert!(refused(&p, p.expires_at)
            .contains("source.bucket: payroll is not in the stacks' SourceBuckets"));
        // Another source account.
        let mut p = good;
        p.request.source.account_id = "444444444444".into();
        assert!(refused(&p, p.expires_at)
            .contains("source.accountId is 444444444444, not this account"));
    }

    /// The security round's finding 4: the source account caps how long its grants last and
    /// whether a copy may keep its bucket statements, whatever the request asks.
    #[test]
    fn the_source_stack_caps_grant_lifetimes_and_may_forbid_kept_grants() {
        let good = RunPlan::from_input(&input("photos-2026-1"), &ctx()).unwrap();
        let now = good.started_at + 60;
        let capped = StackConfig {
            grant_lifetime_max: 3_600,
            kept_grants: false,
            ..stack(true)
        };
        // The fixture asks for longer than an hour: refused, naming the stack's cap.
        assert!(good.request.timing.grant_lifetime_seconds > 3_600);
        let err = good
            .check_against(&capped, now, good.expires_at)
            .unwrap_err();
        assert_eq!(err.name, ErrorName::AccessDenied);
        assert!(
            err.cause
                .contains("lies beyond now + the source stack's MaxGrantLifetimeSeconds (3600 s"),
            "{}",
            err.cause
        );
        // Within the cap: granted.
        good.check_against(&capped, now, now + 3_000).unwrap();
        // Kept grants, forbidden.
        let mut keeps = good.clone();
        keeps.request.cleanup.revoke_grants = false;
        let err = keeps.check_against(&capped, now, now + 3_000).unwrap_err();
        assert!(
            err.cause.contains(
                "this source stack forbids kept grants (its KeptGrants parameter is not `allow`)"
            ),
            "{}",
            err.cause
        );
        // Allowed by a stack that says so; the destination side has no say.
        keeps
            .check_against(&stack(true), now, keeps.expires_at)
            .unwrap();
        keeps
            .check_against(&stack(false), now, keeps.expires_at)
            .unwrap();
    }

    #[test]
    fn the_destination_side_refuses_an_unlisted_destination() {
        let mut p = RunPlan::from_input(&input("photos-2026-1"), &ctx()).unwrap();
        p.request.destination.bucket = "prod-database-backups".into();
        let err = p
            .check_against(&stack(false), p.started_at, p.expires_at)
            .unwrap_err();
        assert_eq!(err.name, ErrorName::AccessDenied);
        assert!(err.cause.contains("destination.bucket: prod-database-backups is not in the destination stack's DestinationBuckets parameter (dst-photos)"), "{}", err.cause);
    }

    #[test]
    fn a_run_plan_comes_from_the_execution() {
        let p = RunPlan::from_input(&input("photos-2026-3"), &ctx()).unwrap();
        assert_eq!(p.run, 3);
        assert_eq!(p.started_at, 1_795_873_550);
        assert_eq!(p.expires_at, 1_795_873_550 + 1_468_800);
        assert_eq!(p.first_attempt(), Attempt { run: 3, job: 0 });
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(serde_json::from_value::<RunPlan>(json).unwrap(), p);
    }

    #[test]
    fn the_execution_must_name_the_copy() {
        for bad in [
            "photos-2025-1",
            "photos-2026",
            "photos-2026-cleanup-1",
            "photos-2026-99999",
        ] {
            let err = RunPlan::from_input(&input(bad), &ctx()).unwrap_err();
            assert_eq!(err.name, ErrorName::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn an_invalid_request_is_invalid_request_with_every_field() {
        let mut i = input("photos-2026-1");
        i.request["source"]["bucket"] = "ab".into();
        i.request["job"]["priority"] = (-1).into();
        let err = RunPlan::from_input(&i, &ctx()).unwrap_err();
        assert_eq!(err.name, ErrorName::InvalidRequest);
        assert!(
            err.cause.contains("source.bucket") && err.cause.contains("job.priority"),
            "{}",
            err.cause
        );
    }
}
