//! S3 Batch Operations jobs: the CreateJob request of a copy (both manifest kinds, and the retry
//! jobs' CSV manifests), the normalized state of a job from DescribeJob, and the tracking rhythm
//! (how long to wait before the next DescribeJob, and when grants must be renewed).

use serde::{Deserialize, Serialize};

use aws_sdk_s3control::operation::create_job::builders::CreateJobFluentBuilder;
use aws_sdk_s3control::types as s3c;
use aws_smithy_types::error::operation::BuildError;

use crate::clock::Epoch;
use crate::names::{Attempt, Names};
use crate::request::{CopyRequest, DESCRIPTION_MAX};

pub const CSV_FORMAT: &str = "S3BatchOperations_CSV_20180820";
pub const INVENTORY_FORMAT: &str = "S3InventoryReport_CSV_20161130";
pub const REPORT_FORMAT: &str = "Report_CSV_20180820";

/// The manifest a job reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestLocation {
    pub kind: ManifestKind,
    /// ARN of the CSV, or of the inventory report's `manifest.json`.
    pub object_arn: String,
    /// Required by CreateJob; `job-submit` reads it with HeadObject.
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ManifestKind {
    /// A CSV manifest; `with_versions` when its rows carry version ids.
    #[serde(rename_all = "camelCase")]
    Csv {
        with_versions: bool,
    },
    Inventory,
}

/// A CreateJob request in AWS's JSON shape (as `aws s3control create-job --cli-input-json`
/// takes it), so that `ferry plan` prints exactly what will be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateJobRequest {
    pub account_id: String,
    pub confirmation_required: bool,
    pub operation: JobOperation,
    pub report: JobReport,
    pub client_request_token: String,
    pub manifest: JobManifest,
    pub description: String,
    pub priority: i32,
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<JobTag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobOperation {
    pub s3_put_object_copy: S3PutObjectCopy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3PutObjectCopy {
    /// The destination bucket's ARN.
    pub target_resource: String,
    /// Absent when empty: the API requires at least one character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_key_prefix: Option<String>,
    pub storage_class: String,
    pub metadata_directive: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobReport {
    pub bucket: String,
    pub format: String,
    pub enabled: bool,
    pub prefix: String,
    pub report_scope: String,
    pub expected_bucket_owner: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobManifest {
    pub spec: JobManifestSpec,
    pub location: JobManifestLocation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobManifestSpec {
    pub format: String,
    /// CSV only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobManifestLocation {
    pub object_arn: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_version_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobTag {
    pub key: String,
    pub value: String,
}

impl CreateJobRequest {
    /// The CreateJob request of one attempt of a validated copy.
    pub fn for_copy(
        req: &CopyRequest,
        names: &Names,
        manifest: &ManifestLocation,
        attempt: Attempt,
    ) -> CreateJobRequest {
        let (format, fields) = match manifest.kind {
            ManifestKind::Inventory => (INVENTORY_FORMAT, None),
            ManifestKind::Csv { with_versions } => {
                let mut f = vec!["Bucket".to_string(), "Key".to_string()];
                if with_versions {
                    f.push("VersionId".into());
                }
                (CSV_FORMAT, Some(f))
            }
        };
        let report_bucket = req.report.bucket.as_deref().unwrap_or(&names.ferry_bucket);
        let base = req
            .job
            .description
            .clone()
            .unwrap_or_else(|| format!("ferry copy {}", req.copy_id));
        let description = if attempt.job == 0 {
            base
        } else {
            let suffix = format!(" (run {}, retry {})", attempt.run, attempt.job);
            let keep = DESCRIPTION_MAX - suffix.chars().count();
            base.chars().take(keep).collect::<String>() + &suffix
        };
        CreateJobRequest {
            account_id: req.destination.account_id.clone(),
            confirmation_required: false,
            operation: JobOperation {
                s3_put_object_copy: S3PutObjectCopy {
                    target_resource: names.s3_arn(&req.destination.bucket, None),
                    target_key_prefix: (!req.destination.key_prefix.is_empty())
                        .then(|| req.destination.key_prefix.clone()),
                    storage_class: req.destination.storage_class.as_str().into(),
                    metadata_directive: req.destination.metadata_directive.as_str().into(),
                },
            },
            report: JobReport {
                bucket: names.s3_arn(report_bucket, None),
                format: REPORT_FORMAT.into(),
                enabled: true,
                prefix: names.report_prefix(attempt.run),
                report_scope: req.report.scope.as_str().into(),
                expected_bucket_owner: req.destination.account_id.clone(),
            },
            client_request_token: names.client_request_token(attempt),
            manifest: JobManifest {
                spec: JobManifestSpec {
                    format: format.into(),
                    fields,
                },
                location: JobManifestLocation {
                    object_arn: manifest.object_arn.clone(),
                    etag: manifest.etag.clone(),
                    object_version_id: manifest.version_id.clone(),
                },
            },
            description,
            // Validation keeps the priority within i32.
            priority: i32::try_from(req.job.priority).unwrap_or(i32::MAX),
            role_arn: names.batch_role_arn.clone(),
            tags: req
                .job
                .tags
                .iter()
                .map(|(k, v)| JobTag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        }
    }

    /// Sets every field of this request on the SDK's CreateJob call.
    pub fn apply(
        &self,
        call: CreateJobFluentBuilder,
    ) -> Result<CreateJobFluentBuilder, BuildError> {
        let copy = &self.operation.s3_put_object_copy;
        let operation = s3c::JobOperation::builder()
            .s3_put_object_copy(
                s3c::S3CopyObjectOperation::builder()
                    .target_resource(&copy.target_resource)
                    .set_target_key_prefix(copy.target_key_prefix.clone())
                    .storage_class(s3c::S3StorageClass::from(copy.storage_class.as_str()))
                    .metadata_directive(s3c::S3MetadataDirective::from(
                        copy.metadata_directive.as_str(),
                    ))
                    .build(),
            )
            .build();
        let r = &self.report;
        let report = s3c::JobReport::builder()
            .bucket(&r.bucket)
            .format(s3c::JobReportFormat::from(r.format.as_str()))
            .enabled(r.enabled)
            .prefix(&r.prefix)
            .report_scope(s3c::JobReportScope::from(r.report_scope.as_str()))
            .expected_bucket_owner(&r.expected_bucket_owner)
            .build();
        let spec = &self.manifest.spec;
        let loc = &self.manifest.location;
        let manifest = s3c::JobManifest::builder()
            .spec(
                s3c::JobManifestSpec::builder()
                    .format(s3c::JobManifestFormat::from(spec.format.as_str()))
                    .set_fields(spec.fields.as_ref().map(|f| {
                        f.iter()
                            .map(|n| s3c::JobManifestFieldName::from(n.as_str()))
                            .collect()
                    }))
                    .build()?,
            )
            .location(
                s3c::JobManifestLocation::builder()
                    .object_arn(&loc.object_arn)
                    .e_tag(&loc.etag)
                    .set_object_version_id(loc.object_version_id.clone())
                    .build()?,
            )
            .build();
        let mut call = call
            .account_id(&self.account_id)
            .confirmation_required(self.confirmation_required)
            .operation(operation)
            .report(report)
            .client_request_token(&self.client_request_token)
            .manifest(manifest)
            .description(&self.description)
            .priority(self.priority)
            .role_arn(&self.role_arn);
        for t in &self.tags {
            call = call.tags(s3c::S3Tag::builder().key(&t.key).value(&t.value).build()?);
        }
        Ok(call)
    }
}

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

    /// Tasks neither succeeded nor failed yet.
    pub fn remaining(&self) -> u64 {
        self.total.saturating_sub(self.succeeded + self.failed)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::CopyRequest;

    const FERRY: &str = "ferry-222222222222-eu-west-1";

    fn request(fixture: &str) -> CopyRequest {
        CopyRequest::from_json(fixture).unwrap()
    }

    fn inventory_manifest() -> ManifestLocation {
        ManifestLocation {
            kind: ManifestKind::Inventory,
            object_arn: "arn:aws:s3:::ferry-222222222222-eu-west-1/inventory/src-photos/ferry-photos-2026/2026-11-28T00-00Z/manifest.json".into(),
            etag: "60e460ba06e1e9bb8d7c8e3e6f0a2a01".into(),
            version_id: None,
        }
    }

    fn first() -> Attempt {
        Attempt { run: 1, job: 0 }
    }

    #[test]
    fn flow_a_job_matches_the_create_job_fixture() {
        let req = request(include_str!("../fixtures/request-inventory.json"));
        let names = Names::new(&req, FERRY);
        let job = CreateJobRequest::for_copy(&req, &names, &inventory_manifest(), first());
        let expected: serde_json::Value =
            serde_json::from_str(include_str!("../fixtures/create-job-inventory.json")).unwrap();
        assert_eq!(serde_json::to_value(&job).unwrap(), expected);
    }

    #[test]
    fn flow_b_job_reads_the_csv_with_its_fields() {
        let req = request(include_str!("../fixtures/request-csv.json"));
        let names = Names::new(&req, FERRY);
        let csv = ManifestLocation {
            kind: ManifestKind::Csv {
                with_versions: false,
            },
            object_arn: "arn:aws:s3:::src-manifests/lists/photos.csv".into(),
            etag: "\"0a1b2c\"".into(),
            version_id: Some("v1".into()),
        };
        let job = CreateJobRequest::for_copy(&req, &names, &csv, first());
        assert_eq!(job.manifest.spec.format, CSV_FORMAT);
        assert_eq!(
            job.manifest.spec.fields,
            Some(vec!["Bucket".to_string(), "Key".to_string()])
        );
        assert_eq!(
            job.manifest.location.object_version_id.as_deref(),
            Some("v1")
        );
        let versioned = ManifestLocation {
            kind: ManifestKind::Csv {
                with_versions: true,
            },
            ..csv
        };
        let stored = serde_json::to_value(&versioned).unwrap();
        assert_eq!(
            stored["kind"],
            serde_json::json!({"csv": {"withVersions": true}})
        );
        let job = CreateJobRequest::for_copy(&req, &names, &versioned, first());
        assert_eq!(
            job.manifest.spec.fields.unwrap(),
            ["Bucket", "Key", "VersionId"]
        );
    }

    #[test]
    fn retry_jobs_get_their_own_token_and_a_description_within_limits() {
        let mut req = request(include_str!("../fixtures/request-inventory.json"));
        req.job.description = Some("d".repeat(DESCRIPTION_MAX));
        req.destination.key_prefix = "copied/".into();
        let names = Names::new(&req, FERRY);
        let retry = Attempt { run: 2, job: 1 };
        let job = CreateJobRequest::for_copy(&req, &names, &inventory_manifest(), retry);
        assert_eq!(job.client_request_token, "ferry-photos-2026-2-1");
        assert_eq!(job.description.chars().count(), DESCRIPTION_MAX);
        assert!(job.description.ends_with(" (run 2, retry 1)"));
        assert_eq!(job.report.prefix, "reports/photos-2026/run-2");
        assert_eq!(
            job.operation
                .s3_put_object_copy
                .target_key_prefix
                .as_deref(),
            Some("copied/")
        );
    }

    #[test]
    fn a_named_report_bucket_replaces_the_ferry_bucket() {
        let mut req = request(include_str!("../fixtures/request-inventory.json"));
        req.report.bucket = Some("dst-reports".into());
        req.report.prefix = Some("audit".into());
        let names = Names::new(&req, FERRY);
        let job = CreateJobRequest::for_copy(&req, &names, &inventory_manifest(), first());
        assert_eq!(job.report.bucket, "arn:aws:s3:::dst-reports");
        assert_eq!(job.report.prefix, "audit/photos-2026/run-1");
        assert_eq!(job.report.expected_bucket_owner, "222222222222");
    }

    #[test]
    fn the_sdk_call_carries_every_field() {
        let req = request(include_str!("../fixtures/request-inventory.json"));
        let names = Names::new(&req, FERRY);
        let job = CreateJobRequest::for_copy(&req, &names, &inventory_manifest(), first());
        let conf = aws_sdk_s3control::Config::builder()
            .behavior_version(aws_sdk_s3control::config::BehaviorVersion::latest())
            .region(aws_sdk_s3control::config::Region::new("eu-west-1"))
            .build();
        let client = aws_sdk_s3control::Client::from_conf(conf);
        let call = job.apply(client.create_job()).unwrap();
        let input = call.as_input();
        assert_eq!(input.get_account_id().as_deref(), Some("222222222222"));
        assert_eq!(input.get_confirmation_required(), &Some(false));
        assert_eq!(
            input.get_client_request_token().as_deref(),
            Some("ferry-photos-2026-1-0")
        );
        assert_eq!(input.get_priority(), &Some(10));
        assert_eq!(
            input.get_role_arn().as_deref(),
            Some("arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026")
        );
        let copy = input
            .get_operation()
            .as_ref()
            .and_then(|o| o.s3_put_object_copy())
            .unwrap();
        assert_eq!(copy.target_resource(), Some("arn:aws:s3:::dst-photos"));
        assert_eq!(copy.storage_class(), Some(&s3c::S3StorageClass::Standard));
        assert_eq!(
            copy.metadata_directive(),
            Some(&s3c::S3MetadataDirective::Copy)
        );
        assert_eq!(copy.target_key_prefix(), None);
        let report = input.get_report().as_ref().unwrap();
        assert_eq!(
            report.report_scope(),
            Some(&s3c::JobReportScope::FailedTasksOnly)
        );
        assert_eq!(
            report.format(),
            Some(&s3c::JobReportFormat::ReportCsv20180820)
        );
        let manifest = input.get_manifest().as_ref().unwrap();
        assert_eq!(
            manifest.spec().unwrap().format(),
            &s3c::JobManifestFormat::S3InventoryReportCsv20161130
        );
        assert_eq!(
            manifest.location().unwrap().e_tag(),
            "60e460ba06e1e9bb8d7c8e3e6f0a2a01"
        );
        let tags = input.get_tags().as_ref().unwrap();
        assert_eq!((tags[0].key(), tags[0].value()), ("team", "media"));
    }

    #[test]
    fn complete_with_failed_tasks_is_partial_not_success() {
        assert_eq!(
            JobState::new("j", "Complete", 10, 10, 0).outcome,
            Some(JobOutcome::Succeeded)
        );
        assert_eq!(
            JobState::new("j", "Complete", 10, 9, 1).outcome,
            Some(JobOutcome::Partial)
        );
        assert_eq!(
            JobState::new("j", "Failed", 10, 0, 10).outcome,
            Some(JobOutcome::Failed)
        );
        assert_eq!(
            JobState::new("j", "Cancelled", 10, 3, 0).outcome,
            Some(JobOutcome::Cancelled)
        );
        assert_eq!(
            JobState::new("j", "Complete", 0, 0, 0).outcome,
            Some(JobOutcome::Succeeded),
            "an empty manifest copies nothing and that is done"
        );
        for s in ACTIVE_STATUSES {
            let st = JobState::new("j", s, 10, 1, 1);
            assert!(
                !st.terminal && st.is_active() && st.outcome.is_none(),
                "{s}"
            );
        }
    }

    #[test]
    fn describe_job_is_normalized() {
        let job = s3c::JobDescriptor::builder()
            .job_id("f8fb9d89-a3aa-461d-bddc-ea6a1b131955")
            .status(s3c::JobStatus::Complete)
            .progress_summary(
                s3c::JobProgressSummary::builder()
                    .total_number_of_tasks(1000)
                    .number_of_tasks_succeeded(990)
                    .number_of_tasks_failed(10)
                    .timers(
                        s3c::JobTimers::builder()
                            .elapsed_time_in_active_seconds(42)
                            .build(),
                    )
                    .build(),
            )
            .failure_reasons(
                s3c::JobFailure::builder()
                    .failure_code("AccessDenied")
                    .failure_reason("Access Denied")
                    .build(),
            )
            .build();
        let s = JobState::from_descriptor(&job);
        assert_eq!(s.total, 1000);
        assert_eq!(s.succeeded, 990);
        assert_eq!(s.failed, 10);
        assert_eq!(s.remaining(), 0);
        assert_eq!(s.elapsed_active_seconds, 42);
        assert_eq!(s.outcome, Some(JobOutcome::Partial));
        assert_eq!(s.failure_reasons[0].code, "AccessDenied");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["outcome"], "Partial");
        assert_eq!(json["jobId"], "f8fb9d89-a3aa-461d-bddc-ea6a1b131955");
    }

    #[test]
    fn waits_grow_from_poll_seconds_to_fifteen_minutes() {
        let mut w = None;
        let mut seen = Vec::new();
        for _ in 0..10 {
            let n = next_wait(60, w);
            seen.push(n);
            w = Some(n);
        }
        assert_eq!(seen, [60, 90, 135, 203, 305, 458, 687, 900, 900, 900]);
        assert_eq!(next_wait(1, Some(1)), 2, "a one-second poll still grows");
        assert_eq!(next_wait(0, None), 1);
        assert_eq!(next_wait(5_000, None), MAX_WAIT_SECONDS);
        assert!(seen.windows(2).all(|p| p[0] <= p[1]));
    }

    #[test]
    fn fourteen_days_of_tracking_fit_the_history_limit() {
        // About 9 history events per Wait/Task/Choice round; at most 25,000 per execution.
        let fourteen_days = 14 * 86_400;
        for poll in [1, 60, 900] {
            let rounds = rounds_to_cover(poll, fourteen_days);
            assert!(rounds * 9 < 25_000, "poll {poll}: {rounds} rounds");
        }
    }

    #[test]
    fn grants_are_renewed_with_less_than_a_day_left_while_the_job_runs() {
        let lifetime = 1_468_800;
        let start = 1_795_873_550;
        let expires = grant_expiry(start, lifetime);
        let active = JobState::new("j", "Active", 10, 1, 0);
        let done = JobState::new("j", "Complete", 10, 10, 0);
        assert!(!grant_renewal_due(&active, start, expires, lifetime));
        assert!(!grant_renewal_due(
            &active,
            expires - 86_401,
            expires,
            lifetime
        ));
        assert!(grant_renewal_due(
            &active,
            expires - 86_400,
            expires,
            lifetime
        ));
        assert!(grant_renewal_due(&active, expires + 10, expires, lifetime));
        assert!(!grant_renewal_due(&done, expires - 10, expires, lifetime));
        // Sandbox lifetimes of seconds renew at half-life.
        assert!(!grant_renewal_due(
            &active,
            start + 29,
            grant_expiry(start, 60),
            60
        ));
        assert!(grant_renewal_due(
            &active,
            start + 30,
            grant_expiry(start, 60),
            60
        ));
    }
}
