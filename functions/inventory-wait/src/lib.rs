//! `inventory-wait` (destination account, flow A). Called with a task token
//! (`.waitForTaskToken`), it records the waiter under `control/waiters/<config-id>/` FIRST, then
//! looks for a report already delivered since the execution started, and completes the task at
//! once if there is one (so a report that landed before the wait began is not missed). Called
//! without a token (after the wait timed out), it only looks again, and fails with
//! `InventoryNeverArrived` once `inventoryDeadlineSeconds` have passed since the start. A
//! verification run (`ferry verify`) only looks, for the latest report whatever its age, and
//! fails with `NotFound` when there is none.
//!
//! Reading a delivery and completing the task are `ferry_core::delivery`'s, shared with
//! `inventory-delivered`.

use aws_sdk_s3::Client as S3;
use ferry_core::clients::Clients;
use ferry_core::clock::{format_timestamp, Clock, SystemClock};
use ferry_core::control::{Control, Waiter};
use ferry_core::delivery::{complete_wait, read_delivery, Delivery};
use ferry_core::error::from_sdk;
use ferry_core::layout::is_dated;
use ferry_core::steps::{InventoryManifestRef, WaitInput, WaitOutput};
use ferry_core::{stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use tracing::info;

#[tracing::instrument(skip_all, fields(execution = %event.payload.plan.execution))]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<WaitInput>,
) -> Result<WaitOutput, StepError> {
    wait(clients, config, &SystemClock, event.payload).await
}

/// [`handle`] with the clock given.
pub async fn wait(
    clients: &Clients,
    config: &StackConfig,
    clock: &dyn Clock,
    input: WaitInput,
) -> Result<WaitOutput, StepError> {
    let plan = &input.plan;
    let names = plan.names();
    let control = Control::new(&clients.s3, &config.ferry_bucket);
    if let Some(token) = &input.task_token {
        let waiter = Waiter {
            task_token: token.clone(),
            execution: plan.execution.clone(),
            started_at: plan.started_at,
            source_bucket: plan.request.source.bucket.clone(),
        };
        control.put_waiter(names.layout(), &waiter).await?;
    }
    let prefix = names
        .layout()
        .inventory_location(&plan.request.source.bucket);
    let found = latest_report(
        &clients.s3,
        &config.ferry_bucket,
        &prefix,
        (&plan.request.source.bucket, &names.inventory_config_id),
        // A verification run reads the copy's latest report, whenever S3 delivered it.
        if plan.verify_only { 0 } else { plan.started_at },
    )
    .await?;
    if plan.verify_only && found.is_none() {
        return Err(StepError::new(
            ErrorName::NotFound,
            format!(
                "no inventory report of copy {} under s3://{}/{} to verify against: run the copy (`ferry start`) to have one delivered",
                plan.request.copy_id, config.ferry_bucket, prefix
            ),
        ));
    }
    match (&found, &input.task_token) {
        (Some(report), Some(token)) => {
            info!(key = %report.key, "an inventory report was already there");
            // False only if the S3 event completed it in the meantime: done either way.
            complete_wait(&clients.sfn, token, Ok(report)).await?;
            control
                .delete_waiter(&names.layout().waiter_key(&plan.execution))
                .await?;
        }
        (None, None) => {
            let deadline = plan.started_at + plan.request.timing.inventory_deadline_seconds as i64;
            if clock.now() >= deadline {
                return Err(StepError::new(
                    ErrorName::InventoryNeverArrived,
                    format!(
                        "no inventory report for s3://{} (configuration {}) reached s3://{}/{} by {} ({} s after the copy started); S3 delivers the first report within 48 hours: check the configuration on the source bucket and the ferry bucket's policy",
                        plan.request.source.bucket,
                        names.inventory_config_id,
                        config.ferry_bucket,
                        prefix,
                        format_timestamp(deadline),
                        plan.request.timing.inventory_deadline_seconds
                    ),
                ));
            }
        }
        _ => {}
    }
    Ok(WaitOutput { found })
}

/// The newest report under `prefix` (the deliveries of `(source bucket, configuration id)`)
/// created at or after `started_at`, if any. A delivery whose `manifest.checksum` is not written
/// yet is still in progress and skipped.
async fn latest_report(
    s3: &S3,
    bucket: &str,
    prefix: &str,
    (source, config_id): (&str, &str),
    started_at: i64,
) -> Result<Option<InventoryManifestRef>, StepError> {
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .send()
        .await
        .map_err(|e| from_sdk(e, &format!("ListObjectsV2 s3://{bucket}/{prefix}")))?;
    let mut dated: Vec<String> = listed
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .filter_map(|p| {
            p.strip_prefix(prefix)
                .map(|d| d.trim_end_matches('/').to_string())
        })
        .filter(|d| is_dated(d))
        .collect();
    dated.sort_unstable_by(|a, b| b.cmp(a));
    for d in dated {
        let delivery = Delivery {
            source_bucket: source.to_string(),
            config_id: config_id.to_string(),
            dated: d,
        };
        match read_delivery(s3, bucket, &delivery).await {
            Ok(Some(Ok(report))) if report.created_at_millis >= started_at.max(0) as u64 * 1000 => {
                return Ok(Some(report))
            }
            Ok(Some(Ok(_))) => return Ok(None),
            Ok(Some(Err(cause))) => {
                return Err(StepError::new(ErrorName::InventoryChecksumMismatch, cause))
            }
            Ok(None) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
