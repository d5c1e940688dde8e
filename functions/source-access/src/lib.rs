//! `source-access` (source account): merges the Batch role's read statements into the source
//! bucket policy and, in flow B, into the policy of a CSV manifest bucket of the source account;
//! verifies them just before a job is submitted; removes exactly them at the end.
//!
//! PutBucketPolicy has no condition, so a concurrent writer can drop ferry's statements: every
//! write is read back, and rewritten (at most [`WRITE_ROUNDS`] times) until the statements are
//! there. Grant and verify run the same loop; verify only writes when something is missing.

use aws_sdk_s3::Client as S3;
use ferry_core::error::{from_sdk, sdk_code};
use ferry_core::policy::{merge, missing_statements, revoke, PolicyKind, Revoked};
use ferry_core::steps::{AccessAction, AccessInput, AccessOutput};
use ferry_core::{clients::Clients, stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::{info, warn};

/// How often a write is retried when another writer keeps dropping ferry's statements.
pub const WRITE_ROUNDS: usize = 3;

#[tracing::instrument(skip_all, fields(copy_id = %event.payload.plan.request.copy_id, action = ?event.payload.action))]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<AccessInput>,
) -> Result<AccessOutput, StepError> {
    let input = event.payload;
    let plan = &input.plan;
    let names = plan.names();
    let expires_at = input.expires_at.unwrap_or(plan.expires_at);
    let grants = ferry_core::policy::source_account_grants(&plan.request, &names, expires_at);
    let owner = &plan.request.source.account_id;
    for bucket in grants.keys() {
        config.may_touch(bucket)?;
    }
    let mut out = AccessOutput {
        expires_at,
        ..AccessOutput::default()
    };
    match input.action {
        AccessAction::Grant | AccessAction::Verify => {
            for (bucket, statements) in &grants {
                if ensure(&clients.s3, bucket, owner, statements, &names.hash).await? {
                    if input.action == AccessAction::Verify {
                        warn!(bucket = %bucket, "grant was missing before the job was submitted; put back");
                    }
                    out.changed.push(bucket.clone());
                }
            }
        }
        AccessAction::Revoke if !plan.request.cleanup.revoke_grants => {
            info!("cleanup.revokeGrants is false: grants stay until they expire");
        }
        AccessAction::Revoke => {
            for bucket in grants.keys() {
                if remove(&clients.s3, bucket, owner, &names.hash).await? {
                    out.changed.push(bucket.clone());
                }
            }
        }
    }
    Ok(out)
}

/// The bucket's policy, or `None` when it has none.
async fn read_policy(s3: &S3, bucket: &str, owner: &str) -> Result<Option<String>, StepError> {
    match s3
        .get_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
    {
        Ok(out) => Ok(out.policy().map(str::to_string)),
        Err(e) if sdk_code(&e) == Some("NoSuchBucketPolicy") => Ok(None),
        Err(e) => Err(from_sdk(e, &format!("GetBucketPolicy on {bucket}"))),
    }
}

/// Makes sure `statements` are in the bucket's policy; true when it had to write.
async fn ensure(
    s3: &S3,
    bucket: &str,
    owner: &str,
    statements: &[Value],
    hash: &str,
) -> Result<bool, StepError> {
    let mut wrote = false;
    for _ in 0..=WRITE_ROUNDS {
        let current = read_policy(s3, bucket, owner).await?;
        if missing_statements(current.as_deref(), statements)?.is_empty() {
            return Ok(wrote);
        }
        let merged = merge(
            current.as_deref(),
            statements,
            hash,
            PolicyKind::BucketPolicy,
            &format!("the bucket policy of {bucket}"),
        )?;
        s3.put_bucket_policy()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .policy(merged)
            .send()
            .await
            .map_err(|e| from_sdk(e, &format!("PutBucketPolicy on {bucket}")))?;
        info!(bucket = %bucket, "granted read access to the Batch role");
        wrote = true;
    }
    Err(StepError::new(
        ErrorName::Retryable,
        format!(
            "the bucket policy of {bucket} lost ferry's statements {WRITE_ROUNDS} times after writing: another writer keeps replacing it"
        ),
    ))
}

/// Removes this copy's statements from the bucket's policy; true when it changed.
async fn remove(s3: &S3, bucket: &str, owner: &str, hash: &str) -> Result<bool, StepError> {
    let current = read_policy(s3, bucket, owner).await?;
    match revoke(current.as_deref(), hash)? {
        Revoked::Unchanged => Ok(false),
        Revoked::Write(policy) => {
            s3.put_bucket_policy()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .policy(policy)
                .send()
                .await
                .map_err(|e| from_sdk(e, &format!("PutBucketPolicy on {bucket}")))?;
            info!(bucket = %bucket, "revoked the Batch role's read access");
            Ok(true)
        }
        Revoked::Delete => {
            s3.delete_bucket_policy()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .send()
                .await
                .map_err(|e| from_sdk(e, &format!("DeleteBucketPolicy on {bucket}")))?;
            info!(bucket = %bucket, "revoked the Batch role's read access; no statement left, policy deleted");
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests;
