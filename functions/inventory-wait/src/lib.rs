//! `inventory-wait` (destination account, flow A). Called with a task token
//! (`.waitForTaskToken`), it records the waiter under `control/waiters/<config-id>/` FIRST, then
//! looks for a report already delivered since the execution started, and completes the task at
//! once if there is one (so a report that landed before the wait began is not missed). Called
//! without a token (after the wait timed out), it only looks again, and fails with
//! `InventoryNeverArrived` once `inventoryDeadlineSeconds` have passed since the start.
//!
//! [`read_delivery`] and [`complete`] are shared with `inventory-delivered`.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client as S3;
use aws_sdk_sfn::Client as Sfn;
use ferry_core::clients::{get_object_bytes, Clients};
use ferry_core::clock::{format_timestamp, Clock, SystemClock};
use ferry_core::error::{from_sdk, sdk_code};
use ferry_core::inventory::{checksum_matches, is_dated, Delivery, InventoryManifest};
use ferry_core::steps::{InventoryManifestRef, WaitInput, WaitOutput, Waiter};
use ferry_core::{stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use tracing::{info, warn};

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
    let waiter_key = names.waiter_key(&plan.execution);
    if let Some(token) = &input.task_token {
        let waiter = Waiter {
            task_token: token.clone(),
            execution: plan.execution.clone(),
            started_at: plan.started_at,
            source_bucket: plan.request.source.bucket.clone(),
        };
        clients
            .s3
            .put_object()
            .bucket(&config.ferry_bucket)
            .key(&waiter_key)
            .content_type("application/json")
            .body(ByteStream::from(
                serde_json::to_vec(&waiter).expect("a waiter serializes"),
            ))
            .send()
            .await
            .map_err(|e| from_sdk(e, &format!("PutObject {waiter_key}")))?;
    }
    let prefix = names.inventory_location(&plan.request.source.bucket);
    let found = latest_report(
        &clients.s3,
        &config.ferry_bucket,
        &prefix,
        (&plan.request.source.bucket, &names.inventory_config_id),
        plan.started_at,
    )
    .await?;
    match (&found, &input.task_token) {
        (Some(report), Some(token)) => {
            info!(key = %report.key, "an inventory report was already there");
            // False only if the S3 event completed it in the meantime: done either way.
            complete(&clients.sfn, token, Ok(report)).await?;
            delete(&clients.s3, &config.ferry_bucket, &waiter_key).await?;
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

/// Reads one delivery: `None` while it is incomplete (no checksum yet), `Some(Err(cause))` when
/// `manifest.json` does not match its checksum, else the report.
pub async fn read_delivery(
    s3: &S3,
    bucket: &str,
    delivery: &Delivery,
) -> Result<Option<Result<InventoryManifestRef, String>>, StepError> {
    let checksum_key = delivery.checksum_key();
    let Some((checksum, _)) = get_object_bytes(s3, bucket, &checksum_key).await? else {
        return Ok(None);
    };
    let key = delivery.manifest_key();
    let Some((json, etag)) = get_object_bytes(s3, bucket, &key).await? else {
        return Ok(Some(Err(format!(
            "s3://{bucket}/{key} is missing beside its manifest.checksum"
        ))));
    };
    if !checksum_matches(&json, &checksum) {
        return Ok(Some(Err(format!(
            "s3://{bucket}/{key} does not match its manifest.checksum ({}): the delivery is damaged; S3 delivers a new report with the next schedule",
            String::from_utf8_lossy(&checksum).trim()
        ))));
    }
    let manifest = InventoryManifest::parse(&json).map_err(|e| {
        StepError::new(
            ErrorName::InvalidRequest,
            format!("s3://{bucket}/{key}: {e}"),
        )
    })?;
    if manifest.source_bucket != delivery.source_bucket {
        // S3 writes the source segment of the key itself; a manifest that names another bucket
        // was not written by S3 Inventory for this delivery. Not a report of this copy.
        warn!(key = %key, named = %manifest.source_bucket, delivered_for = %delivery.source_bucket, "manifest.json names another source bucket than its key; ignored");
        return Ok(None);
    }
    let created_at_millis = manifest
        .created_at_millis()
        .map_err(|e| StepError::new(ErrorName::InvalidRequest, e.to_string()))?;
    Ok(Some(Ok(InventoryManifestRef {
        key,
        etag,
        created_at_millis,
    })))
}

/// Completes a waiting task with the report, or fails it with the checksum mismatch; true when
/// this call completed it. A token already used or expired answers TaskTimedOut / InvalidToken /
/// TaskDoesNotExist: that task was done already (by a duplicate event), and this returns false.
pub async fn complete(
    sfn: &Sfn,
    token: &str,
    outcome: Result<&InventoryManifestRef, &str>,
) -> Result<bool, StepError> {
    let sent = match outcome {
        Ok(report) => sfn
            .send_task_success()
            .task_token(token)
            .output(serde_json::to_string(report).expect("a report serializes"))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                (
                    sdk_code(&e).map(str::to_string),
                    from_sdk(e, "SendTaskSuccess"),
                )
            }),
        Err(cause) => sfn
            .send_task_failure()
            .task_token(token)
            .error(ErrorName::InventoryChecksumMismatch.as_str())
            .cause(cause)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                (
                    sdk_code(&e).map(str::to_string),
                    from_sdk(e, "SendTaskFailure"),
                )
            }),
    };
    match sent {
        Ok(()) => Ok(true),
        Err((Some(code), _))
            if matches!(
                code.as_str(),
                "TaskTimedOut" | "InvalidToken" | "TaskDoesNotExist"
            ) =>
        {
            Ok(false)
        }
        Err((_, e)) => Err(e),
    }
}

/// Removes a waiter record (absent already is fine).
pub async fn delete(s3: &S3, bucket: &str, key: &str) -> Result<(), StepError> {
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| from_sdk(e, &format!("DeleteObject {key}")))
}

#[cfg(test)]
mod tests;
