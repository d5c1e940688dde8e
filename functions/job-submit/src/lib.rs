//! `job-submit` (destination account): submits the S3 Batch Operations PUT copy job of one
//! attempt and records its id under `control/` at once.
//!
//! Before CreateJob it reads the manifest's ETag (HeadObject, with the expected owner), refuses a
//! KMS-encrypted CSV manifest (Batch Operations cannot read one), and reads the first rows of a
//! CSV to check that they name the source bucket (a job copies from the bucket in each row) and
//! whether they carry version ids. The ClientRequestToken is `ferry-<copyId>-<run>-<job>`, so a
//! retried invocation gets the same job back instead of a second one.

use aws_sdk_s3::types::ServerSideEncryption;
use ferry_core::clock::{Clock, SystemClock};
use ferry_core::control::Control;
use ferry_core::error::from_sdk;
use ferry_core::inventory::NotCopyable;
use ferry_core::job::JobKind;
use ferry_core::job::{
    first_route, over_failure_threshold, CreateJobRequest, ManifestKind, ManifestLocation,
    SizeRoute,
};
use ferry_core::manifest::CsvManifestReader;
use ferry_core::request::Manifest;
use ferry_core::steps::{JobRecord, SubmitInput};
use ferry_core::{clients::Clients, stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use tracing::{info, warn};

/// How much of a CSV manifest is read to check its first rows.
pub const FIRST_ROWS_BYTES: u64 = 64 * 1024;
/// How many rows are checked.
pub const FIRST_ROWS: usize = 100;

#[tracing::instrument(skip_all, fields(copy_id = %event.payload.plan.request.copy_id, run = event.payload.attempt.run, job = event.payload.attempt.job))]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<SubmitInput>,
) -> Result<JobRecord, StepError> {
    let input = event.payload;
    let plan = &input.plan;
    // Defence in depth: a plan this stack could not have made submits no job.
    plan.check_against(config, SystemClock.now(), plan.expires_at)?;
    let names = plan.names();
    let mut not_copyable = None;
    // A verification reads the copy's own manifest, as the first job did. A verification run's
    // first job is one.
    let verify = input
        .retry_manifest
        .as_ref()
        .map_or(plan.verify_only, |r| r.kind.verifies());
    let rest = input.retry_manifest.as_ref().is_some_and(|r| r.rest);
    // `source.archived: restore`: the run's archived objects are restored before its copy.
    let restores = plan.request.restores() && !verify;
    if restores {
        match &input.retry_manifest {
            // The run's first job: a job submitted again after it (Resubmit) is not.
            None if input.attempt.job == 0 => {
                if let Some(record) =
                    restore::begin(clients, config, plan, &names, input.attempt).await?
                {
                    return Ok(record);
                }
            }
            Some(r) => match (&r.restores, r.kind.restores()) {
                (Some(phase), true) => {
                    return restore::submit(
                        clients,
                        config,
                        plan,
                        &names,
                        input.attempt,
                        phase.clone(),
                        r.phase_start,
                    )
                    .await;
                }
                (Some(phase), false) => restore::check(clients, plan, phase).await?,
                (None, _) => {}
            },
            None => {}
        }
    }
    let retry_manifest = input
        .retry_manifest
        .as_ref()
        .filter(|r| r.is_retry_manifest());
    // Flow C: which of the filter's objects this job lists, by size. The first job of a copy
    // that S3PutObjectCopy runs takes those up to 5 GiB and leaves the others to a job of the
    // copy worker after it (job-report); a verification, or the rest after a job failed by the
    // failure threshold, takes them all.
    let route = (plan.request.flow() == ferry_core::request::Flow::Generated
        && retry_manifest.is_none())
    .then(|| match &input.retry_manifest {
        Some(r) if r.large => SizeRoute::Large,
        _ if verify || rest => SizeRoute::All,
        _ => first_route(&plan.request, &names, plan.worker_for_everything()),
    });
    let large = route == Some(SizeRoute::Large);
    let manifest = match (retry_manifest, &plan.request.manifest) {
        (Some(retry), _) => {
            if !names.layout().is_retry_manifest_key(&retry.key) {
                return Err(StepError::new(
                    ErrorName::AccessDenied,
                    format!(
                        "retry manifest {} is not one of this copy's (under {}): refused",
                        retry.key,
                        names.layout().retry_prefix()
                    ),
                ));
            }
            let (etag, version_id) = head(
                clients,
                &config.ferry_bucket,
                &retry.key,
                &config.account_id,
                false,
            )
            .await?;
            ManifestLocation {
                kind: ManifestKind::Csv {
                    with_versions: retry.with_versions,
                },
                object_arn: names.s3_arn(&config.ferry_bucket, Some(&retry.key)),
                etag,
                version_id,
                filter: None,
            }
        }
        (
            None,
            Manifest::Csv {
                account_id,
                bucket,
                key,
            },
        ) => {
            // The source side has just granted these reads: a refusal may be a grant not in
            // effect yet, retried by the state machine for as long as that may take.
            let settling = |e| plan.refusal_while_settling(e, SystemClock.now());
            let (etag, version_id) = head(clients, bucket, key, account_id, true)
                .await
                .map_err(settling)?;
            let with_versions = first_rows(
                clients,
                bucket,
                key,
                account_id,
                &plan.request.source.bucket,
            )
            .await
            .map_err(settling)?;
            ManifestLocation {
                kind: ManifestKind::Csv { with_versions },
                object_arn: names.s3_arn(bucket, Some(key)),
                etag,
                version_id,
                filter: None,
            }
        }
        (None, Manifest::Generated { .. }) => {
            // Flow C: no manifest object; S3 Batch Operations lists the source bucket when the
            // job is created.
            let route = route.unwrap_or_default();
            ManifestLocation::generated(&plan.request, &names, plan.incremental_since, route)
                .ok_or_else(|| {
                    StepError::new(
                        ErrorName::InvalidRequest,
                        "manifest.filter: its size bounds leave no object for this job",
                    )
                })?
        }
        (None, Manifest::Inventory {}) => {
            let report = plan.inventory_manifest.as_ref().ok_or_else(|| {
                StepError::new(
                    ErrorName::NotFound,
                    "flow A: no inventory report has been found for this run yet",
                )
            })?;
            if !names
                .layout()
                .is_inventory_manifest_key(&report.key, &plan.request.source.bucket)
            {
                return Err(StepError::new(
                    ErrorName::AccessDenied,
                    format!(
                        "inventory manifest {} is not under this copy's inventory location {}<date>/manifest.json: refused",
                        report.key,
                        names.layout().inventory_location(&plan.request.source.bucket)
                    ),
                ));
            }
            if !verify && !rest {
                let mut found = inventory_obstacles(clients, config, &report.key).await?;
                if restores {
                    // Restored before this job.
                    found.forget(ferry_core::inventory::CopyObstacle::Archived);
                }
                not_copyable = Some(found).filter(|n| !n.is_empty());
            }
            ManifestLocation {
                kind: ManifestKind::Inventory,
                object_arn: names.s3_arn(&config.ferry_bucket, Some(&report.key)),
                etag: report.etag.clone(),
                version_id: None,
                filter: None,
            }
        }
    };
    let mut request = CreateJobRequest::for_copy(&plan.request, &names, &manifest, input.attempt);
    // Objects over 5 GB (or the worker's own retries), and every object of a copy into an
    // occupied destination that must not overwrite: the copy worker looks at each key first.
    // An inventory whose objects over 5 GB would fail an S3PutObjectCopy job by Batch
    // Operations' failure threshold goes to the worker whole, before any job runs.
    let large_share = not_copyable.as_ref().is_some_and(could_trip_threshold);
    let worker = verify
        || large
        || input
            .retry_manifest
            .as_ref()
            .is_some_and(|r| r.kind.runs_worker())
        || plan.worker_for_everything()
        || large_share;
    if rest {
        request = request.with_worker_for_the_rest(&plan.request, &names);
    } else if worker {
        request = request.with_worker(&plan.request, &names, verify);
    }
    if large_share {
        info!("over half of the objects are over 5 GB, which would fail an S3PutObjectCopy job by the task-failure threshold: the copy worker takes the whole job");
    }
    let job_id = create_job(clients, &request).await?;
    // Flow C's first S3PutObjectCopy job leaves the objects over 5 GiB to a job after it (when
    // the filter can list any); its retries carry that on.
    let large_pending = match &input.retry_manifest {
        None => {
            route == Some(SizeRoute::Copyable)
                && ManifestLocation::generated(&plan.request, &names, None, SizeRoute::Large)
                    .is_some()
        }
        Some(r) => r.large_pending,
    };
    // Flow C's first job of a run: the census of what the filter leaves out as archived.
    let census_job_id = if input.retry_manifest.is_none() && !verify {
        census(clients, plan, &names).await?
    } else {
        None
    };
    let record = JobRecord {
        job_id,
        attempt: input.attempt,
        client_request_token: request.client_request_token,
        manifest,
        not_copyable,
        kind: if verify {
            JobKind::Verify
        } else if worker {
            JobKind::Worker
        } else {
            JobKind::Copy
        },
        submitted_at: Some(SystemClock.now()),
        large_pending,
        census_job_id,
        phase_start: input.retry_manifest.as_ref().map_or(0, |r| r.phase_start),
        // The copy after restores keeps them (a resubmission looks at them again).
        restores: input
            .retry_manifest
            .as_ref()
            .filter(|r| !r.kind.restores())
            .and_then(|r| r.restores.clone()),
        // A copy job after restores: when the slowest should be done (its archived failures
        // are tried again after it).
        restored_by: input.retry_manifest.as_ref().and_then(|r| {
            r.restored_by
                .or_else(|| r.restores.as_ref().map(|p| p.done_by(&plan.request)))
        }),
    };
    Control::new(&clients.s3, &config.ferry_bucket)
        .put_job_record(names.layout(), &record)
        .await?;
    info!(job_id = %record.job_id, worker, "submitted the copy job");
    Ok(record)
}

/// Flow C: creates the run's census job (`CreateJobRequest::census_of`), which lists the
/// objects the copy's filter leaves out as archived and waits, suspended, until job-report
/// (once it has counted them) or the revoke cancels it. Its own ClientRequestToken makes a retried invocation get the same job back.
async fn census(
    clients: &Clients,
    plan: &ferry_core::steps::RunPlan,
    names: &ferry_core::names::Names,
) -> Result<Option<String>, StepError> {
    let Some(census) =
        ManifestLocation::archived_census(&plan.request, names, plan.incremental_since)
    else {
        return Ok(None);
    };
    let request = CreateJobRequest::census_of(&plan.request, names, &census, plan.run);
    let id = create_job(clients, &request).await?;
    info!(census_job_id = %id, "submitted the census of archived objects");
    Ok(Some(id))
}

/// CreateJob with every field of `request`; the job's id.
pub(crate) async fn create_job(
    clients: &Clients,
    request: &CreateJobRequest,
) -> Result<String, StepError> {
    let call = request.apply(clients.s3control.create_job()).map_err(|e| {
        StepError::new(
            ErrorName::InvalidRequest,
            format!("building CreateJob: {e}"),
        )
    })?;
    Ok(call
        .send()
        .await
        .map_err(|e| from_sdk(e, &format!("CreateJob {}", request.client_request_token)))?
        .job_id()
        .ok_or_else(|| StepError::new(ErrorName::Retryable, "CreateJob answered without a job id"))?
        .to_string())
}

/// Reads every row of an inventory report (its data files streamed, in constant memory) for the
/// objects S3PutObjectCopy cannot copy as they are, and says so before the job runs: each one
/// fails its task, and the report counts it apart.
async fn inventory_obstacles(
    clients: &Clients,
    config: &StackConfig,
    manifest_key: &str,
) -> Result<NotCopyable, StepError> {
    let found = ferry_core::inventory::scan::obstacles_in(
        &clients.s3,
        &config.ferry_bucket,
        manifest_key,
        &config.account_id,
        None,
        None,
    )
    .await?;
    for line in found.lines() {
        warn!("{line}");
    }
    Ok(found)
}

/// Whether the objects over 5 GB of an inventory would make Batch Operations fail an
/// S3PutObjectCopy job: "When a job has run at least 1,000 tasks, Amazon S3 monitors the task
/// failure rate. At any point, if the failure rate ... exceeds 50 percent, the job fails" (S3
/// User Guide, batch-ops-job-status). Over half of an inventory of 1,000 rows or more is sure to
/// trip it, so the worker takes that job whole. A smaller share can still trip it when those
/// objects happen to run first (AWS documents no task order): job-report then sends the rest to
/// the worker ([`ferry_core::steps::RetryManifestRef::rest_through_worker`]).
pub fn could_trip_threshold(found: &NotCopyable) -> bool {
    let large = found
        .counts
        .get(ferry_core::inventory::CopyObstacle::TooLarge.label())
        .copied()
        .unwrap_or(0);
    over_failure_threshold(found.looked_at, large)
}

/// The ETag (without quotes) and version id of a manifest object.
pub(crate) async fn head(
    clients: &Clients,
    bucket: &str,
    key: &str,
    owner: &str,
    user_csv: bool,
) -> Result<(String, Option<String>), StepError> {
    let out = clients
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(|e| from_sdk(e, &format!("HeadObject s3://{bucket}/{key} (the manifest)")))?;
    if user_csv && out.server_side_encryption() == Some(&ServerSideEncryption::AwsKms) {
        return Err(StepError::new(
            ErrorName::InvalidRequest,
            format!("manifest.key: s3://{bucket}/{key} is encrypted with SSE-KMS, and S3 Batch Operations cannot read a KMS-encrypted CSV manifest; store it with SSE-S3"),
        ));
    }
    let etag = out
        .e_tag()
        .map(|e| e.trim_matches('"').to_string())
        .ok_or_else(|| {
            StepError::new(
                ErrorName::NotFound,
                format!("s3://{bucket}/{key} has no ETag"),
            )
        })?;
    Ok((etag, out.version_id().map(str::to_string)))
}

/// A CSV manifest's bytes (those of `range` when given), read with its expected owner.
pub(crate) async fn read_manifest(
    clients: &Clients,
    bucket: &str,
    key: &str,
    owner: &str,
    range: Option<String>,
) -> Result<Vec<u8>, StepError> {
    Ok(clients
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(owner)
        .set_range(range)
        .send()
        .await
        .map_err(|e| from_sdk(e, &format!("GetObject s3://{bucket}/{key} (the manifest)")))?
        .body
        .collect()
        .await
        .map_err(|e| {
            StepError::new(
                ErrorName::Retryable,
                format!("reading s3://{bucket}/{key}: {e}"),
            )
        })?
        .to_vec())
}

/// Checks the first rows of a CSV manifest; true when they carry version ids.
async fn first_rows(
    clients: &Clients,
    bucket: &str,
    key: &str,
    owner: &str,
    source: &str,
) -> Result<bool, StepError> {
    let body = read_manifest(
        clients,
        bucket,
        key,
        owner,
        Some(format!("bytes=0-{}", FIRST_ROWS_BYTES - 1)),
    )
    .await?;
    // A read cut at the range's end may stop inside a row: check whole rows only.
    let whole = if body.len() as u64 >= FIRST_ROWS_BYTES {
        body.iter()
            .rposition(|b| *b == b'\n')
            .map_or(&body[..0], |i| &body[..=i])
    } else {
        &body[..]
    };
    let invalid = |rule: String| {
        StepError::new(
            ErrorName::InvalidRequest,
            format!("manifest.key: s3://{bucket}/{key}: {rule}"),
        )
    };
    let mut with_versions = None;
    for (i, row) in CsvManifestReader::new(whole).take(FIRST_ROWS).enumerate() {
        let row = row.map_err(|e| invalid(e.to_string()))?;
        if row.bucket != source {
            // The row's content is not quoted (it names a user's object); its number is.
            return Err(invalid(format!(
                "row {}, field Bucket: not the copy's source.bucket ({source}): a job copies from the bucket each row names",
                i + 1
            )));
        }
        with_versions.get_or_insert(row.version_id.is_some());
    }
    with_versions
        .ok_or_else(|| invalid("the CSV manifest is empty: there is nothing to copy".into()))
}

pub mod restore;

#[cfg(test)]
mod tests;
