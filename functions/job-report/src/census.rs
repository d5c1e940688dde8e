//! Flow C's census: what the run's filter left out as archived, counted from the census job's
//! generated manifest.

use ferry_core::clients::Clients;
use ferry_core::steps::{CopyTotals, JobRecord, LeftOut, RunPlan};
use ferry_core::{stack::StackConfig, StepError};
use tracing::{info, warn};

/// Flow C: counts what the run's filter left out as archived, from the census job's generated
/// manifest, once that job has listed it (it waits, suspended, for a confirmation that never
/// comes: `CreateJobRequest::census_of`). Until then the count stays open, and the next job's
/// report looks again; a census that failed or named a manifest that is not the copy's leaves it
/// uncounted, said so in the output, and fails nothing.
pub(crate) async fn count_left_out(
    clients: &Clients,
    config: &StackConfig,
    plan: &RunPlan,
    job: &JobRecord,
    totals: &mut CopyTotals,
) -> Result<(), StepError> {
    if totals.left_out.is_none() {
        totals.left_out = job.census_job_id.as_ref().map(|id| LeftOut {
            census_job_id: id.clone(),
            ..Default::default()
        });
    }
    let Some(left_out) = totals.left_out.as_mut().filter(|l| l.archived.is_none()) else {
        return Ok(());
    };
    let census = match ferry_core::job::describe_job(
        &clients.s3control,
        &config.account_id,
        &left_out.census_job_id,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "the census job could not be described: the objects left out stay uncounted");
            return Ok(());
        }
    };
    let Some(arn) = census
        .generated_manifest_descriptor()
        .and_then(|d| d.location())
        .map(|l| l.object_arn().to_string())
    else {
        info!(census = %left_out.census_job_id, status = ?census.status(), "the census has not listed the archived objects yet");
        return Ok(());
    };
    // Only a manifest under this run's census prefix is read, and only data files under it.
    let names = plan.names();
    let census_prefix = format!("{}/", names.layout().generated_census_prefix(plan.run));
    let prefix = format!(
        "arn:{}:s3:::{}/{census_prefix}",
        names.partition, config.ferry_bucket,
    );
    let Some(key) = arn
        .strip_prefix(&prefix)
        .map(|rest| format!("{census_prefix}{rest}"))
    else {
        warn!(%arn, "the census names a manifest outside the run's generated/ prefix: not read");
        return Ok(());
    };
    let found = match ferry_core::inventory::scan::obstacles_in(
        &clients.s3,
        &config.ferry_bucket,
        &key,
        &config.account_id,
        Some(ferry_core::inventory::CopyObstacle::Archived),
        Some(&census_prefix),
    )
    .await
    {
        Ok(found) => found,
        // AWS does not document a generated manifest's layout: one that ferry cannot read
        // leaves the count open, and the copy as it is.
        Err(e) => {
            warn!(error = %e, "the census's manifest could not be read: the objects left out stay uncounted");
            return Ok(());
        }
    };
    // Counted: the census has done its work. Cancelled now rather than by the revoke, which
    // would wait for it to stop; only the copy's own census, and only while it waits.
    if census.role_arn() == Some(names.batch_role_arn.as_str())
        && census.status() == Some(&aws_sdk_s3control::types::JobStatus::Suspended)
    {
        let cancelled = clients
            .s3control
            .update_job_status()
            .account_id(&config.account_id)
            .job_id(&left_out.census_job_id)
            .requested_job_status(aws_sdk_s3control::types::RequestedJobStatus::Cancelled)
            .status_update_reason("ferry: the census is counted")
            .send()
            .await;
        if let Err(e) = cancelled {
            warn!(error = %ferry_core::error::from_sdk(e, "UpdateJobStatus"), "the census job is left to the revoke");
        }
    }
    let label = ferry_core::inventory::CopyObstacle::Archived.label();
    left_out.archived = Some(found.counts.get(label).copied().unwrap_or(0));
    left_out.first_keys = found.keys.get(label).cloned().unwrap_or_default();
    info!(archived = ?left_out.archived, "counted the objects left out as archived");
    Ok(())
}
