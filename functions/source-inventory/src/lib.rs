//! `source-inventory` (source account, flow A): one S3 Inventory configuration per copy on the
//! source bucket (`ferry-<copyId>`: CSV, current versions, daily, delivered to the ferry bucket
//! under `inventory/` in the destination account). An existing configuration with that id and
//! other settings is updated; other configurations are never read or touched. Removed at the
//! end unless the request's `cleanup.removeInventory` is false.

use ferry_core::clock::{Clock, SystemClock};
use ferry_core::error::{from_sdk, sdk_code};
use ferry_core::inventory::InventoryConfig;
use ferry_core::request::Flow;
use ferry_core::steps::{InventoryAction, InventoryInput, InventoryOutput};
use ferry_core::{clients::Clients, stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use tracing::{info, warn};

/// Answers for a configuration id the bucket does not have (AWS says NoSuchConfiguration;
/// moto, NoSuchInventoryConfig).
fn missing(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("NoSuchConfiguration" | "NoSuchInventoryConfig" | "NotFound")
    )
}

#[tracing::instrument(skip_all, fields(copy_id = %event.payload.plan.request.copy_id, action = ?event.payload.action))]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<InventoryInput>,
) -> Result<InventoryOutput, StepError> {
    let input = &event.payload;
    // Who calls, on every action: only the destination whose alias was invoked, for its own
    // copies (removing another destination's inventory configuration is refused here).
    input
        .plan
        .check_invoker(&event.context.invoked_function_arn)?;
    let req = &input.plan.request;
    if req.flow() != Flow::Inventory {
        return Err(StepError::new(
            ErrorName::InvalidRequest,
            "source-inventory is for copies with manifest.kind inventory",
        ));
    }
    let names = input.plan.names();
    let id = names.inventory_config_id.clone();
    let bucket = &req.source.bucket;
    let owner = &req.source.account_id;
    if input.action == InventoryAction::Remove && config.may_touch(bucket).is_err() {
        // Nothing of ferry's can be there: Put refuses a bucket outside SourceBuckets.
        warn!(bucket = %bucket, "not in SourceBuckets: no inventory configuration of ferry's can be there; left alone");
        return Ok(InventoryOutput {
            config_id: id,
            changed: false,
        });
    }
    config.may_touch(bucket)?;
    let changed = match input.action {
        InventoryAction::Put => {
            // Inventory goes only to the ferry bucket of a listed destination, for a plan that holds.
            input
                .plan
                .check_against(config, SystemClock.now(), input.plan.expires_at)?;
            let wanted = InventoryConfig::for_copy(req, &names);
            let existing = match clients
                .s3
                .get_bucket_inventory_configuration()
                .bucket(bucket)
                .id(&id)
                .expected_bucket_owner(owner)
                .send()
                .await
            {
                Ok(out) => out.inventory_configuration().map(InventoryConfig::from_sdk),
                Err(e) if missing(sdk_code(&e)) => None,
                Err(e) => {
                    return Err(from_sdk(
                        e,
                        &format!("GetBucketInventoryConfiguration {id} on {bucket}"),
                    ))
                }
            };
            if existing.as_ref().is_some_and(|e| e.same_settings(&wanted)) {
                false
            } else {
                let sdk = wanted
                    .to_sdk()
                    .map_err(|e| StepError::new(ErrorName::InvalidRequest, e.to_string()))?;
                clients
                    .s3
                    .put_bucket_inventory_configuration()
                    .bucket(bucket)
                    .id(&id)
                    .expected_bucket_owner(owner)
                    .inventory_configuration(sdk)
                    .send()
                    .await
                    .map_err(|e| {
                        from_sdk(
                            e,
                            &format!("PutBucketInventoryConfiguration {id} on {bucket}"),
                        )
                    })?;
                info!(bucket = %bucket, config_id = %id, updated = existing.is_some(), "configured the source inventory");
                true
            }
        }
        InventoryAction::Remove if !req.cleanup.remove_inventory => {
            info!("cleanup.removeInventory is false: the inventory configuration stays");
            false
        }
        InventoryAction::Remove => {
            match clients
                .s3
                .delete_bucket_inventory_configuration()
                .bucket(bucket)
                .id(&id)
                .expected_bucket_owner(owner)
                .send()
                .await
            {
                Ok(_) => {
                    info!(bucket = %bucket, config_id = %id, "removed the source inventory configuration");
                    true
                }
                Err(e) if missing(sdk_code(&e)) => false,
                Err(e) => {
                    return Err(from_sdk(
                        e,
                        &format!("DeleteBucketInventoryConfiguration {id} on {bucket}"),
                    ))
                }
            }
        }
    };
    Ok(InventoryOutput {
        config_id: id,
        changed,
    })
}

#[cfg(test)]
mod tests;
