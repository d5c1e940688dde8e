use super::*;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3control::operation::describe_job::DescribeJobOutput;
use aws_sdk_s3control::types::{JobDescriptor, JobFailure, JobProgressSummary, JobStatus};
use aws_smithy_mocks::{mock, Rule};
use ferry_core::manifest::CsvManifestReader;
use std::sync::{Arc, Mutex};

/// The retry manifest upload: its key and body.
type Uploaded = Arc<Mutex<Option<(String, Vec<u8>)>>>;

const REPORT_PREFIX: &str = "reports/photos-2026/run-1/job-job-1/";

fn config() -> StackConfig {
    ferry_core::testing::destination_stack()
}

fn input(job: u16) -> ReportInput {
    let plan = ferry_core::testing::csv_plan();
    ReportInput {
        plan,
        job: ferry_core::testing::csv_job_record(job),
        totals: None,
        granted_keys: vec![],
    }
}

fn describe(status: JobStatus, succeeded: i64, failed: i64, reason: Option<&'static str>) -> Rule {
    mock!(aws_sdk_s3control::Client::describe_job).then_output(move || {
        let mut job = JobDescriptor::builder()
            .job_id("job-1")
            .status(status.clone())
            .progress_summary(
                JobProgressSummary::builder()
                    .total_number_of_tasks(succeeded + failed)
                    .number_of_tasks_succeeded(succeeded)
                    .number_of_tasks_failed(failed)
                    .build(),
            );
        if let Some(r) = reason {
            job = job.failure_reasons(
                JobFailure::builder()
                    .failure_code("AccessDenied")
                    .failure_reason(r)
                    .build(),
            );
        }
        DescribeJobOutput::builder().job(job.build()).build()
    })
}

/// The ferry bucket with a completion report (AWS's example manifest, our copy's result rows).
fn report_bucket(with_report: bool, uploaded: &Uploaded) -> Vec<Rule> {
    let up = uploaded.clone();
    vec![
        mock!(aws_sdk_s3::Client::list_objects_v2).then_compute_output(move |r| {
            assert_eq!(
                (r.prefix(), r.delimiter()),
                (Some(REPORT_PREFIX), Some("/"))
            );
            let mut b = ListObjectsV2Output::builder();
            if with_report {
                b = b.contents(
                    aws_sdk_s3::types::Object::builder()
                        .key(format!("{REPORT_PREFIX}manifest.json"))
                        .build(),
                );
            }
            b.build()
        }),
        mock!(aws_sdk_s3::Client::get_object).then_compute_output(|r| {
            let body: &'static str = if r.key().unwrap().ends_with("manifest.json") {
                include_str!("../../../shared/fixtures/report-manifest.json")
            } else {
                // The fixture's result keys are relative, as in AWS's example.
                assert!(
                    r.key()
                        .unwrap()
                        .starts_with("reports/photos-2026/run-1/job-f8fb9d89"),
                    "{:?}",
                    r.key()
                );
                include_str!("../../../shared/fixtures/report-results-copy.csv")
            };
            GetObjectOutput::builder()
                .body(ByteStream::from_static(body.as_bytes()))
                .build()
        }),
        mock!(aws_sdk_s3::Client::put_object).then_compute_output(move |r| {
            // The body streams from the temporary file, which exists until the upload returns.
            let key = r.key().unwrap();
            *up.lock().unwrap() = Some((key.to_string(), std::fs::read(spool_path(key)).unwrap()));
            PutObjectOutput::builder().build()
        }),
    ]
}

async fn report(
    job: u16,
    describe_rule: Rule,
    with_report: bool,
) -> (ReportOutput, Option<(String, Vec<u8>)>) {
    report_of(input(job), describe_rule, with_report).await
}

/// [`report`] of a given input (a request's settings or the job record changed).
async fn report_of(
    input: ReportInput,
    describe_rule: Rule,
    with_report: bool,
) -> (ReportOutput, Option<(String, Vec<u8>)>) {
    let uploaded: Uploaded = Default::default();
    let s3 = report_bucket(with_report, &uploaded);
    let s3: Vec<&Rule> = s3.iter().collect();
    let clients = Clients::mocked(&s3, &[&describe_rule], &[], &[]);
    let out = handle(
        &clients,
        &config(),
        LambdaEvent::new(input, Default::default()),
    )
    .await
    .unwrap();
    let up = uploaded.lock().unwrap().clone();
    (out, up)
}

#[tokio::test]
async fn transient_failures_are_written_to_a_retry_manifest_for_the_next_job() {
    let (out, uploaded) = report(0, describe(JobStatus::Complete, 1, 5, None), true).await;
    assert_eq!(out.next, Next::Retry);
    assert_eq!(out.next_attempt, Some(Attempt { run: 1, job: 1 }));
    let retry = out.retry_manifest.unwrap();
    assert_eq!(retry.key, "retry/photos-2026/run-1/job-1.csv");
    assert_eq!(retry.rows, 4);
    assert!(
        retry.kind.runs_worker(),
        "the object over 5 GB makes it the copy worker's job"
    );
    let (key, body) = uploaded.unwrap();
    assert_eq!(key, retry.key);
    let keys: Vec<String> = CsvManifestReader::new(&body[..])
        .map(|e| e.unwrap().key)
        .collect();
    assert_eq!(
        keys,
        [
            "2026/photos/photo2.jpg",
            "2026/photos/summer holiday/day 1.jpg",
            "2026/video/raw+take.mov",
            "2026/b.jpg"
        ]
    );
    assert_eq!(out.totals.copied, 1);
    assert_eq!(out.totals.last_report.permanent, 1);
    assert_eq!(out.totals.last_report.too_large, 1);
    assert_eq!(
        out.cause,
        "1 objects over 5 GB go to the copy worker's job (3 objects failed for transient reasons and go with them)"
    );
}

#[tokio::test]
async fn with_no_retry_left_only_the_object_over_5_gb_goes_on_to_the_worker() {
    let (out, uploaded) = report(2, describe(JobStatus::Complete, 1, 5, None), true).await;
    assert_eq!(out.next, Next::Retry, "{}", out.cause);
    let retry = out.retry_manifest.unwrap();
    assert_eq!((retry.rows, retry.kind.runs_worker()), (1, true));
    let (_, body) = uploaded.unwrap();
    let keys: Vec<String> = CsvManifestReader::new(&body[..])
        .map(|e| e.unwrap().key)
        .collect();
    assert_eq!(
        keys,
        ["2026/video/raw+take.mov"],
        "no transient retry is left"
    );
}

#[tokio::test]
async fn a_clean_job_is_copied_and_then_verified_when_the_request_asks() {
    // With `verify` off, the copy ends there.
    let mut unverified = input(0);
    unverified.plan.request.verify.enabled = Some(false);
    let (out, uploaded) =
        report_of(unverified, describe(JobStatus::Complete, 6, 0, None), false).await;
    assert_eq!(out.next, Next::Copied);
    assert!(uploaded.is_none());
    assert_eq!(out.cause, "copied 6 objects in 1 job(s)");
    // By default (`existing` refuse), the next job is the verification of the copy's own
    // manifest.
    let (out, uploaded) = report(0, describe(JobStatus::Complete, 6, 0, None), false).await;
    assert!(uploaded.is_none());
    assert_eq!(out.next, Next::Retry, "{}", out.cause);
    let verify = out.retry_manifest.unwrap();
    assert!(verify.kind.verifies() && verify.kind.runs_worker() && verify.key.is_empty());
    assert_eq!(
        out.cause,
        "copied 6 objects in 1 job(s); verifying every one at the destination"
    );
}

#[tokio::test]
async fn a_verification_that_failed_before_any_task_is_submitted_again_as_one() {
    let mut verifying = input(1);
    verifying.job.kind = ferry_core::job::JobKind::Verify;
    let failed = describe(JobStatus::Failed, 0, 0, Some("Reading the manifest failed"));
    let (out, _) = report_of(verifying, failed, false).await;
    assert_eq!(out.next, Next::Resubmit);
    assert_eq!(
        out.retry_manifest,
        Some(RetryManifestRef::verification()),
        "not a copy of the whole manifest again"
    );
}

#[tokio::test]
async fn a_job_that_failed_before_any_task_is_resubmitted_once_and_a_cancelled_one_fails() {
    let (out, _) = report(
        0,
        describe(JobStatus::Failed, 0, 0, Some("Reading the manifest failed")),
        false,
    )
    .await;
    assert_eq!(out.next, Next::Resubmit);
    assert_eq!(out.next_attempt, Some(Attempt { run: 1, job: 1 }));
    let (out, _) = report(
        2,
        describe(JobStatus::Failed, 0, 0, Some("Reading the manifest failed")),
        false,
    )
    .await;
    assert_eq!(out.next, Next::JobFailed);
    assert_eq!(
        out.cause,
        "job job-1 ended Failed: AccessDenied: Reading the manifest failed"
    );
    let (out, _) = report(0, describe(JobStatus::Cancelled, 2, 0, None), false).await;
    assert_eq!(out.next, Next::JobFailed);
}

/// A job created seconds after the run's grants that failed before any task (its role could
/// not read the manifest yet) is submitted again after a wait, longer for each job; one
/// created after `timing.propagationSeconds` is resubmitted at once, as before.
#[tokio::test]
async fn a_job_refused_while_the_grants_settle_is_resubmitted_after_a_wait() {
    let refused = || describe(JobStatus::Failed, 0, 0, Some("Reading the manifest failed"));
    let mut fresh = input(0);
    fresh.job.submitted_at = Some(fresh.plan.started_at + 5);
    let (out, _) = report_of(fresh, refused(), false).await;
    assert_eq!((out.next, out.wait_seconds), (Next::Resubmit, 15));
    let mut second = input(1);
    second.job.submitted_at = Some(second.plan.started_at + 30);
    let (out, _) = report_of(second, refused(), false).await;
    assert_eq!((out.next, out.wait_seconds), (Next::Resubmit, 30));
    let mut late = input(0);
    late.job.submitted_at = Some(late.plan.started_at + 601);
    let (out, _) = report_of(late, refused(), false).await;
    assert_eq!((out.next, out.wait_seconds), (Next::Resubmit, 0));
    assert_eq!(
        [0, 1, 2, 3, 4, 9].map(settle_wait),
        [15, 30, 60, 120, 240, 240]
    );
}

#[tokio::test]
async fn a_job_still_running_has_no_report_yet() {
    let uploaded: Uploaded = Default::default();
    let s3 = report_bucket(false, &uploaded);
    let s3: Vec<&Rule> = s3.iter().collect();
    let d = describe(JobStatus::Active, 1, 0, None);
    let clients = Clients::mocked(&s3, &[&d], &[], &[]);
    let err = handle(
        &clients,
        &config(),
        LambdaEvent::new(input(0), Default::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, ErrorName::Retryable);
}

/// A verification whose tasks the worker could not check (its role refused) says so, with the
/// code, the step and the call, rather than "0 missing and 0 different".
#[test]
fn a_verification_that_could_not_check_says_why() {
    use ferry_core::report::{ErrorCount, FailureClass};
    use ferry_core::steps::{CopyTotals, Verification};
    let mut totals = CopyTotals {
        verification: Some(Verification {
            missing: 1,
            first_missing: vec!["2026/a.jpg".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    totals.last_report.by_error_code.insert(
        "PermanentFailure (missing)".into(),
        ErrorCount {
            count: 1,
            class: FailureClass::Unverified,
            http_status: None,
            example: "missing".into(),
        },
    );
    totals.last_report.by_error_code.insert(
        "PermanentFailure".into(),
        ErrorCount {
            count: 5,
            class: FailureClass::Permanent,
            http_status: None,
            example: "AccessDenied: copy-worker: AssumeRole arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026: AccessDenied".into(),
        },
    );
    let state = JobState::from_descriptor(
        &aws_sdk_s3control::types::JobDescriptor::builder()
            .job_id("job-2")
            .status(JobStatus::Complete)
            .build(),
    );
    let said = cause(Next::Incomplete, &state, &totals, false);
    assert_eq!(
        said,
        "the verification after the copy found 1 missing (2026/a.jpg) and 0 different at the destination (0 verified); 5 could not be checked: PermanentFailure x5 (AccessDenied: copy-worker: AssumeRole arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026: AccessDenied)"
    );
}

/// Flow C's job of the objects over 5 GiB that failed before any task (as AWS may fail a
/// generated job that lists nothing) is submitted again as that job, its retries counted from
/// its own number, and after them the run fails: it never starts over from the first job.
#[tokio::test]
async fn the_large_objects_job_failed_before_any_task_is_resubmitted_as_itself_then_fails() {
    let large = |job: u16| {
        let mut i = input(job);
        i.job.manifest.kind = ferry_core::job::ManifestKind::Generated {
            route: ferry_core::job::SizeRoute::Large,
        };
        i.job.kind = ferry_core::job::JobKind::Worker;
        i.job.phase_start = 3;
        i
    };
    let failed = || describe(JobStatus::Failed, 0, 0, Some("Reading the manifest failed"));
    let (out, _) = report_of(large(4), failed(), false).await;
    assert_eq!(out.next, Next::Resubmit);
    let retry = out.retry_manifest.expect("the large objects' job again");
    assert!(retry.large && retry.kind.runs_worker(), "{retry:?}");
    assert_eq!(retry.phase_start, 3, "its retries count from its first job");
    // Two retries (the plan's retry.maxAttempts) after job 3: job 5 is the last.
    let (out, _) = report_of(large(5), failed(), false).await;
    assert_eq!(out.next, Next::JobFailed, "{}", out.cause);
}
