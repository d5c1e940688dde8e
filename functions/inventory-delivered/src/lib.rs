//! `inventory-delivered` (destination account, flow A): S3 notifies it when a
//! `manifest.checksum` lands in the ferry bucket (keys arrive URL-encoded). It reads the
//! `manifest.json` beside it, checks it against the checksum, and completes every waiter of that
//! inventory configuration whose run started before the report was created: SendTaskSuccess with
//! the manifest's key and ETag, or, when the checksum does not match, SendTaskFailure with
//! `InventoryChecksumMismatch`. S3 delivers events at least once: a duplicate finds no waiter
//! left (or a used token) and is logged and ignored, as is a report nobody waits for.

use aws_lambda_events::s3::S3Event;
use ferry_core::clients::Clients;
use ferry_core::control::Control;
use ferry_core::delivery::{complete_wait, read_delivery, Delivery};
use ferry_core::manifest::decode_key;
use ferry_core::{stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use tracing::info;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredOutput {
    /// Waiting tasks completed (successfully or not).
    pub completed: u32,
    /// Records that were not a ferry inventory delivery, that nobody waited for, or whose
    /// waiter a duplicate event had completed already.
    pub ignored: u32,
}

#[tracing::instrument(skip_all)]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<S3Event>,
) -> Result<DeliveredOutput, StepError> {
    let mut out = DeliveredOutput::default();
    let control = Control::new(&clients.s3, &config.ferry_bucket);
    for record in event.payload.records {
        let bucket = record.s3.bucket.name.unwrap_or_default();
        let raw = record.s3.object.key.unwrap_or_default();
        let key = decode_key(&raw)
            .map_err(|e| StepError::new(ErrorName::InvalidRequest, e.to_string()))?;
        let Some(delivery) =
            Delivery::from_checksum_key(&key).filter(|_| bucket == config.ferry_bucket)
        else {
            info!(bucket = %bucket, key = %key, "not a ferry inventory delivery; ignored");
            out.ignored += 1;
            continue;
        };
        let Some(outcome) = read_delivery(&clients.s3, &bucket, &delivery).await? else {
            info!(key = %key, "no complete delivery of this bucket here (the checksum is gone, or manifest.json names another bucket); ignored");
            out.ignored += 1;
            continue;
        };
        let waiters = control.list_waiters(&delivery.config_id).await?;
        if waiters.is_empty() {
            info!(config_id = %delivery.config_id, "an inventory report nobody waits for (or a duplicate event); ignored");
            out.ignored += 1;
        }
        for (waiter_key, waiter) in waiters {
            if waiter.source_bucket != delivery.source_bucket {
                // The same configuration id on another bucket: not this waiter's inventory.
                info!(execution = %waiter.execution, waits_for = %waiter.source_bucket, delivered_for = %delivery.source_bucket, "a delivery for another source bucket; the waiter keeps waiting");
                out.ignored += 1;
                continue;
            }
            match &outcome {
                Ok(report) if report.created_at_millis < waiter.started_at.max(0) as u64 * 1000 => {
                    info!(execution = %waiter.execution, "the report is older than this run; it waits for the next");
                    continue;
                }
                _ => {}
            }
            let completed = complete_wait(
                &clients.sfn,
                &waiter.task_token,
                outcome.as_ref().map_err(String::as_str),
            )
            .await?;
            control.delete_waiter(&waiter_key).await?;
            if completed {
                info!(execution = %waiter.execution, ok = outcome.is_ok(), "completed an inventory waiter");
                out.completed += 1;
            } else {
                info!(execution = %waiter.execution, "the waiter was completed already (a duplicate event)");
                out.ignored += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
