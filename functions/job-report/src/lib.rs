//! `job-report` (destination account): reads a finished job's completion report, counts it by
//! task status and error code, writes a retry manifest of the failures that may succeed if tried
//! again, and decides what comes next ([`Next`]): done, a retry job, a resubmission (the job
//! failed before any task ran, as a brand-new role can make it), or the end with
//! `CopyIncomplete` / `JobFailed`.
//!
//! Result files are streamed from S3 row by row; the retry manifest is written to a temporary
//! file and uploaded from it, so memory does not grow with the size of the report. The report's
//! `manifest.json` is found by listing the job's report prefix (AWS's API reference names the
//! file differently in one place).

use std::io::BufWriter;
use std::path::PathBuf;

use aws_sdk_s3::primitives::ByteStream;
use ferry_core::clients::{get_object_bytes, Clients};
use ferry_core::error::from_sdk;
use ferry_core::job::{JobOutcome, JobState};
use ferry_core::names::Attempt;
use ferry_core::report::{ReportManifest, ReportRows, ReportSummary, Summarizer};
use ferry_core::steps::{
    EarlierIncomplete, JobRecord, Next, ReportInput, ReportOutput, RetryManifestRef, RunPlan,
    Verification,
};
use ferry_core::{stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use tokio_util::io::SyncIoBridge;
use tracing::info;

/// Flow C's job of the objects over 5 GiB.
const LARGE_OBJECTS: ferry_core::job::ManifestKind = ferry_core::job::ManifestKind::Generated {
    route: ferry_core::job::SizeRoute::Large,
};

#[tracing::instrument(skip_all, fields(copy_id = %event.payload.plan.request.copy_id, job_id = %event.payload.job.job_id))]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<ReportInput>,
) -> Result<ReportOutput, StepError> {
    let input = event.payload;
    let plan = &input.plan;
    let job_id = &input.job.job_id;
    let attempt = input.job.attempt;
    let state = JobState::from_descriptor(
        &ferry_core::job::describe_job(&clients.s3control, &config.account_id, job_id).await?,
    );
    let Some(outcome) = state.outcome else {
        return Err(StepError::new(
            ErrorName::Retryable,
            format!(
                "job {job_id} is still {}: its report is not written yet",
                state.status
            ),
        ));
    };
    if input.job.kind.restores() {
        return restore::after_restore_job(clients, config, input, state, outcome).await;
    }
    let next_attempt = Attempt {
        run: attempt.run,
        job: attempt.job + 1,
    };
    let retries_left = input.job.retries_left(plan.request.retry.max_attempts);
    // Objects over 5 GB go to the copy worker's job whatever the retries left (they cannot
    // fail that way twice: the worker copies them); retryable failures only while retries are.
    // A verification writes no retry manifest: what it finds is the copy's answer.
    let verifying = input.job.kind.verifies();
    let want_retry_manifest = outcome == JobOutcome::Partial && !verifying;
    // Created while the run's new grants may still be taking effect: its access refusals are
    // retried after a wait, not counted permanent (IAM, S3 and KMS apply changes after a delay).
    // The last job a retry may follow reports its refusals as they are.
    let settling = (retries_left
        && input
            .job
            .submitted_at
            .is_some_and(|at| plan.grants_may_be_settling(at)))
    .then(|| input.granted_keys.clone());
    let was_settling = settling.is_some();
    let (summary, mut retry) = summarize(
        clients,
        config,
        plan,
        &input.job,
        want_retry_manifest.then_some(next_attempt),
        retries_left,
        settling,
    )
    .await?;

    let mut next = match outcome {
        JobOutcome::Succeeded => Next::Copied,
        JobOutcome::Partial if retry.is_some() => Next::Retry,
        JobOutcome::Partial => Next::Incomplete,
        JobOutcome::Failed if state.succeeded + state.failed == 0 && retries_left => Next::Resubmit,
        // Failed by Batch Operations' task-failure threshold: the tasks it never ran are in no
        // report, so the copy's whole manifest goes to the worker, which leaves what is already
        // copied alone. Not twice: a worker job failing so is not one the worker can finish.
        JobOutcome::Failed
            if state.failed_by_threshold() && !input.job.kind.runs_worker() && !verifying =>
        {
            retry = Some(RetryManifestRef {
                // A restoring run's archived failures are tried again in it too.
                restored_by: input.job.restored_by,
                ..RetryManifestRef::rest_through_worker()
            });
            Next::Retry
        }
        JobOutcome::Failed | JobOutcome::Cancelled => Next::JobFailed,
    };
    let mut totals = input.totals.unwrap_or_default();
    totals.job_ids.push(job_id.clone());
    totals.reports = format!(
        "s3://{}/{}/",
        plan.request
            .report
            .bucket
            .as_deref()
            .unwrap_or(&plan.ferry_bucket),
        plan.names().layout().report_prefix(plan.run)
    );
    if input.job.manifest.kind == LARGE_OBJECTS {
        totals.large_objects_job = Some(job_id.clone());
    }
    if verifying {
        totals.verification = Some(verification_of(&summary));
    } else {
        // The copy worker's "identical" successes copied nothing.
        totals.copied += state.succeeded.saturating_sub(summary.identical);
        totals.identical += summary.identical;
        totals.failed = state.failed;
        if matches!(next, Next::Copied | Next::Incomplete) && input.job.large_pending {
            // Flow C: the phase of the objects up to 5 GiB is over; the job of those over it
            // comes next, and what still failed is kept for the run's end.
            if next == Next::Incomplete {
                let mut so_far = totals.clone();
                so_far.last_report = summary.clone();
                totals.earlier_incomplete = Some(EarlierIncomplete {
                    failed: state.failed,
                    only_sse_c: summary.only_sse_c_failures(),
                    cause: cause(next, &state, &so_far, plan.verify_only),
                });
            }
            next = Next::Retry;
            retry = Some(RetryManifestRef::large_objects(next_attempt.job));
        } else if next == Next::Copied && totals.earlier_incomplete.is_some() {
            // The objects over 5 GiB are copied, those up to it were not all.
            next = Next::Incomplete;
        } else if next == Next::Copied && plan.request.verifies() {
            // Every object copied: the last job is the verification of them all.
            next = Next::Retry;
            retry = Some(RetryManifestRef::verification());
        }
    }
    if next == Next::Resubmit && retry.is_none() {
        // The copy after restores, submitted again: its restores are looked at again (they
        // read as restored at once) and its retries still count from its phase.
        if let Some(phase) = input
            .job
            .restores
            .clone()
            .filter(|_| !input.job.kind.restores())
        {
            retry = Some(RetryManifestRef::after_restores(
                phase,
                input.job.phase_start,
            ));
        }
    }
    if verifying && next == Next::Resubmit {
        // A verification job that failed before any task is submitted again as one.
        retry = Some(RetryManifestRef::verification());
    }
    if next == Next::Resubmit && input.job.manifest.kind == LARGE_OBJECTS {
        // So is flow C's job of the objects over 5 GiB, its retries still counted from it.
        retry = Some(RetryManifestRef::large_objects(input.job.phase_start));
    }
    // A job refused before any task ran, or tasks refused access, while grants settle: the
    // next job waits for them, longer each time.
    // In a restoring run, archived objects whose restore was not done yet (they failed this
    // job, or are in no report after a threshold failure) are tried again once the slowest
    // restore should be done.
    let until_restored = input.job.restored_by.map(|by| {
        use ferry_core::clock::{Clock, SystemClock};
        u64::try_from(by - SystemClock.now()).unwrap_or(0)
    });
    let rest = retry.as_ref().is_some_and(|r| r.rest);
    let settle = if summary.settling > 0 {
        settle_wait(attempt.job)
    } else {
        0
    };
    let wait_seconds = match next {
        Next::Resubmit if was_settling => settle_wait(attempt.job),
        // Not sooner than the next look at the restores would be.
        Next::Retry if summary.restoring > 0 => until_restored
            .unwrap_or(0)
            .max(plan.request.timing.restore_check_seconds),
        Next::Retry if rest => settle.max(until_restored.unwrap_or(0)),
        Next::Retry => settle,
        _ => 0,
    };
    if next == Next::Retry
        && (summary.restoring > 0 || (rest && until_restored.is_some_and(|u| u > 0)))
    {
        // Shown as the restores' wait, not the grants'.
        next = Next::AwaitRestores;
    }
    totals.last_report = summary;
    census::count_left_out(clients, config, plan, &input.job, &mut totals).await?;
    incremental::record_if_complete(clients, config, plan, next, state.failed, &totals).await?;
    let mut cause = cause(next, &state, &totals, plan.verify_only);
    if let (Next::Incomplete | Next::JobFailed, Some(earlier)) = (next, &totals.earlier_incomplete)
    {
        cause = if next == Next::Incomplete && state.failed == 0 {
            format!(
                "{} Then the job of the objects over 5 GiB copied {}.",
                earlier.cause, state.succeeded
            )
        } else {
            format!(
                "{} Then, the job of the objects over 5 GiB: {cause}",
                earlier.cause
            )
        };
        totals.failed += earlier.failed;
    }
    if let (Next::Incomplete | Next::JobFailed, Some(left_out)) = (next, &totals.left_out) {
        cause.push_str(&format!("; {}", left_out.sentence()));
    }
    count_usage(&mut totals, plan, input.job.kind, &state);
    info!(next = ?next, succeeded = state.succeeded, failed = state.failed, "summarized the completion report");
    Ok(ReportOutput {
        next,
        next_attempt: next.another_job().then_some(next_attempt),
        retry_manifest: retry,
        wait_seconds,
        state,
        totals,
        cause,
    })
}

/// Adds this job to the run's counts and prices them: a job of `tasks` tasks (through the copy
/// worker: an invocation and two HEADs each), the COPY requests of every object copied so far,
/// the transitions of the run and its jobs.
pub(crate) fn count_usage(
    totals: &mut ferry_core::steps::CopyTotals,
    plan: &RunPlan,
    kind: ferry_core::job::JobKind,
    job: &JobState,
) {
    let worker = kind.runs_worker();
    use ferry_core::cost::{self, Bill};
    let tasks = job.succeeded + job.failed;
    let u = &mut totals.usage;
    u.jobs += 1;
    u.tasks += tasks;
    if worker {
        u.worker_invocations += tasks;
        u.head_requests += 2 * tasks;
        u.worker_gb_seconds = cost::gb_seconds(u.worker_invocations, cost::ASSUMED_WORKER_MS);
    }
    u.copy_requests = totals.copied;
    if plan.request.destination.encryption.is_some() {
        u.kms_requests = totals.copied;
    }
    let inventory = plan.request.flow() == ferry_core::request::Flow::Inventory;
    if inventory && u.inventory_objects == 0 && !kind.restores() {
        u.inventory_objects = tasks;
    }
    // The looks job-track made at this job, from the tracking rhythm and its active time.
    u.looks += ferry_core::job::schedule::rounds_to_cover(
        plan.request.timing.poll_seconds,
        plan.request.timing.max_poll_seconds,
        job.elapsed_active_seconds,
    )
    .max(1);
    u.transitions = cost::transitions(inventory, u.jobs, u.looks);
    totals.cost = Some(Bill::of(&plan.request.region, &totals.usage));
}

/// The wait before the job after `job` when grants are settling:
/// [`PROPAGATION_WAIT_FIRST`](ferry_core::request::PROPAGATION_WAIT_FIRST) seconds after the
/// first job (0), doubled for each job after it, at most
/// [`PROPAGATION_WAIT_MAX`](ferry_core::request::PROPAGATION_WAIT_MAX).
pub fn settle_wait(job: u16) -> u64 {
    use ferry_core::request::{PROPAGATION_WAIT_FIRST, PROPAGATION_WAIT_MAX};
    let doublings = u32::from(job).min(8);
    (PROPAGATION_WAIT_FIRST << doublings).min(PROPAGATION_WAIT_MAX)
}

/// What a verification job's report says, with the first keys of each finding.
fn verification_of(summary: &ReportSummary) -> Verification {
    let first = |label: &str| -> Vec<String> {
        summary
            .failed_sample
            .iter()
            .filter(|t| t.error_code.ends_with(label))
            .take(CAUSE_KEYS)
            .map(|t| t.key.clone())
            .collect()
    };
    Verification {
        verified: summary.verified,
        missing: summary.missing,
        different: summary.different,
        first_missing: first("(missing)"),
        first_different: first("(different)"),
    }
}

/// Counts the report and, when `retry_for` is given, writes and uploads the retry manifest of
/// the retryable failures for that attempt (none when there are none).
pub(crate) async fn summarize(
    clients: &Clients,
    config: &StackConfig,
    plan: &RunPlan,
    job: &JobRecord,
    retry_for: Option<Attempt>,
    retries_left: bool,
    settling: Option<Vec<String>>,
) -> Result<(ReportSummary, Option<RetryManifestRef>), StepError> {
    let job_id = &job.job_id;
    let names = plan.names();
    let bucket = plan
        .request
        .report
        .bucket
        .clone()
        .unwrap_or_else(|| config.ferry_bucket.clone());
    let prefix = names.layout().job_report_prefix(plan.run, job_id);
    let Some(manifest) = report_manifest(clients, &bucket, &prefix).await? else {
        // A report exists only when at least one task ran.
        return Ok((ReportSummary::default(), None));
    };
    let columns = manifest
        .columns()
        .map_err(|e| StepError::new(ErrorName::InvalidRequest, e.to_string()))?;
    let path: Option<PathBuf> =
        retry_for.map(|attempt| spool_path(&names.layout().retry_manifest_key(attempt)));
    let file = match &path {
        Some(p) => Some(BufWriter::new(std::fs::File::create(p).map_err(|e| {
            StepError::new(
                ErrorName::Retryable,
                format!("creating {}: {e}", p.display()),
            )
        })?)),
        None => None,
    };
    let mut summarizer = Summarizer::new(file);
    if let Some(granted) = settling {
        summarizer = summarizer.settling(granted);
    }
    if !retries_left {
        summarizer = summarizer.too_large_only();
    }
    if job.restored_by.is_some() {
        summarizer = summarizer.restoring();
    }
    let report_prefix = names.layout().report_prefix(plan.run);
    // A job of the copy worker that looks before it writes reports every task: its successes
    // say which objects were identical (not copied), so they are read too.
    let every_task = job.kind.runs_worker()
        && (job.kind.verifies()
            || plan.request.destination.existing != ferry_core::request::Existing::Overwrite);
    for result in manifest
        .results
        .iter()
        .filter(|r| every_task || r.task_execution_status == "failed")
    {
        // AWS's example lists result keys relative to the report prefix; a key that already
        // starts with the prefix is used as it is.
        let key = if result.key.starts_with(&format!("{report_prefix}/")) {
            result.key.clone()
        } else {
            format!("{report_prefix}/{}", result.key)
        };
        let what = format!("s3://{}/{key}", result.bucket);
        let body = clients
            .s3
            .get_object()
            .bucket(&result.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| from_sdk(e, &format!("GetObject {what}")))?
            .body
            .into_async_read();
        let rows = ReportRows::new(SyncIoBridge::new(body), columns.clone(), what.clone());
        summarizer =
            tokio::task::spawn_blocking(move || summarizer.read(rows).map(|()| summarizer))
                .await
                .map_err(|e| StepError::new(ErrorName::Retryable, format!("reading {what}: {e}")))?
                .map_err(|e| StepError::new(ErrorName::InvalidRequest, e.to_string()))?;
    }
    let (summary, written) = summarizer
        .finish()
        .map_err(|e| StepError::new(ErrorName::Retryable, e.to_string()))?;
    let (Some(attempt), Some(written), Some(path)) = (retry_for, written, path) else {
        return Ok((summary, None));
    };
    drop(written.out);
    if written.rows == 0 {
        let _ = std::fs::remove_file(&path);
        return Ok((summary, None));
    }
    let key = names.layout().retry_manifest_key(attempt);
    debug_assert_eq!(path, spool_path(&key));
    let body = ByteStream::from_path(&path).await.map_err(|e| {
        StepError::new(
            ErrorName::Retryable,
            format!("reading {}: {e}", path.display()),
        )
    })?;
    clients
        .s3
        .put_object()
        .bucket(&config.ferry_bucket)
        .key(&key)
        .content_type("text/csv")
        .body(body)
        .send()
        .await
        .map_err(|e| from_sdk(e, &format!("PutObject {key}")))?;
    let _ = std::fs::remove_file(&path);
    Ok((
        summary,
        Some(RetryManifestRef {
            key,
            rows: written.rows,
            with_versions: written.with_versions,
            kind: if job.kind.runs_worker() || written.too_large_rows > 0 {
                ferry_core::job::JobKind::Worker
            } else {
                ferry_core::job::JobKind::Copy
            },
            rest: false,
            large: false,
            large_pending: job.large_pending,
            phase_start: job.phase_start,
            restores: None,
            restored_by: job.restored_by,
        }),
    ))
}

/// The report's top-level JSON under `prefix`, if the job wrote one.
async fn report_manifest(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
) -> Result<Option<ReportManifest>, StepError> {
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .send()
        .await
        .map_err(|e| from_sdk(e, &format!("ListObjectsV2 s3://{bucket}/{prefix}")))?;
    let Some(key) = listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .find(|k| k.ends_with(".json"))
    else {
        return Ok(None);
    };
    let Some((bytes, _)) = get_object_bytes(&clients.s3, bucket, key).await? else {
        return Ok(None);
    };
    ReportManifest::parse(&bytes).map(Some).map_err(|e| {
        StepError::new(
            ErrorName::InvalidRequest,
            format!("s3://{bucket}/{key}: {e}"),
        )
    })
}

/// Where the retry manifest for `key` is written before its upload: one file per manifest key
/// and process, so two reports read at once (tests run in parallel) never share a file.
pub(crate) fn spool_path(key: &str) -> PathBuf {
    let flat = key.replace('/', "_");
    std::env::temp_dir().join(format!("spool-{}-{flat}", std::process::id()))
}

mod cause;
mod census;
mod incremental;
mod restore;
use cause::{cause, CAUSE_KEYS};
#[cfg(test)]
mod tests;
