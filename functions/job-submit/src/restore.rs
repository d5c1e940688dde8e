//! `source.archived: restore`: the run's first job finds the copy's archived objects and
//! restores them (S3InitiateRestoreObject), one job per class; the copy job comes once a sample
//! of them reads as restored.
//!
//! - Flow A: the inventory report's `StorageClass` and `IntelligentTieringAccessTier` columns.
//! - Flow B: a HeadObject of each row of the CSV (at most [`HEAD_ROWS_MAX`]), as this function's
//!   role, which the source bucket's policy lets HEAD the copy's objects for the run.
//!
//! Each class's rows go to a restore manifest under the copy's `retry/` prefix; the restore
//! jobs read it as the Batch role.

use aws_sdk_s3::primitives::ByteStream;
use ferry_core::clock::{Clock, SystemClock};
use ferry_core::control::Control;
use ferry_core::error::from_sdk;
use ferry_core::inventory::scan::{archived_in, ArchivedRows};
use ferry_core::job::{CreateJobRequest, JobKind, ManifestKind, ManifestLocation};
use ferry_core::manifest::{encode_key, CsvManifestReader};
use ferry_core::names::{Attempt, Names};
use ferry_core::request::Manifest;
use ferry_core::restore::{self, ArchiveClass, Readable, RestoreManifest, Restores};
use ferry_core::steps::{JobRecord, RunPlan};
use ferry_core::{clients::Clients, stack::StackConfig, ErrorName, StepError};
use tracing::info;

/// The most rows of a CSV manifest job-submit HEADs to find the archived ones: beyond, an
/// inventory (flow A) says which objects are archived without a request per object.
pub const HEAD_ROWS_MAX: usize = 100_000;
/// HeadObject calls in flight at once.
const HEADS_AT_ONCE: usize = 32;

/// The run's first job when the copy restores: the first restore job, or `None` when no object
/// of the copy is archived (the copy job comes at once).
pub async fn begin(
    clients: &Clients,
    config: &StackConfig,
    plan: &RunPlan,
    names: &Names,
    attempt: Attempt,
) -> Result<Option<JobRecord>, StepError> {
    let mut found = match &plan.request.manifest {
        Manifest::Inventory {} => {
            let report = plan.inventory_manifest.as_ref().ok_or_else(|| {
                StepError::new(
                    ErrorName::NotFound,
                    "flow A: no inventory report has been found for this run yet",
                )
            })?;
            Found::from(
                archived_in(
                    &clients.s3,
                    &config.ferry_bucket,
                    &report.key,
                    &config.account_id,
                )
                .await?,
            )
        }
        Manifest::Csv {
            account_id,
            bucket,
            key,
        } => archived_in_csv(clients, plan, account_id, bucket, key).await?,
        // Refused by the request's rules.
        Manifest::Generated { .. } => return Ok(None),
    };
    let mut restores = Restores {
        requested_at: SystemClock.now(),
        already_restoring: found.restoring,
        restoring_sample: found.restoring_sample.clone(),
        ..Default::default()
    };
    for class in ArchiveClass::ALL {
        let rows = found.rows.of(class);
        if rows.keys.is_empty() {
            continue;
        }
        let key = names
            .layout()
            .restore_manifest_key(attempt.run, class.label());
        clients
            .s3
            .put_object()
            .bucket(&config.ferry_bucket)
            .key(&key)
            .expected_bucket_owner(&config.account_id)
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
            .body(ByteStream::from(std::mem::take(&mut rows.csv).into_bytes()))
            .send()
            .await
            .map_err(|e| from_sdk(e, &format!("PutObject s3://{}/{key}", config.ferry_bucket)))?;
        *restores.manifest_mut(class) = Some(RestoreManifest {
            key,
            rows: rows.keys.len() as u64,
            sample: restore::sample_indexes(rows.keys.len())
                .into_iter()
                .map(|i| rows.keys[i].clone())
                .collect(),
        });
    }
    let Some(first) = restores.first() else {
        if found.restoring > 0 {
            // Only restores someone else asked for: nothing to ask, and no job to wait after.
            // Waited for as ferry's own are, counted from the run's start.
            restores.requested_at = plan.started_at;
            check(clients, plan, &restores).await?;
        }
        info!("no object of the copy needs a restore");
        return Ok(None);
    };
    info!(
        objects = restores.objects(),
        tier = plan.request.source.restore.tier.as_str(),
        "restoring the copy's archived objects first: {}",
        restore::how_long(plan.request.source.restore.tier)
    );
    restores.restoring = Some(first);
    submit(clients, config, plan, names, attempt, restores, attempt.job)
        .await
        .map(Some)
}

/// Submits the restore job of `restores.restoring` as the job `attempt`, its retries counted
/// from `phase_start`, and records it.
pub async fn submit(
    clients: &Clients,
    config: &StackConfig,
    plan: &RunPlan,
    names: &Names,
    attempt: Attempt,
    restores: Restores,
    phase_start: u16,
) -> Result<JobRecord, StepError> {
    let class = restores.restoring.ok_or_else(|| {
        StepError::new(
            ErrorName::InvalidRequest,
            "a restore job without the class it restores",
        )
    })?;
    let m = restores.manifest(class).cloned().ok_or_else(|| {
        StepError::new(
            ErrorName::InvalidRequest,
            format!("no restore manifest of class {}", class.label()),
        )
    })?;
    if !names.layout().is_restore_manifest_key(&m.key) {
        return Err(StepError::new(
            ErrorName::AccessDenied,
            format!(
                "restore manifest {} is not one of this copy's (under {}): refused",
                m.key,
                names.layout().retry_prefix()
            ),
        ));
    }
    let (etag, version_id) = crate::head(
        clients,
        &config.ferry_bucket,
        &m.key,
        &config.account_id,
        false,
    )
    .await?;
    let manifest = ManifestLocation {
        kind: ManifestKind::Csv {
            with_versions: false,
        },
        object_arn: names.s3_arn(&config.ferry_bucket, Some(&m.key)),
        etag,
        version_id,
        filter: None,
    };
    let request = CreateJobRequest::for_restore(&plan.request, names, &manifest, attempt, class);
    let job_id = crate::create_job(clients, &request).await?;
    let record = JobRecord {
        job_id,
        attempt,
        client_request_token: request.client_request_token,
        manifest,
        not_copyable: None,
        kind: JobKind::Restore,
        submitted_at: Some(SystemClock.now()),
        large_pending: false,
        phase_start,
        census_job_id: None,
        restores: Some(restores),
        restored_by: None,
    };
    Control::new(&clients.s3, &config.ferry_bucket)
        .put_job_record(names.layout(), &record)
        .await?;
    info!(job_id = %record.job_id, class = class.label(), "submitted the restore job");
    Ok(record)
}

/// Looks at the restores' sample before the copy: `Ok` when every sampled object reads as
/// restored; `RestoresPending` while some are not (the state machine waits and asks again);
/// `RestoresNeverCompleted` past twice the slowest time AWS documents for the tier.
pub async fn check(
    clients: &Clients,
    plan: &RunPlan,
    restores: &Restores,
) -> Result<(), StepError> {
    let source = &plan.request.source;
    let sample = restores.sample();
    let mut pending = Vec::new();
    for key in &sample {
        let out = match clients
            .s3
            .head_object()
            .bucket(&source.bucket)
            .key(key)
            .expected_bucket_owner(&source.account_id)
            .send()
            .await
        {
            Ok(out) => out,
            // Deleted since: nothing to wait for (its copy task fails on its own).
            Err(e) if status_of(&e) == Some(404) => continue,
            Err(e) => {
                return Err(plan.refusal_while_settling(
                    from_sdk(e, &format!("HeadObject s3://{}/{key}", source.bucket)),
                    SystemClock.now(),
                ))
            }
        };
        let readable = restore::readable(
            out.storage_class().map(|c| c.as_str()),
            out.archive_status().map(|s| s.as_str()),
            out.restore(),
        );
        // Only a restore S3 says is under way is waited for: an object with no restore at all
        // had its restore refused (or it expired), and its copy fails it as archived, which
        // is tried again after the slowest restore.
        if matches!(readable, Readable::Restoring(_)) {
            pending.push(key.clone());
        }
    }
    if pending.is_empty() {
        info!(sampled = sample.len(), "the sampled objects are restored");
        return Ok(());
    }
    let deadline = restores.deadline(&plan.request);
    let said = format!(
        "{} of the {} sampled archived objects are not restored yet (first: {})",
        pending.len(),
        sample.len(),
        pending[0]
    );
    if SystemClock.now() > deadline {
        return Err(StepError::new(
            ErrorName::RestoresNeverCompleted,
            format!(
                "{said}, past twice the slowest time AWS documents for {} restores ({}): check the restore jobs' reports under {}",
                source.restore.tier.as_str(),
                restore::how_long(source.restore.tier),
                plan.names().layout().report_prefix(plan.run)
            ),
        ));
    }
    Err(StepError::new(
        ErrorName::RestoresPending,
        format!(
            "{said}; looking again in {} s",
            plan.request.timing.restore_check_seconds
        ),
    ))
}

/// The HTTP status S3 answered a call with (a HEAD's errors carry no code).
fn status_of<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// What a look at a CSV's rows found.
pub struct Found {
    pub rows: ArchivedRows,
    /// Objects being restored already (not asked again: S3 answers 409 RestoreAlreadyInProgress).
    pub restoring: u64,
    /// The first of them.
    pub restoring_sample: Vec<String>,
}

impl From<ArchivedRows> for Found {
    fn from(rows: ArchivedRows) -> Found {
        Found {
            rows,
            restoring: 0,
            restoring_sample: Vec::new(),
        }
    }
}

/// Flow B: a HeadObject of each row of the CSV manifest.
async fn archived_in_csv(
    clients: &Clients,
    plan: &RunPlan,
    owner: &str,
    bucket: &str,
    key: &str,
) -> Result<Found, StepError> {
    let body = crate::read_manifest(clients, bucket, key, owner, None).await?;
    let mut rows = Vec::new();
    for row in CsvManifestReader::new(&body[..]) {
        let row = row.map_err(|e| {
            StepError::new(
                ErrorName::InvalidRequest,
                format!("manifest.key: s3://{bucket}/{key}: {e}"),
            )
        })?;
        rows.push(row);
        if rows.len() > HEAD_ROWS_MAX {
            return Err(StepError::new(
                ErrorName::InvalidRequest,
                format!("source.archived: `restore` with a CSV manifest looks at each row's object (HeadObject) to find the archived ones, at most {HEAD_ROWS_MAX} rows; s3://{bucket}/{key} has more: use flow A (an inventory lists each object's storage class)"),
            ));
        }
    }
    let mut found = Found::from(ArchivedRows::default());
    for chunk in rows.chunks(HEADS_AT_ONCE) {
        let mut heads = tokio::task::JoinSet::new();
        for (i, row) in chunk.iter().enumerate() {
            let call = clients
                .s3
                .head_object()
                .bucket(&row.bucket)
                .key(&row.key)
                .set_version_id(row.version_id.clone())
                .expected_bucket_owner(&plan.request.source.account_id);
            heads.spawn(async move { (i, call.send().await) });
        }
        let mut answers: Vec<_> = heads.join_all().await;
        answers.sort_by_key(|(i, _)| *i);
        for (i, answer) in answers {
            let row = &chunk[i];
            let out = match answer {
                Ok(out) => out,
                // Gone since the manifest was written (404), or SSE-C (a HEAD without its key
                // answers 400): the row's copy task fails on its own, as without restore.
                Err(e) if matches!(status_of(&e), Some(400 | 404)) => continue,
                Err(e) => {
                    return Err(plan.refusal_while_settling(
                        from_sdk(e, &format!("HeadObject s3://{}/{}", row.bucket, row.key)),
                        SystemClock.now(),
                    ))
                }
            };
            match restore::readable(
                out.storage_class().map(|c| c.as_str()),
                out.archive_status().map(|s| s.as_str()),
                out.restore(),
            ) {
                Readable::Yes => {}
                Readable::Restoring(_) => {
                    found.restoring += 1;
                    if found.restoring_sample.len() < restore::SAMPLE {
                        found.restoring_sample.push(row.key.clone());
                    }
                }
                Readable::Archived(class) => found
                    .rows
                    .push(class, &row.bucket, &encode_key(&row.key))
                    .map_err(|e| StepError::new(ErrorName::InvalidRequest, e.to_string()))?,
            }
        }
    }
    Ok(found)
}
