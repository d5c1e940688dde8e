//! `destination-access` (destination account): the Batch Operations role of a copy.
//!
//! Grant creates `/ferry/ferry-batch-<copyId>` with ferry's permissions boundary, or, when it
//! exists, puts its inline policy again; a role whose trust is not the copy's is deleted and
//! created again (a trust policy is never edited in place), and a role of that name without
//! ferry's boundary is not ferry's and is refused, never adopted. Revoke first cancels every job of the copy that may
//! still run (jobs are found from their records under `control/<copyId>/`) and reports
//! `stillActive` until they have stopped; only then are the copy worker's unfinished uploads
//! aborted (from their records under `control/<copyId>/uploads/`) and the inline policy and the
//! role deleted.

use aws_sdk_iam::Client as Iam;
use aws_sdk_s3control::types::RequestedJobStatus;
use ferry_core::clients::Clients;
use ferry_core::clock::{Clock, SystemClock};
use ferry_core::control::Control;
use ferry_core::error::{from_sdk, sdk_code};
use ferry_core::job::JobState;
use ferry_core::names::ROLE_PATH;
use ferry_core::policy::PolicyKind;
use ferry_core::steps::{AccessAction, AccessInput, AccessOutput, RunPlan};
use ferry_core::worker::UploadRecord;
use ferry_core::{stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use tracing::{info, warn};

/// Aborts every multipart upload the copy worker recorded for this copy and did not complete,
/// and removes the records; returns `upload <id>` for each one aborted. A record naming a bucket
/// outside DestinationBuckets is left alone (ferry never wrote there).
async fn abort_uploads(
    s3: &aws_sdk_s3::Client,
    config: &StackConfig,
    plan: &RunPlan,
) -> Result<Vec<String>, StepError> {
    let prefix = format!("{}uploads/", plan.names().layout().control_prefix());
    let bucket = &config.ferry_bucket;
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&prefix)
        .expected_bucket_owner(&config.account_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| from_sdk(e, &format!("ListObjectsV2 s3://{bucket}/{prefix}")))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_string),
        );
    }
    let mut aborted = Vec::new();
    for key in keys {
        let record = ferry_core::clients::get_object_bytes(s3, bucket, &key)
            .await?
            .and_then(|(b, _)| serde_json::from_slice::<UploadRecord>(&b).ok());
        if let Some(r) = record.filter(|r| config.destination_buckets.contains(&r.bucket)) {
            match s3
                .abort_multipart_upload()
                .bucket(&r.bucket)
                .key(&r.key)
                .upload_id(&r.upload_id)
                .expected_bucket_owner(&config.account_id)
                .send()
                .await
            {
                Ok(_) => {
                    info!(upload = %r.upload_id, key = %r.key, "aborted an unfinished upload");
                    aborted.push(format!("upload {}", r.upload_id));
                }
                Err(e) if sdk_code(&e) == Some("NoSuchUpload") => {}
                Err(e) => {
                    return Err(from_sdk(
                        e,
                        &format!("AbortMultipartUpload {}", r.upload_id),
                    ))
                }
            }
        }
        s3.delete_object()
            .bucket(bucket)
            .key(&key)
            .expected_bucket_owner(&config.account_id)
            .send()
            .await
            .map_err(|e| from_sdk(e, &format!("DeleteObject {key}")))?;
    }
    Ok(aborted)
}

/// The name of the role's one inline policy.
pub const ROLE_POLICY_NAME: &str = "ferry-copy";

#[tracing::instrument(skip_all, fields(copy_id = %event.payload.plan.request.copy_id, action = ?event.payload.action))]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<AccessInput>,
) -> Result<AccessOutput, StepError> {
    let input = event.payload;
    let mut out = AccessOutput {
        expires_at: input.expires_at.unwrap_or(input.plan.expires_at),
        ..AccessOutput::default()
    };
    match input.action {
        AccessAction::Check => return Err(StepError::new(
            ErrorName::InvalidRequest,
            "action: `check` is source-access's (the destination half of the preflight is plan's)",
        )),
        AccessAction::Grant | AccessAction::Verify => {
            // Defence in depth: a plan this stack could not have made creates no role.
            input
                .plan
                .check_against(config, SystemClock.now(), out.expires_at)?;
            grant(&clients.iam, config, &input.plan).await?;
            out.changed.push(input.plan.names().batch_role_arn);
        }
        AccessAction::Revoke => {
            out.still_active = stop_jobs(clients, config, &input.plan).await?;
            if !out.still_active {
                // No job runs, so no worker either: what it left unfinished is aborted.
                out.changed
                    .extend(abort_uploads(&clients.s3, config, &input.plan).await?);
            }
            // The role is deleted whatever cleanup.revokeGrants says: it never expires, and
            // a role left behind is a standing grant (with the KMS grants, which source-access
            // revokes in any case).
            if !out.still_active && delete_role(&clients.iam, config, &input.plan).await? {
                out.changed.push(input.plan.names().batch_role_arn);
            }
        }
    }
    Ok(out)
}

async fn grant(iam: &Iam, config: &StackConfig, plan: &RunPlan) -> Result<(), StepError> {
    if config.boundary_arn.is_empty() {
        return Err(StepError::new(
            ErrorName::NotFound,
            "FERRY_BOUNDARY_ARN is empty: ferry creates roles only with its permissions boundary, which the destination stack creates",
        ));
    }
    let names = plan.names();
    let policies = plan.policies();
    let role_policy = policies.role.to_string();
    let size = PolicyKind::RoleInline.measure(&role_policy);
    if size > PolicyKind::RoleInline.limit() {
        return Err(StepError::new(
            ErrorName::PolicyTooLarge,
            format!(
                "the inline policy of {} would be {size} characters, over IAM's 10,240",
                names.batch_role_name
            ),
        ));
    }
    let role = &names.batch_role_name;
    if !create_role(iam, config, plan, &policies.trust).await? {
        // A live role's trust is never rewritten (the security round's finding 5; the role may
        // not UpdateAssumeRolePolicy): a role of the copy's name that trusts anything else (an
        // earlier ferry's, or rewritten since) is deleted and created again. Runs of one copy
        // never overlap (plan), so no run uses it.
        info!(role = %role, "the Batch Operations role trusts something else: created again");
        delete_role(iam, config, plan).await?;
        if !create_role(iam, config, plan, &policies.trust).await? {
            return Err(StepError::new(
                ErrorName::Retryable,
                format!("role {role} was created again by someone else meanwhile"),
            ));
        }
    }
    iam.put_role_policy()
        .role_name(role)
        .policy_name(ROLE_POLICY_NAME)
        .policy_document(role_policy)
        .send()
        .await
        .map_err(|e| from_sdk(e, &format!("PutRolePolicy {role}")))?;
    Ok(())
}

/// Creates the copy's Batch role with `trust` and ferry's boundary. True when the role is there
/// as asked: created now, or left by an earlier run with ferry's boundary and this very trust
/// (adopted as it is); false when a role of that name trusts anything else. A role of that
/// name without ferry's boundary is not ferry's and is refused.
async fn create_role(
    iam: &Iam,
    config: &StackConfig,
    plan: &RunPlan,
    trust: &serde_json::Value,
) -> Result<bool, StepError> {
    let role = &plan.names().batch_role_name;
    let created = iam
        .create_role()
        .path(ROLE_PATH)
        .role_name(role)
        .assume_role_policy_document(trust.to_string())
        .permissions_boundary(&config.boundary_arn)
        .description(format!(
            "ferry: S3 Batch Operations role of copy {}",
            plan.request.copy_id
        ))
        .send()
        .await;
    match created {
        Ok(_) => {
            info!(role = %role, "created the Batch Operations role");
            Ok(true)
        }
        Err(e) if sdk_code(&e) == Some("EntityAlreadyExists") => {
            let existing = iam
                .get_role()
                .role_name(role)
                .send()
                .await
                .map_err(|e| from_sdk(e, &format!("GetRole {role}")))?;
            let boundary = existing
                .role()
                .and_then(|r| r.permissions_boundary())
                .and_then(|b| b.permissions_boundary_arn());
            if boundary != Some(config.boundary_arn.as_str()) {
                return Err(StepError::new(
                    ErrorName::AccessDenied,
                    format!(
                        "role {role} exists without ferry's permissions boundary ({}); it is not ferry's, and ferry will not change it",
                        config.boundary_arn
                    ),
                ));
            }
            let theirs = existing
                .role()
                .and_then(|r| r.assume_role_policy_document())
                .and_then(|d| ferry_core::policy::decode_iam_document(d).ok())
                .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
                .map(|t| ferry_core::policy::normalize(&t));
            Ok(theirs == Some(ferry_core::policy::normalize(trust)))
        }
        Err(e) => Err(from_sdk(e, &format!("CreateRole {role}"))),
    }
}

/// Cancels the copy's jobs that may still run; true while any has not stopped yet. A job is
/// cancelled only when DescribeJob shows it runs as this copy's role: a record that names
/// someone else's job (a forged or stale record) stops nothing.
async fn stop_jobs(
    clients: &Clients,
    config: &StackConfig,
    plan: &RunPlan,
) -> Result<bool, StepError> {
    let mut still_active = false;
    let role_arn = plan.names().batch_role_arn;
    let records = Control::new(&clients.s3, &config.ferry_bucket)
        .job_records(plan.names().layout())
        .await?;
    // Each record's job, and flow C's census job beside the first one's.
    let ids: Vec<String> = records
        .into_iter()
        .flat_map(|r| std::iter::once(r.job_id).chain(r.census_job_id))
        .collect();
    for id in &ids {
        let described = clients
            .s3control
            .describe_job()
            .account_id(&config.account_id)
            .job_id(id)
            .send()
            .await;
        let job = match described {
            Ok(out) => match out.job() {
                Some(j) if j.role_arn() == Some(role_arn.as_str()) => JobState::from_descriptor(j),
                Some(j) => {
                    warn!(job_id = %id, role = ?j.role_arn(), "a job record names a job of another role: not cancelled");
                    continue;
                }
                None => continue,
            },
            // Jobs are deleted 90 days after they end.
            Err(e)
                if sdk_code(&e) == Some("NoSuchJob")
                    || sdk_code(&e) == Some("NotFoundException") =>
            {
                continue
            }
            Err(e) => return Err(from_sdk(e, &format!("DescribeJob {id}"))),
        };
        if !job.is_active() {
            continue;
        }
        still_active = true;
        if job.status != "Cancelling" {
            let cancelled = clients
                .s3control
                .update_job_status()
                .account_id(&config.account_id)
                .job_id(id)
                .requested_job_status(RequestedJobStatus::Cancelled)
                .status_update_reason("ferry: the copy is being cleaned up")
                .send()
                .await;
            match cancelled {
                Ok(_) => {
                    info!(job_id = %id, status = %job.status, "cancelling a job that was still running")
                }
                // The job moved to a status that cannot be cancelled (Completing, Failing,
                // Cancelling...) between DescribeJob and here: it is stopping; look again later.
                Err(e) if sdk_code(&e) == Some("JobStatusException") => {
                    info!(job_id = %id, "the job is already stopping")
                }
                Err(e) => return Err(from_sdk(e, &format!("UpdateJobStatus {id} to Cancelled"))),
            }
        }
    }
    Ok(still_active)
}

/// Deletes the role and its inline policy; true when the role existed.
///
/// GetRole comes first: IAM cannot know the path of a role that no longer exists, so it
/// authorizes DeleteRolePolicy and DeleteRole on a missing role against the path-less ARN, which
/// ferry's `role/ferry/*` grants do not cover, and a second revoke would answer AccessDenied
/// instead of NoSuchEntity. GetRole is granted on that path-less name too (read only).
///
/// A role of that name that is not ferry's (not under `/ferry/`, or without ferry's boundary)
/// is left alone: AccessDenied, naming what is missing.
async fn delete_role(iam: &Iam, config: &StackConfig, plan: &RunPlan) -> Result<bool, StepError> {
    let role = plan.names().batch_role_name;
    match iam.get_role().role_name(&role).send().await {
        Ok(out) => {
            let found = out.role();
            let path = found.map(|r| r.path());
            let boundary = found
                .and_then(|r| r.permissions_boundary())
                .and_then(|b| b.permissions_boundary_arn());
            if path != Some(ROLE_PATH) || boundary != Some(config.boundary_arn.as_str()) {
                return Err(StepError::new(
                    ErrorName::AccessDenied,
                    format!(
                        "role {role} is not ferry's (path {}, boundary {}; ferry's roles are under {ROLE_PATH} with {}): ferry will not delete it",
                        path.unwrap_or("unknown"),
                        boundary.unwrap_or("none"),
                        config.boundary_arn
                    ),
                ));
            }
        }
        Err(e) if sdk_code(&e) == Some("NoSuchEntity") => return Ok(false),
        Err(e) => return Err(from_sdk(e, &format!("GetRole {role}"))),
    }
    match iam
        .delete_role_policy()
        .role_name(&role)
        .policy_name(ROLE_POLICY_NAME)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if sdk_code(&e) == Some("NoSuchEntity") => {}
        Err(e) => return Err(from_sdk(e, &format!("DeleteRolePolicy {role}"))),
    }
    match iam.delete_role().role_name(&role).send().await {
        Ok(_) => {
            info!(role = %role, "deleted the Batch Operations role");
            Ok(true)
        }
        Err(e) if sdk_code(&e) == Some("NoSuchEntity") => Ok(false),
        // An attempt that deleted the role but whose answer was lost (a timeout, a 500), retried
        // by the SDK, finds the role gone: IAM then authorizes the path-less name (above) and
        // answers AccessDenied. GetRole tells that apart from a real refusal.
        Err(e) if sdk_code(&e) == Some("AccessDenied") && role_gone(iam, &role).await => {
            info!(role = %role, "the Batch Operations role is gone (deleted by an earlier attempt)");
            Ok(true)
        }
        Err(e) => Err(from_sdk(e, &format!("DeleteRole {role}"))),
    }
}

/// Whether GetRole says the role does not exist.
async fn role_gone(iam: &Iam, role: &str) -> bool {
    matches!(
        iam.get_role().role_name(role).send().await,
        Err(e) if sdk_code(&e) == Some("NoSuchEntity")
    )
}

#[cfg(test)]
mod tests;
