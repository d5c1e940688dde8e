//! A delivered inventory report and the runs that wait for it (flow A), shared by
//! `inventory-wait` (which looks for a report already there) and `inventory-delivered` (which S3
//! notifies): reading one delivery and checking it against its `manifest.checksum`, and
//! completing a waiting task with the outcome. The delivery's keys are [`Delivery`]'s
//! ([`crate::layout`]).

use aws_sdk_s3::Client as S3;
use aws_sdk_sfn::Client as Sfn;
use tracing::warn;

use crate::clients::get_object_bytes;
use crate::error::{from_sdk, sdk_code};
use crate::inventory::{checksum_matches, InventoryManifest};
pub use crate::layout::Delivery;
use crate::steps::InventoryManifestRef;
use crate::{ErrorName, StepError};

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
pub async fn complete_wait(
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
