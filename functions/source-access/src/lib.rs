//! `source-access` (source account): merges the Batch role's read statements into the source
//! bucket policy and, in flow B, into the policy of a CSV manifest bucket of the source account;
//! verifies them just before a job is submitted; removes exactly them at the end.
//!
//! PutBucketPolicy has no condition, so two writers of one policy can lose each other's change
//! (two copies from one bucket: one revokes while the other grants from a policy read just
//! before). Every step therefore converges: it reads each bucket's policy, writes where ferry's
//! intent (these statements present, or absent) is not met, waits [`StackConfig::policy_settle`]
//! (longer than another writer's read-modify-write takes), and reads again, until a round finds
//! nothing to write, at most [`WRITE_ROUNDS`] rounds.

use std::time::Duration;

use aws_sdk_s3::Client as S3;
use ferry_core::clients::read_bucket_policy;
use ferry_core::clock::{Clock, SystemClock};
use ferry_core::error::from_sdk;
use ferry_core::policy::{
    copy_statements_until, merge, missing_statements, revoke, PolicyKind, Revoked,
};
use ferry_core::preflight;
use ferry_core::steps::{AccessAction, AccessInput, AccessOutput, KeptStatements};
use ferry_core::{clients::Clients, stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::collections::BTreeMap;
use tracing::{info, warn};

pub mod keys;

/// How many rounds of writes a step makes before it gives up on a policy that another writer
/// keeps changing back.
pub const WRITE_ROUNDS: usize = 4;

#[tracing::instrument(skip_all, fields(copy_id = %event.payload.plan.request.copy_id, action = ?event.payload.action))]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<AccessInput>,
) -> Result<AccessOutput, StepError> {
    let input = &event.payload;
    let plan = &input.plan;
    let names = plan.names();
    let expires_at = input.expires_at.unwrap_or(plan.expires_at);
    // Who calls, on every action: only the destination whose alias was invoked, for its own
    // copies (a revoke of another destination's grants is refused here).
    plan.check_invoker(&event.context.invoked_function_arn)?;
    if input.action != AccessAction::Revoke {
        // The source side trusts no plan it can check itself: its destination one of
        // DestinationAccountIds, its ferry bucket that account's, its expiry within the
        // request's grant lifetime.
        plan.check_against(config, SystemClock.now(), expires_at)?;
    }
    if input.action == AccessAction::Check {
        return check(clients, config, plan).await;
    }
    let mut grants = ferry_core::policy::source_account_grants(&plan.request, &names, expires_at);
    let owner = &plan.request.source.account_id;
    if input.action == AccessAction::Revoke {
        // A revoke has nothing to do on a bucket outside SourceBuckets: no grant goes there,
        // and this function may not read its policy. (A destination stack that copies from
        // several accounts lists all their buckets, so its plan may name a bucket this
        // account does not list; the grant refused it.)
        grants.retain(|bucket, _| {
            let ours = config.may_touch(bucket).is_ok();
            if !ours {
                warn!(bucket = %bucket, "not in SourceBuckets: no grant of ferry's can be there; left alone");
            }
            ours
        });
    } else {
        for bucket in grants.keys() {
            config.may_touch(bucket)?;
        }
    }
    let mut out = AccessOutput {
        expires_at,
        ..AccessOutput::default()
    };
    let present = match input.action {
        AccessAction::Grant | AccessAction::Verify | AccessAction::Check => true,
        AccessAction::Revoke if !plan.request.cleanup.revoke_grants && config.kept_grants => {
            // Only what expires by itself is kept: the bucket statements (their
            // aws:CurrentTime expiry). A KMS grant never expires, so it is revoked whatever the
            // request says.
            info!("cleanup.revokeGrants is false: the bucket statements stay until they expire; the KMS grants are revoked");
            // Said in the output (and by `ferry revoke`): which buckets keep them, until when.
            for bucket in grants.keys() {
                let policy = read_bucket_policy(&clients.s3, bucket, owner).await?;
                if let Some(until) = copy_statements_until(policy.as_deref(), &names.hash)? {
                    out.kept.push(KeptStatements {
                        bucket: bucket.clone(),
                        until,
                    });
                }
            }
            let retiring = keys::own_role(&clients.sts).await?;
            out.kms_grants = keys::revoke(&clients.kms, config, &names, &retiring).await?;
            return Ok(out);
        }
        AccessAction::Revoke => false,
    };
    // SSE-KMS source objects: which keys, all of them listed, before any policy is written.
    let keys = if present {
        let sample = keys::keys_in_use(
            &clients.s3,
            &clients.kms,
            config,
            &plan.request.source.bucket,
            &plan.request.source.prefix,
        )
        .await?;
        keys::all_listed(config, &sample.keys)?;
        if !sample.not_copyable.is_empty() {
            out.not_copyable = Some(sample.not_copyable);
        }
        sample.keys
    } else {
        Default::default()
    };
    out.changed = converge(
        &clients.s3,
        owner,
        &grants,
        present,
        &names.hash,
        config.policy_settle,
    )
    .await?;
    if input.action == AccessAction::Verify {
        for bucket in &out.changed {
            warn!(bucket = %bucket, "grant was missing before the job was submitted; put back");
        }
    }
    out.kms_grants = if present && keys.is_empty() {
        Vec::new()
    } else {
        // Every grant names this function's role as its retiring principal, by which a revoke
        // finds them all, on keys no longer listed too.
        let retiring = keys::own_role(&clients.sts).await?;
        if present {
            keys::grant(&clients.kms, config, &names, plan.run, &keys, &retiring).await?
        } else {
            keys::revoke(&clients.kms, config, &names, &retiring).await?
        }
    };
    Ok(out)
}

/// The preflight's source half, before anything is granted: each bucket's policy as it will be,
/// with ferry's statements merged in, put to IAM's policy simulator for every action those
/// statements grant. A refusal fails the step naming the statement; nothing is written.
async fn check(
    clients: &Clients,
    config: &StackConfig,
    plan: &ferry_core::steps::RunPlan,
) -> Result<AccessOutput, StepError> {
    let owner = &plan.request.source.account_id;
    let grants =
        ferry_core::policy::source_account_grants(&plan.request, &plan.names(), plan.expires_at);
    let mut policies = BTreeMap::new();
    for bucket in grants.keys() {
        config.may_touch(bucket)?;
        policies.insert(
            bucket.clone(),
            read_bucket_policy(&clients.s3, bucket, owner).await?,
        );
    }
    let questions =
        preflight::source_questions(&plan.preflight_subject(), &policies, SystemClock.now())?;
    let undecided =
        preflight::run_half(&clients.iam, &questions, &format!("source account {owner}")).await?;
    Ok(AccessOutput {
        expires_at: plan.expires_at,
        preflight: undecided,
        ..AccessOutput::default()
    })
}

/// Rounds of [`apply`] over every bucket until one writes nothing; returns the buckets written.
async fn converge(
    s3: &S3,
    owner: &str,
    grants: &BTreeMap<String, Vec<Value>>,
    present: bool,
    hash: &str,
    settle: Duration,
) -> Result<Vec<String>, StepError> {
    let mut changed: Vec<String> = Vec::new();
    for _ in 0..WRITE_ROUNDS {
        let mut wrote = false;
        for (bucket, statements) in grants {
            if apply(s3, bucket, owner, statements, present, hash).await? {
                wrote = true;
                if !changed.contains(bucket) {
                    changed.push(bucket.clone());
                }
            }
        }
        if !wrote {
            return Ok(changed);
        }
        tokio::time::sleep(settle).await;
    }
    Err(StepError::new(
        ErrorName::Retryable,
        format!(
            "the bucket policies of {} lost ferry's change {WRITE_ROUNDS} times after writing: another writer keeps replacing them",
            grants.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// How often one write starts over because the policy changed between its two reads.
pub const MERGE_RESTARTS: usize = 4;

/// One write where needed: `statements` into the bucket's policy (`present`), or this copy's
/// statements out of it. True when it wrote.
///
/// The policy is read, the new one computed from it, and the policy read again immediately
/// before the write: when the two reads differ (someone changed the policy meanwhile) the merge
/// starts over from the newer one, so a write never carries a policy older than its last read.
/// A policy is deleted only when that last read holds nothing but this copy's statements.
/// S3 has no conditional PutBucketPolicy, so a change landing between the last read and the
/// write can still be lost: the window is one round trip (docs/src/permissions.md).
async fn apply(
    s3: &S3,
    bucket: &str,
    owner: &str,
    statements: &[Value],
    present: bool,
    hash: &str,
) -> Result<bool, StepError> {
    let mut current = read_bucket_policy(s3, bucket, owner).await?;
    for _ in 0..MERGE_RESTARTS {
        let intended = if present {
            if missing_statements(current.as_deref(), statements)?.is_empty() {
                return Ok(false);
            }
            Revoked::Write(merge(
                current.as_deref(),
                statements,
                hash,
                PolicyKind::BucketPolicy,
                &format!("the bucket policy of {bucket}"),
            )?)
        } else {
            match revoke(current.as_deref(), hash)? {
                Revoked::Unchanged => return Ok(false),
                change => change,
            }
        };
        let again = read_bucket_policy(s3, bucket, owner).await?;
        if again != current {
            info!(bucket = %bucket, "the bucket policy changed while ferry merged; starting over from the new one");
            current = again;
            continue;
        }
        match intended {
            Revoked::Write(policy) => {
                s3.put_bucket_policy()
                    .bucket(bucket)
                    .expected_bucket_owner(owner)
                    .policy(policy)
                    .send()
                    .await
                    .map_err(|e| from_sdk(e, &format!("PutBucketPolicy on {bucket}")))?;
                if present {
                    info!(bucket = %bucket, "granted read access to the Batch role");
                } else {
                    info!(bucket = %bucket, "revoked the Batch role's read access");
                }
            }
            Revoked::Delete => {
                s3.delete_bucket_policy()
                    .bucket(bucket)
                    .expected_bucket_owner(owner)
                    .send()
                    .await
                    .map_err(|e| from_sdk(e, &format!("DeleteBucketPolicy on {bucket}")))?;
                info!(bucket = %bucket, "revoked the Batch role's read access; no statement left, policy deleted");
            }
            Revoked::Unchanged => unreachable!("handled above"),
        }
        return Ok(true);
    }
    Err(StepError::new(
        ErrorName::Retryable,
        format!(
            "the bucket policy of {bucket} changed between every two reads ({MERGE_RESTARTS} times): another writer keeps changing it"
        ),
    ))
}

#[cfg(test)]
mod tests;
