//! The preflight's destination half (ferry_core::preflight).

use ferry_core::clients::Clients;
use ferry_core::clock::{Clock, SystemClock};
use ferry_core::error::{from_sdk, sdk_code};
use ferry_core::preflight::{Outcome, Verdict};
use ferry_core::steps::RunPlan;
use ferry_core::{stack::StackConfig, ErrorName, StepError};
use tracing::info;

/// The preflight's destination half, before anything is granted or created: every S3 statement
/// of the Batch role's policy, within the stack's permissions boundary, put to IAM's policy
/// simulator, the destination bucket's with that bucket's policy (the source account asks about
/// its buckets with theirs, in its own step). A refusal fails the plan naming the statement;
/// the undecided verdicts are returned.
pub async fn destination_half(
    clients: &Clients,
    config: &StackConfig,
    plan: &RunPlan,
) -> Result<Vec<Verdict>, StepError> {
    let bucket = &plan.request.destination.bucket;
    let mut policies = std::collections::BTreeMap::new();
    match clients
        .s3
        .get_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(&config.account_id)
        .send()
        .await
    {
        Ok(out) => {
            let text = out.policy().unwrap_or("{}");
            let policy = serde_json::from_str(text).map_err(|e| {
                StepError::new(
                    ErrorName::InvalidRequest,
                    format!("destination.bucket: {bucket}'s policy is not JSON: {e}"),
                )
            })?;
            policies.insert(bucket.clone(), policy);
        }
        Err(e) if sdk_code(&e) == Some("NoSuchBucketPolicy") => {}
        Err(e) => return Err(from_sdk(e, &format!("GetBucketPolicy {bucket}"))),
    }
    let boundary = ferry_core::preflight::boundary_of(config);
    let now = SystemClock.now();
    let mut verdicts = Vec::new();
    for q in ferry_core::preflight::role_questions(
        &plan.preflight_subject(),
        Some(&boundary),
        &policies,
        now,
    ) {
        let answers = ferry_core::preflight::ask_checked(&clients.iam, &q).await?;
        verdicts.extend(ferry_core::preflight::verdicts(&q, &answers));
    }
    for v in verdicts.iter().filter(|v| v.outcome == Outcome::Undecided) {
        tracing::warn!(verdict = %v.describe(), "preflight: undecided");
    }
    let verdicts = ferry_core::preflight::refuse_if_any(
        verdicts,
        &format!("destination account {}", config.account_id),
    )?;
    info!(
        asked = verdicts.len(),
        "preflight: the Batch role's policy and the destination bucket's allow the copy"
    );
    Ok(verdicts
        .into_iter()
        .filter(|v| v.outcome != Outcome::Allowed)
        .collect())
}
